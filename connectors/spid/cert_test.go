package spid_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ponte-pa/ponte/connectors/spid"
)

var now = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

func goodOpts() spid.CertOptions {
	return spid.CertOptions{CommonName: "Comune di Esempio", OrgName: "Comune di Esempio", IPACode: "c_x000",
		Locality: "Roma", EntityID: "https://comune.example.it/spid/metadata", Bits: 2048, Public: true, Now: now}
}

func TestGenerateKeyCertFitsProfile(t *testing.T) {
	key, cert, err := spid.GenerateKeyCert(goodOpts())
	if err != nil {
		t.Fatal(err)
	}
	if err := spid.CheckCert(cert, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if key.N.BitLen() != 2048 || cert.SignatureAlgorithm != x509.SHA256WithRSA {
		t.Fatalf("bits %d alg %s", key.N.BitLen(), cert.SignatureAlgorithm)
	}
	var orgID, uri string
	for _, n := range cert.Subject.Names {
		switch {
		case n.Type.Equal(spid.OIDOrganizationIdentifier):
			orgID = n.Value.(string)
		case n.Type.Equal(spid.OIDURI):
			uri = n.Value.(string)
		}
	}
	if orgID != "PA:IT-c_x000" || uri != "https://comune.example.it/spid/metadata" || cert.Subject.Country[0] != "IT" || cert.Subject.Locality[0] != "Roma" {
		t.Fatalf("subject %v", cert.Subject)
	}
	if cert.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment {
		t.Fatalf("keyUsage %b", cert.KeyUsage)
	}
	if len(cert.Policies) != 2 || cert.Policies[0].String() != "1.3.76.16.6" || cert.Policies[1].String() != "1.3.76.16.4.2.1" {
		t.Fatalf("policies %v", cert.Policies)
	}
	// Default size is 3072 bits.
	o := goodOpts()
	o.Bits = 0
	k3, _, err := spid.GenerateKeyCert(o)
	if err != nil || k3.N.BitLen() != 3072 {
		t.Fatalf("default bits: %v %d", err, k3.N.BitLen())
	}
	// PEM round trip.
	kp, cp := spid.EncodeKeyPair(key, cert)
	k2, c2, err := spid.ParseKeyPair(kp, cp)
	if err != nil || !k2.Equal(key) || !c2.Equal(cert) {
		t.Fatalf("round trip: %v", err)
	}
	if _, _, err := spid.ParseKeyPair(spid.EncodeKeyPair(k3, cert)); err == nil {
		t.Fatal("mismatched key accepted")
	}
}

func TestGenerateKeyCertRefusesIncompleteOptions(t *testing.T) {
	for name, mod := range map[string]func(*spid.CertOptions){
		"no-cn":    func(o *spid.CertOptions) { o.CommonName = "" },
		"no-ipa":   func(o *spid.CertOptions) { o.IPACode = "" },
		"no-l":     func(o *spid.CertOptions) { o.Locality = "" },
		"small":    func(o *spid.CertOptions) { o.Bits = 1024 },
		"priv-vat": func(o *spid.CertOptions) { o.Public = false },
	} {
		o := goodOpts()
		mod(&o)
		if _, _, err := spid.GenerateKeyCert(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// makeCert builds a certificate from the good profile with one change.
func makeCert(t *testing.T, bits int, mod func(*x509.Certificate)) *x509.Certificate {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	pol1, err := x509.OIDFromInts([]uint64{1, 3, 76, 16, 6})
	if err != nil {
		t.Fatal(err)
	}
	pol2, err := x509.OIDFromInts([]uint64{1, 3, 76, 16, 4, 2, 1})
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7),
		Subject: pkix.Name{CommonName: "Comune", Organization: []string{"Comune"}, Country: []string{"IT"}, Locality: []string{"Roma"},
			ExtraNames: []pkix.AttributeTypeAndValue{{Type: asn1.ObjectIdentifier{2, 5, 4, 97}, Value: "PA:IT-c_x000"}}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(365 * 24 * time.Hour),
		KeyUsage:           x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		SignatureAlgorithm: x509.SHA256WithRSA,
		Policies:           []x509.OID{pol1, pol2},
	}
	mod(tmpl)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCheckCertNamesEachProblem(t *testing.T) {
	pubOnly, err := x509.OIDFromInts([]uint64{1, 3, 76, 16, 4, 2, 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		bits int
		mod  func(*x509.Certificate)
		want string
	}{
		{"ok", 2048, func(*x509.Certificate) {}, ""},
		{"small-key", 1024, func(*x509.Certificate) {}, "1024 bits"},
		{"no-cn", 2048, func(c *x509.Certificate) { c.Subject.CommonName = "" }, "commonName missing"},
		{"no-o", 2048, func(c *x509.Certificate) { c.Subject.Organization = nil }, "organizationName missing"},
		{"country-fr", 2048, func(c *x509.Certificate) { c.Subject.Country = []string{"FR"} }, "countryName must be IT"},
		{"no-l", 2048, func(c *x509.Certificate) { c.Subject.Locality = nil }, "localityName missing"},
		{"no-orgid", 2048, func(c *x509.Certificate) { c.Subject.ExtraNames = nil }, "organizationIdentifier (2.5.4.97) missing"},
		{"orgid-wrong", 2048, func(c *x509.Certificate) {
			c.Subject.ExtraNames = []pkix.AttributeTypeAndValue{{Type: asn1.ObjectIdentifier{2, 5, 4, 97}, Value: "VATIT-123"}}
		}, "must be PA:IT-"},
		{"orgid-empty-ipa", 2048, func(c *x509.Certificate) {
			c.Subject.ExtraNames = []pkix.AttributeTypeAndValue{{Type: asn1.ObjectIdentifier{2, 5, 4, 97}, Value: "PA:IT-"}}
		}, "must be PA:IT-"},
		{"no-nonrepudiation", 2048, func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageDigitalSignature }, "nonRepudiation missing"},
		{"no-digitalsignature", 2048, func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageContentCommitment }, "digitalSignature missing"},
		{"no-agid-policy", 2048, func(c *x509.Certificate) { c.Policies = []x509.OID{pubOnly} }, "1.3.76.16.6"},
		{"no-sector-policy", 2048, func(c *x509.Certificate) { c.Policies = c.Policies[:1] }, "1.3.76.16.4.2.1"},
		{"expired", 2048, func(c *x509.Certificate) { c.NotAfter = now.Add(-time.Minute) }, "expired"},
		{"not-yet", 2048, func(c *x509.Certificate) { c.NotBefore = now.Add(time.Hour) }, "not yet valid"},
		{"sha384-ok", 2048, func(c *x509.Certificate) { c.SignatureAlgorithm = x509.SHA384WithRSA }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := spid.CheckCert(makeCert(t, tc.bits, tc.mod), now)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var ce *spid.CertError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if len(ce.Problems) != 1 {
				t.Fatalf("want exactly one problem, got %q", ce.Problems)
			}
		})
	}
}

func TestFixtureCertFitsProfile(t *testing.T) {
	cfg := testConfig(t, "https://x")
	if err := spid.CheckCert(cfg.Cert, time.Now()); err != nil {
		t.Fatal(err)
	}
}
