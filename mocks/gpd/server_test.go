package gpd

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ponte-pa/ponte/mocks/fault"
	"github.com/ponte-pa/ponte/schemas/contracts"
	"github.com/ponte-pa/ponte/schemas/contracts/contractstest"
)

const org = "01234567890"

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type harness struct {
	t     *testing.T
	s     *Server
	srv   *httptest.Server
	spec  *contractstest.Transport
	clock *clock
}

// skipUncontracted leaves out what has no embedded contract.
func skipUncontracted(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/__mock/") || strings.HasPrefix(r.URL.Path, "/payments/")
}

func newHarness(t *testing.T, keys ...string) *harness {
	c := &clock{t: time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)}
	s := New(Options{SubscriptionKeys: keys, Now: c.Now})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	h := &harness{t: t, s: s, srv: srv, spec: contractstest.New(t, contracts.GPD(), nil, skipUncontracted), clock: c}
	t.Cleanup(func() {
		if n := s.Stats().ContractViolations; n != 0 {
			t.Errorf("the mock broke the contract in %d responses", n)
		}
	})
	return h
}

// send sends a request with key "k" (or the given key; "" for none) through
// the contract-checking client and returns the status and the body.
func (h *harness) send(method, path string, body any, key ...string) (int, []byte) {
	h.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			h.t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, h.srv.URL+path, r)
	if err != nil {
		h.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	k := "k"
	if len(key) > 0 {
		k = key[0]
	}
	if k != "" {
		req.Header.Set(SubscriptionKeyHeader, k)
	}
	resp, err := h.spec.Client().Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp.StatusCode, b
}

// do is send that decodes the answer into out (when not nil).
func (h *harness) do(method, path string, body any, out any, key ...string) int {
	h.t.Helper()
	code, b := h.send(method, path, body, key...)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			h.t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
	return code
}

func iuvOf(n, i int) string { return fmt.Sprintf("01%010d%03d44", n, i) }

// position is a valid create body for IUPD-n with one option per amount
// (installments when more than one).
func (h *harness) position(n int, amounts ...int64) Position {
	if len(amounts) == 0 {
		amounts = []int64{1000}
	}
	p := Position{IUPD: fmt.Sprintf("IUPD-%d", n), Type: "F", FiscalCode: "RSSMRA80A01H501U",
		FullName: "Mario Rossi", CompanyName: "Comune di Prova"}
	for i, a := range amounts {
		p.PaymentOption = append(p.PaymentOption, Option{
			IUV: iuvOf(n, i), Amount: a, Description: "rata", IsPartialPayment: len(amounts) > 1,
			DueDate:  At(h.clock.Now().Add(time.Duration(i+1) * 30 * 24 * time.Hour)),
			Transfer: []Transfer{{IDTransfer: "1", Amount: a, RemittanceInformation: "TARI", Category: "9/0101100IM/", IBAN: "IT60X0542811101000000123456"}},
		})
	}
	return p
}

func path(iupd string, suffix ...string) string {
	p := "/organizations/" + org + "/debtpositions"
	if iupd != "" {
		p += "/" + iupd
	}
	return p + strings.Join(suffix, "")
}

func TestAuth(t *testing.T) {
	h := newHarness(t, "secret")
	h.spec.AllowInvalidRequests(true) // a request without the key breaks the contract's security
	var body map[string]any
	if st := h.do("GET", "/info", nil, &body, ""); st != 401 || body["statusCode"] != float64(401) {
		t.Fatalf("no key: %d %v", st, body)
	}
	h.spec.AllowInvalidRequests(false)
	if st := h.do("GET", "/info", nil, nil, "other"); st != 401 {
		t.Fatalf("wrong key: %d", st)
	}
	var info map[string]string
	if st := h.do("GET", "/info", nil, &info, "secret"); st != 200 || info["name"] == "" {
		t.Fatalf("good key: %d %v", st, info)
	}
	// Without configured keys any non-empty key works.
	h2 := newHarness(t)
	if st := h2.do("GET", "/info", nil, nil, "anything"); st != 200 {
		t.Fatalf("open mock: %d", st)
	}
}

