package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/ponte-pa/ponte/connectors/appio"
	"github.com/ponte-pa/ponte/internal/gateway"
	"github.com/ponte-pa/ponte/internal/gateway/alertpage"
	"github.com/ponte-pa/ponte/internal/gateway/infopage"
	"github.com/ponte-pa/ponte/internal/metrics"
	"github.com/ponte-pa/ponte/internal/runtime"
	"github.com/ponte-pa/ponte/workflows/alert"
	"github.com/ponte-pa/ponte/workflows/info"
	"github.com/ponte-pa/ponte/workflows/reconcile"
)

// clusterFlags are the flags of serve and worker: where Temporal is (the
// same flags as the operator commands), the state store, the tenants.
type clusterFlags struct {
	temporal     *temporalFlags
	state        string
	tenants      multiFlag
	logLevel     string
	ioRateLimit  int
	ioRateWindow time.Duration
	queues       string
	metricsAddr  string
}

func (c *clusterFlags) register(fs *flag.FlagSet) {
	c.temporal = addTemporalFlags(fs, "")
	fs.StringVar(&c.state, "state", "", "state store: postgres://… or a SQLite file path (default: <data>/state.db)")
	fs.Var(&c.tenants, "tenants", "tenant config file or directory (repeatable)")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.IntVar(&c.ioRateLimit, "io-rate-limit", appio.DefaultRateLimit, "App IO requests allowed per subscription key in any --io-rate-window, shared by all workers on the same --state (0 = no limit)")
	fs.DurationVar(&c.ioRateWindow, "io-rate-window", appio.DefaultRateWindow, "window of --io-rate-limit")
	fs.StringVar(&c.metricsAddr, "metrics", "", "address of a separate HTTP listener for /metrics and /readyz (e.g. 127.0.0.1:9090 or :9090); default off (serve also has them on --http)")
	fs.StringVar(&c.queues, "queues", "", "comma-separated task queues this process serves (e.g. ponte-appio), to scale or isolate one concern; default all")
}

func (c *clusterFlags) workerOptions() runtime.WorkerOptions {
	var qs []string
	for _, q := range strings.Split(c.queues, ",") {
		if q = strings.TrimSpace(q); q != "" {
			qs = append(qs, q)
		}
	}
	return runtime.WorkerOptions{IORateLimit: c.ioRateLimit, IORateWindow: c.ioRateWindow, Queues: qs}
}

// config checks the flags (the TLS files included, so that a bad one is a
// usage error naming its flag) and makes the runtime configuration.
func (c *clusterFlags) config() (runtime.Config, error) {
	lvl, err := parseLevel(c.logLevel)
	if err != nil {
		return runtime.Config{}, err
	}
	if _, err := c.temporal.tlsConfig(); err != nil {
		return runtime.Config{}, err
	}
	cfg := runtime.Config{StateDSN: c.state, Tenants: c.tenants, Logger: newLogger(lvl), Metrics: metrics.New()}
	c.temporal.apply(&cfg)
	return cfg, nil
}

func runServe(ctx context.Context, args []string) error {
	fs := newFlags("serve", "serve [--dev] [--data DIR] --tenants DIR [--temporal host:port] [--http 127.0.0.1:8080]")
	var cf clusterFlags
	cf.register(fs)
	dev := fs.Bool("dev", false, "start an embedded Temporal server that keeps its state in --data (work survives a restart)")
	data := fs.String("data", ".ponte/dev", "with --dev: directory of the embedded server's and the state store's SQLite files")
	port := fs.Int("temporal-port", 7233, "with --dev: port of the embedded Temporal frontend (0 = any free port)")
	uiPort := fs.Int("ui-port", 8233, "with --dev: port of the Temporal Web UI (-1 disables it, 0 = any free port)")
	httpAddr := fs.String("http", "127.0.0.1:8080", "address of the HTTP gateway (/healthz; SPID login at /t/<tenant>/; alert operators at /t/<tenant>/allerte/; Nodo endpoints mount here)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs(pos); err != nil {
		return err
	}
	if !*dev && cf.temporal.hostPort == "" {
		return usagef("give --temporal host:port of a Temporal cluster, or --dev for an embedded one")
	}
	if *dev && cf.temporal.hostPort != "" {
		return usagef("--dev starts its own Temporal server: drop --temporal, or drop --dev")
	}
	if *dev && cf.temporal.usesTLS() {
		return usagef("the --tls-* flags are for a cluster given with --temporal; --dev needs none")
	}
	cfg, err := cf.config()
	if err != nil {
		return err
	}
	if *dev {
		cfg.DataDir, cfg.EmbeddedPort = *data, *port
		cfg.UI, cfg.UIPort = *uiPort >= 0, *uiPort
	}
	return serve(ctx, cfg, cf.workerOptions(), *httpAddr, cf.metricsAddr)
}

