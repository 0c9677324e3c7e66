// Package spid is a SPID/CIE SAML 2.0 Service Provider for a comune: SPID
// certificate generation and checks, signed SP metadata, signed
// AuthnRequests, a strict Assertion Consumer Service that follows the AgID
// technical rules (see shared/docs/spid-sp-rules.md), and a short-lived JWT
// handed to the municipal application, which never sees SAML.
//
// Outside XML is parsed into github.com/beevik/etree trees by a strict
// parser of the package's own (xmlparse.go) and signatures on it are
// verified over the package's own exclusive C14N (c14n.go); Ponte's own
// signatures are made with github.com/russellhaering/goxmldsig. IdP metadata is decoded
// with github.com/crewjam/saml's types. crewjam's ServiceProvider is not used
// for responses because it accepts unsigned assertions in signed responses and
// misses several SPID checks.
package spid

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// Object identifiers of the SPID SP certificate profile.
var (
	// OIDOrganizationIdentifier is organizationIdentifier (2.5.4.97).
	OIDOrganizationIdentifier = asn1.ObjectIdentifier{2, 5, 4, 97}
	// OIDURI is the uri attribute (2.5.4.83), carrying the SP entityID.
	OIDURI = asn1.ObjectIdentifier{2, 5, 4, 83}
	// OIDAgIDCertSP marks an AgID SP certificate (1.3.76.16.6).
	OIDAgIDCertSP = asn1.ObjectIdentifier{1, 3, 76, 16, 6}
	// OIDSPIDPublicSP marks a public-sector SP (1.3.76.16.4.2.1).
	OIDSPIDPublicSP = asn1.ObjectIdentifier{1, 3, 76, 16, 4, 2, 1}
	// OIDSPIDPrivateSP marks a private-sector SP (1.3.76.16.4.3.1).
	OIDSPIDPrivateSP = asn1.ObjectIdentifier{1, 3, 76, 16, 4, 3, 1}
)

// CertOptions describes the SP certificate to generate. Bits defaults to
// 3072 and Validity to two years; Public marks a public administration (the
// usual case for a comune) and requires IPACode.
type CertOptions struct {
	CommonName string
	OrgName    string
	IPACode    string
	// VATNumber is used instead of IPACode for a private SP ("VATIT-…").
	VATNumber string
	Locality  string
	EntityID  string
	Bits      int
	Validity  time.Duration
	Public    bool
	// Now is the start of the validity window (default time.Now()).
	Now time.Time
}

// CertError lists every way a certificate departs from the SPID SP profile.
type CertError struct {
	Problems []string
}

func (e *CertError) Error() string {
	return "spid: certificate does not fit the SPID SP profile: " + strings.Join(e.Problems, "; ")
}

