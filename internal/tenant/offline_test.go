package tenant

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckOffline(t *testing.T) {
	dir := t.TempDir()
	path, err := WriteSample(dir, map[string]string{"GPDURL": "http://127.0.0.1:1", "IOURL": "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	tn, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := tn.CheckOffline(); err != nil {
		t.Fatalf("the sample as written: %v", err)
	}

	// Break it the ways the issue found: a missing secret file, an unset variable,
	// a source that is a directory, another missing, a date layout that is no layout,
	// a SQL query that writes.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(data), "key: file:secrets/io-alerts.key", "key: env:PONTE_TEST_UNSET_KEY", 1)
	text = strings.Replace(text, "      path: debtors.csv\n", "      path: exports\n", 1)
	text = strings.Replace(text, "      dateFormat: dd/mm/yyyy\n", "      dateFormat: mm/dd\n", 1)
	text = strings.Replace(text, "campaignDefaults:", `  missing:
    kind: fixedwidth
    config:
      path: tracciato.txt
      fields: {fiscalCode: {start: 1, length: 16}, surname: {start: 17, length: 20}, amount: {start: 37, length: 9}, dueDate: {start: 46, length: 8}}
  db:
    kind: sql
    config:
      driver: postgres
      dsn: env:PONTE_TEST_UNSET_DSN
      query: "WITH d AS (DELETE FROM debiti RETURNING *) SELECT * FROM d"
campaignDefaults:`, 1)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "secrets", "gpd.key")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "exports"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PONTE_TEST_UNSET_KEY", "")
	t.Setenv("PONTE_TEST_UNSET_DSN", "")
	tn, err = Load(path)
	if err != nil {
		t.Fatalf("schema-valid config refused by Load: %v", err)
	}
	err = tn.CheckOffline()
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("CheckOffline = %v", err)
	}
	want := map[string]string{ // pointer -> words the message must have
		"/pagopa/gpd/subscriptionKey":      "file:secrets/gpd.key does not resolve",
		"/appio/services/alerts/key":       "PONTE_TEST_UNSET_KEY is unset",
		"/sources/tributi-csv/config/path": "is a directory, not a file",
		"/sources/tributi-csv/config":      "does not give year, month and day",
		"/sources/missing/config/path":     "tracciato.txt does not exist",
		"/sources/db/config/dsn":           "PONTE_TEST_UNSET_DSN is unset",
		"/sources/db/config":               "DELETE",
	}
	got := map[string]Problem{}
	for _, p := range ce.Problems {
		got[p.Pointer] = p
		if p.Line == 0 || p.Hint == "" {
			t.Errorf("problem without a line or a fix: %+v", p)
		}
	}
	for ptr, words := range want {
		if p, ok := got[ptr]; !ok || !strings.Contains(p.Message, words) {
			t.Errorf("%s: got %+v, want a problem with %q", ptr, p, words)
		}
	}
	if len(ce.Problems) != len(want) {
		t.Errorf("%d problems, want %d:\n%v", len(ce.Problems), len(want), err)
	}
	if s := err.Error(); !strings.Contains(s, path+":") {
		t.Errorf("the report does not name the file:\n%s", s)
	}
}
