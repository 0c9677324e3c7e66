package registry_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/ponte-pa/ponte/connectors/registry"
	"github.com/ponte-pa/ponte/schemas"
)

func init() {
	schemas.Register("registry-test.schema.json", []byte(`{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://github.com/ponte-pa/ponte/schemas/registry-test.schema.json",
  "type": "object", "additionalProperties": false, "required": ["url"],
  "properties": {"kind": {"const": "hook"}, "url": {"type": "string", "pattern": "^https://", "x-pattern": "must be an https URL"}, "file": {"type": "string"}}
}`))
}

type hook struct{ url string }

func newRegistry() *registry.Registry[*hook] {
	r := registry.New[*hook]("channel")
	r.Register(registry.Kind[*hook]{
		Name: "hook", Schema: "registry-test.schema.json",
		Check: func(raw json.RawMessage, env registry.Env) []registry.Problem {
			var c struct{ File string }
			if err := json.Unmarshal(raw, &c); err == nil && c.File == "missing" {
				return []registry.Problem{{Pointer: "/file", Rule: "file", Message: "cannot read " + env.Dir + "/missing"}}
			}
			return nil
		},
		Open: func(raw json.RawMessage, _ registry.Env) (*hook, error) {
			var c struct{ URL string }
			err := json.Unmarshal(raw, &c)
			return &hook{url: c.URL}, err
		},
	})
	return r
}

func TestRegistry(t *testing.T) {
	r := newRegistry()
	h, err := r.Open("hook", json.RawMessage(`{"kind":"hook","url":"https://x.example/in"}`), registry.Env{})
	if err != nil || h.url != "https://x.example/in" {
		t.Fatalf("Open = %+v, %v", h, err)
	}
	tests := []struct {
		name, cfg string
		want      []string
	}{
		{"schema", `{"kind":"hook","url":"http://x","extra":1}`, []string{"/url: pattern: must be an https URL", "/extra: additionalProperties"}},
		{"check", `{"kind":"hook","url":"https://x","file":"missing"}`, []string{"/file: file: cannot read /cfg/missing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := r.Open("hook", json.RawMessage(tt.cfg), registry.Env{Dir: "/cfg"})
			var ve *schemas.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Open = %v, want a ValidationError", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
		})
	}
	_, err = r.Open("fax", nil, registry.Env{})
	var uk *registry.UnknownKindError
	if !errors.As(err, &uk) || uk.Role != "channel" || !strings.Contains(err.Error(), "known kinds: hook") {
		t.Errorf("unknown kind: %v", err)
	}
	if got := r.Kinds(); len(got) != 1 || got[0] != "hook" {
		t.Errorf("Kinds = %v", got)
	}
}

func TestRegisterRefusesMistakes(t *testing.T) {
	for name, k := range map[string]registry.Kind[*hook]{
		"duplicate": {Name: "hook", Open: func(json.RawMessage, registry.Env) (*hook, error) { return nil, nil }},
		"no name":   {Open: func(json.RawMessage, registry.Env) (*hook, error) { return nil, nil }},
		"no open":   {Name: "other"},
	} {
		t.Run(name, func(t *testing.T) {
			r := newRegistry()
			defer func() {
				if recover() == nil {
					t.Error("Register did not panic")
				}
			}()
			r.Register(k)
		})
	}
}
