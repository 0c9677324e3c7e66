package onboarding_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ponte-pa/ponte/connectors/pagopa/nodo"
	"github.com/ponte-pa/ponte/internal/tenant"
	appiomock "github.com/ponte-pa/ponte/mocks/appio"
	"github.com/ponte-pa/ponte/mocks/mockset"
	smtpmock "github.com/ponte-pa/ponte/mocks/smtp"
	"github.com/ponte-pa/ponte/workflows/onboarding"
)

// sampleTenant starts the mocks with cfg (stopped when the test ends) and
// writes the sample comune, SPID and SMTP included, pointing at them.
func sampleTenant(t *testing.T, cfg mockset.Config) *tenant.Tenant {
	t.Helper()
	dir := t.TempDir()
	if cfg == nil {
		cfg = mockset.Config{}
	}
	cfg[smtpmock.Kind] = smtpmock.Config{CAFile: filepath.Join(dir, "smtp-ca.pem"),
		Options: smtpmock.Options{Username: mockset.SampleSMTPUser, Password: mockset.SampleSMTPPassword}}
	mocks, err := mockset.Start(mockset.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mocks.Close)
	vars := mocks.SampleVars()
	vars["PublicURL"] = tenant.DefaultPublicURL
	path, err := tenant.WriteSample(dir, vars)
	if err != nil {
		t.Fatal(err)
	}
	ten, err := tenant.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return ten
}

// ecServer serves the tenant's EC SOAP endpoint as `ponte serve` does.
func ecServer(t *testing.T, ten *tenant.Tenant) string {
	t.Helper()
	mux := http.NewServeMux()
	if _, err := nodo.MountTenant(mux, ten.ID, ten.FiscalCode, nodo.NewMemoryBackend(nil), nodo.Options{StationID: ten.PagoPA.StationID}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

func byCheck(r onboarding.Report) map[string]onboarding.Item {
	out := map[string]onboarding.Item{}
	for _, it := range r.Items {
		out[it.Check] = it
	}
	return out
}

// TestSampleIsReady: the sample comune against the mocks, with its EC
// endpoint served, passes every check.
func TestSampleIsReady(t *testing.T) {
	ten := sampleTenant(t, nil)
	c := &onboarding.Checker{PublicURL: ecServer(t, ten)}
	r := c.All(context.Background(), ten, mustTime(t, "2026-12-02T10:00:00Z"))
	if len(r.Items) != len(onboarding.Checks) {
		t.Fatalf("%d items, want %d", len(r.Items), len(onboarding.Checks))
	}
	for i, it := range r.Items {
		if it.Check != onboarding.Checks[i] || it.Status != onboarding.OK {
			t.Errorf("%s: %s: %s", it.Check, it.Status, it.Detail)
		}
	}
	if !r.Ready() || r.Name.EN != "Municipality of Esempio" {
		t.Errorf("report %+v", r)
	}
	got := byCheck(r)
	for check, want := range map[string]string{
		onboarding.CheckSPIDMetadata: "follows all",
		onboarding.CheckSPIDIdPs:     "2 IdPs loaded",
		onboarding.CheckSources:      "source tributi-csv, people residenti",
		onboarding.CheckEC:           "/t/esempio/pagopa/nodo answers SOAP",
	} {
		if !strings.Contains(got[check].Detail, want) {
			t.Errorf("%s detail %q, want %q", check, got[check].Detail, want)
		}
	}
}

// TestSampleWithoutPublicURL: what the sample lacks by itself is a
// published gateway: its SP's baseURL is the default 127.0.0.1:8080, where
// nothing serves in a test, so the EC endpoint fails and says where it
// looked; every other check is ok.
func TestSampleWithoutPublicURL(t *testing.T) {
	ten := sampleTenant(t, nil)
	dead := "http://" + closedAddr(t)
	r := (&onboarding.Checker{PublicURL: dead}).All(context.Background(), ten, mustTime(t, "2026-12-02T10:00:00Z"))
	for _, it := range r.Items {
		want := onboarding.OK
		if it.Check == onboarding.CheckEC {
			want = onboarding.Failed
		}
		if it.Status != want {
			t.Errorf("%s: %s (%s), want %s", it.Check, it.Status, it.Detail, want)
		}
	}
	ec := byCheck(r)[onboarding.CheckEC]
	if !strings.Contains(ec.Detail, dead+"/t/esempio/pagopa/nodo") || ec.Anchor != "serve" || ec.Next.IT == "" || ec.Next.EN == "" {
		t.Errorf("ec item %+v", ec)
	}
	// Without any public URL, the root of the SP's baseURL is used.
	if u := (&onboarding.Checker{}).ECURL(ten); u != tenant.DefaultPublicURL+"/t/esempio/pagopa/nodo" {
		t.Errorf("EC URL %q", u)
	}
}

// TestBrokenComune: a wrong App IO key, an unreachable GPD and a missing
// secret file each give their failed or missing item with the next step.
func TestBrokenComune(t *testing.T) {
	ten := sampleTenant(t, mockset.Config{
		appiomock.Kind: appiomock.Options{Services: map[string]appiomock.Service{"another-key": {ID: "01HZALTRO", Allowed: true}}},
	})
	if err := os.Remove(filepath.Join(ten.Dir, "secrets", "smtp.password")); err != nil {
		t.Fatal(err)
	}
	gpdAddr := closedAddr(t)
	ten.PagoPA.GPD.BaseURL = "http://" + gpdAddr
	r := (&onboarding.Checker{PublicURL: ecServer(t, ten)}).All(context.Background(), ten, mustTime(t, "2026-12-02T10:00:00Z"))
	got := byCheck(r)
	for check, want := range map[string]struct {
		st     onboarding.Status
		detail string
		anchor string
	}{
		onboarding.CheckSecrets: {onboarding.Missing, "smtp.password", "segreti"},
		onboarding.CheckAppIO:   {onboarding.Failed, "401", "app-io"},
		onboarding.CheckGPD:     {onboarding.Failed, gpdAddr, "pagopa"},
		onboarding.CheckConfig:  {onboarding.OK, "valid", "validate"},
		onboarding.CheckSMTP:    {onboarding.Failed, "smtp.password", "smtp"},
		onboarding.CheckSources: {onboarding.OK, "tributi-csv", "fonti"},
	} {
		it := got[check]
		if it.Status != want.st || !strings.Contains(it.Detail, want.detail) || it.Anchor != want.anchor {
			t.Errorf("%s: %+v, want %s naming %q at #%s", check, it, want.st, want.detail, want.anchor)
		}
		if want.st != onboarding.OK && (it.Next.IT == "" || it.Next.EN == "" || it.Ask.IT == "") {
			t.Errorf("%s: no next step or who to ask: %+v", check, it)
		}
	}
	if got[onboarding.CheckAppIO].Ask.EN != "PagoPA S.p.A. (Area Riservata / developer portal)" {
		t.Errorf("appio ask %+v", got[onboarding.CheckAppIO].Ask)
	}
	if r.Ready() {
		t.Error("a broken comune is ready")
	}
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return at
}
