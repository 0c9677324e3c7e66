package spidsp_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"

	"github.com/ponte-pa/ponte/internal/conformance"
	"github.com/ponte-pa/ponte/internal/conformance/spidsp"
	"github.com/ponte-pa/ponte/internal/gateway"
	"github.com/ponte-pa/ponte/internal/store"
	"github.com/ponte-pa/ponte/internal/tenant"
	"github.com/ponte-pa/ponte/mocks/spididp"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// ctx is a context for one operation: generous, so that a loaded machine is
// never mistaken for a failure.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return c
}

// idpSetup runs the suite with setup-only, as an SP operator does first:
// it creates the suite IdP's key and writes its metadata.
func idpSetup(t *testing.T) (opts map[string]string, metadata []byte) {
	t.Helper()
	dir := t.TempDir()
	opts = map[string]string{
		"idp-key": filepath.Join(dir, "idp.key.pem"), "idp-cert": filepath.Join(dir, "idp.cert.pem"),
		"idp-metadata-out": filepath.Join(dir, "idp.xml"),
	}
	s, err := conformance.Lookup(spidsp.Name)
	if err != nil {
		t.Fatal(err)
	}
	setup := map[string]string{"setup-only": "true"}
	for k, v := range opts {
		setup[k] = v
	}
	rep, err := conformance.Run(ctx(t), s, &conformance.Target{URL: "http://127.0.0.1:9", Options: setup}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 1 || rep.Failed() != 0 {
		t.Fatalf("setup-only: %+v", rep.Results)
	}
	md, err := os.ReadFile(opts["idp-metadata-out"])
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"idp-key", "idp-cert"} {
		if _, err := os.Stat(opts[f]); err != nil {
			t.Fatalf("%s not written: %v", f, err)
		}
	}
	return opts, md
}

func run(t *testing.T, target string, opts map[string]string) (*conformance.Report, string) {
	t.Helper()
	s, err := conformance.Lookup(spidsp.Name)
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	rep, err := conformance.Run(ctx(t), s, &conformance.Target{URL: target, Options: opts, Log: &log}, 0)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range rep.Results {
		if seen[r.Case.Name] {
			t.Errorf("case %s twice", r.Case.Name)
		}
		seen[r.Case.Name] = true
		if !strings.Contains(r.Case.Rule, "spid-sp-rules.md §") {
			t.Errorf("case %s does not cite its rule: %q", r.Case.Name, r.Case.Rule)
		}
	}
	return rep, log.String()
}

// startPonte runs the gateway with the sample comune, which trusts the
// suite IdP's metadata (served where the sample's spid.idpMetadata points).
func startPonte(t *testing.T, idpMetadata []byte) string {
	t.Helper()
	mdSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metadata" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/samlmetadata+xml")
		if _, err := w.Write(idpMetadata); err != nil {
			t.Error(err)
		}
	}))
	t.Cleanup(mdSrv.Close)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	public := "http://" + l.Addr().String()
	path, err := tenant.WriteSample(t.TempDir(), map[string]string{
		"GPDURL": "http://127.0.0.1:9/gpd", "IOURL": "http://127.0.0.1:9/api/v1", "IdPURL": mdSrv.URL, "PublicURL": public})
	if err != nil {
		t.Fatal(err)
	}
	tn, err := tenant.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(ctx(t), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	gw, err := gateway.New(ctx(t), []*tenant.Tenant{tn}, gateway.Options{DB: db, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: gw, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
	})
	site := gw.Site("esempio")
	if site == nil {
		t.Fatal("no site for the sample comune")
	}
	return strings.TrimRight(site.LandingURL(), "/")
}

// TestPonteSPConforms: Ponte's own SP passes every case.
func TestPonteSPConforms(t *testing.T) {
	opts, md := idpSetup(t)
	target := startPonte(t, md)
	rep, log := run(t, target, opts)
	if rep.Failed() != 0 {
		t.Errorf("%d cases failed against Ponte's SP:\n%s", rep.Failed(), log)
	}
	if len(rep.Results) < 80 {
		t.Errorf("only %d cases", len(rep.Results))
	}
	for _, r := range rep.Results {
		// The only case that does not apply: the sample comune is public.
		if r.Skipped && r.Case.Name != "metadata/contact-billing" {
			t.Errorf("%s skipped: %v", r.Case.Name, r.Err)
		}
	}
	var junit bytes.Buffer
	if err := rep.WriteJUnit(&junit); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(junit.String(), "<failure") || !strings.Contains(junit.String(), `name="response/xsw-sibling"`) {
		t.Errorf("JUnit:\n%s", junit.String())
	}
}

