package record_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ponte-pa/ponte/mocks/gpd"
	"github.com/ponte-pa/ponte/mocks/record"
	"github.com/ponte-pa/ponte/schemas/contracts"
)

const org = "01234567890"

// position is a GPD create body as the contract wants it, dueDate given.
func position(iupd, due string) string {
	return `{"iupd":"` + iupd + `","type":"F","fiscalCode":"RSSMRA80A01H501U","fullName":"Mario Rossi",` +
		`"companyName":"Comune di Prova","switchToExpired":false,"paymentOption":[{"iuv":"01000000000000144",` +
		`"amount":1000,"description":"TARI","isPartialPayment":false,"dueDate":"` + due + `",` +
		`"transfer":[{"idTransfer":"1","amount":1000,"remittanceInformation":"TARI","category":"9/0101100IM/",` +
		`"iban":"IT60X0542811101000000123456"}]}]}`
}

func send(t *testing.T, method, url, body string) int {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(gpd.SubscriptionKeyHeader, "secret-key")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode
}

func TestRecordsAndJudgesEveryCall(t *testing.T) {
	dir := t.TempDir()
	rec, err := record.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(rec.Wrap("gpd", record.Judge{Contract: contracts.GPD(), Uncovered: func(r *http.Request) string {
		if strings.HasPrefix(r.URL.Path, "/payments/") {
			return "no contract for receipts"
		}
		return ""
	}}, gpd.New(gpd.Options{})))
	defer srv.Close()
	base := srv.URL + "/organizations/" + org + "/debtpositions"

	calls := []struct {
		name, method, url, body string
		status                  int
		conforms                bool
		rule                    string // in the verdict when it does not conform
	}{
		{"a good create", "POST", base, position("IUPD-1", "2099-06-30T23:59:59"), 201, true, ""},
		{"a due date with an offset", "POST", base, position("IUPD-2", "2099-06-30T23:59:59+02:00"), 400, false, "dueDate"},
		{"a read", "GET", base + "/IUPD-1", "", 200, true, ""},
		{"a path GPD does not have", "GET", srv.URL + "/organizations/" + org + "/nothing", "", 404, false, "no operation"},
		{"an API outside the contract", "GET", srv.URL + "/payments/" + org + "/receipts/01000000000000144", "", 404, true, ""},
		{"the mock's control API", "GET", srv.URL + "/__mock/stats", "", 200, true, ""},
	}
	for _, c := range calls {
		if got := send(t, c.method, c.url, c.body); got != c.status {
			t.Fatalf("%s: status %d, want %d", c.name, got, c.status)
		}
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}

	all, err := record.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := all["gpd"]
	if len(got) != len(calls)-1 {
		t.Fatalf("recorded %d calls, want %d (the control API is not recorded)", len(got), len(calls)-1)
	}
	for i, e := range got {
		c := calls[i]
		if e.Request.Method != c.method || e.Response.Status != c.status || e.Verdict.Conforms != c.conforms {
			t.Errorf("%s: recorded %s %d conforms=%v", c.name, e.Request.Method, e.Response.Status, e.Verdict.Conforms)
		}
		if judged := e.Verdict.Unjudged == ""; e.Seq != int64(i+1) || judged != (e.Verdict.Contract == contracts.GPDv1File) {
			t.Errorf("%s: seq %d contract %q", c.name, e.Seq, e.Verdict.Contract)
		}
		if c.rule != "" && !strings.Contains(strings.Join(e.Describe(), "\n"), c.rule) {
			t.Errorf("%s: described as %q, want it to name %q", c.name, e.Describe(), c.rule)
		}
		if k := e.Request.Headers[gpd.SubscriptionKeyHeader]; len(k) != 1 || k[0] != "[redacted]" {
			t.Errorf("%s: subscription key recorded as %q", c.name, k)
		}
	}
	if got[0].Verdict.Operation != "createPosition" {
		t.Errorf("operation = %q", got[0].Verdict.Operation)
	}
	// JSON bodies are kept as JSON, so a reader can query them.
	var body struct{ IUPD string }
	if err := json.Unmarshal(got[0].Request.Body, &body); err != nil || body.IUPD != "IUPD-1" {
		t.Errorf("request body = %s (%v)", got[0].Request.Body, err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "gpd.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("secret-key")) {
		t.Error("the subscription key was written down")
	}

	s, err := record.Summarize(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got[4].Verdict.Unjudged != "no contract for receipts" {
		t.Errorf("receipts call judged: %+v", got[4].Verdict)
	}
	if s.Conforms() || len(s.Violations) != 2 || s.Mocks["gpd"] != (record.Count{Calls: 5, Violations: 2, Unjudged: 1}) {
		t.Errorf("summary = %+v", s)
	}
}

// A response that breaks the contract is the mock's fault, and the
// recording says so: the verdict does not take the mock's word.
func TestJudgesResponses(t *testing.T) {
	dir := t.TempDir()
	rec, err := record.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	broken := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		if _, err := w.Write([]byte(`{"iupd":12}`)); err != nil {
			t.Errorf("writing the answer: %v", err)
		}
	})
	srv := httptest.NewServer(rec.Wrap("gpd", record.Judge{Contract: contracts.GPD()}, broken))
	defer srv.Close()
	send(t, "POST", srv.URL+"/organizations/"+org+"/debtpositions", position("IUPD-1", "2099-06-30T23:59:59"))
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := record.Summarize(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Violations) != 1 || len(s.Violations[0].Verdict.Request) != 0 || len(s.Violations[0].Verdict.Response) == 0 {
		t.Fatalf("summary = %+v", s)
	}
}

func TestUnjudgedWithoutContract(t *testing.T) {
	dir := t.TempDir()
	rec, err := record.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	bin := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		if _, err := w.Write([]byte{0xff, 0x00, 0xfe}); err != nil {
			t.Errorf("writing the answer: %v", err)
		}
	})
	srv := httptest.NewServer(rec.Wrap("idp", record.Judge{}, bin))
	defer srv.Close()
	send(t, "GET", srv.URL+"/sso", "")
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	all, err := record.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	e := all["idp"]
	if len(e) != 1 || !e[0].Verdict.Conforms || e[0].Verdict.Unjudged == "" || e[0].Response.BodyBase64 != "/wD+" {
		t.Fatalf("entries = %+v", e)
	}
	// A new recording in the same directory starts empty.
	if _, err := record.New(dir); err != nil {
		t.Fatal(err)
	}
	if all, err = record.Read(dir); err != nil || len(all) != 0 {
		t.Fatalf("after New: %v %v", all, err)
	}
}