func runWorker(ctx context.Context, args []string) error {
	fs := newFlags("worker", "worker --temporal host:port --tenants DIR --state postgres://…")
	var cf clusterFlags
	cf.register(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs(pos); err != nil {
		return err
	}
	if cf.temporal.hostPort == "" {
		return usagef("--temporal host:port is required (for a local all-in-one process use 'ponte serve --dev')")
	}
	cfg, err := cf.config()
	if err != nil {
		return err
	}
	return serve(ctx, cfg, cf.workerOptions(), "", cf.metricsAddr)
}

// mountOps serves /metrics (Ponte's and the Temporal SDK's metrics, in
// the Prometheus text format) and /readyz on mux.
func mountOps(mux *http.ServeMux, rt *runtime.Runtime) {
	if m := rt.Config.Metrics; m != nil {
		mux.Handle("GET /metrics", m.Handler())
	}
	mux.Handle("GET /readyz", rt.ReadyHandler())
}

// listen serves h on addr until ctx ends; what names the listener in errors and logs.
func listen(ctx context.Context, addr, what string, h http.Handler, log *slog.Logger) (stop func(), err error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", what, addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error(what+" stopped", "err", err)
		}
	}()
	log.Info(what+" listening", "url", "http://"+l.Addr().String())
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}, nil
}

func serve(ctx context.Context, cfg runtime.Config, wo runtime.WorkerOptions, httpAddr, metricsAddr string) error {
	if len(cfg.Tenants) == 0 {
		return usagef("no tenants: pass --tenants with a tenant config file or directory (see 'ponte config validate')")
	}
	rt, err := runtime.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer rt.Close()
	if err := rt.StartWorkers(ctx, wo); err != nil {
		return err
	}
	log := cfg.Logger
	if err := followFeeds(ctx, rt.Client, rt.Tenants(), log); err != nil {
		return err
	}
	if metricsAddr != "" {
		mux := http.NewServeMux()
		mountOps(mux, rt)
		stop, err := listen(ctx, metricsAddr, "metrics endpoint", mux, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	if rt.Server != nil {
		log.Info("Temporal frontend for clients and the temporal CLI", "address", rt.Server.HostPort(),
			"data", filepath.Clean(cfg.DataDir))
	}
	if httpAddr != "" {
		l, err := net.Listen("tcp", httpAddr)
		if err != nil {
			return fmt.Errorf("HTTP gateway on %s: %w", httpAddr, err)
		}
		mux := http.NewServeMux()
		mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
			if _, err := rt.Client.CheckHealth(r.Context(), nil); err != nil {
				http.Error(w, "temporal: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
			fmt.Fprintln(w, "ok")
		})
		mountOps(mux, rt)
		ts := rt.Tenants()
		// The alert operators' page (/t/<id>/allerte/) starts and follows
		// alerts through Temporal and reads them from the state store.
		alerts, err := alert.NewStore(ctx, rt.DB)
		if err != nil {
			_ = l.Close()
			return err
		}
		ops, err := alertpage.New(ctx, alertpage.Options{Client: rt.Client, Store: alerts, DB: rt.DB, Logger: log})
		if err != nil {
			_ = l.Close()
			return err
		}
		// Every information-campaign message links to its unsubscribe page
		// (/t/<id>/info/unsubscribe).
		infos, err := info.NewStore(ctx, rt.DB)
		if err != nil {
			_ = l.Close()
			return err
		}
		// Citizen reports through Open311 GeoReport v2 (/t/<id>/open311/v2/)
		// for tenants with a reports section.
		intake, err := reportsIntake(ctx, rt.DB, log, rt.Client)
		if err != nil {
			_ = l.Close()
			return err
		}
		unsub := &infopage.Pages{Store: infos, Logger: log}
		mount := func(mux *http.ServeMux, s *gateway.Site) {
			ops.Mount(mux, s)
			unsub.Mount(mux, s)
			intake(mux, s)
		}
		if err := mountGateway(ctx, mux, ts, rt.DB, cfg.Metrics, l.Addr().String(), log, mount); err != nil {
			_ = l.Close()
			return err
		}
		receipts, err := reconcile.NewStore(ctx, rt.DB)
		if err != nil {
			_ = l.Close()
			return err
		}
		if err := mountNodo(mux, ts, receipts, log); err != nil {
			_ = l.Close()
			return err
		}
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("HTTP gateway stopped", "err", err)
			}
		}()
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}()
		log.Info("HTTP gateway listening", "url", "http://"+l.Addr().String())
	}
	log.Info("ponte is running; Ctrl-C to stop")
	<-ctx.Done()
	log.Info("shutting down")
	return nil
}
