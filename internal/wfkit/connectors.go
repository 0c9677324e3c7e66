package wfkit

import (
	"context"
	"fmt"
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
// activities call: platform clients (GPD, App IO), the tenant's channels,
// its legacy sources and sinks and its people sources, each from its
// registry and the tenant's config. Activities never build a client
// themselves. A connector is opened on first use, so a worker resolves
// only the credentials of the activities it runs. Safe for concurrent use;
// the zero value is ready.
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
	// ChannelLimiter, when set, makes the limiter of a channel with a
	// rateLimit in its config (limit messages in any window); without it
	// channels are not limited.
	ChannelLimiter func(limit int, window time.Duration) (appio.Limiter, error)

	mu        sync.Mutex
	gpd       map[string]*pagopa.GPDClient // by tenant
	io        map[string]*appio.Platform   // by tenant
	ioClients map[string]*appio.Client     // by base URL
	chans     map[string][]channels.Sender // by tenant
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

// HTTPClient is the worker's shared HTTP client.
func (c *Connectors) HTTPClient() *http.Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.httpClient()
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

// GPD is the tenant's GPD client (registry.Platforms "gpd", configured at
// pagopa.gpd).
func (c *Connectors) GPD(t *tenant.Tenant) (*pagopa.GPDClient, error) {
	c.mu.Lock()
	g, ok := c.gpd[t.ID]
	c.mu.Unlock()
	if ok {
		return g, nil
	}
	p, err := t.OpenPlatform(pagopa.PlatformGPD, c.Env(t))
	if err != nil {
		return nil, BadInput("%v", err)
	}
	g = p.(*pagopa.GPDClient)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gpd == nil {
		c.gpd = map[string]*pagopa.GPDClient{}
	}
	c.gpd[t.ID] = g
	return g, nil
}

// AppIO is the tenant's App IO service for purpose as a channel
// (registry.Platforms "appio", configured at appio): its key, and a client
// per base URL that every tenant of the worker shares with the rate
// limiter.
func (c *Connectors) AppIO(t *tenant.Tenant, purpose string) (*appio.Sender, error) {
	c.mu.Lock()
	p, ok := c.io[t.ID]
	c.mu.Unlock()
	if !ok {
		opened, err := t.OpenPlatform(appio.PlatformAppIO, c.Env(t))
		if err != nil {
			return nil, BadInput("%v", err)
		}
		p = opened.(*appio.Platform)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.io == nil {
		c.io, c.ioClients = map[string]*appio.Platform{}, map[string]*appio.Client{}
	}
	if prev, ok := c.io[t.ID]; ok {
		p = prev
	}
	c.io[t.ID] = p
	cl, ok := c.ioClients[p.BaseURL]
	if !ok {
		cl = appio.NewClient(appio.Options{BaseURL: p.BaseURL, HTTPClient: c.httpClient(), Limiter: c.IOLimiter})
		c.ioClients[p.BaseURL] = cl
	}
	s, err := p.Sender(cl, purpose)
	if err != nil {
		return nil, BadInput("tenant %q: %v", t.ID, err)
	}
	return s, nil
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
	for i, ch := range t.Channels {
		limit, window, err := channels.RateLimitOf(ch.Config)
		if err != nil {
			return nil, BadInput("tenant %q: channels/%d: %v", t.ID, i, err)
		}
		if limit == 0 || c.ChannelLimiter == nil {
			continue
		}
		lim, err := c.ChannelLimiter(limit, window)
		if err != nil {
			return nil, err
		}
		key := fmt.Sprintf("channel:%s:%d:%s", t.ID, i, ch.Kind)
		s[i] = &channels.Limited{Sender: s[i], Wait: func(ctx context.Context) error { return lim.Wait(ctx, key) }}
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
	return openNamed(c, t, "source", name, t.Sources, t.SourceNames, legacy.Sources)
}

// People opens the tenant's people source name (legacy.People): the
// recipients of alerts and information campaigns.
func (c *Connectors) People(t *tenant.Tenant, name string) (legacy.PeopleSource, error) {
	return openNamed(c, t, "people source", name, t.People, t.PeopleNames, legacy.People)
}

// openNamed opens the connector called name among srcs with its kind in reg;
// an unknown name or a config that does not open is bad input, which no retry
// fixes.
func openNamed[T any](c *Connectors, t *tenant.Tenant, what, name string, srcs map[string]tenant.Source, names func() string, reg *registry.Registry[T]) (T, error) {
	var zero T
	src, ok := srcs[name]
	if !ok {
		return zero, BadInput("tenant %q has no %s %q (known: %s)", t.ID, what, name, names())
	}
	s, err := reg.Open(src.Kind, src.Config, c.Env(t))
	if err != nil {
		return zero, BadInput("tenant %q %s %q: %v", t.ID, what, name, err)
	}
	return s, nil
}