// GenerateKeyCert makes an RSA key and a self-signed certificate in the SPID
// SP certificate profile.
func GenerateKeyCert(opts CertOptions) (*rsa.PrivateKey, *x509.Certificate, error) {
	if opts.Bits == 0 {
		opts.Bits = 3072
	}
	if opts.Bits < 2048 {
		return nil, nil, fmt.Errorf("spid: RSA key of %d bits is too small (minimum 2048)", opts.Bits)
	}
	if opts.Validity == 0 {
		opts.Validity = 2 * 365 * 24 * time.Hour
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	var missing []string
	for name, v := range map[string]string{"CommonName": opts.CommonName, "OrgName": opts.OrgName, "Locality": opts.Locality, "EntityID": opts.EntityID} {
		if strings.TrimSpace(v) == "" {
			missing = append(missing, name)
		}
	}
	orgID := ""
	policy := OIDSPIDPrivateSP
	if opts.Public {
		if opts.IPACode == "" {
			missing = append(missing, "IPACode")
		}
		orgID = "PA:IT-" + opts.IPACode
		policy = OIDSPIDPublicSP
	} else {
		if opts.VATNumber == "" {
			missing = append(missing, "VATNumber")
		}
		orgID = "VATIT-" + opts.VATNumber
	}
	if len(missing) > 0 {
		return nil, nil, fmt.Errorf("spid: certificate options missing: %s", strings.Join(sortStrings(missing), ", "))
	}
	key, err := rsa.GenerateKey(rand.Reader, opts.Bits)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, nil, err
	}
	subject := pkix.Name{
		CommonName:   opts.CommonName,
		Organization: []string{opts.OrgName},
		Country:      []string{"IT"},
		Locality:     []string{opts.Locality},
		ExtraNames: []pkix.AttributeTypeAndValue{
			{Type: OIDOrganizationIdentifier, Value: orgID},
			{Type: OIDURI, Value: opts.EntityID},
		},
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               subject,
		Issuer:                subject,
		NotBefore:             opts.Now.Add(-time.Minute).UTC(),
		NotAfter:              opts.Now.Add(opts.Validity).UTC(),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		SignatureAlgorithm:    x509.SHA256WithRSA,
		BasicConstraintsValid: true,
		Policies:              []x509.OID{oid(OIDAgIDCertSP), oid(policy)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	return key, cert, nil
}

func sortStrings(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}

// CheckCert rejects a certificate that does not fit the SPID SP profile or
// is not valid at now. The *CertError names every problem found.
func CheckCert(cert *x509.Certificate, now time.Time) error {
	if cert == nil {
		return &CertError{Problems: []string{"no certificate"}}
	}
	var p []string
	if pub, ok := cert.PublicKey.(*rsa.PublicKey); !ok {
		p = append(p, "public key is not RSA")
	} else if pub.N.BitLen() < 2048 {
		p = append(p, fmt.Sprintf("RSA key has %d bits, at least 2048 required", pub.N.BitLen()))
	}
	switch cert.SignatureAlgorithm {
	case x509.SHA256WithRSA, x509.SHA384WithRSA, x509.SHA512WithRSA:
	default:
		p = append(p, fmt.Sprintf("signature algorithm %s, SHA-256 with RSA required", cert.SignatureAlgorithm))
	}
	s := cert.Subject
	if strings.TrimSpace(s.CommonName) == "" {
		p = append(p, "subject commonName missing")
	}
	if len(s.Organization) == 0 || strings.TrimSpace(s.Organization[0]) == "" {
		p = append(p, "subject organizationName missing")
	}
	if len(s.Country) != 1 || s.Country[0] != "IT" {
		p = append(p, fmt.Sprintf("subject countryName must be IT, got %q", strings.Join(s.Country, ",")))
	}
	if len(s.Locality) == 0 || strings.TrimSpace(s.Locality[0]) == "" {
		p = append(p, "subject localityName missing")
	}
	orgID := orgIdentifier(cert)
	public := hasPolicy(cert, OIDSPIDPublicSP)
	switch {
	case orgID == "":
		p = append(p, "subject organizationIdentifier (2.5.4.97) missing")
	case public && (!strings.HasPrefix(orgID, "PA:IT-") || len(orgID) == len("PA:IT-")):
		p = append(p, fmt.Sprintf("organizationIdentifier %q must be PA:IT-<IPA code> for a public SP", orgID))
	case !public && !strings.HasPrefix(orgID, "VATIT-") && !strings.HasPrefix(orgID, "CF:IT-") && !strings.HasPrefix(orgID, "PA:IT-"):
		p = append(p, fmt.Sprintf("organizationIdentifier %q must start with PA:IT-, VATIT- or CF:IT-", orgID))
	}
	if cert.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		p = append(p, "keyUsage digitalSignature missing")
	}
	if cert.KeyUsage&x509.KeyUsageContentCommitment == 0 {
		p = append(p, "keyUsage nonRepudiation missing")
	}
	if !hasPolicy(cert, OIDAgIDCertSP) {
		p = append(p, "certificate policy 1.3.76.16.6 (AgID SP certificate) missing")
	}
	if !public && !hasPolicy(cert, OIDSPIDPrivateSP) {
		p = append(p, "certificate policy 1.3.76.16.4.2.1 (public SP) or 1.3.76.16.4.3.1 (private SP) missing")
	}
	if now.Before(cert.NotBefore) {
		p = append(p, "certificate not yet valid (notBefore "+cert.NotBefore.UTC().Format(time.RFC3339)+")")
	}
	if now.After(cert.NotAfter) {
		p = append(p, "certificate expired (notAfter "+cert.NotAfter.UTC().Format(time.RFC3339)+")")
	}
	if len(p) > 0 {
		return &CertError{Problems: p}
	}
	return nil
}

// orgIdentifier is the subject's organizationIdentifier ("" when absent).
func orgIdentifier(cert *x509.Certificate) string {
	id := ""
	for _, n := range cert.Subject.Names {
		if n.Type.Equal(OIDOrganizationIdentifier) {
			id, _ = n.Value.(string)
		}
	}
	return id
}

func hasPolicy(cert *x509.Certificate, id asn1.ObjectIdentifier) bool {
	want := oid(id)
	for _, p := range cert.Policies {
		if p.Equal(want) {
			return true
		}
	}
	return false
}

func oid(id asn1.ObjectIdentifier) x509.OID {
	ints := make([]uint64, len(id))
	for i, n := range id {
		ints[i] = uint64(n)
	}
	o, _ := x509.OIDFromInts(ints)
	return o
}

// ErrNoKey is returned when a configuration lacks the SP key or certificate.
var ErrNoKey = errors.New("spid: SP key and certificate are required")

// ParseKeyPair decodes a PEM RSA key (PKCS#1 or PKCS#8) and a PEM certificate.
func ParseKeyPair(keyPEM, certPEM []byte) (*rsa.PrivateKey, *x509.Certificate, error) {
	kb, _ := pem.Decode(keyPEM)
	cb, _ := pem.Decode(certPEM)
	if kb == nil || cb == nil {
		return nil, nil, errors.New("spid: key or certificate is not PEM")
	}
	var key *rsa.PrivateKey
	if k, err := x509.ParsePKCS1PrivateKey(kb.Bytes); err == nil {
		key = k
	} else if k8, err := x509.ParsePKCS8PrivateKey(kb.Bytes); err == nil {
		rk, ok := k8.(*rsa.PrivateKey)
		if !ok {
			return nil, nil, errors.New("spid: key is not RSA")
		}
		key = rk
	} else {
		return nil, nil, fmt.Errorf("spid: key: %w", err)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("spid: certificate: %w", err)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, nil, errors.New("spid: key does not match the certificate")
	}
	return key, cert, nil
}

// EncodeKeyPair returns the PEM encodings of key (PKCS#1) and cert.
func EncodeKeyPair(key *rsa.PrivateKey, cert *x509.Certificate) (keyPEM, certPEM []byte) {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
}
