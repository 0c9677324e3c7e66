// Package runtime wires a Ponte process together: a Temporal client (to an
// external cluster, or to a server embedded in the process), the state store,
// the tenant registry and the workers of every task queue.
package runtime

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/ponte-pa/ponte/connectors/appio"
	"github.com/ponte-pa/ponte/connectors/channels"
	"github.com/ponte-pa/ponte/internal/metrics"
	"github.com/ponte-pa/ponte/internal/store"
	"github.com/ponte-pa/ponte/internal/temporalrt"
	"github.com/ponte-pa/ponte/internal/tenant"
	"github.com/ponte-pa/ponte/internal/wfkit"
)

// Config says where Temporal and the state store are, and which tenants to serve.
type Config struct {
	// Temporal is host:port of an external cluster. Empty starts an embedded
	// server in this process.
	Temporal  string
	Namespace string
	// TLS for an external cluster: client cert/key (mTLS) and CA bundle.
	TLSCert, TLSKey, TLSCA, TLSServerName string
	// DataDir keeps the embedded server's SQLite file (and the default state
	// store) so work survives a restart. Empty means in memory.
	DataDir string
	// EmbeddedPort fixes the embedded frontend port (0 = any free port).
	EmbeddedPort int
	// UI serves the Temporal Web UI next to the embedded server, on UIPort
	// (0 = any free port).
	UI     bool
	UIPort int
	// StateDSN is the state store (see store.Open); default DataDir/state.db,
	// or in memory when DataDir is empty.
	StateDSN string
	// Tenants are config files or directories of them.
	Tenants []string
	Logger  *slog.Logger
	// Metrics receives the Temporal SDK's metrics and Ponte's own; nil
	// collects none.
	Metrics *metrics.Metrics
}

// Runtime is a connected Ponte process.
type Runtime struct {
	Config Config
	Server *temporalrt.Server // nil with an external cluster
	UI     *temporalrt.UI     // nil unless Config.UI
	Client client.Client
	DB     *store.DB

	mu      sync.RWMutex
	tenants map[string]*tenant.Tenant
	workers []worker.Worker
	queues  []string
	log     *slog.Logger
}

// Start connects (starting the embedded server when no cluster is given),
// opens the state store and loads the tenants. Workers start with StartWorkers.
func Start(ctx context.Context, cfg Config) (*Runtime, error) {
	if cfg.Namespace == "" {
		cfg.Namespace = "default"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Runtime{Config: cfg, log: cfg.Logger, tenants: map[string]*tenant.Tenant{}}
	if err := r.LoadTenants(cfg.Tenants...); err != nil {
		return nil, err
	}
	hostPort := cfg.Temporal
	var tlsCfg *tls.Config
	if hostPort == "" {
		dbPath := ""
		if cfg.DataDir != "" {
			dbPath = filepath.Join(cfg.DataDir, "temporal.db")
		}
		srv, err := temporalrt.Start(ctx, temporalrt.Options{DBPath: dbPath, Namespace: cfg.Namespace, FrontendPort: cfg.EmbeddedPort, Logger: cfg.Logger})
		if err != nil {
			return nil, err
		}
		r.Server = srv
		hostPort = srv.HostPort()
		where := "in memory"
		if dbPath != "" {
			where = dbPath
		}
		if cfg.UI {
			if r.UI, err = srv.StartUI(cfg.UIPort); err != nil {
				r.Close()
				return nil, err
			}
			r.log.Info("Temporal Web UI", "url", r.UI.URL())
		}
		r.log.Info("embedded Temporal server started", "frontend", hostPort, "namespace", cfg.Namespace, "data", where, "startup", srv.StartupTime().Round(time.Millisecond).String())
	} else {
		var err error
		if tlsCfg, err = ClientTLS(cfg); err != nil {
			return nil, err
		}
	}
	c, err := client.Dial(client.Options{
		HostPort:          hostPort,
		Namespace:         cfg.Namespace,
		Logger:            sdklog.NewStructuredLogger(cfg.Logger.With("component", "temporal-sdk")),
		ConnectionOptions: client.ConnectionOptions{TLS: tlsCfg},
		MetricsHandler:    cfg.Metrics.Temporal(),
	})
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("connecting to Temporal at %s (namespace %s): %w; is the cluster running and the namespace registered?", hostPort, cfg.Namespace, err)
	}
	r.Client = c

	dsn := cfg.StateDSN
	if dsn == "" && cfg.DataDir != "" {
		dsn = filepath.Join(cfg.DataDir, "state.db")
	}
	if r.DB, err = store.Open(ctx, dsn); err != nil {
		r.Close()
		return nil, err
	}
	// Every store's tables, before any worker touches them; the stores'
	// constructors below then find nothing left to do.
	if err := r.DB.Migrate(ctx); err != nil {
		r.Close()
		return nil, fmt.Errorf("%s: %w", r.DB.Where, err)
	}
	versions, err := r.DB.Versions(ctx)
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("state store %s: %w", r.DB.Where, err)
	}
	r.log.Info("state store migrated", "where", r.DB.Where, "versions", versions)
	if cfg.Metrics != nil {
		ob, err := channels.NewOutbox(ctx, r.DB)
		if err != nil {
			r.Close()
			return nil, err
		}
		if err := cfg.Metrics.Backlog(func(ctx context.Context) ([]metrics.BacklogRow, error) {
			rows, err := ob.Backlog(ctx)
			out := make([]metrics.BacklogRow, len(rows))
			for i, b := range rows {
				out[i] = metrics.BacklogRow(b)
			}
			return out, err
		}); err != nil {
			r.Close()
			return nil, fmt.Errorf("outbox backlog gauge: %w", err)
		}
	}
	return r, nil
}

