package appiomock_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	appiomock "github.com/ponte-pa/ponte/mocks/appio"
	"github.com/ponte-pa/ponte/mocks/fault"
	"github.com/ponte-pa/ponte/schemas/contracts"
	"github.com/ponte-pa/ponte/schemas/contracts/contractstest"
)

const (
	key      = "k-payments"
	keyOff   = "k-disabled"
	fcOn     = "SPNDNL80R13C555X"
	fcOptOut = "RSSMRA85T10A562S"
	fcAbsent = "VRDGPP80A01H501Z"
)

var markdown = strings.Repeat("Testo del messaggio di prova. ", 4)

type harness struct {
	mock *appiomock.Server
	spec *contractstest.Transport
	http *http.Client
	url  string // server URL + BasePath
	root string // server URL
	now  time.Time
}

func newHarness(t *testing.T, edit func(*appiomock.Options)) *harness {
	t.Helper()
	h := &harness{now: time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)}
	opts := appiomock.Options{
		Services: map[string]appiomock.Service{
			key:    {ID: "01SVCPAY", Name: "Pagamenti", Allowed: true},
			keyOff: {ID: "01SVCOFF", Name: "Spento", Allowed: false},
		},
		Profiles: map[string]appiomock.ProfileSpec{
			fcOn:     {SenderAllowed: true, Languages: []string{"it_IT"}},
			fcOptOut: {SenderAllowed: false},
		},
		Now: func() time.Time { return h.now },
	}
	if edit != nil {
		edit(&opts)
	}
	h.mock = appiomock.New(opts)
	ts := httptest.NewServer(h.mock)
	t.Cleanup(ts.Close)
	base := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(base.CloseIdleConnections)
	h.spec = contractstest.New(t, contracts.AppIO(), base, nil)
	h.http = &http.Client{Transport: h.spec, Timeout: 10 * time.Second}
	h.url = ts.URL + appiomock.BasePath
	h.root = ts.URL
	return h
}

// do sends a request through the spec-checking transport.
func (h *harness) do(t *testing.T, method, path, k, body string) (*http.Response, []byte, error) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, h.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if k != "" {
		req.Header.Set(appiomock.SubscriptionKeyHeader, k)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := h.http.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

func (h *harness) mustDo(t *testing.T, method, path, k, body string, want int) []byte {
	t.Helper()
	resp, b, err := h.do(t, method, path, k, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d; body %s", method, path, resp.StatusCode, want, b)
	}
	return b
}

func messageJSON(fc string) string {
	m := map[string]any{
		"content": map[string]any{
			"subject":  "Avviso di pagamento",
			"markdown": markdown,
			"due_date": "2026-09-30T22:00:00.000Z",
			"payment_data": map[string]any{
				"amount": 100, "notice_number": "301000000000000144",
				"payee": map[string]any{"fiscal_code": "01234567890"},
			},
		},
	}
	if fc != "" {
		m["fiscal_code"] = fc
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err) // a map of strings and numbers always marshals
	}
	return string(b)
}

