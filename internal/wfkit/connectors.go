package wfkit

import (
	"net/http"
	"sync"
	"time"

	"github.com/ponte-pa/ponte/connectors/appio"
	"github.com/ponte-pa/ponte/connectors/channels"
	"github.com/ponte-pa/ponte/connectors/legacy"
	"github.com/ponte-pa/ponte/connectors/pagopa"
	"github.com/ponte-pa/ponte/connectors/registry"
	"github.com/ponte-pa/ponte/internal/tenant"
)

// Connectors opens, once per tenant and worker, the connectors that
// activities call: platform clients (GPD, App IO), the tenant's channels
// and its legacy sources and sinks, each from its registry and the tenant's
// config. Activities never build a client themselves. A connector is opened
// on first use, so a worker resolves only the credentials of the
// activities it runs. Safe for concurrent use; the zero value is ready.
type Connectors struct {
	// HTTP is shared by every client of the worker; nil gives a pooled
	// client sized for Concurrency calls in flight per host.
	HTTP *http.Client
	// Concurrency is the number of calls one batch makes at once to a
	// connector (default 8): it sizes the HTTP connection pool.
	Concurrency int
	// IOLimiter, when set, is waited on before every App IO request (one
	// limit per subscription key, shared by the workers using it).
	IOLimiter appio.Limiter

	mu    sync.Mutex
	gpd   map[string]*pagopa.GPDClient
	io    map[string]*appio.Client
	keys  map[string]string
	chans map[string][]channels.Sender
}

// Conc is the concurrency of one batch's calls.
func (c *Connectors) Conc() int {
	if c.Concurrency > 0 {
		return c.Concurrency
	}
	return 8
}

// httpClient is shared by every connector client of this worker: one
// connection pool sized for Conc calls in flight per batch, instead of Go's
// default of two idle connections per host (which makes a busy batch open
// and close a connection per call). Called with c.mu held.
func (c *Connectors) httpClient() *http.Client {
	if c.HTTP == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConns = 256
		t.MaxIdleConnsPerHost = 4 * c.Conc()
		c.HTTP = &http.Client{Transport: t, Timeout: 30 * time.Second}
	}
	return c.HTTP
}

// secret resolves a tenant's secret once; a failure is bad input that
// names the config field. Called with c.mu held.
func (c *Connectors) secret(t *tenant.Tenant, what string, s tenant.Secret) (string, error) {
	if c.keys == nil {
		c.keys = map[string]string{}
	}
	k := t.ID + "\x00" + what
	if v, ok := c.keys[k]; ok {
		return v, nil
	}
	v, err := s.Resolve()
	if err != nil {
		return "", BadInput("tenant %q: %s: %v", t.ID, what, err)
	}
	c.keys[k] = v
	return v, nil
}

// Env is the registry environment of t's connectors: its config directory,
// its secrets and this worker's HTTP client.
func (c *Connectors) Env(t *tenant.Tenant) registry.Env {
	env := t.Env()
	c.mu.Lock()
	env.HTTP = c.httpClient()
	c.mu.Unlock()
	return env
}

// GPD is the tenant's GPD client (pagopa.gpd).
func (c *Connectors) GPD(t *tenant.Tenant) (*pagopa.GPDClient, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if g, ok := c.gpd[t.ID]; ok {
		return g, nil
	}
	key, err := c.secret(t, "pagopa.gpd.subscriptionKey", t.PagoPA.GPD.SubscriptionKey)
	if err != nil {
		return nil, err
	}
	if c.gpd == nil {
		c.gpd = map[string]*pagopa.GPDClient{}
	}
	g := pagopa.NewGPDClient(pagopa.GPDOptions{BaseURL: t.PagoPA.GPD.BaseURL, SubscriptionKey: key, HTTPClient: c.httpClient()})
	c.gpd[t.ID] = g
	return g, nil
}

// AppIO is the tenant's App IO service for purpose (appio.services) as a
// channel: its client (one per base URL, sharing the rate limiter) and key.
func (c *Connectors) AppIO(t *tenant.Tenant, purpose string) (*appio.Sender, error) {
	svc, ok := t.AppIO.Services[purpose]
	if !ok {
		return nil, BadInput("tenant %q has no App IO service for purpose %q: add appio.services.%s to its config", t.ID, purpose, purpose)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	key, err := c.secret(t, "appio.services."+purpose+".key", svc.Key)
	if err != nil {
		return nil, err
	}
	if c.io == nil {
		c.io = map[string]*appio.Client{}
	}
	cl, ok := c.io[t.AppIO.BaseURL]
	if !ok {
		cl = appio.NewClient(appio.Options{BaseURL: t.AppIO.BaseURL, HTTPClient: c.httpClient(), Limiter: c.IOLimiter})
		c.io[t.AppIO.BaseURL] = cl
	}
	return &appio.Sender{Client: cl, Key: key}, nil
}

// Channels are the tenant's channels besides App IO (channels.Kinds), in
// the order of its config.
func (c *Connectors) Channels(t *tenant.Tenant) ([]channels.Sender, error) {
	c.mu.Lock()
	if s, ok := c.chans[t.ID]; ok {
		c.mu.Unlock()
		return s, nil
	}
	c.mu.Unlock()
	s, err := t.OpenChannels(c.Env(t))
	if err != nil {
		return nil, BadInput("%v", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.chans == nil {
		c.chans = map[string][]channels.Sender{}
	}
	c.chans[t.ID] = s
	return s, nil
}

// Source opens the tenant's legacy source name (legacy.Sources).
func (c *Connectors) Source(t *tenant.Tenant, name string) (legacy.DebtorSource, error) {
	src, ok := t.Sources[name]
	if !ok {
		return nil, BadInput("tenant %q has no source %q (known: %s)", t.ID, name, t.SourceNames())
	}
	s, err := legacy.Sources.Open(src.Kind, src.Config, c.Env(t))
	if err != nil {
		return nil, BadInput("tenant %q source %q: %v", t.ID, name, err)
	}
	return s, nil
}
