package tenant

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"text/template"

	"github.com/ponte-pa/ponte/connectors/spid"
)

//go:embed sample
var sampleFS embed.FS

// SampleFS returns the files of the sample tenant "Comune di Esempio": tenant.yaml
// (with {{.GPDURL}} and {{.IOURL}} placeholders), spid/sp.yaml (its SPID Service Provider),
// demo secrets under secrets/, a TARI 2026 debtors.csv with 20 rows, exactly two of
// them invalid, and residenti.csv, the people source "residenti" for alerts: 12 people
// of the comune (ISTAT 099999, fictional) with mixed channels and languages, some
// without fiscal code or with a phone only, some with coordinates, exactly one of
// them invalid (no contact).
func SampleFS() fs.FS {
	sub, err := fs.Sub(sampleFS, "sample")
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return sub
}

// DefaultPublicURL is the gateway's URL the sample's SP is configured for when
// WriteSample gets no PublicURL: `ponte serve`'s default --http address.
const DefaultPublicURL = "http://127.0.0.1:8080"

// WriteSample writes the sample tenant into dir (created if needed) and returns the path
// of its tenant.yaml. YAML files are rendered with text/template using vars (GPDURL and
// IOURL are required); other files are copied as they are. Secret files get mode 0600.
//
// With IdPURL set (the base URL of a SPID IdP, e.g. the mock's), the sample also gets
// SPID login (see AddSampleSPID) for an SP served at PublicURL/t/esempio; its key is
// generated here so that no private key is ever shipped.
func WriteSample(dir string, vars map[string]string) (tenantPath string, err error) {
	src := SampleFS()
	err = fs.WalkDir(src, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "spid" {
			return fs.SkipDir // written by AddSampleSPID
		}
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		data, err := fs.ReadFile(src, p)
		if err != nil {
			return err
		}
		if ext := path.Ext(p); ext == ".yaml" || ext == ".yml" {
			tpl, err := template.New(p).Option("missingkey=error").Parse(string(data))
			if err != nil {
				return fmt.Errorf("tenant: sample %s: %w", p, err)
			}
			var buf bytes.Buffer
			if err := tpl.Execute(&buf, vars); err != nil {
				return fmt.Errorf("tenant: sample %s: %w", p, err)
			}
			data = buf.Bytes()
		}
		mode := os.FileMode(0o644)
		if strings.HasPrefix(p, "secrets/") {
			mode = 0o600
		}
		return os.WriteFile(dst, data, mode)
	})
	if err != nil {
		return "", err
	}
	if vars["IdPURL"] != "" {
		if err := AddSampleSPIDWithCIE(dir, vars["IdPURL"], vars["CIEIdPURL"], vars["PublicURL"]); err != nil {
			return "", err
		}
	}
	return filepath.Join(dir, "tenant.yaml"), nil
}

const sampleSPIDBlock = `
# SPID login, served by the HTTP gateway at {{.PublicURL}}/t/esempio/ — the SP's key pair
# (spid/sp.cert.pem, secrets/sp.key.pem) was generated when this sample was written.
spid:
  spConfig: spid/sp.yaml
  idpMetadata:
    - "{{.IdPURL}}/metadata"
{{- if .CIEIdPURL}}
    - "{{.CIEIdPURL}}/metadata"
{{- end}}
  level: 2
{{- if .CIEIdPURL}}
  # "Entra con CIE": the CIE identity provider, asked for the CIE attribute set of sp.yaml.
  cie:
    idp: "{{.CIEIdPURL}}"
    attributeIndex: 1
{{- end}}
`

// AddSampleSPID gives the sample comune in dir (written by WriteSample) SPID login:
// spid/sp.yaml for an SP served at publicURL/t/esempio (default DefaultPublicURL), a
// fresh key and certificate in the SPID SP profile, and a spid block in tenant.yaml
// trusting the IdP whose metadata is at idpURL/metadata.
func AddSampleSPID(dir, idpURL, publicURL string) error {
	return AddSampleSPIDWithCIE(dir, idpURL, "", publicURL)
}

// AddSampleSPIDWithCIE is AddSampleSPID that, with cieURL set (the base URL
// of a CIE identity provider, e.g. the mock's), also offers login with the
// CIE through the IdP whose metadata is at cieURL/metadata.
func AddSampleSPIDWithCIE(dir, idpURL, cieURL, publicURL string) error {
	if publicURL == "" {
		publicURL = DefaultPublicURL
	}
	vars := map[string]string{"IdPURL": strings.TrimRight(idpURL, "/"), "PublicURL": strings.TrimRight(publicURL, "/"),
		"CIEIdPURL": strings.TrimRight(cieURL, "/")}
	tenantPath := filepath.Join(dir, "tenant.yaml")
	cur, err := os.ReadFile(tenantPath)
	if err != nil {
		return fmt.Errorf("tenant: sample SPID: %w", err)
	}
	if bytes.Contains(cur, []byte("\nspid:")) {
		return fmt.Errorf("tenant: sample SPID: %s already has a spid block", tenantPath)
	}
	render := func(name, text string) ([]byte, error) {
		tpl, err := template.New(name).Option("missingkey=error").Parse(text)
		if err != nil {
			return nil, err
		}
		var buf bytes.Buffer
		err = tpl.Execute(&buf, vars)
		return buf.Bytes(), err
	}
	spText, err := fs.ReadFile(SampleFS(), "spid/sp.yaml")
	if err != nil {
		return err
	}
	sp, err := render("spid/sp.yaml", string(spText))
	if err != nil {
		return fmt.Errorf("tenant: sample spid/sp.yaml: %w", err)
	}
	block, err := render("spid block", sampleSPIDBlock)
	if err != nil {
		return err
	}
	for _, d := range []string{"spid", "secrets"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "spid", "sp.yaml"), sp, 0o644); err != nil {
		return err
	}
	if err := writeSampleSPKeys(dir, vars["PublicURL"]); err != nil {
		return err
	}
	if !bytes.HasSuffix(cur, []byte("\n")) {
		cur = append(cur, '\n')
	}
	return os.WriteFile(tenantPath, append(cur, block...), 0o644)
}

// writeSampleSPKeys generates the sample SP's key (secrets/sp.key.pem, 0600) and
// certificate (spid/sp.cert.pem) in the SPID SP profile. 2048 bits, the minimum, keeps
// the demo fast; `ponte spid keygen` makes 3072-bit keys for real SPs.
func writeSampleSPKeys(dir, publicURL string) error {
	key, cert, err := spid.GenerateKeyCert(spid.CertOptions{
		CommonName: "Comune di Esempio", OrgName: "Comune di Esempio", IPACode: "c_x000",
		Locality: "Esempio", EntityID: publicURL + "/t/esempio/spid/metadata", Bits: 2048, Public: true,
	})
	if err != nil {
		return fmt.Errorf("tenant: sample SPID key: %w", err)
	}
	kp, cp := spid.EncodeKeyPair(key, cert)
	if err := os.WriteFile(filepath.Join(dir, "secrets", "sp.key.pem"), kp, 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "spid", "sp.cert.pem"), cp, 0o644)
}