// ClientTLS is the TLS configuration for connecting to an external cluster
// with cfg's TLS fields (client certificate and key for mTLS, CA bundle,
// server name), or nil when none is set. Its errors name the command-line
// flag at fault (--tls-cert/--tls-key, --tls-ca), so every command that
// dials a cluster reports them the same way.
func ClientTLS(cfg Config) (*tls.Config, error) {
	if cfg.TLSCert == "" && cfg.TLSCA == "" && cfg.TLSServerName == "" {
		return nil, nil
	}
	t := &tls.Config{ServerName: cfg.TLSServerName, MinVersion: tls.VersionTLS12}
	if cfg.TLSCert != "" {
		kp, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		t.Certificates = []tls.Certificate{kp}
	}
	if cfg.TLSCA != "" {
		pem, err := os.ReadFile(cfg.TLSCA)
		if err != nil {
			return nil, fmt.Errorf("--tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls-ca: %s holds no PEM certificate", cfg.TLSCA)
		}
		t.RootCAs = pool
	}
	return t, nil
}

// LoadTenants loads tenant config files or directories and adds them to the
// registry. All errors are reported together.
func (r *Runtime) LoadTenants(paths ...string) error {
	var errs []error
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("tenant config %s: %w", p, err))
			continue
		}
		var ts []*tenant.Tenant
		if fi.IsDir() {
			ts, err = tenant.LoadDir(p)
		} else {
			var t *tenant.Tenant
			if t, err = tenant.Load(p); err == nil {
				ts = []*tenant.Tenant{t}
			}
		}
		if err != nil {
			errs = append(errs, err)
		}
		r.mu.Lock()
		for _, t := range ts {
			r.tenants[t.ID] = t
		}
		r.mu.Unlock()
	}
	return errors.Join(errs...)
}

