// Package mockset starts every registered kind of mock (mocks/registry)
// together on loopback ports: the same set serves `ponte mocks`, the demo
// and end-to-end tests. A kind of mock registers itself in its own package;
// importing the package here (all.go) is all mockset needs to start it.
package mockset

import (
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"path/filepath"
	"strconv"

	appiomock "github.com/ponte-pa/ponte/mocks/appio"
	"github.com/ponte-pa/ponte/mocks/gpd"
	legacymock "github.com/ponte-pa/ponte/mocks/legacy"
	nodomock "github.com/ponte-pa/ponte/mocks/nodo"
	"github.com/ponte-pa/ponte/mocks/record"
	"github.com/ponte-pa/ponte/mocks/registry"
	smtpmock "github.com/ponte-pa/ponte/mocks/smtp"
	"github.com/ponte-pa/ponte/mocks/spididp"
	webhookmock "github.com/ponte-pa/ponte/mocks/webhook"
)

// Options choose ports and configure the mocks.
type Options struct {
	Host string // default 127.0.0.1
	// Ports by port flag (registry.Port.Flag, e.g. "gpd-port"); absent or
	// 0 picks a free port.
	Ports map[string]int
	// Config by kind name: each mock's own configuration type, e.g.
	// Config{appiomock.Kind: appiomock.Options{DefaultKnown: true}}.
	Config Config
	// Logger receives the mocks' own logs (payments of the Nodo simulator,
	// requests the IdP refused); nil discards them.
	Logger *slog.Logger
	// Record, when set, records every call made to the mocks' HTTP APIs,
	// judged by each mock's contract (mocks/record).
	Record *record.Recorder
}

// Config is the mocks' configuration by kind name.
type Config map[string]any

// The SMTP credentials of the sample comune (internal/tenant/sample).
const (
	SampleSMTPUser     = "tributi"
	SampleSMTPPassword = "demo-smtp-password-not-secret"
)

// SampleSMTP is the SMTP mock's configuration for the sample comune
// written in dir: its credentials, and the relay's CA certificate written
// to dir/smtp-ca.pem, where the sample's email channel reads it.
func SampleSMTP(dir string) smtpmock.Config {
	return smtpmock.Config{CAFile: filepath.Join(dir, "smtp-ca.pem"),
		Options: smtpmock.Options{Username: SampleSMTPUser, Password: SampleSMTPPassword}}
}

// Set is a running set of mocks.
type Set struct {
	running []*registry.Running
	byName  map[string]*registry.Running

	// The mocks callers drive, for convenience (Mock finds any).
	GPD    *gpd.Server
	IO     *appiomock.Server
	SMTP   *smtpmock.Server
	Nodo   *nodomock.Simulator
	IdP    *spididp.Server    // the SPID IdP
	CIE    *spididp.Server    // the IdP playing CIE
	Legacy *legacymock.Server // the tributi back office
	// Webhook receives signed webhooks (sirens, displays).
	Webhook *webhookmock.Server
	// Their URLs (URL finds any): GPDURL is the GPD base URL (what a
	// tenant config puts in pagopa.gpd.baseURL), IOURL the App IO base URL
	// including /api/v1, SMTPAddr the SMTP mock's host:port (STARTTLS with
	// a self-signed certificate: see smtpmock.Config.CAFile); the IdPs'
	// URLs are also their entityIDs.
	GPDURL, IOURL, SMTPAddr, NodoURL, IdPURL, CIEURL, LegacyURL, WebhookURL string
}

// Start starts every registered kind of mock and serves until Close.
func Start(opts Options) (*Set, error) {
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	kinds, err := registry.Kinds()
	if err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, k := range kinds {
		known[k.Name] = true
	}
	for name := range opts.Config {
		if !known[name] {
			return nil, fmt.Errorf("mockset: configuration for %q, which is no registered mock", name)
		}
	}
	env := registry.NewEnv(opts.Config, opts.Logger)
	if opts.Record != nil {
		env.Wrap = func(k registry.Kind, h http.Handler) http.Handler {
			j := record.Judge{Uncovered: k.Uncovered}
			if k.Contract != nil {
				j.Contract = k.Contract()
			}
			return opts.Record.Wrap(k.Name, j, h)
		}
	}
	s := &Set{byName: map[string]*registry.Running{}}
	for _, k := range kinds {
		addrs := make([]string, len(k.Ports))
		for i, p := range k.Ports {
			addrs[i] = net.JoinHostPort(opts.Host, strconv.Itoa(opts.Ports[p.Flag]))
		}
		r, err := k.Start(env, addrs)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("%s mock: %w", k.Name, err)
		}
		env.SetRunning(k.Name, r)
		s.running = append(s.running, r)
		s.byName[k.Name] = r
	}
	s.GPD, s.GPDURL = mockOf[*gpd.Server](s, gpd.Kind)
	s.IO, s.IOURL = mockOf[*appiomock.Server](s, appiomock.Kind)
	s.SMTP, s.SMTPAddr = mockOf[*smtpmock.Server](s, smtpmock.Kind)
	s.Nodo, s.NodoURL = mockOf[*nodomock.Simulator](s, nodomock.Kind)
	s.IdP, s.IdPURL = mockOf[*spididp.Server](s, spididp.KindSPID)
	s.CIE, s.CIEURL = mockOf[*spididp.Server](s, spididp.KindCIE)
	s.Legacy, s.LegacyURL = mockOf[*legacymock.Server](s, legacymock.Kind)
	s.Webhook, s.WebhookURL = mockOf[*webhookmock.Server](s, webhookmock.Kind)
	return s, nil
}

func mockOf[T any](s *Set, name string) (T, string) {
	var zero T
	r := s.byName[name]
	if r == nil {
		return zero, ""
	}
	m, _ := r.Mock.(T) // each kind's Start returns its own type
	return m, r.URL
}

// Mock returns the running mock of kind name (nil if none).
func (s *Set) Mock(name string) any {
	if r := s.byName[name]; r != nil {
		return r.Mock
	}
	return nil
}

// URL returns the URL of the mock of kind name ("" if none).
func (s *Set) URL(name string) string {
	if r := s.byName[name]; r != nil {
		return r.URL
	}
	return ""
}

// Running lists the running mocks in start order, for printing.
func (s *Set) Running() []*registry.Running { return s.running }

// URLs lists the mocks' URLs by kind name.
func (s *Set) URLs() map[string]string {
	out := make(map[string]string, len(s.byName))
	for name, r := range s.byName {
		out[name] = r.URL
	}
	return out
}

// SampleVars are the template variables of tenant.WriteSample for this set.
func (s *Set) SampleVars() map[string]string {
	out := map[string]string{}
	for _, r := range s.running {
		maps.Copy(out, r.Vars)
	}
	return out
}

// Close stops every mock, the last started first.
func (s *Set) Close() {
	for i := len(s.running) - 1; i >= 0; i-- {
		// A mock that fails to stop has a listener already gone: nothing
		// is left to release.
		_ = s.running[i].Close()
	}
}
