package schemas

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestNames(t *testing.T) {
	// The embedded ones and those registered beside their code by the
	// packages this test links (platforms_test.go).
	want := []string{
		"alert.schema.json", "campaign.schema.json", "channel-email.schema.json", "channel-sms.schema.json", "channel-webhook.schema.json", "info.schema.json", "legacy-csv.schema.json", "legacy-fixedwidth.schema.json", "legacy-inbox.schema.json",
		"legacy-rest.schema.json", "legacy-soap.schema.json", "legacy-sql.schema.json", "people-csv.schema.json", "people-sql.schema.json", "platform-appio.schema.json", "platform-gpd.schema.json", "tenant.schema.json",
	}
	if got := Names(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
}

func TestUnknownSchema(t *testing.T) {
	err := Validate("nope.json", map[string]any{})
	if !errors.Is(err, ErrUnknownSchema) || !strings.Contains(err.Error(), "tenant.schema.json") {
		t.Fatalf("err = %v", err)
	}
}

func TestNotJSONValueDoesNotPanic(t *testing.T) {
	err := Validate("legacy-csv.schema.json", map[string]any{"path": struct{}{}})
	var ve *ValidationError
	if err == nil || errors.As(err, &ve) {
		t.Fatalf("err = %v, want a plain error", err)
	}
}

func decode(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestValidateProblems(t *testing.T) {
	doc := decode(t, `{"delimiter": ";;", "header": "yes", "columns": {"amount": 0, "fiscalcode": "cf"}, "dateFormat": "mm/dd"}`)
	err := Validate("legacy-csv.schema.json", doc)
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Schema != "legacy-csv.schema.json" {
		t.Fatalf("err = %v", err)
	}
	var got []string
	for _, p := range ve.Problems {
		got = append(got, p.Pointer+" "+p.Rule)
	}
	want := []string{
		"/columns/amount minimum",
		"/columns/fiscalcode additionalProperties",
		"/delimiter maxLength",
		"/header type",
		"/path required",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("problems\n got %v\nwant %v", got, want)
	}
	byPtr := map[string]Problem{}
	for _, p := range ve.Problems {
		byPtr[p.Pointer] = p
	}
	if p := byPtr["/columns/fiscalcode"]; !strings.Contains(p.Hint, `did you mean "fiscalCode"?`) || p.Message != `unknown field "fiscalcode"` {
		t.Errorf("typo problem = %+v", p)
	}
	if p := byPtr["/header"]; p.Message != `must be a boolean, got string "yes"` {
		t.Errorf("type problem = %+v", p)
	}
	if p := byPtr["/path"]; !strings.Contains(p.Message, `missing required field "path"`) || p.Hint == "" {
		t.Errorf("required problem = %+v", p)
	}
	if p := byPtr["/columns/amount"]; p.Message != "must be >= 1, got 0" {
		t.Errorf("minimum problem = %+v", p)
	}
	// Deterministic: the same input gives the same text every time (maps iterate randomly).
	first := err.Error()
	for i := 0; i < 20; i++ {
		if e := Validate("legacy-csv.schema.json", doc); e.Error() != first {
			t.Fatalf("non-deterministic output:\n%s\n%s", first, e)
		}
	}
}

func TestValidDocuments(t *testing.T) {
	if err := Validate("legacy-csv.schema.json", decode(t, `{"path":"a.csv","columns":{"amount":3,"fiscalCode":"cf"},"decimalComma":true}`)); err != nil {
		t.Fatal(err)
	}
}

func TestIfThenRequired(t *testing.T) {
	doc := decode(t, `{"id":"x1","name":{"it":"Comune"},"ipaCode":"c_x000","fiscalCode":"80012345676",
		"pagopa":{"auxDigit":3,"iban":"IT60X0542811101000000123456","gpd":{"baseURL":"https://h/","subscriptionKey":"env:K"}},
		"appio":{"baseURL":"https://h/","services":{"payments":{"serviceId":"abc","key":"file:k"}}}}`)
	err := Validate("tenant.schema.json", doc)
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 1 {
		t.Fatalf("err = %v", err)
	}
	p := ve.Problems[0]
	if p.Pointer != "/pagopa/segregationCode" || p.Rule != "required" || !strings.Contains(p.Hint, "segregation code PagoPA assigned") {
		t.Errorf("problem = %+v", p)
	}
}

// Every property of every schema must be documented (editors show the description).
func TestEveryPropertyHasDescription(t *testing.T) {
	for _, n := range Names() {
		raw, ok := Raw(n)
		if !ok {
			t.Fatalf("Raw(%q): no such schema", n)
		}
		var doc any
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		var walkSchema func(path string, v any)
		walkSchema = func(path string, v any) {
			m, ok := v.(map[string]any)
			if !ok {
				return
			}
			if props, ok := m["properties"].(map[string]any); ok {
				for k, p := range props {
					pm, ok := p.(map[string]any)
					if !ok {
						t.Errorf("%s: %s/properties/%s is not a schema object", n, path, k)
						continue
					}
					if d, _ := pm["description"].(string); d == "" && !isBranch(path) {
						t.Errorf("%s: %s/properties/%s has no description", n, path, k)
					}
				}
			}
			for k, c := range m {
				switch c := c.(type) {
				case map[string]any:
					walkSchema(path+"/"+k, c)
				case []any:
					for i, e := range c {
						walkSchema(fmt.Sprintf("%s/%s/%d", path, k, i), e)
					}
				}
			}
		}
		walkSchema("", doc)
	}
}

// isBranch reports whether path is inside an if/then/else branch, which only refines
// properties documented elsewhere.
func isBranch(path string) bool {
	return strings.Contains(path, "/if") || strings.Contains(path, "/then") || strings.Contains(path, "/else")
}
