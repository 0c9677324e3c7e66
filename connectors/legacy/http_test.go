package legacy_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ponte-pa/ponte/connectors/legacy"
	legacymock "github.com/ponte-pa/ponte/mocks/legacy"
)

// mockDebtors returns n debtors, every 10th with a bad fiscal code, every 23rd with a
// zero amount and the 7th without a first name, and how many are valid.
func mockDebtors(n int) ([]legacymock.Debtor, int) {
	var out []legacymock.Debtor
	valid := 0
	for i := 1; i <= n; i++ {
		d := legacymock.Debtor{ExternalID: fmt.Sprintf("TARI-%05d", i), FiscalCode: "RSSMRA85T10A562S", Name: "Mario", Surname: "Rossi & Figli <srl>",
			Email: "m@example.it", AmountCents: int64(1000 + i), DueDate: "2026-05-31", Description: "TARI 2026 – àèìòù"}
		switch {
		case i%10 == 0:
			d.FiscalCode = "RSSMRA85T10A562X"
		case i%23 == 0:
			d.AmountCents = 0
		case i == 7:
			d.Name = ""
		default:
			valid++
		}
		out = append(out, d)
	}
	return out, valid
}

type harness struct {
	mock *legacymock.Server
	srv  *httptest.Server
}

func newHarness(t *testing.T, opts legacymock.Options) harness {
	m := legacymock.New(opts)
	srv := httptest.NewServer(m)
	t.Cleanup(srv.Close)
	return harness{m, srv}
}

type result struct {
	debtors []legacy.Debtor
	rejects []legacy.Reject
	stats   legacy.Stats
	err     error
}

func read(t *testing.T, src legacy.DebtorSource) result {
	t.Helper()
	var r result
	r.stats, r.err = src.Read(context.Background(),
		func(d legacy.Debtor) error { r.debtors = append(r.debtors, d); return nil },
		func(rj legacy.Reject) error { r.rejects = append(r.rejects, rj); return nil })
	if r.stats.Read != r.stats.Valid+r.stats.Rejected || r.stats.Valid != len(r.debtors) || r.stats.Rejected != len(r.rejects) {
		t.Fatalf("stats %+v do not add up with %d debtors and %d rejects", r.stats, len(r.debtors), len(r.rejects))
	}
	return r
}

var authCases = []struct {
	kind, cfg string
	opts      legacymock.Options
}{
	{"none", `{}`, legacymock.Options{}},
	{"apikey", `{"kind":"apikey","header":"X-Tributi-Key","key":"env:PONTE_TEST_SECRET"}`, legacymock.Options{Auth: legacymock.AuthAPIKey, APIKeyHeader: "X-Tributi-Key"}},
	{"basic", `{"kind":"basic","username":"ponte","password":"env:PONTE_TEST_SECRET"}`, legacymock.Options{Auth: legacymock.AuthBasic, Username: "ponte"}},
	{"bearer", `{"kind":"bearer","token":"env:PONTE_TEST_SECRET"}`, legacymock.Options{Auth: legacymock.AuthBearer}},
}

func restConfig(base, style, auth string) string {
	pag := map[string]string{
		"page":   `{"style":"page","pageSize":25}`,
		"offset": `{"style":"offset","pageSize":30}`,
		"cursor": `{"style":"cursor","pageSize":40,"cursorPath":"meta.nextCursor"}`,
		"link":   `{"style":"link","pageSize":45}`,
		"none":   `{"style":"none"}`,
	}[style]
	path, items := style, "data.items"
	if style == "none" {
		path, items = "all", ""
	}
	return fmt.Sprintf(`{"url":"%s/api/%s/debitori","items":%q,"pagination":%s,"auth":%s,"retries":2,
		"fields":{"externalId":"idPratica","fiscalCode":"contribuente.codiceFiscale","name":"contribuente.nome","surname":"contribuente.cognome",
		"email":"contribuente.email","amount":"importo","dueDate":"scadenza","description":"causale"},
		"writeBack":{"url":"%s/api/debitori/{externalId}/stato"}}`, base, path, items, pag, auth, base)
}