func TestZeroValueServer(t *testing.T) {
	var s Server
	srv := httptest.NewServer(&s)
	defer srv.Close()
	s.Faults().FailNext(1, 500)
	req, err := http.NewRequest("GET", srv.URL+"/info", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(SubscriptionKeyHeader, "k")
	for _, want := range []int{500, 200} {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("zero value: %d, want %d", resp.StatusCode, want)
		}
	}
	if s.Stats().Requests["healthCheck"] != 1 || s.Faults().Stats().Failed != 1 {
		t.Fatalf("stats %+v, faults %+v", s.Stats(), s.Faults().Stats())
	}
}

// raw sends body as is, past the contract-checking client, and returns the
// status and the ProblemJson answered.
func (h *harness) raw(method, path, body string) (int, Problem) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set(SubscriptionKeyHeader, "k")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var p Problem
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		h.t.Fatalf("%s %s: %d without a ProblemJson: %v", method, path, resp.StatusCode, err)
	}
	return resp.StatusCode, p
}

// Requests that break the contract are refused with 400 and a ProblemJson
// naming the field, before any rule of the mock runs.
func TestContractViolationsAreRefused(t *testing.T) {
	h := newHarness(t)
	good, err := json.Marshal(h.position(1))
	if err != nil {
		t.Fatal(err)
	}
	g := string(good)
	due := At(h.clock.Now().Add(30 * 24 * time.Hour)).String()
	tests := []struct {
		name, method, path, body, want string
	}{
		{"dueDate with an offset (GPD reads LocalDateTime)", "POST", path(""), strings.Replace(g, due, due+"+01:00", 1), "paymentOption.0.dueDate"},
		{"dueDate in UTC", "POST", path(""), strings.Replace(g, due, due+"Z", 1), "paymentOption.0.dueDate"},
		{"missing fiscalCode", "POST", path(""), strings.Replace(g, `"fiscalCode":"RSSMRA80A01H501U",`, "", 1), "fiscalCode"},
		{"read-only status", "POST", path(""), strings.Replace(g, `"iupd":"IUPD-1"`, `"iupd":"IUPD-1","status":"VALID"`, 1), "status"},
		{"string boolean", "POST", path(""), strings.Replace(g, `"switchToExpired":false`, `"switchToExpired":"false"`, 1), "switchToExpired"},
		{"type not F or G", "POST", path(""), strings.Replace(g, `"type":"F"`, `"type":"X"`, 1), "type"},
		{"zero amount", "POST", path(""), strings.Replace(g, `"amount":1000`, `"amount":0`, 1), "amount"},
		{"idTransfer 6", "POST", path(""), strings.Replace(g, `"idTransfer":"1"`, `"idTransfer":"6"`, 1), "idTransfer"},
		{"malformed JSON", "POST", path(""), `{"iupd":`, ""},
		{"toPublish not a boolean", "POST", path("", "?toPublish=maybe"), g, "toPublish"},
		{"limit over 50", "GET", path("", "?limit=51"), "", "limit"},
		{"negative page", "GET", path("", "?page=-1"), "", "page"},
		{"unknown status", "GET", path("", "?status=NOPE"), "", "status"},
		{"bad date", "GET", path("", "?due_date_from=2026-13-01"), "", "due_date_from"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, p := h.raw(tt.method, tt.path, tt.body)
			if code != 400 || p.Status != 400 || !strings.Contains(p.Detail, tt.want) {
				t.Fatalf("%d %+v, want 400 naming %q", code, p, tt.want)
			}
		})
	}
	if n := len(h.s.Positions(org)); n != 0 {
		t.Errorf("%d positions stored from refused requests", n)
	}
	if st := h.s.Stats(); st.Creates != 0 {
		t.Errorf("stats %+v", st)
	}
}

