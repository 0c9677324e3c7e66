package spididp_test

import (
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/ponte-pa/ponte/connectors/spid"
	"github.com/ponte-pa/ponte/mocks/spididp"
)

// setup starts the mock IdP and a real SP (connectors/spid) in front of it.
func setup(t *testing.T) (*spididp.Server, string) {
	t.Helper()
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	idp, err := spididp.Start(spididp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := idp.Close(); err != nil {
			t.Error(err)
		}
	})
	key, cert, err := spid.GenerateKeyCert(spid.CertOptions{CommonName: "C", OrgName: "C", IPACode: "c_x", Locality: "Roma", EntityID: srv.URL, Bits: 2048, Public: true})
	if err != nil {
		t.Fatal(err)
	}
	list, err := spid.ParseIdPMetadata(idp.Metadata())
	if err != nil {
		t.Fatal(err)
	}
	sp, err := spid.NewSP(spid.SPConfig{BaseURL: srv.URL, Key: key, Cert: cert, IPACode: "c_x", ContactEmail: "a@b.it",
		Org: spid.Org{Names: spid.Localized{IT: "C"}, DisplayNames: spid.Localized{IT: "C"}, URLs: spid.Localized{IT: srv.URL}}},
		spid.NewRegistry(list...), spid.NewMemoryStore(), spid.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	h = sp
	md, err := sp.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	if err := idp.RegisterSP(md); err != nil {
		t.Fatal(err)
	}
	return idp, srv.URL
}

var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func ssoURL(t *testing.T, idp *spididp.Server, sp string) string {
	r, err := noFollow.Get(sp + "/spid/login?idp=" + url.QueryEscape(idp.EntityID()) + "&level=2")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	return r.Header.Get("Location")
}

func getBody(t *testing.T, u string) string {
	t.Helper()
	r, err := noFollow.Get(u)
	return body(t, r, err)
}

func postBody(t *testing.T, u string, v url.Values) string {
	t.Helper()
	r, err := noFollow.PostForm(u, v)
	return body(t, r, err)
}