func soapConfig(base, auth string, pageSize int) string {
	env, err := json.Marshal(legacymock.SOAPGetDebitori)
	if err != nil {
		panic(err) // a string always marshals
	}
	wb, err := json.Marshal(legacymock.SOAPAggiornaStato)
	if err != nil {
		panic(err)
	}
	return fmt.Sprintf(`{"url":"%s/soap","action":"getDebitori","envelope":%s,"items":"//debitore","pageSize":%d,"auth":%s,"retries":2,
		"fields":{"externalId":"@id","fiscalCode":"codiceFiscale","name":"nome","surname":"cognome","amount":"importo","dueDate":"scadenza","description":"causale"},
		"writeBack":{"action":"aggiornaStato","envelope":%s,"success":"//esito[.='OK']"}}`, base, env, pageSize, auth, wb)
}

func checkRead(t *testing.T, r result, n, valid int) {
	t.Helper()
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.stats.Read != n || r.stats.Valid != valid {
		t.Fatalf("stats %+v, want read %d valid %d", r.stats, n, valid)
	}
	for i := 1; i < len(r.debtors); i++ {
		if r.debtors[i-1].ExternalID >= r.debtors[i].ExternalID || r.debtors[i].Line <= r.debtors[i-1].Line {
			t.Fatalf("order: %+v then %+v", r.debtors[i-1], r.debtors[i])
		}
	}
	d := r.debtors[0]
	if d.ExternalID != "TARI-00001" || d.AmountCents != 1001 || d.Surname != "Rossi & Figli <srl>" || d.Description != "TARI 2026 – àèìòù" || d.DueDate != "2026-05-31" || d.Line != 1 {
		t.Errorf("first debtor %+v", d)
	}
	rules := map[string]int{}
	for _, rj := range r.rejects {
		if rj.MessageIT == "" || rj.MessageEN == "" || rj.MessageIT == rj.MessageEN || rj.Source == "" {
			t.Errorf("reject without bilingual messages: %+v", rj)
		}
		rules[rj.Rule]++
	}
	if rules["checksum"] != n/10 || rules["required"] != 1 || rules["positive"] == 0 {
		t.Errorf("reject rules %v", rules)
	}
}

func TestRESTAndSOAPSources(t *testing.T) {
	debtors, valid := mockDebtors(237)
	for _, ac := range authCases {
		t.Run(ac.kind, func(t *testing.T) {
			t.Setenv("PONTE_TEST_SECRET", "s3greto-"+ac.kind)
			opts := ac.opts
			opts.Debtors, opts.Secret = debtors, "s3greto-"+ac.kind
			h := newHarness(t, opts)
			for _, style := range []string{"page", "offset", "cursor", "link", "none"} {
				t.Run("rest-"+style, func(t *testing.T) {
					src, err := legacy.OpenSource(legacy.KindREST, json.RawMessage(restConfig(h.srv.URL, style, ac.cfg)), "")
					if err != nil {
						t.Fatal(err)
					}
					checkRead(t, read(t, src), 237, valid)
				})
			}
			for _, ps := range []int{0, 50} {
				t.Run(fmt.Sprintf("soap-page%d", ps), func(t *testing.T) {
					src, err := legacy.OpenSource(legacy.KindSOAP, json.RawMessage(soapConfig(h.srv.URL, ac.cfg, ps)), "")
					if err != nil {
						t.Fatal(err)
					}
					checkRead(t, read(t, src), 237, valid)
				})
			}
			st := h.mock.Stats()
			// pages: 10 + 8 + 6 + 6 + 1 (rest), 1 + 5 (soap)
			if st.Requests["list"] != 31 || st.Requests["soap"] != 6 {
				t.Errorf("requests %v", st.Requests)
			}
			if ac.kind == "none" {
				return
			}
			// Wrong credentials: a clear error, not retried.
			t.Setenv("PONTE_TEST_SECRET", "wrong")
			for _, cfg := range []struct{ kind, cfg string }{{legacy.KindREST, restConfig(h.srv.URL, "page", ac.cfg)}, {legacy.KindSOAP, soapConfig(h.srv.URL, ac.cfg, 50)}} {
				src, err := legacy.OpenSource(cfg.kind, json.RawMessage(cfg.cfg), "")
				if err != nil {
					t.Fatal(err)
				}
				before := h.mock.Stats()
				r := read(t, src)
				var he *legacy.HTTPError
				if !errors.Is(r.err, legacy.ErrUnauthorized) || !errors.As(r.err, &he) || he.Status != 401 || !strings.Contains(r.err.Error(), "credenziali") || strings.Contains(r.err.Error(), "wrong") {
					t.Errorf("%s: err = %v", cfg.kind, r.err)
				}
				after := h.mock.Stats()
				if after.Requests["list"]+after.Requests["soap"] != before.Requests["list"]+before.Requests["soap"]+1 {
					t.Errorf("%s: 401 was retried: %v -> %v", cfg.kind, before.Requests, after.Requests)
				}
			}
		})
	}
}