// GPD's own rules, past the contract: each case breaks exactly one.
func TestGPDRules(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name string
		edit func(p *Position)
		want string
	}{
		{"transfers do not add up", func(p *Position) { p.PaymentOption[0].Transfer[0].Amount = 999 }, "paymentOption[0].transfer: transfer amounts sum to 999"},
		{"six transfers", func(p *Position) {
			o := &p.PaymentOption[0]
			o.Amount = 600
			o.Transfer = nil
			for i := 1; i <= 6; i++ {
				o.Transfer = append(o.Transfer, Transfer{IDTransfer: fmt.Sprint(min(i, 5)), Amount: 100, RemittanceInformation: "r", Category: "c", IBAN: "IT60X0542811101000000123456"})
			}
		}, "has 6 transfers, at most 5"},
		{"duplicate idTransfer", func(p *Position) {
			o := &p.PaymentOption[0]
			o.Transfer = append(o.Transfer, o.Transfer[0])
			o.Amount *= 2
		}, "transfer[1].idTransfer: duplicates"},
		{"iban and stamp", func(p *Position) {
			p.PaymentOption[0].Transfer[0].Stamp = &Stamp{HashDocument: "h", StampType: "01", ProvincialResidence: "RM"}
		}, "mutually exclusive"},
		{"neither iban nor stamp", func(p *Position) { p.PaymentOption[0].Transfer[0].IBAN = "" }, "either iban or stamp"},
		{"province of more than two letters", func(p *Position) {
			p.PaymentOption[0].Transfer[0].IBAN = ""
			p.PaymentOption[0].Transfer[0].Stamp = &Stamp{HashDocument: "h", StampType: "01", ProvincialResidence: "XRMX"}
		}, "stamp.provincialResidence"},
		{"country of more than two letters", func(p *Position) { p.Country = "XITX" }, "country"},
		{"email without @ (@Email)", func(p *Position) { p.Email = "mario.rossi.example.it" }, "email: must be a well-formed"},
		{"email with a space", func(p *Position) { p.Email = "mario rossi@example.it" }, "email: must be a well-formed"},
		{"email with two dots", func(p *Position) { p.Email = "mario..rossi@example.it" }, "email: must be a well-formed"},
		{"email domain ending in a hyphen", func(p *Position) { p.Email = "mario@example-.it" }, "email: must be a well-formed"},
		{"duplicate metadata key", func(p *Position) {
			p.PaymentOption[0].PaymentOptionMetadata = []Metadata{{Key: "a", Value: "1"}, {Key: "a", Value: "2"}}
		}, "paymentOptionMetadata[1].key"},
		{"validity date in the past", func(p *Position) { p.ValidityDate = ptr(At(h.clock.Now().Add(-time.Hour))) }, "validityDate: must be in the future"},
		{"due date before the validity date", func(p *Position) {
			p.ValidityDate = ptr(At(h.clock.Now().Add(60 * 24 * time.Hour)))
		}, "dueDate: must not be before validityDate"},
		{"due date in the past", func(p *Position) { p.PaymentOption[0].DueDate = At(h.clock.Now().Add(-time.Minute)) }, "dueDate: must not be before now"},
		{"retention before due date", func(p *Position) {
			p.PaymentOption[0].RetentionDate = ptr(At(p.PaymentOption[0].DueDate.Add(-time.Hour)))
		}, "retentionDate"},
		{"same IUV twice", func(p *Position) { p.PaymentOption[1].IUV = p.PaymentOption[0].IUV }, "paymentOption[1].iuv: duplicates"},
	}
	for n, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := h.position(n, 500, 700)
			tt.edit(&p)
			var pj Problem
			if st := h.do("POST", path(""), p, &pj); st != 400 || pj.Status != 400 || !strings.Contains(pj.Detail, tt.want) {
				t.Fatalf("%d %+v, want 400 with %q", st, pj, tt.want)
			}
		})
	}
	if len(h.s.Positions(org)) != 0 {
		t.Error("a refused position was stored")
	}
}

