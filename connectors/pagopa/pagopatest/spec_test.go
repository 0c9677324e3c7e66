package pagopatest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const specPath = "../../../../shared/specs/gpd-external-v1.json"

// The validator must reject what the spec forbids, or the conformance tests
// built on it prove nothing.
func TestValidatorCatchesViolations(t *testing.T) {
	v, err := LoadSpec(specPath)
	if err != nil {
		t.Fatal(err)
	}
	resp := func(status int, body string) *http.Response {
		return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/json"}}}
	}
	get := httptest.NewRequest("GET", "/organizations/01234567890/debtpositions/IUPD-1", nil)
	list := httptest.NewRequest("GET", "/organizations/01234567890/debtpositions?limit=10", nil)
	create := httptest.NewRequest("POST", "/organizations/01234567890/debtpositions?toPublish=true", nil)
	create.Header.Set("Content-Type", "application/json")
	goodPos := `{"iupd":"I","type":"F","fiscalCode":"C","fullName":"N","switchToExpired":false,"companyName":"Co","paymentOption":[{"iuv":"1","amount":1,"description":"d","isPartialPayment":false,"dueDate":"2030-01-01T00:00:00Z"}]}`
	tests := []struct {
		name     string
		req      *http.Request
		reqBody  string
		status   int
		respBody string
		wantErr  string
	}{
		{"good get", get, "", 200, `{"iupd":"I","status":"VALID","paymentOption":[]}`, ""},
		{"bad status enum", get, "", 200, `{"iupd":"I","status":"WEIRD"}`, "response violates"},
		{"undeclared status", get, "", 418, `{}`, "response violates"},
		{"list without page_info", list, "", 200, `{"payment_position_list":[]}`, "page_info"},
		{"good create", create, goodPos, 201, goodPos, ""},
		{"create without fiscalCode", create, strings.Replace(goodPos, `"fiscalCode":"C",`, "", 1), 201, goodPos, "fiscalCode"},
		{"create with read-only status", create, strings.Replace(goodPos, `"iupd":"I"`, `"iupd":"I","status":"DRAFT"`, 1), 201, goodPos, "request violates"},
		{"limit 51", httptest.NewRequest("GET", "/organizations/X/debtpositions?limit=51", nil), "", 200, `{}`, "limit"},
		{"unknown path", httptest.NewRequest("GET", "/nope", nil), "", 200, `{}`, "no route"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := v.Check(tt.req, []byte(tt.reqBody), resp(tt.status, tt.respBody), []byte(tt.respBody))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}