func TestSinksAgainstMock(t *testing.T) {
	debtors, valid := mockDebtors(5)
	if len(debtors) != 5 || valid != 5 {
		t.Fatalf("mockDebtors(5) = %d debtors, %d valid; want 5 valid", len(debtors), valid)
	}
	t.Setenv("PONTE_TEST_SECRET", "k")
	h := newHarness(t, legacymock.Options{Debtors: debtors, Auth: legacymock.AuthAPIKey, Secret: "k"})
	auth := `{"kind":"apikey","key":"env:PONTE_TEST_SECRET"}`
	ups := []legacy.StatusUpdate{
		{ExternalID: "TARI-00001", Status: legacy.StatusPaid, NAV: "301000000000000017", IUPD: "IUPD-1", PaidDate: "2026-06-01"},
		{ExternalID: "TARI-00002", Status: legacy.StatusNotified, Message: `a "quoted" <msg>`},
	}
	restPost := strings.Replace(restConfig(h.srv.URL, "page", auth), `"writeBack":{`, `"writeBack":{"method":"POST",`, 1)
	restTpl := strings.Replace(restConfig(h.srv.URL, "page", auth), `"writeBack":{`, `"writeBack":{"body":"{\"status\":\"{{.Status}}\",\"nav\":\"{{.NAV}}\",\"message\":\"{{.Message}}\"}",`, 1)
	for _, tc := range []struct{ name, kind, cfg string }{
		{"rest-put", legacy.KindREST, restConfig(h.srv.URL, "page", auth)},
		{"rest-post", legacy.KindREST, restPost},
		{"rest-template", legacy.KindREST, restTpl},
		{"soap", legacy.KindSOAP, soapConfig(h.srv.URL, auth, 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.mock.Reset()
			sink, err := legacy.OpenSink(tc.kind, json.RawMessage(tc.cfg), "")
			if err != nil {
				t.Fatal(err)
			}
			h.mock.Faults().FailNext(1, http.StatusServiceUnavailable) // retried
			if err := sink.WriteStatus(context.Background(), ups); err != nil {
				t.Fatal(err)
			}
			got := h.mock.Updates()
			if len(got) != 2 || (tc.kind == legacy.KindREST && got[1].Message != ups[1].Message) || got[0].Status != legacy.StatusPaid || got[0].NAV != ups[0].NAV {
				t.Fatalf("updates %+v", got)
			}
			if tc.name != "rest-template" && (legacy.StatusUpdate{ExternalID: got[0].ExternalID, Status: got[0].Status, IUPD: got[0].IUPD, NAV: got[0].NAV, IUV: got[0].IUV,
				PaidDate: got[0].PaidDate, AmountPaidCents: got[0].AmountPaidCents, Message: got[0].Message}) != ups[0] && (tc.kind != legacy.KindSOAP || got[0].PaidDate != "2026-06-01" || got[0].IUPD != "IUPD-1") {
				t.Errorf("update 0 = %+v", got[0])
			}
			// An unknown record is reported per update; the others are written.
			err = sink.WriteStatus(context.Background(), []legacy.StatusUpdate{{ExternalID: "NOPE", Status: legacy.StatusPaid}, {ExternalID: "TARI-00003", Status: legacy.StatusFailed}})
			var we *legacy.WriteError
			if !errors.As(err, &we) || len(we.Failed) != 1 || we.Failed["NOPE"] == nil {
				t.Fatalf("unknown id: %v", err)
			}
			if tc.kind == legacy.KindSOAP {
				var f *legacy.SOAPFault
				if !errors.As(we.Failed["NOPE"], &f) || !strings.Contains(f.String, "PRATICA_SCONOSCIUTA") {
					t.Errorf("fault: %v", we.Failed["NOPE"])
				}
			}
			if u, ok := h.mock.Status("TARI-00003"); !ok || u.Status != legacy.StatusFailed {
				t.Errorf("TARI-00003: %+v %v", u, ok)
			}
			// Invalid updates are refused before any request.
			if err := sink.WriteStatus(context.Background(), []legacy.StatusUpdate{{ExternalID: "TARI-00001", Status: "boh"}}); err == nil {
				t.Error("bad status accepted")
			}
		})
	}
	// A write whose response is lost is retried and applied twice: harmless, the
	// update is keyed by externalId.
	h.mock.Reset()
	sink, err := legacy.OpenSink(legacy.KindREST, json.RawMessage(restConfig(h.srv.URL, "page", auth)), "")
	if err != nil {
		t.Fatal(err)
	}
	h.mock.Faults().LoseNext(1)
	if err := sink.WriteStatus(context.Background(), ups[:1]); err != nil {
		t.Fatalf("after a lost response: %v", err)
	}
	if got := h.mock.Updates(); len(got) != 2 || got[0] != got[1] {
		t.Errorf("updates after a lost response: %+v", got)
	}
	h.mock.Reset()
	if err := sink.WriteStatus(context.Background(), ups); err != nil {
		t.Fatal(err)
	}
	if err := sink.WriteStatus(context.Background(), []legacy.StatusUpdate{{ExternalID: "TARI-00003", Status: legacy.StatusFailed}}); err != nil {
		t.Fatal(err)
	}
	// The inspection API.
	resp, err := http.Get(h.srv.URL + "/__mock/updates")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ups2 []legacy.StatusUpdate
	if err := json.NewDecoder(resp.Body).Decode(&ups2); err != nil || len(ups2) != 3 {
		t.Errorf("/__mock/updates: %v %+v", err, ups2)
	}
}

