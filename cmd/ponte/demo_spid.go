package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/ponte-pa/ponte/internal/gateway"
	"github.com/ponte-pa/ponte/internal/gateway/gatewaytest"
	"github.com/ponte-pa/ponte/internal/store"
	"github.com/ponte-pa/ponte/internal/tenant"
	"github.com/ponte-pa/ponte/mocks/mockset"
	"github.com/ponte-pa/ponte/mocks/spididp"
)

// demoSPIDResult is what the SPID part of the demo did.
type demoSPIDResult struct {
	LandingURL string
	Citizen    *gateway.Citizen
	CIECitizen *gateway.Citizen // logged in with "Entra con CIE"
	// Stop shuts the gateway down.
	Stop func()
}

// demoSPID adds SPID login to the demo's sample comune in dir: a fresh SP key
// pair and a spid block trusting the mock IdP, the gateway on a loopback port
// with pending requests in db, the SP's metadata registered with the mock IdP,
// and one login of a test citizen walked through the real HTTP handlers by a
// scripted browser (IdP login form, signed response posted to the ACS, the
// comune's application page). It prints one line of the demo's story, and the
// login page to try when keep is set.
func demoSPID(ctx context.Context, w io.Writer, dir string, mocks *mockset.Set, db *store.DB, keep bool, log *slog.Logger) (*demoSPIDResult, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second}
	res := &demoSPIDResult{Stop: func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		_ = l.Close()
	}}
	fail := func(err error) (*demoSPIDResult, error) {
		res.Stop()
		return nil, fmt.Errorf("SPID login: %w", err)
	}
	if err := tenant.AddSampleSPIDWithCIE(dir, mocks.IdPURL, mocks.CIEURL, "http://"+l.Addr().String()); err != nil {
		return fail(err)
	}
	t, err := tenant.Load(filepath.Join(dir, "tenant.yaml"))
	if err != nil {
		return fail(err)
	}
	gw, err := gateway.New(ctx, []*tenant.Tenant{t}, gateway.Options{DB: db, Logger: log})
	if err != nil {
		return fail(err)
	}
	site := gw.Site(t.ID)
	if site == nil || len(site.Registry.List()) == 0 {
		return fail(errors.New("the mock IdP's metadata did not load"))
	}
	md, err := site.SP.Metadata()
	if err != nil {
		return fail(err)
	}
	for _, idp := range []*spididp.Server{mocks.IdP, mocks.CIE} {
		if err := idp.RegisterSP(md); err != nil {
			return fail(err)
		}
	}
	srv.Handler = gw
	go func() { _ = srv.Serve(l) }()
	res.LandingURL = site.LandingURL()

	lctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	ct, _, err := gatewaytest.NewBrowser().LoginWithSPID(lctx, res.LandingURL, "", "mario", "password")
	if err != nil {
		return fail(err)
	}
	res.Citizen = ct
	fmt.Fprintf(w, "SPID login OK: %s %s %s L%d via %s (landing page → IdP login form → signed assertion → ACS → comune's application)\n",
		ct.Name, ct.FamilyName, ct.FiscalNumber, ct.Level, ct.IdPName)
	cie, _, err := gatewaytest.NewBrowser().LoginWithCIE(lctx, res.LandingURL, "mario", "password")
	if err != nil {
		return fail(fmt.Errorf("CIE: %w", err))
	}
	res.CIECitizen = cie
	fmt.Fprintf(w, "CIE login OK:  %s %s %s L%d via %s (\"Entra con CIE\" button, CIE attribute set)\n",
		cie.Name, cie.FamilyName, cie.FiscalNumber, cie.Level, cie.IdPName)
	if keep {
		fmt.Fprintf(w, "  %s   SPID and CIE login of the sample comune (users mario or anna, password \"password\")\n", res.LandingURL)
	}
	return res, nil
}
