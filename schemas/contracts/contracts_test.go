package contracts

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The embedded files must be the byte-for-byte copies the README's table
// describes, and every embedded file must be in the table.
func TestEmbeddedFilesMatchTheREADME(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `([^`]+)` \\|.*\\| `([0-9a-f]{64})` \\|$")
	want := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(string(readme), -1) {
		want[m[1]] = m[2]
	}
	names := Files()
	for _, n := range []string{GPDv1File, GPDv3File, AppIOFile, "pagopa-debt-position.LICENSE", "io-services-v4.LICENSE"} {
		if !slices.Contains(names, n) {
			t.Errorf("%s is not embedded", n)
		}
	}
	for _, n := range names {
		b, err := File(n)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		got := hex.EncodeToString(sum[:])
		if want[n] == "" {
			t.Errorf("%s is embedded but not listed in README.md", n)
		} else if got != want[n] {
			t.Errorf("%s: sha256 %s, README says %s", n, got, want[n])
		}
	}
	if len(want) != len(names) {
		t.Errorf("README lists %d files, %d are embedded", len(want), len(names))
	}
}

func TestLoadFixesUpstreamQuirks(t *testing.T) {
	for name, model := range map[string]string{GPDv1File: "PaymentPositionModel", GPDv3File: "PaymentPositionModelV3"} {
		t.Run(name, func(t *testing.T) {
			raw, err := File(name)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(raw), `\\h`) || !strings.Contains(string(raw), `"default": "false"`) {
				t.Fatal("the copy no longer has the quirks this test is about")
			}
			doc, err := Load(name)
			if err != nil {
				t.Fatal(err)
			}
			iupd := doc.Paths.Find("/organizations/{organizationfiscalcode}/debtpositions/{iupd}")
			if iupd == nil || iupd.Get == nil {
				t.Fatal("no GET debt position by IUPD")
			}
			for _, p := range iupd.Get.Parameters {
				if pat := p.Value.Schema.Value.Pattern; strings.Contains(pat, `\h`) {
					t.Errorf("parameter %s keeps pattern %q", p.Value.Name, pat)
				}
			}
			def := doc.Components.Schemas[model].Value.Properties["payStandIn"].Value.Default
			if def != true {
				t.Errorf("%s.payStandIn default %#v, want true", model, def)
			}
		})
	}
	doc, err := Load(AppIOFile)
	if err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI == "" || doc.Paths.Find("/profiles/{fiscal_code}") == nil {
		t.Errorf("App IO not converted to OpenAPI 3: %q, paths %v", doc.OpenAPI, doc.Paths.InMatchingOrder())
	}
	if _, err := Load("nope.json"); err == nil {
		t.Error("Load of an unknown file succeeded")
	}
	if _, err := Load("pagopa-debt-position.LICENSE"); err == nil {
		t.Error("Load of a licence succeeded")
	}
}

func request(method, target, body string, header ...string) *http.Request {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	return r
}

func response(status int) *http.Response {
	return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/json"}}}
}

const key = "Ocp-Apim-Subscription-Key"

// The validators must reject what the contracts forbid, or every test and
// mock built on them proves nothing.
func TestGPDValidator(t *testing.T) {
	v := GPD()
	json := "Content-Type"
	goodPos := `{"iupd":"I","type":"F","fiscalCode":"C","fullName":"N","switchToExpired":false,"companyName":"Co","paymentOption":[{"iuv":"1","amount":1,"description":"d","isPartialPayment":false,"dueDate":"2030-01-01T00:00:00"}]}`
	get := func() *http.Request {
		return request("GET", "/organizations/01234567890/debtpositions/IUPD-1", "", key, "k")
	}
	create := func(body string) *http.Request {
		return request("POST", "/organizations/01234567890/debtpositions?toPublish=true", body, key, "k", json, "application/json")
	}
	tests := []struct {
		name     string
		req      *http.Request
		reqBody  string
		status   int
		respBody string
		wantErr  string
	}{
		{"good get", get(), "", 200, `{"iupd":"I","status":"VALID","paymentOption":[],"insertedDate":"2026-01-01T10:00:00.123"}`, ""},
		{"bad status enum", get(), "", 200, `{"iupd":"I","status":"WEIRD"}`, "response 200 violates"},
		{"date-time with an offset in a response", get(), "", 200, `{"iupd":"I","insertedDate":"2026-01-01T10:00:00Z"}`, "insertedDate"},
		{"undeclared status", get(), "", 418, `{}`, "response 418 violates"},
		{"no subscription key", request("GET", "/organizations/01234567890/debtpositions/IUPD-1", ""), "", 200, `{}`, "Ocp-Apim-Subscription-Key"},
		{"list without page_info", request("GET", "/organizations/X/debtpositions?limit=10", "", key, "k"), "", 200, `{"payment_position_list":[]}`, "page_info"},
		{"good create", create(goodPos), goodPos, 201, goodPos, ""},
		{"create without fiscalCode", nil, strings.Replace(goodPos, `"fiscalCode":"C",`, "", 1), 201, goodPos, "fiscalCode"},
		{"create with read-only status", nil, strings.Replace(goodPos, `"iupd":"I"`, `"iupd":"I","status":"DRAFT"`, 1), 201, goodPos, "request violates"},
		{"dueDate with UTC offset", nil, strings.Replace(goodPos, `00:00:00"`, `00:00:00Z"`, 1), 201, goodPos, "dueDate"},
		{"dueDate with +01:00", nil, strings.Replace(goodPos, `00:00:00"`, `00:00:00+01:00"`, 1), 201, goodPos, "dueDate"},
		{"string boolean", nil, strings.Replace(goodPos, `"switchToExpired":false`, `"switchToExpired":"false"`, 1), 201, goodPos, "switchToExpired"},
		{"limit 51", request("GET", "/organizations/X/debtpositions?limit=51", "", key, "k"), "", 200, `{}`, "limit"},
		{"unknown path", request("GET", "/nope", "", key, "k"), "", 200, `{}`, "no operation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.req
			if req == nil {
				req = create(tt.reqBody)
			}
			err := v.Check(req, []byte(tt.reqBody), response(tt.status), []byte(tt.respBody))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected: %v", err)
				}
				return
			}
			var viol *Violation
			if !errors.As(err, &viol) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want a violation mentioning %q", err, tt.wantErr)
			}
		})
	}
}

func TestGPDRequestWithoutOperation(t *testing.T) {
	x, err := GPD().Request(request("GET", "/payments/01234567890/receipts", "", key, "k"), nil)
	if x != nil || !errors.Is(err, ErrNoOperation) {
		t.Fatalf("receipts API: exchange %v, err %v; want no operation", x, err)
	}
	x, err = GPD().Request(request("GET", "/info", "", key, "k"), nil)
	if err != nil || x.Operation() != "healthCheck" {
		t.Fatalf("/info: %v %v", x, err)
	}
}

func TestAppIOValidator(t *testing.T) {
	v := AppIO()
	content := `{"subject":"Avviso di pagamento","markdown":"` + strings.Repeat("x", 80) + `"`
	msg := func(extra string) string { return `{"content":` + content + extra + `}}` }
	submit := func(body string) *http.Request {
		return request("POST", "/api/v1/messages/SPNDNL80R13C555X", body, key, "k", "Content-Type", "application/json")
	}
	profile := func(fc string) *http.Request { return request("GET", "/api/v1/profiles/"+fc, "", key, "k") }
	tests := []struct {
		name     string
		req      *http.Request
		reqBody  string
		status   int
		respBody string
		wantErr  string
	}{
		{"good profile", profile("SPNDNL80R13C555X"), "", 200, `{"sender_allowed":true,"preferred_languages":["it_IT"]}`, ""},
		{"bad fiscal code format", profile("SPNDNL80R13C555"), "", 200, `{"sender_allowed":true}`, "fiscal_code"},
		{"profile without sender_allowed", profile("SPNDNL80R13C555X"), "", 200, `{}`, "sender_allowed"},
		{"no key", request("GET", "/api/v1/profiles/SPNDNL80R13C555X", ""), "", 200, `{"sender_allowed":true}`, "Ocp-Apim-Subscription-Key"},
		{"good submit", nil, msg(""), 201, `{"id":"01ARZ3NDEKTSV4RRFFQ69G5FAV"}`, ""},
		{"id is not a string", nil, msg(""), 201, `{"id":42}`, "id"},
		{"subject too short", nil, strings.Replace(msg(""), "Avviso di pagamento", "Avviso", 1), 201, `{"id":"01ARZ3NDEKTSV4RRFFQ69G5FAV"}`, "subject"},
		{"notice number pattern", nil, msg(`,"payment_data":{"amount":100,"notice_number":"401000000000000144","payee":{"fiscal_code":"01234567890"}}`), 201, `{"id":"01ARZ3NDEKTSV4RRFFQ69G5FAV"}`, "notice_number"},
		{"payee without organization fiscal code", nil, msg(`,"payment_data":{"amount":100,"notice_number":"301000000000000144","payee":{"fiscal_code":"0123"}}`), 201, `{"id":"01ARZ3NDEKTSV4RRFFQ69G5FAV"}`, "fiscal_code"},
		{"undeclared status passes", profile("SPNDNL80R13C555X"), "", 503, `{}`, ""},
		{"outside the base path", request("GET", "/profiles/SPNDNL80R13C555X", "", key, "k"), "", 200, `{}`, "no operation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.req
			if req == nil {
				req = submit(tt.reqBody)
			}
			err := v.Check(req, []byte(tt.reqBody), response(tt.status), []byte(tt.respBody))
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

func TestWithMount(t *testing.T) {
	v := GPD().WithMount("/gpd/debt-positions-service/v1/")
	if v.Mount() != "/gpd/debt-positions-service/v1" || GPD().Mount() != "" {
		t.Fatalf("mounts %q %q", v.Mount(), GPD().Mount())
	}
	x, err := v.Request(request("GET", "/gpd/debt-positions-service/v1/organizations/X/debtpositions/I", "", key, "k"), nil)
	if err != nil || x.Operation() != "getOrganizationDebtPositionByIUPD" {
		t.Fatalf("mounted request: %v %v", x, err)
	}
	if _, err := v.Request(request("GET", "/organizations/X/debtpositions/I", "", key, "k"), nil); !errors.Is(err, ErrNoOperation) {
		t.Fatalf("request outside the mount: %v", err)
	}
}

func TestIsLocalDateTime(t *testing.T) {
	for s, want := range map[string]bool{
		"2026-12-31T23:59:59": true, "2026-12-31T23:59": true, "2026-12-31T23:59:59.123456789": true,
		"2026-12-31T23:59:59Z": false, "2026-12-31T23:59:59+01:00": false, "2026-12-31": false, "": false,
	} {
		if got := IsLocalDateTime(s); got != want {
			t.Errorf("IsLocalDateTime(%q) = %v", s, got)
		}
	}
}

func TestViolationProblems(t *testing.T) {
	body := func(subject string) string {
		return `{"fiscal_code":"SPNDNL80R13C555X","content":{"subject":"` + subject + `","markdown":"` + strings.Repeat("x", 80) + `"}}`
	}
	pos := `{"iupd":"I","type":"F","fiscalCode":"C","fullName":"N","switchToExpired":false,"companyName":"Co","paymentOption":[{"iuv":"1","amount":1,"description":"d","isPartialPayment":false,"dueDate":"2030-01-01T00:00:00Z"}]}`
	tests := []struct {
		name      string
		v         *Validator
		req       *http.Request
		body      string
		where     string
		wantField string
		wantIn    string
	}{
		{"nested body value", AppIO(), request("POST", "/api/v1/messages", body("short"), key, "k", "Content-Type", "application/json"), body("short"), "body", "content.subject", "minimum string length is 10"},
		{"path parameter", AppIO(), request("GET", "/api/v1/profiles/abc", "", key, "k"), "", "path", "fiscal_code", "length"},
		{"missing key", AppIO(), request("GET", "/api/v1/profiles/SPNDNL80R13C555X", ""), "", "header", "", "Ocp-Apim-Subscription-Key"},
		{"GPD date-time with an offset", GPD(), request("POST", "/organizations/X/debtpositions", pos, key, "k", "Content-Type", "application/json"), pos, "body", "paymentOption.0.dueDate", `format "date-time"`},
		{"query parameter", GPD(), request("GET", "/organizations/X/debtpositions?limit=99", "", key, "k"), "", "query", "limit", "at most 50"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.v.Request(tt.req, []byte(tt.body))
			var viol *Violation
			if !errors.As(err, &viol) {
				t.Fatalf("no violation: %v", err)
			}
			ps := viol.Problems()
			if len(ps) == 0 || ps[0].In != tt.where || ps[0].Field != tt.wantField || !strings.Contains(ps[0].Reason, tt.wantIn) {
				t.Fatalf("problems %q, want first %s: …%s…", ps, tt.wantField, tt.wantIn)
			}
			if !strings.Contains(viol.Error(), ps[0].String()) {
				t.Errorf("Error() %q does not carry %q", viol.Error(), ps[0])
			}
		})
	}
}

// The GPD validators check with kin-openapi's OpenAPI 3.0 schema validator
// (see New); that is sound only while the files use no keyword that JSON
// Schema 2020-12 added or changed.
func TestGPDUsesNoJSONSchema2020Keyword(t *testing.T) {
	keywords := []string{"const", "prefixItems", "$defs", "dependentRequired", "dependentSchemas", "unevaluatedProperties",
		"unevaluatedItems", "if", "then", "else", "contentEncoding", "contentMediaType", "$schema", "$anchor",
		"exclusiveMinimum", "exclusiveMaximum", "patternProperties", "propertyNames", "contains", "examples"}
	for _, name := range []string{GPDv1File, GPDv3File} {
		raw, err := File(name)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		var walk func(path string, v any)
		walk = func(path string, v any) {
			switch v := v.(type) {
			case map[string]any:
				for k, x := range v {
					// Under "properties" the keys are field names, not keywords.
					if !strings.HasSuffix(path, "/properties") && (slices.Contains(keywords, k) || (k == "type" && isList(x))) {
						t.Errorf("%s: %s/%s is JSON Schema 2020-12", name, path, k)
					}
					walk(path+"/"+k, x)
				}
			case []any:
				for i, x := range v {
					walk(fmt.Sprintf("%s/%d", path, i), x)
				}
			}
		}
		walk("#", doc["components"])
		walk("#/paths", doc["paths"])
	}
}

func isList(v any) bool { _, ok := v.([]any); return ok }
