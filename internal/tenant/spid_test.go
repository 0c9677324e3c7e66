package tenant

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ponte-pa/ponte/connectors/spid"
)

func writeSPIDSample(t *testing.T) (dir, path string) {
	t.Helper()
	dir = t.TempDir()
	path, err := WriteSample(dir, map[string]string{"GPDURL": "http://127.0.0.1:9/gpd", "IOURL": "http://127.0.0.1:9/api/v1",
		"IdPURL": "http://127.0.0.1:18084/"})
	if err != nil {
		t.Fatal(err)
	}
	return dir, path
}

func TestSampleWithSPID(t *testing.T) {
	dir, path := writeSPIDSample(t)
	tn, err := Load(path)
	if err != nil {
		t.Fatalf("sample with SPID does not load: %v", err)
	}
	s := tn.SPID
	if s == nil || s.Level != 2 || s.SPConfig != filepath.Join(dir, "spid", "sp.yaml") ||
		len(s.IdPURLs) != 1 || s.IdPURLs[0] != "http://127.0.0.1:18084/metadata" || len(s.StaticIdPs) != 0 {
		t.Fatalf("spid block %+v", s)
	}
	if s.SP.BaseURL != DefaultPublicURL+"/t/esempio" || s.SP.EntityID != DefaultPublicURL+"/t/esempio/spid/metadata" ||
		s.SP.IPACode != "c_x000" || s.SP.Key == nil || s.SP.Key.N.BitLen() != 2048 || tn.GatewayPath() != "/t/esempio" {
		t.Fatalf("SP config %+v", s.SP)
	}
	if err := spid.CheckCert(s.SP.Cert, time.Now()); err != nil {
		t.Errorf("generated certificate: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "secrets", "sp.key.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v %v", fi, err)
	}
	// Each sample gets its own key: none is shipped in the repository.
	_, path2 := writeSPIDSample(t)
	tn2, err := Load(path2)
	if err != nil {
		t.Fatal(err)
	}
	if tn2.SPID.SP.Key.N.Cmp(s.SP.Key.N) == 0 {
		t.Error("two samples share a key")
	}

	// Without IdPURL there is no SPID block, and no key is written.
	plain := t.TempDir()
	p, err := WriteSample(plain, map[string]string{"GPDURL": "http://x", "IOURL": "http://y"})
	if err != nil {
		t.Fatal(err)
	}
	if tn, err := Load(p); err != nil || tn.SPID != nil {
		t.Fatalf("plain sample: %v %+v", err, tn)
	}
	for _, f := range []string{"spid", "secrets/sp.key.pem"} {
		if _, err := os.Stat(filepath.Join(plain, f)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("plain sample has %s", f)
		}
	}
}

func TestSPIDConfigErrors(t *testing.T) {
	dir, path := writeSPIDSample(t)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	spYAML, err := os.ReadFile(filepath.Join(dir, "spid", "sp.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	const block = "spid:\n  spConfig: spid/sp.yaml\n  idpMetadata:\n    - \"http://127.0.0.1:18084/metadata\"\n  level: 2\n"
	if !strings.Contains(string(orig), block) {
		t.Fatalf("sample tenant.yaml has no spid block:\n%s", orig)
	}
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("spid/wrong-base.yaml", strings.Replace(string(spYAML), "/t/esempio\"", "/t/other\"", 1))
	write("spid/no-key.yaml", strings.Replace(string(spYAML), "../secrets/sp.key.pem", "../secrets/nope.pem", 1))
	write("spid/bad-acs.yaml", string(spYAML)+"acs:\n  - {index: 0, location: \"http://127.0.0.1:8080/acs\"}\n")
	write("spid/not-metadata.xml", "<foo/>")
	write("spid/not-a-cert.pem", "hello")

	tests := []struct {
		name, block, pointer, rule, contains string
	}{
		{"missing sp.yaml", "spid:\n  spConfig: spid/nope.yaml\n  idpMetadata: [\"http://x/metadata\"]\n", "/spid/spConfig", "spConfig", "ponte spid keygen"},
		{"wrong baseURL path", "spid:\n  spConfig: spid/wrong-base.yaml\n  idpMetadata: [\"http://x/metadata\"]\n", "/spid/spConfig", "baseURL", `under "/t/esempio"`},
		{"missing key", "spid:\n  spConfig: spid/no-key.yaml\n  idpMetadata: [\"http://x/metadata\"]\n", "/spid/spConfig", "spConfig", "keyFile"},
		{"ACS elsewhere", "spid:\n  spConfig: spid/bad-acs.yaml\n  idpMetadata: [\"http://x/metadata\"]\n", "/spid/spConfig", "acs", "/t/esempio/spid/acs"},
		{"bad metadata file", "spid:\n  spConfig: spid/sp.yaml\n  idpMetadata: [spid/not-metadata.xml]\n", "/spid/idpMetadata/0", "metadata", "unexpected root foo"},
		{"no IdP", "spid:\n  spConfig: spid/sp.yaml\n", "/spid", "idp", "registry"},
		{"empty IdP list", "spid:\n  spConfig: spid/sp.yaml\n  idpMetadata: []\n", "/spid/idpMetadata", "minItems", ""},
		{"bad level", "spid:\n  spConfig: spid/sp.yaml\n  idpMetadata: [\"http://x/metadata\"]\n  level: 4\n", "/spid/level", "enum", "use 2"},
		{"unknown token algorithm", "spid:\n  spConfig: spid/sp.yaml\n  idpMetadata: [\"http://x/metadata\"]\n  tokenAlg: HS256\n", "/spid/tokenAlg", "enum", "RS256"},
		{"token algorithm in lower case", "spid:\n  spConfig: spid/sp.yaml\n  idpMetadata: [\"http://x/metadata\"]\n  tokenAlg: es256\n", "/spid/tokenAlg", "enum", "ES256"},
		{"not YAML", "spid:\n  spConfig: spid/sp.pem\n  idpMetadata: [\"http://x/metadata\"]\n", "/spid/spConfig", "pattern", "YAML file"},
		{"unknown key", "spid:\n  spConfig: spid/sp.yaml\n  idpMetadata: [\"http://x/metadata\"]\n  levle: 2\n", "/spid/levle", "additionalProperties", `"level"`},
		{"registry certificate", "spid:\n  spConfig: spid/sp.yaml\n  registry:\n    url: https://registry.example/idps.xml\n    trustedCerts: [spid/not-a-cert.pem]\n", "/spid/registry/trustedCerts/0", "certificate", "no PEM certificate"},
		{"CIE set missing", "spid:\n  spConfig: spid/sp.yaml\n  idpMetadata: [\"http://x/metadata\"]\n  cie: {idp: \"http://x\", attributeIndex: 7}\n", "/spid/cie/attributeIndex", "attributeSet", "no attribute set with index 7"},
		{"CIE set asks for email", "spid:\n  spConfig: spid/sp.yaml\n  idpMetadata: [\"http://x/metadata\"]\n  cie: {idp: \"http://x\", attributeIndex: 0}\n", "/spid/cie/attributeIndex", "attributeSet", `"email", which CIE does not release`},
		{"CIE without idp", "spid:\n  spConfig: spid/sp.yaml\n  idpMetadata: [\"http://x/metadata\"]\n  cie: {attributeIndex: 1}\n", "/spid/cie/idp", "required", ""},
		{"registry without certs", "spid:\n  spConfig: spid/sp.yaml\n  registry: {url: https://registry.example/idps.xml}\n", "/spid/registry/trustedCerts", "required", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := strings.ReplaceAll(tt.name, " ", "-") + ".yaml"
			write(name, strings.Replace(string(orig), block, tt.block, 1))
			_, err := Load(filepath.Join(dir, name))
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("Load = %v, want *ConfigError", err)
			}
			for _, p := range ce.Problems {
				if p.Pointer == tt.pointer && p.Rule == tt.rule && strings.Contains(p.Message+"; "+p.Hint, tt.contains) {
					if p.Line == 0 {
						t.Errorf("problem without a line: %+v", p)
					}
					if !strings.HasPrefix(ce.Error(), filepath.Join(dir, name)+":") {
						t.Errorf("error does not name the file: %s", ce.Error())
					}
					return
				}
			}
			t.Fatalf("no %s/%s problem containing %q in:\n%v", tt.pointer, tt.rule, tt.contains, err)
		})
	}
}
