// Package gateway is Ponte's public HTTP front for citizens: for every tenant with
// a spid block it serves, under /t/<id>/, the SPID Service Provider, a landing page
// with the "Entra con SPID" button and a small "comune's application" page that
// receives the citizen from the SP as a signed JWT and never sees SAML.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/ponte-pa/ponte/connectors/spid"
	"github.com/ponte-pa/ponte/internal/store"
	"github.com/ponte-pa/ponte/internal/tenant"
)

// Options configure a Gateway. Only DB is required.
type Options struct {
	// DB is the shared state store: pending SPID requests and the replay cache
	// live there, so that several gateway instances can serve one tenant.
	DB *store.DB
	// Client fetches IdP metadata URLs and registries (default: 15s timeout).
	Client *http.Client
	// Refresh is how often IdP metadata URLs and registries are fetched again
	// (default 1h); while a source is failing it is retried every Retry
	// (default 30s). The last good copy stays in use meanwhile.
	Refresh, Retry time.Duration
	// SP tunes every tenant's SP; CookieName and AfterLogout are set per tenant.
	SP spid.Options
	// Logger (default slog.Default()).
	Logger *slog.Logger
	// OnLogin, when set, is called once per response posted to a tenant's
	// ACS: accepted, or refused with a reason (see LoginReason).
	OnLogin func(tenant string, accepted bool, reason string)
	// Mount, when set, is called for every site once its own routes are on
	// mux, to serve more of the tenant's applications under Site.Path()
	// (e.g. the alert operators' page, internal/gateway/alertpage). They
	// read who logged in with Site.Citizen.
	Mount func(mux *http.ServeMux, s *Site)
}

// Gateway is an http.Handler serving every tenant's public pages.
type Gateway struct {
	opts  Options
	mux   *http.ServeMux
	sites []*Site
}

// Site is one tenant's SPID Service Provider and public pages.
type Site struct {
	Tenant *tenant.Tenant
	SP     *spid.SP
	// Registry holds the IdPs the SP trusts, as last loaded.
	Registry *spid.Registry

	path   string // /t/<id>
	cookie string
	keys   jwk.Set
	now    func() time.Time

	mu      sync.Mutex
	byURL   map[string][]*spid.IdP // last good copy of each metadata URL
	agg     *spid.Registry         // last good copy of the registry aggregate
	aggLoad *spid.AggregateLoader
	onLogin func(tenant string, accepted bool, reason string)
}

// New builds the gateway for tenants; tenants without a spid block are
// skipped. IdP metadata URLs and registries are fetched once here: a source
// that cannot be reached is logged and retried by Run.
func New(ctx context.Context, tenants []*tenant.Tenant, opts Options) (*Gateway, error) {
	if opts.DB == nil {
		return nil, errors.New("gateway: a state store is required")
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 15 * time.Second}
	}
	if opts.Refresh <= 0 {
		opts.Refresh = time.Hour
	}
	if opts.Retry <= 0 {
		opts.Retry = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	g := &Gateway{opts: opts, mux: http.NewServeMux()}
	var st spid.RequestStore
	for _, t := range tenants {
		if t.SPID == nil {
			continue
		}
		if st == nil {
			s, err := spid.NewSQLStore(ctx, opts.DB)
			if err != nil {
				return nil, fmt.Errorf("gateway: SPID request store on %s: %w", opts.DB.Where, err)
			}
			st = s
		}
		site, err := g.newSite(ctx, t, st)
		if err != nil {
			return nil, err
		}
		g.sites = append(g.sites, site)
	}
	sort.Slice(g.sites, func(i, j int) bool { return g.sites[i].Tenant.ID < g.sites[j].Tenant.ID })
	g.mux.HandleFunc("GET /{$}", g.handleIndex)
	for _, s := range g.sites {
		s.mount(g.mux)
		if opts.Mount != nil {
			opts.Mount(g.mux, s)
		}
	}
	return g, nil
}