func TestHTTPFaults(t *testing.T) {
	debtors, valid := mockDebtors(60)
	h := newHarness(t, legacymock.Options{Debtors: debtors})
	open := func(kind, cfg string) legacy.DebtorSource {
		src, err := legacy.OpenSource(kind, json.RawMessage(cfg), "")
		if err != nil {
			t.Fatal(err)
		}
		return src
	}
	rest := open(legacy.KindREST, restConfig(h.srv.URL, "page", "{}"))
	soap := open(legacy.KindSOAP, soapConfig(h.srv.URL, "{}", 25))

	// 5xx and dropped connections are retried.
	for _, src := range []legacy.DebtorSource{rest, soap} {
		h.mock.Reset()
		h.mock.Faults().FailNext(2, http.StatusBadGateway)
		checkRead(t, read(t, src), 60, valid)
		h.mock.Faults().DropNext(1)
		checkRead(t, read(t, src), 60, valid)
		if st := h.mock.Faults().Stats(); st.Injected != 3 {
			t.Errorf("%s: faults %d", src.Name(), st.Injected)
		}
	}
	// More failures than retries: the error names the status.
	h.mock.Faults().FailNext(10, http.StatusServiceUnavailable)
	r := read(t, rest)
	var he *legacy.HTTPError
	if !errors.As(r.err, &he) || he.Status != 503 {
		t.Errorf("persistent 503: %v", r.err)
	}
	h.mock.Reset()
	// A SOAP fault is an answer: reported, not retried.
	bad := open(legacy.KindSOAP, soapConfig(h.srv.URL, "{}", 1000))
	before := h.mock.Stats().Requests["soap"]
	r = read(t, bad)
	var f *legacy.SOAPFault
	if !errors.As(r.err, &f) || !strings.Contains(f.String, "dimensionePagina") || h.mock.Stats().Requests["soap"] != before+1 {
		t.Errorf("fault: %v", r.err)
	}
	// Random errors with a seed: the retries absorb them.
	h.mock.Faults().SetErrorRate(0.2, 7)
	checkRead(t, read(t, rest), 60, valid)
}

