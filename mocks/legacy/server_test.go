package legacymock

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func seed(n int) []Debtor {
	out := make([]Debtor, n)
	for i := range out {
		out[i] = Debtor{ExternalID: "P" + string(rune('A'+i)), FiscalCode: "RSSMRA85T10A562S", Surname: "Rossi", Name: "Mario", AmountCents: int64(100*i + 5), DueDate: "2026-05-31"}
	}
	return out
}

func do(t *testing.T, method, url, body string, hdr map[string]string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err.Error()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

func TestRESTPagingAndErrors(t *testing.T) {
	m := New(Options{Debtors: seed(5), Auth: AuthBearer, Secret: "tok"})
	srv := httptest.NewServer(m)
	defer srv.Close()
	auth := map[string]string{"Authorization": "Bearer tok"}
	for _, tc := range []struct {
		path       string
		status     int
		wantInBody string
	}{
		{"/api/page/debitori?page=2&size=2", 200, `"idPratica":"PC"`},
		{"/api/offset/debitori?offset=4&limit=2", 200, `"importo":4.05`},
		{"/api/cursor/debitori?cursor=c3&limit=1", 200, `"nextCursor":"c4"`},
		{"/api/cursor/debitori?cursor=c4&limit=1", 200, `"nextCursor":""`},
		{"/api/all/debitori", 200, `"idPratica":"PE"`},
		{"/api/page/debitori?page=0", 400, "page"},
		{"/api/page/debitori?size=501", 400, "size"},
		{"/api/cursor/debitori?cursor=zz", 400, "cursor"},
		{"/api/other/debitori", 404, ""},
	} {
		code, _, body := do(t, "GET", srv.URL+tc.path, "", auth)
		if code != tc.status || !strings.Contains(body, tc.wantInBody) {
			t.Errorf("%s: %d %s", tc.path, code, body)
		}
	}
	_, h, _ := do(t, "GET", srv.URL+"/api/link/debitori?page=1&size=2", "", auth)
	if got := h.Get("Link"); got != `</api/link/debitori?page=2&size=2>; rel="next"` {
		t.Errorf("Link = %q", got)
	}
	if _, h, _ = do(t, "GET", srv.URL+"/api/link/debitori?page=3&size=2", "", auth); h.Get("Link") != "" {
		t.Errorf("last page has a Link: %q", h.Get("Link"))
	}
	if code, _, _ := do(t, "GET", srv.URL+"/api/all/debitori", "", map[string]string{"Authorization": "Bearer no"}); code != 401 {
		t.Errorf("bad token: %d", code)
	}
	// Status write-back: validated, unknown ids refused, recorded in order.
	for _, tc := range []struct {
		method, id, body string
		status           int
	}{
		{"PUT", "PA", `{"status":"paid","paidDate":"2026-06-01"}`, 200},
		{"POST", "PB", `{"externalId":"PB","status":"notified"}`, 200},
		{"PUT", "PA", `{"externalId":"PB","status":"paid"}`, 400},
		{"PUT", "PA", `{"status":"boh"}`, 400},
		{"PUT", "PA", `{`, 400},
		{"PUT", "ZZ", `{"status":"paid"}`, 404},
	} {
		if code, _, body := do(t, tc.method, srv.URL+"/api/debitori/"+tc.id+"/stato", tc.body, auth); code != tc.status {
			t.Errorf("%s %s %s: %d %s", tc.method, tc.id, tc.body, code, body)
		}
	}
	ups := m.Updates()
	if len(ups) != 2 || ups[0].ExternalID != "PA" || ups[0].PaidDate != "2026-06-01" || ups[1].Status != "notified" {
		t.Errorf("updates %+v", ups)
	}
	// Lose the response of an applied write: the update is recorded, the client sees nothing.
	m.Faults().LoseNext(1)
	if code, _, _ := do(t, "PUT", srv.URL+"/api/debitori/PC/stato", `{"status":"paid"}`, auth); code != 0 {
		t.Errorf("lost response answered %d", code)
	}
	if u, ok := m.Status("PC"); !ok || u.Status != "paid" {
		t.Errorf("lost write not applied: %+v", u)
	}
	// Inspection over HTTP, then reset.
	_, _, body := do(t, "GET", srv.URL+"/__mock/stats", "", nil)
	var st Stats
	if err := json.Unmarshal([]byte(body), &st); err != nil || st.Requests["stato"] != 7 || m.Faults().Stats().Lost != 1 {
		t.Errorf("stats %s, faults %+v", body, m.Faults().Stats())
	}
	if code, _, _ := do(t, "POST", srv.URL+"/__mock/reset", "", nil); code != 204 || len(m.Updates()) != 0 {
		t.Errorf("reset: %d %v", code, m.Updates())
	}
}

func TestSOAPOperations(t *testing.T) {
	m := New(Options{Debtors: seed(3), Auth: AuthBasic, Username: "u", Secret: "p"})
	srv := httptest.NewServer(m)
	defer srv.Close()
	req := func(body string, user, pass string) (int, string) {
		r, err := http.NewRequest("POST", srv.URL+"/soap", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		r.SetBasicAuth(user, pass)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b)
	}
	get := strings.NewReplacer("{{.Page}}", "2", "{{.PageSize}}", "2").Replace(SOAPGetDebitori)
	if code, body := req(get, "u", "p"); code != 200 || strings.Count(body, "<tns:debitore ") != 1 || !strings.Contains(body, `id="PC"`) || !strings.Contains(body, "<tns:totale>3</tns:totale>") {
		t.Errorf("getDebitori: %d %s", code, body)
	}
	if code, _ := req(get, "u", "x"); code != 401 {
		t.Errorf("bad password: %d", code)
	}
	set := strings.NewReplacer("{{.ExternalID}}", "PB", "{{.Status}}", "paid", "{{.NAV}}", "3010", "{{.IUPD}}", "", "{{.PaidDate}}", "2026-06-02").Replace(SOAPAggiornaStato)
	if code, body := req(set, "u", "p"); code != 200 || !strings.Contains(body, "<tns:esito>OK</tns:esito>") {
		t.Errorf("aggiornaStato: %d %s", code, body)
	}
	if u, ok := m.Status("PB"); !ok || u.NAV != "3010" || u.PaidDate != "2026-06-02" {
		t.Errorf("status %+v", u)
	}
	for _, bad := range []string{strings.Replace(set, ">PB<", ">ZZ<", 1), "<x/>", "not xml", strings.Replace(get, ">2</tns:dimensionePagina>", ">9999</tns:dimensionePagina>", 1)} {
		if code, body := req(bad, "u", "p"); code != 500 || !strings.Contains(body, "<soap:Fault>") {
			t.Errorf("%q: %d %s", bad, code, body)
		}
	}
	m.Faults().FailNext(1, 503)
	if code, _ := req(get, "u", "p"); code != 503 {
		t.Errorf("FailNext: %d", code)
	}
	// The same knobs over HTTP, on this mock as on every other.
	if code, _, body := do(t, "POST", srv.URL+"/__mock/faults", `{"dropNext":1}`, nil); code != 200 || !strings.Contains(body, `"dropNext":1`) {
		t.Errorf("POST /__mock/faults: %d %s", code, body)
	}
	if code, _, body := do(t, "POST", srv.URL+"/soap", get, nil); code != 0 || m.Faults().Stats().Dropped != 1 {
		t.Errorf("DropNext over HTTP: %d %s", code, body)
	}
}