func body(t *testing.T, r *http.Response, err error) string {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var respRe = regexp.MustCompile(`name="SAMLResponse" value="([^"]*)"`)

func samlResponse(t *testing.T, page string) *etree.Element {
	t.Helper()
	m := respRe.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no SAMLResponse in %s", page)
	}
	raw, err := base64.StdEncoding.DecodeString(html.UnescapeString(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		t.Fatal(err)
	}
	return doc.Root()
}

func TestLoginFormPasswordAndCancel(t *testing.T) {
	idp, sp := setup(t)
	for _, tc := range []struct{ user, password, action, status string }{
		{"mario", "password", "login", "Success"},
		{"mario", "wrong", "login", "nr19"},
		{"mario", "", "cancel", "nr25"},
	} {
		page := getBody(t, ssoURL(t, idp, sp))
		m := regexp.MustCompile(`name="key" value="([^"]+)"`).FindStringSubmatch(page)
		if m == nil || !strings.Contains(page, "livello 2") {
			t.Fatalf("login form: %s", page)
		}
		page = postBody(t, idp.URL()+"/login", url.Values{"key": {m[1]}, "user": {tc.user}, "password": {tc.password}, "action": {tc.action}})
		r := samlResponse(t, page)
		got := r.FindElement("./Status/StatusCode").SelectAttrValue("Value", "")
		if msg := r.FindElement("./Status/StatusMessage"); msg != nil {
			got = strings.TrimPrefix(msg.Text(), "ErrorCode ")
		} else {
			got = got[strings.LastIndex(got, ":")+1:]
		}
		if got != tc.status {
			t.Errorf("%+v: status %s", tc, got)
		}
	}
}

func TestKnobsAndInspection(t *testing.T) {
	idp, sp := setup(t)
	idp.SetAutoLogin("mario")
	idp.Faults().FailNext(1, 503)
	if r, err := noFollow.Get(ssoURL(t, idp, sp)); err != nil || r.StatusCode != 503 {
		t.Fatalf("FailNext: %v %v", err, r)
	}
	// The same knobs over HTTP.
	resp, err := http.Post(idp.URL()+"/__mock/faults", "application/json", strings.NewReader(`{"dropNext":1}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || idp.Faults().Knobs().DropNext != 1 {
		t.Fatalf("POST /__mock/faults: %d %+v", resp.StatusCode, idp.Faults().Knobs())
	}
	if _, err := noFollow.Get(ssoURL(t, idp, sp)); err == nil {
		t.Fatal("DropNext: got an answer")
	}
	if st := idp.Faults().Stats(); st.Failed != 1 || st.Dropped != 1 {
		t.Fatalf("fault stats %+v", st)
	}
	if r := getBody(t, idp.URL()+"/metadata"); !strings.Contains(r, "IDPSSODescriptor") {
		t.Fatalf("faults must apply to /sso only; metadata: %.200s", r)
	}
	idp.Faults().SetLatency(time.Millisecond)
	idp.NextDefect("audience:wrong")
	r := samlResponse(t, getBody(t, ssoURL(t, idp, sp)))
	if a := r.FindElement("./Assertion/Conditions/AudienceRestriction/Audience").Text(); a != "https://other-sp.example/metadata" {
		t.Fatalf("NextDefect: audience %s", a)
	}
	idp.Faults().SetLatency(0)
	r = samlResponse(t, getBody(t, ssoURL(t, idp, sp)))
	if a := r.FindElement("./Assertion/Conditions/AudienceRestriction/Audience").Text(); a != sp+"/spid/metadata" {
		t.Fatalf("defect not one-shot: %s", a)
	}
	if r.FindElement("./Signature") == nil || r.FindElement("./Assertion/Signature") == nil {
		t.Fatal("response and assertion must both be signed")
	}
	if _, err := http.PostForm(idp.URL()+"/__mock/defect", url.Values{"defect": {"unsigned"}}); err != nil {
		t.Fatal(err)
	}
	r = samlResponse(t, getBody(t, ssoURL(t, idp, sp)))
	if r.FindElement("./Signature") != nil || r.FindElement("./Assertion/Signature") != nil {
		t.Fatal("sticky defect over HTTP not applied")
	}
	var reqs []spididp.RequestInfo
	if err := json.Unmarshal([]byte(getBody(t, idp.URL()+"/__mock/requests")), &reqs); err != nil || len(reqs) != 3 { // the failed one is not recorded
		t.Fatalf("requests: %v %d", err, len(reqs))
	}
	if reqs[0].Level != 2 || !reqs[0].SignatureOK || len(reqs[0].Problems) != 0 {
		t.Fatalf("%+v", reqs[0])
	}
	var defects []string
	if err := json.Unmarshal([]byte(getBody(t, idp.URL()+"/__mock/defects")), &defects); err != nil || len(defects) != len(spididp.Defects()) || len(defects) < 90 {
		t.Fatalf("defects: %d %v", len(defects), err)
	}
	if _, err := http.PostForm(idp.URL()+"/__mock/reset", nil); err != nil || len(idp.Requests()) != 0 {
		t.Fatal("reset")
	}
	// An unknown SP is refused.
	garbage, err := noFollow.Get(idp.URL() + "/sso?SAMLRequest=%%%")
	if err != nil {
		t.Fatal(err)
	}
	garbage.Body.Close()
	if garbage.StatusCode != 400 {
		t.Fatalf("garbage request: %d", garbage.StatusCode)
	}
}

// TestRegisterSPOverHTTP: /__mock/sp takes SP metadata as the body or
// fetches it from ?url=, and refuses what is not SP metadata.
func TestRegisterSPOverHTTP(t *testing.T) {
	idp, err := spididp.Start(spididp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer idp.Close()
	md := `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://sp.example/spid/metadata">` +
		`<md:SPSSODescriptor><md:AssertionConsumerService index="0" Location="https://sp.example/spid/acs"/></md:SPSSODescriptor></md:EntityDescriptor>`
	served := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.WriteString(w, md); err != nil {
			t.Error(err)
		}
	}))
	defer served.Close()
	for _, tc := range []struct {
		query, body string
		status      int
	}{
		{"", md, http.StatusNoContent},
		{"?url=" + url.QueryEscape(served.URL+"/spid/metadata"), "", http.StatusNoContent},
		{"", "<foo/>", http.StatusBadRequest},
		{"?url=file:///etc/passwd", "", http.StatusBadRequest},
	} {
		resp, err := http.Post(idp.URL()+"/__mock/sp"+tc.query, "application/samlmetadata+xml", strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("POST /__mock/sp%s: HTTP %d, want %d", tc.query, resp.StatusCode, tc.status)
		}
	}
}
