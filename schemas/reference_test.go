package schemas

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigReference keeps docs/config.md in sync with the schemas: change a
// schema, then run PONTE_UPDATE_DOCS=1 go test ./schemas -run TestConfigReference.
func TestConfigReference(t *testing.T) {
	got, err := Reference()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "docs", "config.md")
	if os.Getenv("PONTE_UPDATE_DOCS") == "1" {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v: generate it with PONTE_UPDATE_DOCS=1 go test ./schemas -run TestConfigReference", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("docs/config.md is out of date with the schemas: run PONTE_UPDATE_DOCS=1 go test ./schemas -run TestConfigReference")
	}
	// Every source kind has an example, and every key of a source schema is listed.
	for _, n := range []string{"legacy-csv", "legacy-fixedwidth", "legacy-sql", "legacy-rest", "legacy-soap", "legacy-inbox", "people-csv", "people-sql"} {
		if _, ok := referenceExamples[n+".schema.json"]; !ok {
			t.Errorf("no example for %s.schema.json", n)
		}
	}
	// Every example is a valid config of its kind.
	for n, ex := range referenceExamples {
		doc, _, err := DecodeYAML([]byte(ex))
		if err != nil {
			t.Fatalf("%s example: %v", n, err)
		}
		top, ok := doc.(map[string]any)
		if !ok || len(top) != 1 {
			t.Fatalf("%s example: want one top-level key, sources or people: %v", n, top)
		}
		for _, key := range []string{"sources", "people"} {
			named, ok := top[key].(map[string]any)
			if !ok && top[key] != nil {
				t.Fatalf("%s example: %s is a %T, want a mapping of named connectors", n, key, top[key])
			}
			for name, src := range named {
				if err := Validate(n, src.(map[string]any)["config"]); err != nil {
					t.Errorf("%s example %s: %v", n, name, err)
				}
			}
		}
	}
	for _, key := range []string{"`duplicates.action`", "`dateFormat`", "`keyColumns`", "`statementTimeout`", "`columns.iban`", "`fields.dueDate *`", "`sources`", "`people`", "`columns.channels`"} {
		if !strings.Contains(string(got), "| "+key+" |") {
			t.Errorf("reference lacks %s", key)
		}
	}
}
