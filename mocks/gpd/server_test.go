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

	"github.com/ponte-pa/ponte/connectors/pagopa"
	"github.com/ponte-pa/ponte/connectors/pagopa/pagopatest"
)

const (
	specPath = "../../../shared/specs/gpd-external-v1.json"
	org      = "01234567890"
)

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
	hc    *http.Client
	clock *clock
}

func newHarness(t *testing.T, keys ...string) *harness {
	c := &clock{t: time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)}
	s := New(Options{SubscriptionKeys: keys, Now: c.Now})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return &harness{t: t, s: s, srv: srv, hc: pagopatest.NewTransport(t, specPath).Client(), clock: c}
}

// do sends a request with key "k" (or the given header value) and decodes the answer.
func (h *harness) do(method, path string, body any, out any, key ...string) int {
	h.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, h.srv.URL+path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	k := "k"
	if len(key) > 0 {
		k = key[0]
	}
	if k != "" {
		req.Header.Set(pagopa.SubscriptionKeyHeader, k)
	}
	resp, err := h.hc.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			h.t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
	return resp.StatusCode
}

func (h *harness) position(n int, amounts ...int64) pagopa.PaymentPosition {
	if len(amounts) == 0 {
		amounts = []int64{1000}
	}
	p := pagopa.PaymentPosition{IUPD: fmt.Sprintf("IUPD-%d", n), Type: "F", FiscalCode: "RSSMRA80A01H501U",
		FullName: "Mario Rossi", CompanyName: "Comune di Prova"}
	for i, a := range amounts {
		iuv, _ := pagopa.NewIUV("01", fmt.Sprintf("%010d%03d", n, i))
		p.PaymentOption = append(p.PaymentOption, pagopa.PaymentOption{
			IUV: iuv, Amount: a, Description: "rata", IsPartialPayment: len(amounts) > 1,
			DueDate:  h.clock.Now().Add(time.Duration(i+1) * 30 * 24 * time.Hour),
			Transfer: []pagopa.Transfer{{IDTransfer: "1", Amount: a, RemittanceInformation: "TARI", Category: "9/0101100IM/", IBAN: "IT60X0542811101000000123456"}},
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
	var body map[string]any
	if st := h.do("GET", "/info", nil, &body, ""); st != 401 || body["statusCode"] != float64(401) {
		t.Fatalf("no key: %d %v", st, body)
	}
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
	if st := h2.do("GET", "/info", nil, nil, ""); st != 401 {
		t.Fatalf("open mock without key: %d", st)
	}
}

func TestZeroValueServer(t *testing.T) {
	var s Server
	srv := httptest.NewServer(&s)
	defer srv.Close()
	s.FailNext(1, 500)
	req, _ := http.NewRequest("GET", srv.URL+"/info", nil)
	req.Header.Set(pagopa.SubscriptionKeyHeader, "k")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 500 {
		t.Fatalf("zero value with fault: %v %v", resp, err)
	}
	resp.Body.Close()
	if s.Stats().Requests["healthCheck"] != 1 {
		t.Fatalf("stats %+v", s.Stats())
	}
}

func TestCreateValidationAndDuplicates(t *testing.T) {
	h := newHarness(t)
	bad := h.position(1)
	bad.PaymentOption[0].Transfer[0].Amount = 999
	var pj pagopa.ProblemJSON
	if st := h.do("POST", path(""), bad, &pj); st != 400 || pj.Status != 400 || !strings.Contains(pj.Detail, "paymentOption[0].transfer") {
		t.Fatalf("bad sum: %d %+v", st, pj)
	}
	req, _ := http.NewRequest("POST", h.srv.URL+path(""), strings.NewReader("{not json"))
	req.Header.Set(pagopa.SubscriptionKeyHeader, "k")
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 400 {
		t.Fatalf("malformed JSON: %v %v", resp, err)
	}
	var created pagopa.PaymentPosition
	if st := h.do("POST", path(""), h.position(1), &created); st != 201 || created.Status != "DRAFT" || created.PaymentOption[0].NAV != "3"+created.PaymentOption[0].IUV {
		t.Fatalf("create: %d %+v", st, created)
	}
	if created.FiscalCode != "RSSMRA80A01H501U" {
		t.Fatalf("create answer lacks debtor: %+v", created)
	}
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
	if st := h.do("GET", path("NOPE"), nil, &pj); st != 404 || pj.Status != 404 {
		t.Fatalf("missing: %d %+v", st, pj)
	}
	st := h.s.Stats()
	if st.Creates != 2 || st.DuplicatesRejected != 2 || st.Requests["createPosition"] != 6 {
		t.Fatalf("stats %+v", st)
	}
}

func TestLifecycle(t *testing.T) {
	h := newHarness(t)
	// Future validity date: PUBLISHED, then VALID when the clock reaches it.
	p := h.position(1)
	v := h.clock.Now().Add(24 * time.Hour)
	p.ValidityDate = &v
	var got pagopa.PaymentPosition
	h.do("POST", path(""), p, nil)
	if st := h.do("POST", path("IUPD-1", "/publish"), nil, &got); st != 200 || got.Status != "PUBLISHED" {
		t.Fatalf("publish: %d %s", st, got.Status)
	}
	if st := h.do("POST", path("IUPD-1", "/publish"), nil, nil); st != 409 {
		t.Fatalf("publish twice: %d", st)
	}
	h.clock.Advance(25 * time.Hour)
	if pos, _ := h.s.Position(org, "IUPD-1"); pos.Status != "VALID" {
		t.Fatalf("after validity date: %s", pos.Status)
	}
	// Installments: PARTIALLY_PAID then PAID.
	h.do("POST", path("", "?toPublish=true"), h.position(2, 500, 700), &got)
	if got.Status != "VALID" {
		t.Fatalf("toPublish: %s", got.Status)
	}
	var paid map[string]any
	nav1, nav2 := got.PaymentOption[0].NAV, got.PaymentOption[1].NAV
	if st := h.do("POST", "/organizations/"+org+"/paymentoptions/paids/"+nav1, map[string]any{}, &paid); st != 200 || paid["status"] != "PO_PAID" {
		t.Fatalf("pay 1: %d %v", st, paid)
	}
	if pos, _ := h.s.Position(org, "IUPD-2"); pos.Status != "PARTIALLY_PAID" {
		t.Fatalf("after 1 of 2: %s", pos.Status)
	}
	if err := h.s.Pay(org, nav1); !errors.Is(err, ErrAlreadyPaid) {
		t.Fatalf("pay 1 again: %v", err)
	}
	if err := h.s.Pay(org, nav2); err != nil {
		t.Fatal(err)
	}
	if pos, _ := h.s.Position(org, "IUPD-2"); pos.Status != "PAID" || pos.PaymentDate == nil {
		t.Fatalf("after 2 of 2: %s", pos.Status)
	}
	if st := h.do("PUT", path("IUPD-2"), h.position(2, 500, 700), nil); st != 409 {
		t.Fatalf("update PAID: %d", st)
	}
	if st := h.do("DELETE", path("IUPD-2"), nil, nil); st != 409 {
		t.Fatalf("delete PAID: %d", st)
	}
	if st := h.do("POST", path("IUPD-2", "/invalidate"), nil, nil); st != 409 {
		t.Fatalf("invalidate PAID: %d", st)
	}
	// Invalidate, then not payable.
	if st := h.do("POST", path("IUPD-1", "/invalidate"), nil, &got); st != 200 || got.Status != "INVALID" {
		t.Fatalf("invalidate: %d %s", st, got.Status)
	}
	pos1, _ := h.s.Position(org, "IUPD-1")
	if st := h.do("POST", "/organizations/"+org+"/paymentoptions/paids/"+pos1.PaymentOption[0].NAV, map[string]any{}, nil); st != 422 {
		t.Fatalf("pay INVALID: %d", st)
	}
	if err := h.s.Pay(org, "300000000000000000"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("pay unknown: %v", err)
	}
	// Expiry with switchToExpired.
	p3 := h.position(3)
	p3.SwitchToExpired = true
	h.do("POST", path("", "?toPublish=true"), p3, nil)
	h.clock.Advance(31 * 24 * time.Hour)
	if pos, _ := h.s.Position(org, "IUPD-3"); pos.Status != "EXPIRED" {
		t.Fatalf("after due date: %s", pos.Status)
	}
	// Update a VALID position: back to DRAFT, IUV index moves.
	p4 := h.position(4)
	h.do("POST", path("", "?toPublish=true"), p4, nil)
	oldIUV := p4.PaymentOption[0].IUV
	p4.PaymentOption[0].IUV, _ = pagopa.NewIUV("01", "9999999999999")
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
		h.do("POST", path("", q), h.position(i), nil)
	}
	var info struct {
		List     []map[string]any `json:"payment_position_list"`
		PageInfo pagopa.PageInfo  `json:"page_info"`
	}
	if st := h.do("GET", path("", "?limit=5&page=2"), nil, &info); st != 200 || len(info.List) != 2 ||
		info.PageInfo != (pagopa.PageInfo{Page: 2, Limit: 5, ItemsFound: 2, TotalPages: 3}) {
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
	h.do("GET", path("", "?page=9"), nil, &info)
	if len(info.List) != 0 || info.PageInfo.TotalPages != 2 {
		t.Fatalf("past the end: %+v", info)
	}
	// Violations the server rejects, sent without the validating transport.
	for _, q := range []string{"?limit=51", "?limit=0", "?page=-1", "?status=NOPE", "?due_date_from=2026-13-01"} {
		req, _ := http.NewRequest("GET", h.srv.URL+path("", q), nil)
		req.Header.Set(pagopa.SubscriptionKeyHeader, "k")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 400 {
			t.Fatalf("%s: %v %v", q, resp, err)
		}
		resp.Body.Close()
	}
}

func TestFaults(t *testing.T) {
	h := newHarness(t)
	plain := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	send := func() (int, error) {
		req, _ := http.NewRequest("POST", h.srv.URL+path(""), bytes.NewReader(mustJSON(h.position(1))))
		req.Header.Set(pagopa.SubscriptionKeyHeader, "k")
		req.Header.Set("Content-Type", "application/json")
		resp, err := plain.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	h.s.FailNext(2, 503)
	for i := 0; i < 2; i++ {
		if st, _ := send(); st != 503 {
			t.Fatalf("FailNext: %d", st)
		}
	}
	h.s.DropNext(1)
	if _, err := send(); err == nil {
		t.Fatal("DropNext: want a connection error")
	}
	if len(h.s.Positions(org)) != 0 {
		t.Fatal("dropped request was applied")
	}
	h.s.LoseResponseNext(1)
	if _, err := send(); err == nil {
		t.Fatal("LoseResponseNext: want a connection error")
	}
	if len(h.s.Positions(org)) != 1 {
		t.Fatal("lost-response request was not applied")
	}
	if st, _ := send(); st != 409 {
		t.Fatalf("retry after lost response: %d", st)
	}
	h.s.SetErrorRate(1, 42)
	if st, _ := send(); st != 500 {
		t.Fatalf("error rate 1: %d", st)
	}
	h.s.SetErrorRate(0.5, 7)
	fails := 0
	for i := 0; i < 40; i++ {
		if st, _ := send(); st == 500 {
			fails++
		}
	}
	if fails == 0 || fails == 40 {
		t.Fatalf("error rate 0.5: %d/40 failed", fails)
	}
	h.s.SetErrorRate(0, 0)
	h.s.SetLatency(time.Millisecond)
	if st, _ := send(); st != 409 {
		t.Fatalf("with latency: %d", st)
	}
	if st := h.s.Stats(); st.FaultsInjected != 5+fails {
		t.Fatalf("faults %d, want %d", st.FaultsInjected, 5+fails)
	}
	h.s.Reset()
	if len(h.s.Positions(org)) != 0 || h.s.Stats().FaultsInjected != 0 {
		t.Fatal("Reset kept state")
	}
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }

func TestInspectionHTTP(t *testing.T) {
	h := newHarness(t)
	h.do("POST", path(""), h.position(1), nil)
	var ps []pagopa.PaymentPosition
	h.do("GET", "/__mock/positions?org="+org, nil, &ps)
	if len(ps) != 1 || ps[0].FiscalCode != "RSSMRA80A01H501U" || ps[0].Status != "DRAFT" {
		t.Fatalf("positions: %+v", ps)
	}
	var st Stats
	h.do("GET", "/__mock/stats", nil, &st)
	if st.Creates != 1 || st.Requests["createPosition"] != 1 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestConcurrentCreates(t *testing.T) {
	h := newHarness(t)
	var wg sync.WaitGroup
	codes := make([]int, 40)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Two callers per IUPD: exactly one must win.
			codes[i] = h.do("POST", path(""), h.position(i/2), nil)
		}()
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