func (g *Gateway) newSite(ctx context.Context, t *tenant.Tenant, st spid.RequestStore) (*Site, error) {
	s := &Site{Tenant: t, Registry: spid.NewRegistry(t.SPID.StaticIdPs...), path: t.GatewayPath(),
		cookie: "ponte_spid_" + t.ID, byURL: map[string][]*spid.IdP{}, agg: spid.NewRegistry(), now: g.opts.SP.Now,
		onLogin: g.opts.OnLogin}
	if r := t.SPID.Registry; r != nil {
		s.aggLoad = &spid.AggregateLoader{URL: r.URL, Client: g.opts.Client, Trusted: r.Trusted,
			CacheFile: r.CacheFile, Logger: g.opts.Logger}
	}
	o := g.opts.SP
	o.CookieName, o.AfterLogout = s.cookie, s.path+"/?logout=1"
	if t.SPID.TokenAlg != "" {
		o.TokenAlg = t.SPID.TokenAlg
	}
	if o.Logger == nil {
		o.Logger = g.opts.Logger
	}
	sp, err := spid.NewSP(t.SPID.SP, s.Registry, st, o)
	if err != nil {
		return nil, fmt.Errorf("gateway: tenant %s (%s): %w", t.ID, t.File, err)
	}
	s.SP = sp
	if s.keys, err = jwk.Parse(sp.JWKS()); err != nil {
		return nil, fmt.Errorf("gateway: tenant %s: JWKS: %w", t.ID, err)
	}
	g.refresh(ctx, s)
	if len(s.Registry.List()) == 0 {
		g.opts.Logger.Warn("gateway: no SPID identity provider loaded yet; the login page lists none until a source answers",
			"tenant", t.ID)
	}
	return s, nil
}

// Sites lists the tenants served, sorted by id.
func (g *Gateway) Sites() []*Site { return append([]*Site(nil), g.sites...) }

// Site returns the tenant's site, or nil.
func (g *Gateway) Site(id string) *Site {
	for _, s := range g.sites {
		if s.Tenant.ID == id {
			return s
		}
	}
	return nil
}

// Path is the site's path on the gateway: /t/<id>.
func (s *Site) Path() string { return s.path }

// LandingURL is the public URL of the tenant's login page.
func (s *Site) LandingURL() string { return strings.TrimRight(s.SP.BaseURL(), "/") + "/" }

// ServeHTTP implements http.Handler.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	g.mux.ServeHTTP(w, r)
}

// Run refreshes IdP metadata URLs and registries until ctx ends: every
// Refresh, and every Retry while some source is failing.
func (g *Gateway) Run(ctx context.Context) {
	t := time.NewTimer(g.next())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			for _, s := range g.sites {
				g.refresh(ctx, s)
			}
			t.Reset(g.next())
		}
	}
}

func (g *Gateway) next() time.Duration {
	for _, s := range g.sites {
		s.mu.Lock()
		failing := len(s.byURL) < len(s.Tenant.SPID.IdPURLs) || (s.aggLoad != nil && len(s.agg.List()) == 0)
		s.mu.Unlock()
		if failing {
			return g.opts.Retry
		}
	}
	return g.opts.Refresh
}

// refresh fetches the site's metadata URLs and registry, keeping the last
// good copy of each source that fails, and rebuilds its registry.
func (g *Gateway) refresh(ctx context.Context, s *Site) {
	for _, u := range s.Tenant.SPID.IdPURLs {
		idps, err := g.fetchMetadata(ctx, u)
		if err != nil {
			g.opts.Logger.Warn("gateway: IdP metadata not loaded; keeping the last good copy", "tenant", s.Tenant.ID, "url", u, "err", err)
			continue
		}
		s.mu.Lock()
		s.byURL[u] = idps
		s.mu.Unlock()
	}
	if s.aggLoad != nil {
		if err := s.aggLoad.Load(ctx, s.agg); err != nil {
			g.opts.Logger.Warn("gateway: SPID registry not refreshed", "tenant", s.Tenant.ID, "url", s.aggLoad.URL, "err", err)
		}
	}
	s.mu.Lock()
	all := append([]*spid.IdP(nil), s.Tenant.SPID.StaticIdPs...)
	for _, u := range s.Tenant.SPID.IdPURLs {
		all = append(all, s.byURL[u]...)
	}
	all = append(all, s.agg.List()...)
	s.mu.Unlock()
	s.Registry.Replace(all)
}

const maxMetadata = 16 << 20

func (g *Gateway) fetchMetadata(ctx context.Context, u string) ([]*spid.IdP, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := g.opts.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadata+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxMetadata {
		return nil, fmt.Errorf("metadata larger than %d bytes", maxMetadata)
	}
	return spid.ParseIdPMetadata(b)
}

func (s *Site) mount(m *http.ServeMux) {
	m.Handle("GET "+s.path, http.RedirectHandler(s.path+"/", http.StatusMovedPermanently))
	m.HandleFunc("GET "+s.path+"/{$}", s.handleLanding)
	m.Handle(s.path+"/spid/", http.StripPrefix(s.path, s.SP))
	if s.onLogin != nil {
		m.Handle("POST "+s.path+"/spid/acs", http.StripPrefix(s.path, countLogins(s.Tenant.ID, s.SP, s.onLogin)))
	}
	m.HandleFunc("GET "+s.path+"/app/{$}", s.handleApp)
}