func TestCreateAndDuplicates(t *testing.T) {
	h := newHarness(t)
	var created Position
	if st := h.do("POST", path(""), h.position(1), &created); st != 201 || created.Status != "DRAFT" || created.PaymentOption[0].NAV != "3"+created.PaymentOption[0].IUV {
		t.Fatalf("create: %d %+v", st, created)
	}
	if created.FiscalCode != "RSSMRA80A01H501U" || !created.PaymentOption[0].DueDate.Equal(h.clock.Now().Add(30*24*time.Hour)) {
		t.Fatalf("create answer: %+v", created)
	}
	var pj Problem
	if st := h.do("POST", path(""), h.position(1), &pj); st != 409 || !strings.Contains(pj.Detail, "IUPD-1") {
		t.Fatalf("duplicate IUPD: %d %+v", st, pj)
	}
	other := h.position(2)
	other.PaymentOption[0].IUV = created.PaymentOption[0].IUV
	if st := h.do("POST", path(""), other, &pj); st != 409 || !strings.Contains(pj.Detail, "IUV") {
		t.Fatalf("duplicate IUV: %d %+v", st, pj)
	}
	// The same IUV in another organization is fine.
	if st := h.do("POST", "/organizations/99999999999/debtpositions", other, nil); st != 201 {
		t.Fatalf("other org: %d", st)
	}
	var base map[string]any
	if st := h.do("GET", path("IUPD-1"), nil, &base); st != 200 || base["fiscalCode"] != nil || base["status"] != "DRAFT" {
		t.Fatalf("GET must answer the base model without debtor: %d %v", st, base)
	}
	if base["insertedDate"] != "2026-11-01T11:00:00" {
		t.Errorf("insertedDate %v, want Rome wall time without offset", base["insertedDate"])
	}
	if st := h.do("GET", path("NOPE"), nil, &pj); st != 404 || pj.Status != 404 {
		t.Fatalf("missing: %d %+v", st, pj)
	}
	st := h.s.Stats()
	if st.Creates != 2 || st.DuplicatesRejected != 2 || st.Requests["createPosition"] != 4 {
		t.Fatalf("stats %+v", st)
	}
}

