package gateway_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ponte-pa/ponte/internal/gateway"
	"github.com/ponte-pa/ponte/internal/gateway/gatewaytest"
	"github.com/ponte-pa/ponte/internal/store"
	"github.com/ponte-pa/ponte/internal/tenant"
	"github.com/ponte-pa/ponte/mocks/spididp"
)

type env struct {
	idp    *spididp.Server
	gw     *gateway.Gateway
	site   *gateway.Site
	public string // the gateway's base URL
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// start runs the mock IdP and the gateway for the sample comune on loopback
// ports; idpURL overrides where the sample fetches the IdP's metadata.
func start(t *testing.T, idpMetadataBase func(idp *spididp.Server) string, opts gateway.Options) *env {
	t.Helper()
	ctx := context.Background()
	idp, err := spididp.Start(spididp.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := idp.Close(); err != nil {
			t.Error(err)
		}
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	public := "http://" + l.Addr().String()
	base := idp.URL()
	if idpMetadataBase != nil {
		base = idpMetadataBase(idp)
	}
	path, err := tenant.WriteSample(t.TempDir(), map[string]string{
		"GPDURL": "http://127.0.0.1:9/gpd", "IOURL": "http://127.0.0.1:9/api/v1", "IdPURL": base, "PublicURL": public})
	if err != nil {
		t.Fatal(err)
	}
	tn, err := tenant.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	opts.DB, opts.Logger = db, quiet
	gw, err := gateway.New(ctx, []*tenant.Tenant{tn}, opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: gw}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
	})
	site := gw.Site("esempio")
	if site == nil || site.LandingURL() != public+"/t/esempio/" {
		t.Fatalf("site %+v", site)
	}
	// Register the SP with the IdP the way README tells people to.
	resp, err := http.Post(idp.URL()+"/__mock/sp?url="+url.QueryEscape(public+"/t/esempio/spid/metadata"), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("registering the SP with the IdP: HTTP %d", resp.StatusCode)
	}
	return &env{idp: idp, gw: gw, site: site, public: public}
}

// ctx is a context for a test's operations: generous, so that a loaded
// machine is never mistaken for a failure.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

func contains(h []string, s string) bool {
	for _, x := range h {
		if strings.HasPrefix(x, s) {
			return true
		}
	}
	return false
}

