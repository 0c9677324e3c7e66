package spid_test

import (
	"context"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"net/http/httptest"

	"github.com/ponte-pa/ponte/connectors/spid"
	"github.com/ponte-pa/ponte/mocks/spididp"
)

type env struct {
	sp    *spid.SP
	cfg   spid.SPConfig
	spURL string
	idp   *spididp.Server
	store spid.RequestStore
}

func testConfig(t testing.TB, base string) spid.SPConfig {
	t.Helper()
	kp, err := os.ReadFile("testdata/sp.key.pem")
	if err != nil {
		t.Fatal(err)
	}
	cp, err := os.ReadFile("testdata/sp.cert.pem")
	if err != nil {
		t.Fatal(err)
	}
	key, cert, err := spid.ParseKeyPair(kp, cp)
	if err != nil {
		t.Fatal(err)
	}
	return spid.SPConfig{
		BaseURL: base, Key: key, Cert: cert,
		Org: spid.Org{
			Names:        spid.Localized{IT: "Comune di Esempio", EN: "Municipality of Esempio"},
			DisplayNames: spid.Localized{IT: "Comune di Esempio", EN: "Esempio"},
			URLs:         spid.Localized{IT: "https://comune.example.it", EN: "https://comune.example.it/en"},
		},
		IPACode: "c_x000", ContactEmail: "protocollo@comune.example.it",
		AttributeSets: []spid.AttrSet{
			{Index: 0, Name: "Servizi online", Attributes: []string{"name", "familyName", "fiscalNumber"}},
			{Index: 1, Name: "Anagrafe", Attributes: []string{"name", "familyName", "fiscalNumber", "email", "dateOfBirth"}},
		},
	}
}

func newEnv(t testing.TB, opts spid.Options) *env {
	t.Helper()
	return newEnvWith(t, opts, spid.NewMemoryStore())
}

func newEnvWith(t testing.TB, opts spid.Options, st spid.RequestStore) *env {
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
	idps, err := spid.ParseIdPMetadata(idp.Metadata())
	if err != nil {
		t.Fatal(err)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	cfg := testConfig(t, srv.URL)
	sp, err := spid.NewSP(cfg, spid.NewRegistry(idps...), st, opts)
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
	return &env{sp: sp, cfg: cfg, spURL: srv.URL, idp: idp, store: st}
}

var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

var (
	inputRe  = regexp.MustCompile(`name="(SAMLResponse|SAMLRequest|RelayState)" value="([^"]*)"`)
	actionRe = regexp.MustCompile(`action="([^"]*)"`)
	codeRe   = regexp.MustCompile(`<code id="code">([^<]*)</code>`)
)

// form extracts the auto-POST form of a page.
func form(t testing.TB, body string) (action string, vals url.Values) {
	t.Helper()
	m := actionRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no form in page: %.300s", body)
	}
	vals = url.Values{}
	for _, in := range inputRe.FindAllStringSubmatch(body, -1) {
		vals.Set(in[1], html.UnescapeString(in[2]))
	}
	return html.UnescapeString(m[1]), vals
}

func get(t testing.TB, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func post(t testing.TB, c *http.Client, u string, v url.Values) (*http.Response, string) {
	t.Helper()
	resp, err := c.PostForm(u, v)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// idpForm runs login → IdP and returns the IdP's auto-POST form for user/defect.
func (e *env) idpForm(t testing.TB, level, attrs, user, defect string) (string, url.Values) {
	t.Helper()
	resp, body := get(t, noFollow, e.spURL+"/spid/login?idp="+url.QueryEscape(e.idp.EntityID())+"&level="+level+"&attrs="+attrs)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("login: status %d: %s", resp.StatusCode, body)
	}
	loc := resp.Header.Get("Location") + "&user=" + url.QueryEscape(user) + "&defect=" + url.QueryEscape(defect)
	resp, body = get(t, noFollow, loc)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("idp: status %d: %s", resp.StatusCode, body)
	}
	return form(t, body)
}

// acs posts a form to the ACS and returns status, error code (if any) and the session cookie.
func (e *env) acs(t testing.TB, action string, v url.Values) (int, string, *http.Cookie) {
	t.Helper()
	resp, body := post(t, noFollow, action, v)
	code := ""
	if m := codeRe.FindStringSubmatch(body); m != nil {
		code = m[1]
	}
	if strings.Contains(body, "goroutine") || strings.Contains(body, "panic") {
		t.Fatalf("error page leaks internals: %s", body)
	}
	var ck *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "ponte_spid" && c.Value != "" {
			ck = c
		}
	}
	return resp.StatusCode, code, ck
}

func (e *env) run(t testing.TB, level, attrs, user, defect string) (int, string, *http.Cookie) {
	action, v := e.idpForm(t, level, attrs, user, defect)
	return e.acs(t, action, v)
}

func newJarClient(t testing.TB) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar}
}

var _ = context.Background

func now0() time.Time { return time.Now() }