// startWeakSP runs an SP made with crewjam/saml's defaults (samlsp), which
// trusts the suite IdP: a SAML SP that is not SPID-conformant.
func startWeakSP(t *testing.T, idpMetadata []byte) string {
	t.Helper()
	var ed saml.EntityDescriptor
	if err := xml.Unmarshal(idpMetadata, &ed); err != nil {
		t.Fatal(err)
	}
	key, cert, err := spididp.NewKeyCert("weak SP")
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // crewjam's panics on hostile responses
	srv.Start()
	t.Cleanup(srv.Close)
	root, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	m, err := samlsp.New(samlsp.Options{URL: *root, Key: key, Certificate: cert, IDPMetadata: &ed})
	if err != nil {
		t.Fatal(err)
	}
	// crewjam's default error handler, minus its log line (which prints
	// every refused response into the test output).
	m.OnError = func(w http.ResponseWriter, _ *http.Request, _ error) {
		http.Error(w, http.StatusText(http.StatusForbidden), http.StatusForbidden)
	}
	mux := http.NewServeMux()
	mux.Handle("/saml/", m)
	mux.Handle("/app", m.RequireAccount(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello")
	})))
	h = mux
	return srv.URL
}

// TestWeakSPFails: the crewjam SP with defaults fails, case by case, the
// rules it breaks — and passes the good response, so the failures are its own.
func TestWeakSPFails(t *testing.T) {
	opts, md := idpSetup(t)
	target := startWeakSP(t, md)
	opts["login"] = "{base}/app"
	rep, log := run(t, target, opts)
	t.Logf("against crewjam/saml defaults:\n%s", log)
	status := map[string]string{}
	for _, r := range rep.Results {
		switch {
		case r.Skipped:
			status[r.Case.Name] = "skip"
		case r.Err != nil:
			status[r.Case.Name] = "fail"
		default:
			status[r.Case.Name] = "pass"
		}
	}
	for name, want := range map[string]string{
		"metadata/available":                    "pass",
		"metadata/signature":                    "fail", // unsigned metadata
		"metadata/contact-person":               "fail", // no spid: extensions
		"metadata/certificate":                  "fail", // not the AgID SP profile
		"metadata/attribute-consuming-service":  "fail",
		"authn-request/sent":                    "pass",
		"authn-request/signature":               "fail", // unsigned request
		"authn-request/issuer-name-qualifier":   "fail", // crewjam's known gap
		"authn-request/requested-authn-context": "fail",
		"response/good":                         "pass",
		"response/unsigned-assertion":           "fail", // signed envelope, unsigned assertion accepted
		"response/authn-context-missing":        "fail",
		"response/subject-missing":              "fail", // crewjam's nil pointer: no answer
		"response/attribute-missing":            "skip", // it requests no attributes
		"response/dtd-entity":                   "fail",
	} {
		if status[name] != want {
			t.Errorf("%s: %s, want %s", name, status[name], want)
		}
	}
	if rep.Failed() < 15 {
		t.Errorf("only %d failures against a non-SPID SP", rep.Failed())
	}
	var junit bytes.Buffer
	if err := rep.WriteJUnit(&junit); err != nil {
		t.Fatal(err)
	}
	j := junit.String()
	for _, want := range []string{
		`<testcase name="response/unsigned-assertion" classname="conformance.spid-sp"`,
		`the SP accepted it: HTTP 302`,
		`rule: spid-sp-rules.md §3: no unsigned Assertion is accepted`,
		`<testcase name="metadata/signature"`,
	} {
		if !strings.Contains(j, want) {
			t.Errorf("JUnit lacks %q", want)
		}
	}
}

// TestOptions: unknown options and bad values are refused before any case runs.
func TestOptions(t *testing.T) {
	s, err := conformance.Lookup(spidsp.Name)
	if err != nil {
		t.Fatal(err)
	}
	for opts, want := range map[string]string{
		"idp-kye=x":          "unknown options idp-kye",
		"idp-key=/nonexist":  "both idp-key and idp-cert",
		"oversize-bytes=big": "oversize-bytes",
		"user=nobody":        "not a test citizen",
		"login=/relative":    "absolute URL",
	} {
		k, v, _ := strings.Cut(opts, "=")
		_, err := conformance.Run(ctx(t), s, &conformance.Target{URL: "http://127.0.0.1:9", Options: map[string]string{k: v}}, 0)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", opts, err, want)
		}
	}
}