// TestLoginAndLogout walks a citizen through the whole flow over real HTTP:
// landing page → "Entra con SPID" → the IdP's login form → the signed
// response posted back to the ACS → the comune's application → logout.
func TestLoginAndLogout(t *testing.T) {
	e := start(t, nil, gateway.Options{})
	c := ctx(t)
	b := gatewaytest.NewBrowser()

	p, err := b.Get(c, e.public+"/")
	if err != nil || p.Status != 200 || len(p.Links("")) != 1 || p.Links("")[0].URL != e.public+"/t/esempio/" {
		t.Fatalf("index: %v %+v", err, p)
	}
	p, err = b.Get(c, e.public+"/t/esempio")
	if err != nil || p.Status != 200 || p.URL.Path != "/t/esempio/" {
		t.Fatalf("landing without slash: %v %+v", err, p)
	}
	for _, want := range []string{"Entra con SPID", "Comune di Esempio", "Log in with your SPID digital identity", "Mock SPID IdP"} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("landing page lacks %q", want)
		}
	}
	l := p.Links("spid-idp")
	if len(l) != 1 {
		t.Fatalf("IdP links %+v", l)
	}
	lu, err := url.Parse(l[0].URL)
	if err != nil {
		t.Fatal(err)
	}
	if q := lu.Query(); lu.Path != "/t/esempio/spid/login" || q.Get("idp") != e.idp.EntityID() || q.Get("level") != "2" || q.Get("next") != "/t/esempio/app/" {
		t.Fatalf("IdP link %s", l[0].URL)
	}

	ct, p, err := b.LoginWithSPID(c, e.site.LandingURL(), "Mock SPID IdP", "mario", "password")
	if err != nil {
		t.Fatalf("login: %v\nhistory: %q", err, b.History())
	}
	want := gateway.Citizen{FiscalNumber: "RSSMRA80A01H501U", Name: "Mario", FamilyName: "Rossi", Level: 2,
		IdP: e.idp.EntityID(), IdPName: "Mock SPID IdP"}
	if ct.FiscalNumber != want.FiscalNumber || ct.Name != want.Name || ct.FamilyName != want.FamilyName ||
		ct.Level != want.Level || ct.IdP != want.IdP || ct.IdPName != want.IdPName {
		t.Fatalf("citizen %+v, want %+v", ct, want)
	}
	if p.URL.String() != e.public+"/t/esempio/app/" || p.Text("attr-email") != "mario.rossi@example.org" {
		t.Errorf("application page %s: %s", p.URL, p.Body)
	}
	h := b.History()
	for _, step := range []string{"GET " + e.idp.URL() + "/sso?SAMLRequest=", "POST " + e.idp.URL() + "/login",
		"POST " + e.public + "/t/esempio/spid/acs", "GET " + e.public + "/t/esempio/app/"} {
		if !contains(h, step) {
			t.Errorf("the browser did not go through %q: %q", step, h)
		}
	}
	reqs := e.idp.Requests()
	if len(reqs) != 1 || !reqs[0].SignatureOK || len(reqs[0].Problems) != 0 || reqs[0].Level != 2 ||
		reqs[0].Issuer != e.public+"/t/esempio/spid/metadata" {
		t.Fatalf("AuthnRequest as the IdP saw it: %+v", reqs)
	}

	// Logout ends both sessions: the application's token and the IdP's.
	var logout string
	for _, l := range p.Links("") {
		if strings.HasSuffix(l.URL, "/spid/slo") {
			logout = l.URL
		}
	}
	if logout != e.public+"/t/esempio/spid/slo" {
		t.Fatalf("logout link %q", logout)
	}
	p, err = b.Get(c, logout)
	if err != nil || p.Status != 200 || !strings.Contains(p.Text("logged-out"), "You have logged out") {
		t.Fatalf("after logout: %v %d %s\n%q", err, p.Status, p.Body, b.History())
	}
	if h := b.History(); !contains(h, "GET "+e.idp.URL()+"/slo?SAMLRequest=") || !contains(h, "GET "+e.public+"/t/esempio/spid/slo?SAMLResponse=") {
		t.Errorf("logout did not go through the IdP: %q", h)
	}
	p, err = b.Get(c, e.public+"/t/esempio/app/")
	if err != nil || p.Status != http.StatusUnauthorized || !strings.Contains(p.Body, "Log in with SPID") {
		t.Fatalf("application after logout: %v %d %s", err, p.Status, p.Body)
	}
}

// TestLoginRejected: a response the SP must refuse ends on the bilingual
// error page with a 4xx status and no session.
func TestLoginRejected(t *testing.T) {
	e := start(t, nil, gateway.Options{})
	for _, tc := range []struct {
		defect, user string
		status       int
		text         string
	}{
		{"audience:wrong", "mario", http.StatusBadRequest, "Login failed"},
		{"level-low", "mario", http.StatusBadRequest, "Login failed"},
		{"", "anna-does-not-exist", http.StatusUnauthorized, "Login failed"}, // nr19 from the IdP form
		{"nr22", "mario", http.StatusUnauthorized, "consent"},
	} {
		t.Run(tc.defect+tc.user, func(t *testing.T) {
			c := ctx(t)
			e.idp.SetDefect(tc.defect)
			defer e.idp.SetDefect("")
			b := gatewaytest.NewBrowser()
			ct, p, err := b.LoginWithSPID(c, e.site.LandingURL(), "", tc.user, "password")
			var le *gatewaytest.LoginError
			if !errors.As(err, &le) {
				t.Fatalf("login = %+v, %v; want a LoginError", ct, err)
			}
			if le.Status != tc.status || !strings.Contains(p.Body, "Accesso non riuscito") || !strings.Contains(le.Text, tc.text) {
				t.Fatalf("error page: HTTP %d %q", le.Status, le.Text)
			}
			if le.URL != e.public+"/t/esempio/spid/acs" {
				t.Errorf("error at %s, want the ACS", le.URL)
			}
			u, err := url.Parse(e.public + "/t/esempio/app/")
			if err != nil {
				t.Fatal(err)
			}
			for _, ck := range b.Client.Jar.Cookies(u) {
				if strings.HasPrefix(ck.Name, "ponte_spid") {
					t.Errorf("session cookie set after a rejected login: %v", ck)
				}
			}
			if p, err := b.Get(c, u.String()); err != nil || p.Status != http.StatusUnauthorized {
				t.Errorf("application after a rejected login: %v %+v", err, p)
			}
		})
	}
}