// Tenant finds a loaded tenant.
// Tenants lists the loaded tenants, sorted by id.
func (r *Runtime) Tenants() []*tenant.Tenant {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*tenant.Tenant, 0, len(r.tenants))
	for _, t := range r.tenants {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (r *Runtime) Tenant(id string) (*tenant.Tenant, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if t, ok := r.tenants[id]; ok {
		return t, nil
	}
	ids := make([]string, 0, len(r.tenants))
	for k := range r.tenants {
		ids = append(ids, k)
	}
	sort.Strings(ids)
	return nil, fmt.Errorf("unknown tenant %q (loaded: %v); pass its config with --tenants", id, ids)
}

// WorkerOptions tune the workers.
type WorkerOptions struct {
	// Concurrency of calls inside one batch activity.
	Concurrency int
	// IORateLimit is how many App IO requests one subscription key may make
	// in any IORateWindow, counted in the state database so that every worker
	// sharing it respects the same limit. 0 means no client-side limit (429s
	// are still backed off); the CLI defaults to appio.DefaultRateLimit per
	// appio.DefaultRateWindow.
	IORateLimit  int
	IORateWindow time.Duration
	// ReportDir receives the daily reconciliation reports; default
	// DataDir/reports, or ponte-reports in the system temp directory.
	ReportDir string
	// Queues, when set, are the only task queues this process serves (to
	// scale or isolate one concern, e.g. the App IO queue); default all.
	Queues []string
}

// StartWorkers runs the Register of every workflow package linked into
// the binary (wfkit.Add) and starts one worker per task queue with exactly
// what was registered on it (only opts.Queues when set).
func (r *Runtime) StartWorkers(ctx context.Context, opts WorkerOptions) error {
	conns := &wfkit.Connectors{Concurrency: opts.Concurrency}
	// Channels with a rateLimit share one limiter per limit in the state
	// store, keyed by tenant and channel, as App IO's is.
	var limMu sync.Mutex
	limiters := map[[2]int64]appio.Limiter{}
	conns.ChannelLimiter = func(limit int, window time.Duration) (appio.Limiter, error) {
		limMu.Lock()
		defer limMu.Unlock()
		k := [2]int64{int64(limit), int64(window)}
		if l, ok := limiters[k]; ok {
			return l, nil
		}
		l, err := appio.NewSQLLimiter(r.DB.DB, r.DB.Dialect, limit, window)
		if err != nil {
			return nil, fmt.Errorf("channel rate limiter: %w", err)
		}
		limiters[k] = l
		return l, nil
	}
	if opts.IORateLimit > 0 {
		window := opts.IORateWindow
		if window <= 0 {
			window = appio.DefaultRateWindow
		}
		lim, err := appio.NewSQLLimiter(r.DB.DB, r.DB.Dialect, opts.IORateLimit, window)
		if err != nil {
			return fmt.Errorf("App IO rate limiter: %w", err)
		}
		conns.IOLimiter = metrics.CountWaits(lim, r.Config.Metrics)
		r.log.Info("App IO rate limit", "requests", opts.IORateLimit, "window", window.String())
	}
	reportDir := opts.ReportDir
	if reportDir == "" && r.Config.DataDir != "" {
		reportDir = filepath.Join(r.Config.DataDir, "reports")
	} else if reportDir == "" {
		reportDir = filepath.Join(os.TempDir(), "ponte-reports")
	}
	h := &wfkit.Host{DB: r.DB, Tenants: r.Tenant, Conns: conns, ReportDir: reportDir, Logger: r.log, Metrics: r.Config.Metrics}
	if err := wfkit.RegisterAll(ctx, h); err != nil {
		return err
	}
	serve := map[string]bool{}
	for _, q := range opts.Queues {
		serve[q] = true
	}
	r.queues = nil
	for _, q := range h.Queues() {
		if len(serve) > 0 && !serve[q] {
			continue
		}
		w := worker.New(r.Client, q, worker.Options{WorkerStopTimeout: 5 * time.Second})
		for _, reg := range h.Registrations() {
			switch {
			case reg.Queue != q:
			case reg.Workflow:
				w.RegisterWorkflowWithOptions(reg.Fn, workflow.RegisterOptions{Name: reg.Name})
			default:
				w.RegisterActivityWithOptions(reg.Fn, activity.RegisterOptions{Name: reg.Name})
			}
		}
		if err := w.Start(); err != nil {
			return fmt.Errorf("starting worker for task queue %s: %w", q, err)
		}
		r.workers = append(r.workers, w)
		r.queues = append(r.queues, q)
	}
	if len(r.queues) == 0 {
		return fmt.Errorf("no task queue to serve: asked for %v, registered %v", opts.Queues, h.Queues())
	}
	r.log.Info("workers started", "task_queues", r.queues)
	return nil
}

// Queues lists the task queues this process's workers serve.
func (r *Runtime) Queues() []string { return append([]string(nil), r.queues...) }

// Close stops workers, the client, the store and the embedded server.
func (r *Runtime) Close() {
	for _, w := range r.workers {
		w.Stop()
	}
	r.workers = nil
	if r.Client != nil {
		r.Client.Close()
	}
	if r.DB != nil {
		_ = r.DB.Close()
	}
	if r.UI != nil {
		r.UI.Stop()
	}
	if r.Server != nil {
		_ = r.Server.Stop()
	}
}
