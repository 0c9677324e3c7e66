package onboard

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ponte-pa/ponte/connectors/spid"
	"github.com/ponte-pa/ponte/internal/tenant"
)

// TestImportSPID: with --spid-url every comune gets an SP whose signed
// metadata follows every SPID rule, from its IndicePA row alone; keys are
// made once and never replaced; sp.yaml edited by hand is kept unless
// Force; a comune without a site is refused on its IndicePA row.
func TestImportSPID(t *testing.T) {
	dir := t.TempDir()
	file, extra := filepath.Join(dir, "enti.tsv"), filepath.Join(dir, "extra.csv")
	header := append(slices.Clone(indicePAHeader), "Sigla_provincia")
	var rows, extras []ente
	for i := 0; i < 4; i++ {
		e := comune(t, i, "058")
		e["Sigla_provincia"] = "RM"
		rows = append(rows, e)
		extras = append(extras, ente{"Codice_IPA": e["Codice_IPA"], "iban": iban(i + 1), "segregationCode": "01",
			"ioPaymentsServiceId": fmt.Sprintf("01HZPROVA%017d", i+1)})
	}
	rows[3]["Sito_istituzionale"] = ""
	writeTable(t, file, "\t", header, rows)
	writeTable(t, extra, ",", []string{"Codice_IPA", "iban", "segregationCode", "ioPaymentsServiceId"}, extras)
	out := filepath.Join(dir, "tenants")
	opts := Options{File: file, Extra: extra, Out: out, SPIDURL: "https://ponte.regione.example/", SPIDKeyBits: 2048,
		SPIDIdPMetadata: []string{"http://127.0.0.1:18084/metadata"}}

	res, err := Import(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := errorKeys(res.Errors), []string{"enti.tsv:5:Sito_istituzionale:spid-site"}; !slices.Equal(got, want) {
		t.Fatalf("errors %q, want %q", got, want)
	}
	// The comune without a site gets its config, without SPID.
	if res.Valid != 4 || res.Written != 4 || res.Refused != 0 {
		t.Fatalf("summary: %s", summary(res))
	}
	var noSite FileResult
	res.Files = slices.DeleteFunc(res.Files, func(f FileResult) bool {
		if f.IPACode == rows[3]["Codice_IPA"] {
			noSite = f
			return true
		}
		return false
	})
	if tn, err := tenant.Load(noSite.Path); err != nil || tn.SPID != nil || noSite.SPPath != "" {
		t.Errorf("comune without a site: %v, SPID %+v, sp.yaml %q", err, tn, noSite.SPPath)
	}
	keys := map[string][]byte{}
	for _, f := range res.Files {
		if f.SPStatus != Written || !f.KeyMade {
			t.Errorf("%s: sp.yaml %s, key made %v", f.ID, f.SPStatus, f.KeyMade)
		}
		tn, err := tenant.Load(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		sp := tn.SPID.SP
		if sp.EntityID != "https://ponte.regione.example/t/"+f.ID+"/spid/metadata" || sp.BaseURL != "https://ponte.regione.example"+tn.GatewayPath() ||
			sp.IPACode != f.IPACode || !strings.HasPrefix(sp.ContactEmail, "protocollo@") || !strings.HasPrefix(sp.Org.URLs.IT, "https://www.comune.prova") {
			t.Errorf("%s: SP %+v", f.ID, sp)
		}
		if sp.CIE == nil || sp.CIE.Province != "RM" || sp.CIE.Municipality != strings.ToUpper(f.IPACode[2:]) {
			t.Errorf("%s: CIE %+v", f.ID, sp.CIE)
		}
		// What `ponte onboard check` does: the certificate fits the
		// profile and the signed metadata follows every rule.
		if err := spid.CheckCert(sp.Cert, time.Now()); err != nil {
			t.Errorf("%s: %v", f.ID, err)
		}
		md, err := spid.SignedMetadata(sp, "_md1")
		if err != nil {
			t.Fatal(err)
		}
		m, err := spid.ParseSPMetadata(md, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := spid.CheckMetadata(m); err != nil {
			t.Errorf("%s: metadata: %v", f.ID, err)
		}
		keyPath := filepath.Join(out, "secrets", f.ID, "sp.key.pem")
		st, err := os.Stat(keyPath)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: key %v %v", f.ID, st, err)
		}
		if keys[f.ID], err = os.ReadFile(keyPath); err != nil {
			t.Fatal(err)
		}
	}

	// Again: nothing changes, no key is made.
	res, err = Import(context.Background(), opts)
	if err != nil || res.Unchanged != 4 {
		t.Fatalf("second import: %v %s", err, summary(res))
	}
	for _, f := range res.Files {
		if f.SPPath != "" && f.SPStatus != Unchanged || f.KeyMade {
			t.Errorf("second import, %s: sp.yaml %s, key made %v", f.ID, f.SPStatus, f.KeyMade)
		}
	}

	// sp.yaml edited by hand: kept and its diff shown, overwritten with
	// Force; the key stays the one AgID knows.
	first := res.Files[0]
	edited, err := os.ReadFile(first.SPPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(first.SPPath, bytes.Replace(edited, []byte("protocollo@"), []byte("urp@"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, force := range []bool{false, true} {
		o := opts
		o.Force = force
		res, err := Import(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		want := map[bool]Status{false: Changed, true: Overwritten}[force]
		if f := res.Files[0]; f.SPStatus != want || !strings.Contains(f.SPDiff, "-contactEmail: urp@") || f.KeyMade {
			t.Errorf("force %v: sp.yaml %s, key made %v, diff:\n%s", force, f.SPStatus, f.KeyMade, f.SPDiff)
		}
	}
	for id, k := range keys {
		if now, err := os.ReadFile(filepath.Join(out, "secrets", id, "sp.key.pem")); err != nil || !bytes.Equal(now, k) {
			t.Errorf("%s: the key changed (%v)", id, err)
		}
	}

	// A certificate without its key is not papered over with a new pair.
	if err := os.Remove(filepath.Join(out, "secrets", first.ID, "sp.key.pem")); err != nil {
		t.Fatal(err)
	}
	res, err = Import(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := errorKeys(res.Errors); !slices.Contains(got, "enti.tsv:2::spid-files") {
		t.Errorf("errors %q, want spid-files on the comune's row", got)
	}

	// AgID's registry instead of metadata: its certificate is found
	// relative to the config.
	key, cert, err := spid.GenerateKeyCert(spid.CertOptions{CommonName: "Registro", OrgName: "AgID", IPACode: "agid", Locality: "Roma",
		EntityID: "https://registry.example", Bits: 2048, Public: true})
	if err != nil {
		t.Fatal(err)
	}
	_, certPEM := spid.EncodeKeyPair(key, cert)
	regCert := filepath.Join(dir, "agid-registry.pem")
	if err := os.WriteFile(regCert, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	reg := opts
	reg.Out, reg.SPIDIdPMetadata, reg.SPIDRegistryCert = filepath.Join(dir, "tenants-registry"), nil, regCert
	res, err = Import(context.Background(), reg)
	if err != nil || res.Written != 4 {
		t.Fatalf("registry import: %v %s", err, summary(res))
	}
	tn, err := tenant.Load(res.Files[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	if r := tn.SPID.Registry; r == nil || r.URL != DefaultSPIDRegistryURL || len(r.Trusted) != 1 {
		t.Errorf("registry: %+v", r)
	}

	// Options that cannot give a working SP are refused as a whole.
	for name, o := range map[string]Options{
		"http URL":              {File: file, Out: out, SPIDURL: "http://ponte.regione.example", SPIDIdPMetadata: opts.SPIDIdPMetadata},
		"no IdPs":               {File: file, Out: out, SPIDURL: opts.SPIDURL},
		"IdPs without spid-url": {File: file, Out: out, SPIDRegistryCert: regCert},
	} {
		var fe *FileError
		if _, err := Import(context.Background(), o); !errors.As(err, &fe) || fe.Rule != "spid-options" {
			t.Errorf("%s: got %v, want a spid-options *FileError", name, err)
		}
	}
}