// TestForgedTokenRefused: the application accepts only tokens signed by the
// SP's key.
func TestForgedTokenRefused(t *testing.T) {
	e := start(t, nil, gateway.Options{})
	b := gatewaytest.NewBrowser()
	u, err := url.Parse(e.public + "/t/esempio/app/")
	if err != nil {
		t.Fatal(err)
	}
	// A token with alg "none" and the right claims.
	b.Client.Jar.SetCookies(u, []*http.Cookie{{Name: "ponte_spid_esempio", Path: "/t/esempio/",
		Value: "eyJhbGciOiJub25lIn0.eyJmaXNjYWxOdW1iZXIiOiJUSU5JVC1SU1NNUkE4MEEwMUg1MDFVIiwic3BpZExldmVsIjoyfQ."}})
	p, err := b.Get(ctx(t), u.String())
	if err != nil || p.Status != http.StatusUnauthorized || !strings.Contains(p.Body, "log in again") {
		t.Fatalf("forged token: %v %d %s", err, p.Status, p.Body)
	}
}

// TestIdPMetadataRetried: when the IdP's metadata cannot be fetched at start
// the landing page says so, and Run picks the IdP up once it answers.
func TestIdPMetadataRetried(t *testing.T) {
	var up atomic.Bool
	var idpRef atomic.Pointer[spididp.Server]
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() || r.URL.Path != "/metadata" {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		if _, err := w.Write(idpRef.Load().Metadata()); err != nil {
			t.Error(err)
		}
	}))
	defer flaky.Close()
	e := start(t, func(idp *spididp.Server) string { idpRef.Store(idp); return flaky.URL }, gateway.Options{Retry: 20 * time.Millisecond})
	c := ctx(t)
	b := gatewaytest.NewBrowser()
	p, err := b.Get(c, e.site.LandingURL())
	if err != nil || len(p.Links("spid-idp")) != 0 || !strings.Contains(p.Body, "No identity provider is available right now") {
		t.Fatalf("landing with the IdP down: %v %s", err, p.Body)
	}
	rc, cancel := context.WithCancel(c)
	defer cancel()
	go e.gw.Run(rc)
	up.Store(true)
	// The gateway retries every 20ms; wait for it as long as the test's
	// context allows, not a fixed few seconds.
	for {
		p, err = b.Get(c, e.site.LandingURL())
		if err == nil && len(p.Links("spid-idp")) == 1 {
			break
		}
		select {
		case <-c.Done():
			if p != nil {
				t.Fatalf("the IdP never appeared: %v %s", err, p.Body)
			}
			t.Fatalf("the IdP never appeared: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if ct, _, err := b.LoginWithSPID(c, e.site.LandingURL(), "", "anna", "password"); err != nil || ct.FiscalNumber != "BNCNNA90E55F205X" {
		t.Fatalf("login after the IdP came back: %+v %v", ct, err)
	}
}