func TestLifecycle(t *testing.T) {
	h := newHarness(t)
	// Future validity date: PUBLISHED, then VALID when the clock reaches it.
	p := h.position(1)
	p.ValidityDate = ptr(At(h.clock.Now().Add(24 * time.Hour)))
	var got Position
	if st := h.do("POST", path(""), p, nil); st != 201 {
		t.Fatalf("create: %d", st)
	}
	if st := h.do("POST", path("IUPD-1", "/publish"), nil, &got); st != 200 || got.Status != "PUBLISHED" {
		t.Fatalf("publish: %d %s", st, got.Status)
	}
	if st := h.do("POST", path("IUPD-1", "/publish"), nil, nil); st != 409 {
		t.Fatalf("publish twice: %d", st)
	}
	h.clock.Advance(25 * time.Hour)
	if pos, ok := h.s.Position(org, "IUPD-1"); !ok || pos.Status != "VALID" {
		t.Fatalf("after validity date: %s", pos.Status)
	}
	// Installments: PARTIALLY_PAID then PAID.
	if st := h.do("POST", path("", "?toPublish=true"), h.position(2, 500, 700), &got); st != 201 || got.Status != "VALID" {
		t.Fatalf("toPublish: %d %s", st, got.Status)
	}
	var paid map[string]any
	nav1, nav2 := got.PaymentOption[0].NAV, got.PaymentOption[1].NAV
	if st := h.do("POST", "/organizations/"+org+"/paymentoptions/paids/"+nav1, map[string]any{}, &paid); st != 200 || paid["status"] != "PO_PAID" {
		t.Fatalf("pay 1: %d %v", st, paid)
	}
	if pos, ok := h.s.Position(org, "IUPD-2"); !ok || pos.Status != "PARTIALLY_PAID" {
		t.Fatalf("after 1 of 2: %s", pos.Status)
	}
	if err := h.s.Pay(org, nav1); !errors.Is(err, ErrAlreadyPaid) {
		t.Fatalf("pay 1 again: %v", err)
	}
	if err := h.s.Pay(org, nav2); err != nil {
		t.Fatal(err)
	}
	if pos, ok := h.s.Position(org, "IUPD-2"); !ok || pos.Status != "PAID" || pos.PaymentDate == nil {
		t.Fatalf("after 2 of 2: %s", pos.Status)
	}
	for _, c := range []struct {
		method, path string
		body         any
	}{{"PUT", path("IUPD-2"), h.position(2, 500, 700)}, {"DELETE", path("IUPD-2"), nil}, {"POST", path("IUPD-2", "/invalidate"), nil}} {
		if st := h.do(c.method, c.path, c.body, nil); st != 409 {
			t.Fatalf("%s PAID: %d", c.method, st)
		}
	}
	// Invalidate, then not payable.
	if st := h.do("POST", path("IUPD-1", "/invalidate"), nil, &got); st != 200 || got.Status != "INVALID" {
		t.Fatalf("invalidate: %d %s", st, got.Status)
	}
	if st := h.do("POST", "/organizations/"+org+"/paymentoptions/paids/3"+iuvOf(1, 0), map[string]any{}, nil); st != 422 {
		t.Fatalf("pay INVALID: %d", st)
	}
	if err := h.s.Pay(org, "300000000000000000"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("pay unknown: %v", err)
	}
	// Expiry with switchToExpired.
	p3 := h.position(3)
	p3.SwitchToExpired = true
	if st := h.do("POST", path("", "?toPublish=true"), p3, nil); st != 201 {
		t.Fatalf("create 3: %d", st)
	}
	h.clock.Advance(31 * 24 * time.Hour)
	if pos, ok := h.s.Position(org, "IUPD-3"); !ok || pos.Status != "EXPIRED" {
		t.Fatalf("after due date: %s", pos.Status)
	}
	// Update a VALID position: back to DRAFT, IUV index moves.
	p4 := h.position(4)
	if st := h.do("POST", path("", "?toPublish=true"), p4, nil); st != 201 {
		t.Fatalf("create 4: %d", st)
	}
	oldIUV := p4.PaymentOption[0].IUV
	p4.PaymentOption[0].IUV = iuvOf(99, 9)
	if st := h.do("PUT", path("IUPD-4"), p4, &got); st != 200 || got.Status != "DRAFT" {
		t.Fatalf("update: %d %s", st, got.Status)
	}
	p5 := h.position(5)
	p5.PaymentOption[0].IUV = oldIUV
	if st := h.do("POST", path(""), p5, nil); st != 201 {
		t.Fatalf("reuse of a released IUV: %d", st)
	}
	if st := h.do("PUT", path("IUPD-4"), h.position(6), nil); st != 400 {
		t.Fatalf("update with other iupd: %d", st)
	}
	if st := h.do("DELETE", path("IUPD-4"), nil, nil); st != 200 {
		t.Fatalf("delete: %d", st)
	}
	if _, ok := h.s.Position(org, "IUPD-4"); ok {
		t.Fatal("deleted position still there")
	}
}

