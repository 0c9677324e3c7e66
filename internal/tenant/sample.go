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
)

//go:embed sample
var sampleFS embed.FS

// SampleFS returns the files of the sample tenant "Comune di Esempio": tenant.yaml
// (with {{.GPDURL}} and {{.IOURL}} placeholders), demo secrets under secrets/ and a
// TARI 2026 debtors.csv with 20 rows, exactly two of them invalid.
func SampleFS() fs.FS {
	sub, err := fs.Sub(sampleFS, "sample")
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return sub
}

// WriteSample writes the sample tenant into dir (created if needed) and returns the path
// of its tenant.yaml. YAML files are rendered with text/template using vars (GPDURL and
// IOURL are required); other files are copied as they are. Secret files get mode 0600.
func WriteSample(dir string, vars map[string]string) (tenantPath string, err error) {
	src := SampleFS()
	err = fs.WalkDir(src, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
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
	return filepath.Join(dir, "tenant.yaml"), nil
}