type problem struct {
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

func TestAuth(t *testing.T) {
	h := newHarness(t, nil)
	h.spec.AllowInvalidRequests(true) // the missing key breaks the security requirement
	h.mustDo(t, "GET", "/profiles/"+fcOn, "", "", http.StatusUnauthorized)
	if v := h.spec.RequestViolations(); len(v) != 1 || !strings.Contains(v[0].Error(), "Ocp-Apim-Subscription-Key") {
		t.Errorf("spec violations = %v, want the missing key", v)
	}
	h.spec.AllowInvalidRequests(false)
	h.mustDo(t, "GET", "/profiles/"+fcOn, "k-unknown", "", http.StatusUnauthorized)
	h.mustDo(t, "POST", "/messages", keyOff, messageJSON(fcOn), http.StatusForbidden)
	if s := h.mock.Stats(); s.Unauthorized != 2 || s.Forbidden != 1 || s.Messages != 0 || s.Requests != 3 {
		t.Errorf("stats = %+v", s)
	}
}

func TestZeroValueServer(t *testing.T) {
	var s appiomock.Server
	ts := httptest.NewServer(&s)
	defer ts.Close()
	get := func(path, k string) int {
		req, err := http.NewRequest("GET", ts.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set(appiomock.SubscriptionKeyHeader, k)
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get("/api/v1/profiles/"+fcOn, "any-key"); got != http.StatusNotFound {
		t.Errorf("zero value, unknown citizen: %d, want 404", got)
	}
	s.SetProfile(fcOn, appiomock.ProfileSpec{SenderAllowed: true})
	if got := get("/api/v1/profiles/"+fcOn, "any-key"); got != http.StatusOK {
		t.Errorf("after SetProfile: %d, want 200", got)
	}
	if got := get("/api/v1/profiles/"+fcOn, ""); got != http.StatusUnauthorized {
		t.Errorf("no key: %d, want 401", got)
	}
	s.SetService("only-key", appiomock.Service{ID: "S1", Allowed: true})
	if got := get("/api/v1/profiles/"+fcOn, "any-key"); got != http.StatusUnauthorized {
		t.Errorf("unknown key once services are set: %d, want 401", got)
	}
	if got := get("/elsewhere", "only-key"); got != http.StatusNotFound {
		t.Errorf("outside basePath: %d, want 404", got)
	}
}

func TestDefaultKnown(t *testing.T) {
	h := newHarness(t, func(o *appiomock.Options) { o.DefaultKnown = true })
	var p struct {
		SenderAllowed bool     `json:"sender_allowed"`
		Languages     []string `json:"preferred_languages"`
	}
	if err := json.Unmarshal(h.mustDo(t, "GET", "/profiles/"+fcAbsent, key, "", 200), &p); err != nil {
		t.Fatal(err)
	}
	if !p.SenderAllowed || len(p.Languages) != 1 {
		t.Errorf("default profile = %+v", p)
	}
	// Explicit profiles still win.
	if err := json.Unmarshal(h.mustDo(t, "GET", "/profiles/"+fcOptOut, key, "", 200), &p); err != nil {
		t.Fatal(err)
	}
	if p.SenderAllowed {
		t.Error("explicit opted-out profile overridden by DefaultKnown")
	}
}

func TestProfileByPOSTAndSubmitByPath(t *testing.T) {
	h := newHarness(t, nil)
	b := h.mustDo(t, "POST", "/profiles", key, `{"fiscal_code":"`+fcOn+`"}`, 200)
	if !strings.Contains(string(b), `"sender_allowed":true`) {
		t.Errorf("POST /profiles = %s", b)
	}
	h.mustDo(t, "POST", "/profiles", key, `{"fiscal_code":"`+fcAbsent+`"}`, 404)

	resp, b, err := h.do(t, "POST", "/messages/"+fcOn, key, messageJSON(""))
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /messages/{fc}: %v %v %s", resp, err, b)
	}
	var created struct{ ID string }
	if err := json.Unmarshal(b, &created); err != nil || created.ID == "" {
		t.Fatalf("created body %s: %v", b, err)
	}
	loc := resp.Header.Get("Location")
	if want := appiomock.BasePath + "/messages/" + fcOn + "/" + created.ID; loc != want {
		t.Errorf("Location = %q, want %q", loc, want)
	}
	b = h.mustDo(t, "GET", strings.TrimPrefix(loc, appiomock.BasePath), key, "", 200)
	var got struct {
		Message struct {
			ID, FiscalCode string
			CreatedAt      string `json:"created_at"`
		}
		Status string
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Message.ID != created.ID || got.Status != appiomock.StatusProcessed || got.Message.CreatedAt != "2026-05-04T10:00:00.000Z" {
		t.Errorf("GET message = %s", b)
	}
	msgs := h.mock.Messages()
	if len(msgs) != 1 || msgs[0].FiscalCode != fcOn || msgs[0].ServiceID != "01SVCPAY" || msgs[0].PaymentData.Amount != 100 {
		t.Errorf("Messages() = %+v", msgs)
	}
}

func TestSubmitValidation(t *testing.T) {
	base := func() map[string]any {
		var m map[string]any
		if err := json.Unmarshal([]byte(messageJSON(fcOn)), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	content := func(m map[string]any) map[string]any { return m["content"].(map[string]any) }
	pay := func(m map[string]any) map[string]any { return content(m)["payment_data"].(map[string]any) }
	tests := []struct {
		name  string
		edit  func(map[string]any)
		field string
		// schema tells whether the spec's JSON schema itself rejects the
		// body; where it does not, the mock follows the documented rules
		// (PaymentDataWithRequiredPayee, the FeatureLevelType values, the
		// fiscal code that POST /messages needs) and the platform's own
		// (lengths in UTF-16 code units).
		schema bool
	}{
		{"fiscal code missing", func(m map[string]any) { delete(m, "fiscal_code") }, "fiscal_code", false},
		{"fiscal code malformed", func(m map[string]any) { m["fiscal_code"] = "ABC" }, "fiscal_code", true},
		{"content missing", func(m map[string]any) { delete(m, "content") }, "content", true},
		{"subject missing", func(m map[string]any) { delete(content(m), "subject") }, "content.subject", true},
		{"subject short", func(m map[string]any) { content(m)["subject"] = "short" }, "content.subject", true},
		{"subject not a string", func(m map[string]any) { content(m)["subject"] = 12 }, "content.subject", true},
		{"markdown short", func(m map[string]any) { content(m)["markdown"] = "brief" }, "content.markdown", true},
		{"subject of 120 characters but 121 UTF-16 units", func(m map[string]any) {
			content(m)["subject"] = strings.Repeat("a", 119) + "😀"
		}, "content.subject", false},
		{"markdown long", func(m map[string]any) { content(m)["markdown"] = strings.Repeat("x", 10001) }, "content.markdown", true},
		{"ttl low", func(m map[string]any) { m["time_to_live"] = 60 }, "time_to_live", true},
		{"ttl high", func(m map[string]any) { m["time_to_live"] = 604801 }, "time_to_live", true},
		{"ttl fractional", func(m map[string]any) { m["time_to_live"] = 3600.5 }, "time_to_live", true},
		{"feature level unknown", func(m map[string]any) { m["feature_level_type"] = "GOLD" }, "feature_level_type", false},
		{"due date malformed", func(m map[string]any) { content(m)["due_date"] = "30/09/2026" }, "content.due_date", true},
		{"due date with an offset (UTCISODateFromString)", func(m map[string]any) {
			content(m)["due_date"] = "2026-10-01T00:00:00.000+02:00"
		}, "content.due_date", true},
		{"amount zero", func(m map[string]any) { pay(m)["amount"] = 0 }, "content.payment_data.amount", true},
		{"amount too big", func(m map[string]any) { pay(m)["amount"] = 10000000000 }, "content.payment_data.amount", true},
		{"amount missing", func(m map[string]any) { delete(pay(m), "amount") }, "content.payment_data.amount", true},
		{"notice number aux 9", func(m map[string]any) { pay(m)["notice_number"] = "901000000000000144" }, "content.payment_data.notice_number", true},
		{"payee missing", func(m map[string]any) { delete(pay(m), "payee") }, "content.payment_data.payee", false},
		{"payee fiscal code malformed", func(m map[string]any) {
			pay(m)["payee"] = map[string]any{"fiscal_code": "ABC"}
		}, "content.payment_data.payee.fiscal_code", true},
	}
	h := newHarness(t, nil)
	h.spec.AllowInvalidRequests(true)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := base()
			tt.edit(m)
			body, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			before := len(h.spec.RequestViolations())
			b := h.mustDo(t, "POST", "/messages", key, string(body), http.StatusBadRequest)
			var p problem
			if err := json.Unmarshal(b, &p); err != nil {
				t.Fatal(err)
			}
			if p.Status != 400 || p.Title != "Invalid NewMessage" || !strings.Contains(p.Detail, "at "+tt.field+" ") {
				t.Errorf("problem = %+v, want detail naming %s", p, tt.field)
			}
			if flagged := len(h.spec.RequestViolations()) > before; flagged != tt.schema {
				t.Errorf("spec schema flagged the body: %v, want %v", flagged, tt.schema)
			}
		})
	}
	h.mustDo(t, "POST", "/messages", key, "{not json", http.StatusBadRequest)
	if s := h.mock.Stats(); s.Invalid != len(tests)+1 || s.Messages != 0 || s.ContractViolations != 0 {
		t.Errorf("stats = %+v", s)
	}
	// An emoji counts one character for JSON schema, two for App IO: 119
	// units are fine.
	m := base()
	content(m)["subject"] = strings.Repeat("a", 117) + "😀"
	body, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	h.mustDo(t, "POST", "/messages", key, string(body), http.StatusCreated)
	// UTCISODateFromString takes a UTC time without the final Z too.
	m = base()
	content(m)["due_date"] = "2026-09-30T22:00:00"
	if body, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	h.mustDo(t, "POST", "/messages", key, string(body), http.StatusCreated)
	if got := h.mock.Messages(); len(got) != 2 || got[1].DueDate == nil || !got[1].DueDate.Equal(time.Date(2026, 9, 30, 22, 0, 0, 0, time.UTC)) {
		t.Errorf("due date of the message without Z = %v", got[len(got)-1].DueDate)
	}
}

func TestGetMessageErrors(t *testing.T) {
	h := newHarness(t, nil)
	h.spec.AllowInvalidRequests(true) // the malformed fiscal code breaks the path pattern
	h.mustDo(t, "GET", "/messages/lowercase0000000/01X", key, "", http.StatusBadRequest)
	h.spec.AllowInvalidRequests(false)
	h.mustDo(t, "GET", "/messages/"+fcOn+"/01NOPE", key, "", http.StatusNotFound)
	b := h.mustDo(t, "POST", "/messages", key, messageJSON(fcOn), http.StatusCreated)
	var c struct{ ID string }
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	// Same id, other citizen: not found.
	h.mustDo(t, "GET", "/messages/"+fcOptOut+"/"+c.ID, key, "", http.StatusNotFound)
}

func TestFaultKnobs(t *testing.T) {
	h := newHarness(t, nil)
	path := "/profiles/" + fcOn

	h.mock.Faults().FailNext(2, http.StatusServiceUnavailable)
	h.mustDo(t, "GET", path, key, "", 503)
	h.mustDo(t, "GET", path, key, "", 503)
	h.mustDo(t, "GET", path, key, "", 200)

	h.mock.Faults().SetErrorRate(1, 7)
	h.mustDo(t, "GET", path, key, "", 500)
	h.mock.Faults().SetErrorRate(0, 7)
	h.mustDo(t, "GET", path, key, "", 200)

	// A POST, because net/http itself resends a GET whose reused
	// connection was closed.
	h.mock.Faults().DropNext(1)
	if _, _, err := h.do(t, "POST", "/messages", key, messageJSON(fcOn)); err == nil {
		t.Error("DropNext: request succeeded")
	}
	if n := len(h.mock.Messages()); n != 0 {
		t.Errorf("DropNext: %d messages stored, want 0", n)
	}
	h.mustDo(t, "GET", path, key, "", 200)

	h.mock.Faults().LoseNext(1)
	if _, _, err := h.do(t, "POST", "/messages", key, messageJSON(fcOn)); err == nil {
		t.Error("LoseNext: submit got an answer")
	}
	if n := len(h.mock.Messages()); n != 1 {
		t.Errorf("LoseNext: %d messages stored, want 1", n)
	}
	// Reads are not lost, not even a profile read by POST.
	h.mock.Faults().LoseNext(1)
	h.mustDo(t, "GET", path, key, "", 200)
	h.mustDo(t, "POST", "/profiles", key, `{"fiscal_code":"`+fcOn+`"}`, 200)
	// Nor refused submits.
	h.mustDo(t, "POST", "/messages", keyOff, messageJSON(fcOn), 403)
	h.mock.Faults().LoseNext(0)

	h.mock.Faults().SetLatency(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	req, err := http.NewRequestWithContext(ctx, "POST", h.url+"/messages", strings.NewReader(messageJSON(fcOn)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(appiomock.SubscriptionKeyHeader, key)
	req.Header.Set("Content-Type", "application/json")
	if resp, err := h.http.Do(req); err == nil {
		resp.Body.Close()
		t.Error("latency: request finished before the client's deadline")
	}
	cancel()
	h.mock.Faults().SetLatency(0)
	if n := len(h.mock.Messages()); n != 1 {
		t.Errorf("a request abandoned during latency stored a message (%d messages)", n)
	}

	h.mock.SetRateLimit(1, time.Minute)
	h.mustDo(t, "GET", path, key, "", 200)
	resp, _, err := h.do(t, "GET", path, key, "")
	if err != nil || resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "60" {
		t.Fatalf("rate limit: %v %v, want 429 with Retry-After 60", resp, err)
	}
	h.now = h.now.Add(45 * time.Second)
	resp, _, err = h.do(t, "GET", path, key, "")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "15" {
		t.Errorf("later in the window: %d Retry-After %q, want 429 and 15", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	h.now = h.now.Add(15 * time.Second)
	h.mustDo(t, "GET", path, key, "", 200)

	s := h.mock.Stats()
	want := appiomock.Stats{Requests: 16, Messages: 1, RateLimited: 2, Forbidden: 1}
	if s != want {
		t.Errorf("stats = %+v\nwant    %+v", s, want)
	}
	if f := h.mock.Faults().Stats(); f != (fault.Stats{Failed: 2, Errors: 1, Dropped: 1, Lost: 1, Delayed: 1, Injected: 5}) {
		t.Errorf("fault stats = %+v", f)
	}
}

func TestErrorRateIsReproducible(t *testing.T) {
	run := func() string {
		h := newHarness(t, nil)
		h.mock.Faults().SetErrorRate(0.5, 42)
		var sb strings.Builder
		for range 30 {
			resp, _, err := h.do(t, "GET", "/profiles/"+fcOn, key, "")
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&sb, "%d ", resp.StatusCode)
		}
		return sb.String()
	}
	a, b := run(), run()
	if a != b {
		t.Errorf("same seed, different outcomes:\n%s\n%s", a, b)
	}
	if !strings.Contains(a, "500") || !strings.Contains(a, "200") {
		t.Errorf("rate 0.5 gave %s, want both 200 and 500", a)
	}
}

func TestInspectionHTTP(t *testing.T) {
	h := newHarness(t, nil)
	h.mustDo(t, "POST", "/messages", key, messageJSON(fcOn), 201)
	h.mustDo(t, "POST", "/messages", key, messageJSON(fcAbsent), 201)

	get := func(path string, v any) {
		t.Helper()
		resp, err := http.Get(h.root + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}
	post := func(path, body string) int {
		t.Helper()
		resp, err := http.Post(h.root+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	var msgs []appiomock.DeliveredMessage
	get("/__mock/messages", &msgs)
	if len(msgs) != 2 || msgs[0].FiscalCode != fcOn || msgs[1].Status != appiomock.StatusRejected ||
		msgs[0].PaymentData == nil || msgs[0].PaymentData.NoticeNumber != "301000000000000144" {
		t.Errorf("/__mock/messages = %+v", msgs)
	}
	var st appiomock.Stats
	get("/__mock/stats", &st)
	if st.Messages != 2 || st.Rejected != 1 || st.Requests != 2 {
		t.Errorf("/__mock/stats = %+v", st)
	}
	if code := post("/__mock/faults", `{"failNext":1,"failStatus":429,"retryAfter":3}`); code != 200 {
		t.Fatalf("POST /__mock/faults: %d", code)
	}
	resp, b, err := h.do(t, "GET", "/profiles/"+fcOn, key, "")
	if err != nil || resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "3" || !strings.Contains(string(b), `"status":429`) {
		t.Fatalf("injected 429: %v %v %s", resp, err, b)
	}
	h.mustDo(t, "GET", "/profiles/"+fcOn, key, "", 200)
	if code := post("/__mock/faults", `{"failNext":`); code != 400 {
		t.Errorf("bad faults JSON: %d, want 400", code)
	}
	if code := post("/__mock/config", `{"rate_limit":"x"}`); code != 400 {
		t.Errorf("bad config JSON: %d, want 400", code)
	}
	if code := post("/__mock/reset", ""); code != 204 {
		t.Fatalf("POST /__mock/reset: %d", code)
	}
	get("/__mock/stats", &st)
	if st != (appiomock.Stats{}) || len(h.mock.Messages()) != 0 || h.mock.Faults().Stats() != (fault.Stats{}) {
		t.Errorf("after reset: %+v, %d messages, faults %+v", st, len(h.mock.Messages()), h.mock.Faults().Stats())
	}
	// Configuration survives Reset.
	h.mustDo(t, "GET", "/profiles/"+fcOn, key, "", 200)
	resp, err = http.Get(h.root + "/__mock/nothing")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("/__mock/nothing: %d", resp.StatusCode)
	}
}

func TestConcurrentSubmits(t *testing.T) {
	h := newHarness(t, func(o *appiomock.Options) { o.DefaultKnown = true })
	const workers, each = 8, 25
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				resp, _, err := h.do(t, "POST", "/messages", key, messageJSON(fcOn))
				if err != nil || resp.StatusCode != 201 {
					t.Errorf("submit: %v %v", resp, err)
					return
				}
			}
		})
	}
	wg.Wait()
	msgs := h.mock.Messages()
	ids := map[string]bool{}
	for _, m := range msgs {
		ids[m.ID] = true
	}
	if len(msgs) != workers*each || len(ids) != workers*each {
		t.Errorf("%d messages with %d distinct ids, want %d", len(msgs), len(ids), workers*each)
	}
}

// FuzzSubmitBody feeds arbitrary bodies to POST /messages: the mock must
// answer 201 or 400, never panic, and store exactly the accepted ones.
func FuzzSubmitBody(f *testing.F) {
	f.Add(messageJSON(fcOn))
	f.Add(`{}`)
	f.Add(`{"fiscal_code":"` + fcOn + `","content":{"subject":null}}`)
	f.Add(`{"content":{"payment_data":{"amount":1e30}}}`)
	f.Add(`[1,2,3]`)
	f.Add("\x00\xff")
	f.Fuzz(func(t *testing.T, body string) {
		s := appiomock.New(appiomock.Options{DefaultKnown: true})
		req := httptest.NewRequest("POST", "/api/v1/messages", strings.NewReader(body))
		req.Header.Set(appiomock.SubscriptionKeyHeader, "k")
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		stored := len(s.Messages())
		switch rec.Code {
		case http.StatusCreated:
			if stored != 1 {
				t.Errorf("201 but %d messages stored", stored)
			}
		case http.StatusBadRequest:
			if stored != 0 {
				t.Errorf("400 but %d messages stored", stored)
			}
		default:
			t.Errorf("status %d for %q", rec.Code, body)
		}
	})
}

// TestSlidingRateWindow shows the window slides: a fixed window starting
// at the first request would accept the request at 1.2s.
func TestSlidingRateWindow(t *testing.T) {
	h := newHarness(t, func(o *appiomock.Options) { o.RateLimit, o.RateWindow = 2, time.Second })
	start := h.now
	path := "/profiles/" + fcOn
	for _, tc := range []struct {
		at         time.Duration
		want       int
		retryAfter string
	}{
		{0, 200, ""},
		{600 * time.Millisecond, 200, ""},
		{900 * time.Millisecond, 429, "1"},
		{time.Second, 200, ""}, // the request at 0 left (now-1s, now]
		{1200 * time.Millisecond, 429, "1"},
		{1600 * time.Millisecond, 200, ""},
	} {
		h.now = start.Add(tc.at)
		resp, _, err := h.do(t, "GET", path, key, "")
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != tc.want || resp.Header.Get("Retry-After") != tc.retryAfter {
			t.Errorf("at %s: %d Retry-After %q, want %d %q", tc.at, resp.StatusCode, resp.Header.Get("Retry-After"), tc.want, tc.retryAfter)
		}
	}
	if n := h.mock.Stats().RateLimited; n != 2 {
		t.Errorf("rate limited %d, want 2", n)
	}
}

const fcFailing = "BNCLRA90E45F205T"

func TestRequestLogAndProcessAfter(t *testing.T) {
	h := newHarness(t, func(o *appiomock.Options) {
		o.Profiles[fcFailing] = appiomock.ProfileSpec{SenderAllowed: true, Outcome: appiomock.StatusFailed}
	})
	post := func(path, body string) int {
		resp, err := http.Post(h.root+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("/__mock/config", `{"process_after_ms":60000}`); code != 204 {
		t.Fatalf("config: %d", code)
	}
	var ids []string
	for _, fc := range []string{fcOn, fcFailing, fcOptOut} {
		b := h.mustDo(t, "POST", "/messages", key, messageJSON(fc), 201)
		var r struct{ ID string }
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	status := func(fc, id string) string {
		var r struct{ Status string }
		if err := json.Unmarshal(h.mustDo(t, "GET", "/messages/"+fc+"/"+id, key, "", 200), &r); err != nil {
			t.Fatal(err)
		}
		return r.Status
	}
	fcs := []string{fcOn, fcFailing, fcOptOut}
	for i, fc := range fcs {
		if s := status(fc, ids[i]); s != appiomock.StatusAccepted {
			t.Errorf("%s before process_after: %s, want ACCEPTED", fc, s)
		}
	}
	h.now = h.now.Add(time.Minute)
	for i, want := range []string{appiomock.StatusProcessed, appiomock.StatusFailed, appiomock.StatusRejected} {
		if s := status(fcs[i], ids[i]); s != want {
			t.Errorf("%s after process_after: %s, want %s", fcs[i], s, want)
		}
	}
	h.spec.AllowInvalidRequests(true)
	h.do(t, "GET", "/profiles/"+fcOn, "", "") // 401, no key
	h.spec.AllowInvalidRequests(false)

	resp, err := http.Get(h.root + "/__mock/requests")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var recs []appiomock.RequestRecord
	if err := json.Unmarshal(raw, &recs); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), key) {
		t.Error("request log holds a subscription key")
	}
	var got []string
	for _, r := range recs {
		got = append(got, fmt.Sprintf("%s %s %d %t", r.Method, r.Operation, r.Status, r.KeyHash != ""))
	}
	want := []string{
		"POST submitMessage 201 true", "POST submitMessage 201 true", "POST submitMessage 201 true",
		"GET getMessage 200 true", "GET getMessage 200 true", "GET getMessage 200 true",
		"GET getMessage 200 true", "GET getMessage 200 true", "GET getMessage 200 true",
		"GET getProfile 401 false",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("request log:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(h.mock.Requests()) != len(want) || !recs[len(recs)-1].At.Equal(h.now) {
		t.Errorf("Requests() and the HTTP log disagree, or the time is not the mock clock's")
	}
}