func TestListPaging(t *testing.T) {
	h := newHarness(t)
	for i := 1; i <= 12; i++ {
		q := ""
		if i <= 5 {
			q = "?toPublish=true"
		}
		if st := h.do("POST", path("", q), h.position(i), nil); st != 201 {
			t.Fatalf("create %d: %d", i, st)
		}
	}
	var info struct {
		List     []map[string]any `json:"payment_position_list"`
		PageInfo PageInfo         `json:"page_info"`
	}
	if st := h.do("GET", path("", "?limit=5&page=2"), nil, &info); st != 200 || len(info.List) != 2 ||
		info.PageInfo != (PageInfo{Page: 2, Limit: 5, ItemsFound: 2, TotalPages: 3}) {
		t.Fatalf("page 2: %d %+v %d", st, info.PageInfo, len(info.List))
	}
	h.do("GET", path("", ""), nil, &info)
	if len(info.List) != 10 || info.List[0]["iupd"] != "IUPD-12" || info.PageInfo.TotalPages != 2 {
		t.Fatalf("defaults: %+v first %v", info.PageInfo, info.List[0]["iupd"])
	}
	h.do("GET", path("", "?status=VALID&limit=50&orderby=IUPD&ordering=ASC"), nil, &info)
	if len(info.List) != 5 || info.List[0]["iupd"] != "IUPD-1" {
		t.Fatalf("status filter: %d %v", len(info.List), info.List)
	}
	h.do("GET", path("", "?due_date_from=2026-12-01&due_date_to=2026-12-01&limit=50"), nil, &info)
	if len(info.List) != 12 {
		t.Fatalf("due date filter on the day of every due date: %d", len(info.List))
	}
	h.do("GET", path("", "?due_date_from=2026-12-02&limit=50"), nil, &info)
	if len(info.List) != 0 {
		t.Fatalf("due date filter after every due date: %d", len(info.List))
	}
	h.do("GET", path("", "?page=9"), nil, &info)
	if len(info.List) != 0 || info.PageInfo.TotalPages != 2 {
		t.Fatalf("past the end: %+v", info)
	}
	// GPD's own bound: a page holds at least one position.
	if code, p := h.raw("GET", path("", "?limit=0"), ""); code != 400 || !strings.Contains(p.Detail, "limit") {
		t.Fatalf("limit 0: %d %+v", code, p)
	}
}