func TestMapRESTPage(t *testing.T) {
	for _, tc := range []struct {
		body, items, cursor string
		n                   int
		next                string
		err                 bool
	}{
		{`{"data":{"items":[{"a":1},{"a":2}]},"meta":{"next":"c2"}}`, "data.items", "meta.next", 2, "c2", false},
		{`[{"a":1}]`, "", "next", 1, "", false},
		{`{"items":null}`, "items", "", 0, "", false},
		{`{"items":{}}`, "items", "", 0, "", true},
		{`{"x":[]}`, "items", "", 0, "", true},
		{`not json`, "", "", 0, "", true},
		{`{"items":[],"next":42}`, "items", "next", 0, "42", false},
	} {
		recs, next, err := legacy.MapRESTPage([]byte(tc.body), tc.items, tc.cursor)
		if (err != nil) != tc.err || len(recs) != tc.n || next != tc.next {
			t.Errorf("%s: %d %q %v", tc.body, len(recs), next, err)
		}
	}
	doc := map[string]any{"a": map[string]any{"b": []any{"x", map[string]any{"c": "y"}}}}
	for path, want := range map[string]any{"a.b.0": "x", "a.b.1.c": "y", "a.b.2": nil, "a.c": nil, "a.b.-1": nil} {
		got, ok := legacy.JSONPath(doc, path)
		if (want == nil) == ok || (ok && got != want) {
			t.Errorf("JSONPath(%s) = %v %v", path, got, ok)
		}
	}
}

func TestParseSOAPResponse(t *testing.T) {
	if _, err := legacy.ParseSOAPResponse([]byte(`<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><s:Fault><s:Code><s:Value>s:Sender</s:Value></s:Code><s:Reason><s:Text>bad</s:Text></s:Reason></s:Fault></s:Body></s:Envelope>`)); err == nil || err.Error() != "legacy: soap fault s:Sender: bad" {
		t.Errorf("SOAP 1.2 fault: %v", err)
	}
	if _, err := legacy.ParseSOAPResponse([]byte(`<a><b>`)); err == nil {
		t.Error("broken XML accepted")
	}
	if doc, err := legacy.ParseSOAPResponse([]byte(`<e><x>1</x></e>`)); err != nil || doc == nil {
		t.Errorf("%v", err)
	}
}

func FuzzMapRESTPage(f *testing.F) {
	f.Add([]byte(`{"data":{"items":[{"idPratica":"1","importo":1.5}]},"next":"x"}`), "data.items")
	f.Add([]byte(`[1,"a",null,{"a":{}}]`), "")
	f.Fuzz(func(t *testing.T, body []byte, items string) {
		recs, _, err := legacy.MapRESTPage(body, items, "next")
		if err != nil && recs != nil {
			t.Fatal("records with an error")
		}
	})
}

func FuzzParseSOAPResponse(f *testing.F) {
	f.Add([]byte(`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault><faultcode>c</faultcode><faultstring>s</faultstring></soap:Fault></soap:Body></soap:Envelope>`))
	f.Add([]byte(`<r><debitore id="1"><codiceFiscale>X</codiceFiscale></debitore></r>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		doc, err := legacy.ParseSOAPResponse(body)
		if (err == nil) != (doc != nil) {
			t.Fatalf("doc %v err %v", doc, err)
		}
	})
}
