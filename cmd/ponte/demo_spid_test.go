package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ponte-pa/ponte/internal/gateway/gatewaytest"
	"github.com/ponte-pa/ponte/internal/store"
	"github.com/ponte-pa/ponte/internal/tenant"
	"github.com/ponte-pa/ponte/mocks/mockset"
)

func spidTestSetup(t *testing.T) (context.Context, *mockset.Set, *store.DB, *slog.Logger) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	mocks, err := mockset.Start(mockset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mocks.Close)
	db, err := store.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	return ctx, mocks, db, slog.New(slog.NewTextHandler(io.Discard, nil))
}

// TestDemoSPID: the demo's SPID step logs the test citizen in through the
// real handlers and leaves a sample comune that 'ponte config validate' accepts.
func TestDemoSPID(t *testing.T) {
	ctx, mocks, db, log := spidTestSetup(t)
	dir := t.TempDir()
	if _, err := tenant.WriteSample(dir, map[string]string{"GPDURL": mocks.GPDURL, "IOURL": mocks.IOURL}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	res, err := demoSPID(ctx, &out, dir, mocks, db, true, log)
	if err != nil {
		t.Fatalf("demoSPID: %v\n%s", err, out.String())
	}
	defer res.Stop()
	if !strings.Contains(out.String(), "SPID login OK: Mario Rossi RSSMRA80A01H501U L2 via Mock SPID IdP") ||
		!strings.Contains(out.String(), "CIE login OK:  Mario Rossi RSSMRA80A01H501U L3 via Mock CIE IdP") ||
		!strings.Contains(out.String(), res.LandingURL+"   SPID and CIE login of the sample comune") {
		t.Errorf("demo output:\n%s", out.String())
	}
	if !strings.HasSuffix(res.LandingURL, "/t/esempio/") || res.Citizen.IdP != mocks.IdPURL || res.CIECitizen.IdP != mocks.CIEURL {
		t.Errorf("result %+v %+v", res, res.Citizen)
	}
	var vout, verr bytes.Buffer
	if code := run([]string{"config", "validate", filepath.Join(dir, "tenant.yaml")}, &vout, &verr); code != exitOK {
		t.Fatalf("config validate: exit %d\n%s%s", code, vout.String(), verr.String())
	}
	// The landing page stays up for --keep until Stop.
	if resp, err := http.Get(res.LandingURL); err != nil || resp.StatusCode != 200 {
		t.Fatalf("landing page: %v %v", err, resp)
	}
}

// TestServeGatewayMount: what 'ponte serve' mounts on its --http address for
// a tenant directory written by 'ponte config sample' serves a whole login.
func TestServeGatewayMount(t *testing.T) {
	ctx, mocks, db, log := spidTestSetup(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "my-comune")
	var out, errOut bytes.Buffer
	if code := run([]string{"config", "sample", "--gpd-url", mocks.GPDURL, "--io-url", mocks.IOURL,
		"--idp-url", mocks.IdPURL, "--public-url", "http://" + l.Addr().String(), dir}, &out, &errOut); code != exitOK {
		t.Fatalf("config sample: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	mux := http.NewServeMux()
	ts, err := tenant.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	intake, err := reportsIntake(ctx, db, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := mountGateway(ctx, mux, ts, db, nil, l.Addr().String(), log, intake); err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()
	base := "http://" + l.Addr().String()
	// Register the SP with the IdP as the README says.
	resp, err := http.Post(mocks.IdPURL+"/__mock/sp?url="+base+"/t/esempio/spid/metadata", "", nil)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("register SP: %v %v", err, resp)
	}
	ct, _, err := gatewaytest.NewBrowser().LoginWithSPID(ctx, base+"/t/esempio/", "", "anna", "password")
	if err != nil || ct.FiscalNumber != "BNCNNA90E55F205X" || ct.Level != 2 {
		t.Fatalf("login: %+v %v", ct, err)
	}
	// The sample's citizen reports intake (Open311 GeoReport v2).
	resp, err = http.Get(base + "/t/esempio/open311/v2/services.json")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if cerr := resp.Body.Close(); err == nil {
		err = cerr
	}
	if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"service_code":"lampione-guasto"`) {
		t.Fatalf("Open311 services: HTTP %d %s %v", resp.StatusCode, body, err)
	}
}