func TestFaults(t *testing.T) {
	h := newHarness(t)
	plain := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	body, err := json.Marshal(h.position(1))
	if err != nil {
		t.Fatal(err)
	}
	send := func() (int, error) {
		req, err := http.NewRequest("POST", h.srv.URL+path(""), bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set(SubscriptionKeyHeader, "k")
		req.Header.Set("Content-Type", "application/json")
		resp, err := plain.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	f := h.s.Faults()
	f.FailNext(2, 503)
	for range 2 {
		if st, err := send(); err != nil || st != 503 {
			t.Fatalf("FailNext: %d %v", st, err)
		}
	}
	f.DropNext(1)
	if _, err := send(); err == nil {
		t.Fatal("DropNext: want a connection error")
	}
	if len(h.s.Positions(org)) != 0 {
		t.Fatal("dropped request was applied")
	}
	f.LoseNext(1)
	if _, err := send(); err == nil {
		t.Fatal("LoseNext: want a connection error")
	}
	if len(h.s.Positions(org)) != 1 {
		t.Fatal("lost-response request was not applied")
	}
	if st, err := send(); err != nil || st != 409 {
		t.Fatalf("retry after lost response: %d %v", st, err)
	}
	f.SetErrorRate(1, 42)
	if st, err := send(); err != nil || st != 500 {
		t.Fatalf("error rate 1: %d %v", st, err)
	}
	f.SetErrorRate(0.5, 7)
	fails := 0
	for range 40 {
		st, err := send()
		if err != nil {
			t.Fatal(err)
		}
		if st == 500 {
			fails++
		}
	}
	if fails == 0 || fails == 40 {
		t.Fatalf("error rate 0.5: %d/40 failed", fails)
	}
	f.SetErrorRate(0, 0)
	f.SetLatency(time.Millisecond)
	if st, err := send(); err != nil || st != 409 {
		t.Fatalf("with latency: %d %v", st, err)
	}
	if st := f.Stats(); st.Injected != 5+fails || st.Lost != 1 || st.Dropped != 1 {
		t.Fatalf("faults %+v, want %d injected", st, 5+fails)
	}
	h.s.Reset()
	if len(h.s.Positions(org)) != 0 || f.Stats() != (fault.Stats{}) || f.Knobs() != (fault.Knobs{}) {
		t.Fatal("Reset kept state")
	}
}

func TestInspectionHTTP(t *testing.T) {
	h := newHarness(t)
	if st := h.do("POST", path(""), h.position(1), nil); st != 201 {
		t.Fatalf("create: %d", st)
	}
	var ps []Position
	h.do("GET", "/__mock/positions?org="+org, nil, &ps)
	if len(ps) != 1 || ps[0].FiscalCode != "RSSMRA80A01H501U" || ps[0].Status != "DRAFT" {
		t.Fatalf("positions: %+v", ps)
	}
	var st Stats
	h.do("GET", "/__mock/stats", nil, &st)
	if st.Creates != 1 || st.Requests["createPosition"] != 1 {
		t.Fatalf("stats: %+v", st)
	}
	// The fault control, as on every mock.
	var fs fault.State
	if code := h.do("POST", "/__mock/faults", map[string]any{"failNext": 1, "failStatus": 500}, &fs); code != 200 || fs.FailNext != 1 {
		t.Fatalf("POST /__mock/faults: %d %+v", code, fs)
	}
	if code := h.do("GET", path("IUPD-1"), nil, nil); code != 500 {
		t.Fatalf("after POST /__mock/faults: %d", code)
	}
	if code := h.do("POST", "/__mock/reset", nil, nil); code != 204 || len(h.s.Positions(org)) != 0 {
		t.Fatalf("reset: %d", code)
	}
}

func TestConcurrentCreates(t *testing.T) {
	h := newHarness(t)
	var wg sync.WaitGroup
	codes := make([]int, 40)
	for i := range codes {
		wg.Go(func() {
			// Two callers per IUPD: exactly one must win.
			codes[i] = h.do("POST", path(""), h.position(i/2), nil)
		})
	}
	wg.Wait()
	created := 0
	for _, c := range codes {
		if c == 201 {
			created++
		} else if c != 409 {
			t.Fatalf("status %d", c)
		}
	}
	if created != 20 || len(h.s.Positions(org)) != 20 {
		t.Fatalf("created %d, stored %d; want 20", created, len(h.s.Positions(org)))
	}
}

func TestLocalTime(t *testing.T) {
	for _, tt := range []struct {
		in, out string
		ok      bool
	}{
		{"2026-12-31T23:59:59", "2026-12-31T23:59:59", true},
		{"2026-12-31T23:59", "2026-12-31T23:59:00", true},
		{"2026-07-01T10:00:00.5", "2026-07-01T10:00:00.5", true},
		{"2026-12-31T23:59:59Z", "", false},
		{"2026-12-31T23:59:59+01:00", "", false},
		{"2026-12-31", "", false},
	} {
		lt, err := ParseLocalTime(tt.in)
		if (err == nil) != tt.ok || (tt.ok && lt.String() != tt.out) {
			t.Errorf("ParseLocalTime(%q) = %s, %v", tt.in, lt, err)
		}
	}
	// Any instant is written as Rome wall time.
	if s := At(time.Date(2026, 12, 31, 22, 59, 59, 0, time.UTC)).String(); s != "2026-12-31T23:59:59" {
		t.Errorf("UTC instant written as %s", s)
	}
}

func TestIsEmail(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"mario.rossi@example.it", true},
		{"m+tag@comune.esempio.it", true},
		{"user@localhost", true}, // Hibernate needs no top-level domain
		{"òscar@example.it", true},
		{"a@[192.168.0.1]", true},
		{"", false},
		{"@example.it", false},
		{"mario@", false},
		{"mario@@example.it", false},
		{"mario.@example.it", false},
		{".mario@example.it", false},
		{"mario@-example.it", false},
		{"mario@example..it", false},
		{strings.Repeat("a", 65) + "@example.it", false},
	} {
		if got := isEmail(tt.in); got != tt.want {
			t.Errorf("isEmail(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
