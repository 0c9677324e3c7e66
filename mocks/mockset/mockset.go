// Package mockset starts every Ponte mock server together on loopback ports:
// the same set serves `ponte mocks`, the demo and end-to-end tests.
package mockset

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	appiomock "github.com/ponte-pa/ponte/mocks/appio"
	"github.com/ponte-pa/ponte/mocks/gpd"
	legacymock "github.com/ponte-pa/ponte/mocks/legacy"
	nodomock "github.com/ponte-pa/ponte/mocks/nodo"
	smtpmock "github.com/ponte-pa/ponte/mocks/smtp"
	"github.com/ponte-pa/ponte/mocks/spididp"
)

// Options choose ports and seed data. Zero ports pick free ones.
type Options struct {
	Host    string // default 127.0.0.1
	GPDPort int
	IOPort  int
	// IOProfiles seeds the App IO profile registry (fiscal code → profile).
	// Fiscal codes not listed are not on IO unless IODefaultKnown is set.
	IOProfiles     map[string]appiomock.ProfileSpec
	IODefaultKnown bool
	// SMTPPort for the SMTP mock (0 = free port); SMTPUser/SMTPPassword, when
	// set, are required by it (the sample comune uses SampleSMTPUser/Password).
	SMTPPort               int
	SMTPUser, SMTPPassword string
	// NodoPort serves the Nodo simulator's /__mock/ API (pay a notice on
	// the GPD mock or against an EC SOAP endpoint).
	NodoPort int
	// IdPPort serves the mock SPID IdP (metadata at /metadata), CIEPort a
	// second mock IdP that plays the CIE identity provider.
	IdPPort int
	CIEPort int
	// LegacyPort serves the tributi back office mock (REST and SOAP),
	// seeded with LegacyDebtors.
	LegacyPort    int
	LegacyDebtors []legacymock.Debtor
	// Logger receives the mocks' own logs (payments of the Nodo simulator,
	// requests the IdP refused); nil discards them.
	Logger *slog.Logger
}

// The SMTP credentials of the sample comune (internal/tenant/sample).
const (
	SampleSMTPUser     = "tributi"
	SampleSMTPPassword = "demo-smtp-password-not-secret"
)

// Set is a running set of mocks.
type Set struct {
	GPD  *gpd.Server
	IO   *appiomock.Server
	SMTP *smtpmock.Server
	// Nodo pays notices like a PSP would; IdP is the mock SPID IdP; Legacy
	// the tributi back office.
	Nodo   *nodomock.Simulator
	IdP    *spididp.Server
	CIE    *spididp.Server
	Legacy *legacymock.Server
	// NodoURL, IdPURL and CIEURL (also the IdPs' entityIDs) and LegacyURL
	// are base URLs.
	NodoURL, IdPURL, CIEURL, LegacyURL string
	// GPDURL is the GPD base URL (what a tenant config puts in
	// pagopa.gpd.baseURL); IOURL the App IO base URL including /api/v1.
	GPDURL string
	IOURL  string
	// SMTPAddr is host:port of the SMTP mock (STARTTLS with a self-signed
	// certificate: see WriteSMTPCA).
	SMTPAddr string

	servers []*http.Server
}

// Start listens on the ports and serves until Close.
func Start(opts Options) (*Set, error) {
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	s := &Set{
		GPD: gpd.New(gpd.Options{}),
		IO:  appiomock.New(appiomock.Options{Profiles: opts.IOProfiles, DefaultKnown: opts.IODefaultKnown}),
	}
	gpdAddr, err := s.serve(opts.Host, opts.GPDPort, s.GPD)
	if err != nil {
		return nil, fmt.Errorf("GPD mock: %w", err)
	}
	ioAddr, err := s.serve(opts.Host, opts.IOPort, s.IO)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("App IO mock: %w", err)
	}
	if s.SMTP, err = smtpmock.Start(net.JoinHostPort(opts.Host, fmt.Sprint(opts.SMTPPort)),
		smtpmock.Options{Username: opts.SMTPUser, Password: opts.SMTPPassword}); err != nil {
		s.Close()
		return nil, fmt.Errorf("SMTP mock: %w", err)
	}
	s.SMTPAddr = s.SMTP.Addr()
	s.GPDURL = "http://" + gpdAddr
	s.IOURL = "http://" + ioAddr + "/api/v1"

	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s.Nodo = nodomock.New(nodomock.Options{GPD: s.GPD, Logger: opts.Logger})
	nodoAddr, err := s.serve(opts.Host, opts.NodoPort, s.Nodo)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("Nodo simulator: %w", err)
	}
	s.NodoURL = "http://" + nodoAddr

	s.Legacy = legacymock.New(legacymock.Options{Debtors: opts.LegacyDebtors, Logger: opts.Logger})
	legacyAddr, err := s.serve(opts.Host, opts.LegacyPort, s.Legacy)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("tributi back office mock: %w", err)
	}
	s.LegacyURL = "http://" + legacyAddr

	if s.IdP, s.IdPURL, err = s.startIdP(opts.Host, opts.IdPPort, spididp.Options{Logger: opts.Logger}); err != nil {
		s.Close()
		return nil, fmt.Errorf("SPID IdP mock: %w", err)
	}
	if s.CIE, s.CIEURL, err = s.startIdP(opts.Host, opts.CIEPort, spididp.Options{Name: "Mock CIE IdP", Logger: opts.Logger}); err != nil {
		s.Close()
		return nil, fmt.Errorf("CIE IdP mock: %w", err)
	}
	return s, nil
}

func (s *Set) serve(host string, port int, h http.Handler) (string, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, fmt.Sprint(port)))
	if err != nil {
		return "", err
	}
	s.serveListener(l, h)
	return l.Addr().String(), nil
}

// startIdP serves a mock IdP on host:port; it needs its URL before it is
// built (metadata, entityID), hence the listener first.
func (s *Set) startIdP(host string, port int, o spididp.Options) (*spididp.Server, string, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, fmt.Sprint(port)))
	if err != nil {
		return nil, "", err
	}
	o.BaseURL = "http://" + l.Addr().String()
	idp, err := spididp.New(o)
	if err != nil {
		l.Close()
		return nil, "", err
	}
	s.serveListener(l, idp)
	return idp, o.BaseURL, nil
}

func (s *Set) serveListener(l net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	s.servers = append(s.servers, srv)
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = err // the listener was closed under us; Close reports nothing more useful
		}
	}()
}

// URLs lists the mocks by name, for printing.
func (s *Set) URLs() map[string]string {
	return map[string]string{
		"gpd": s.GPDURL, "appio": s.IOURL, "smtp": s.SMTPAddr,
		"nodo": s.NodoURL, "spid-idp": s.IdPURL, "cie-idp": s.CIEURL, "tributi": s.LegacyURL,
	}
}

// WriteSMTPCA writes the SMTP mock's certificate where a tenant's
// channels.email.caFile points, so clients verify it like a real relay's.
func (s *Set) WriteSMTPCA(path string) error {
	return os.WriteFile(path, s.SMTP.CertPEM(), 0o644)
}

// SampleVars are the template variables of tenant.WriteSample for this set.
func (s *Set) SampleVars() map[string]string {
	return map[string]string{"GPDURL": s.GPDURL, "IOURL": s.IOURL, "SMTPAddr": s.SMTPAddr, "IdPURL": s.IdPURL, "CIEIdPURL": s.CIEURL}
}

// Close stops every mock.
func (s *Set) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, srv := range s.servers {
		_ = srv.Shutdown(ctx)
	}
	if s.SMTP != nil {
		_ = s.SMTP.Close()
	}
}
