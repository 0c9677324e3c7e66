package main

import (
	"context"
	"fmt"

	"github.com/ponte-pa/ponte/internal/temporalrt"
)

// runTemporalServer runs a single-node Temporal server on PostgreSQL in
// its own process: what the cluster test starts, and a way to try
// `ponte worker` and `ponte serve` against a real, separate cluster
// without installing Temporal. Production runs the official server
// (deploy/compose.yaml, deploy/k8s/).
func runTemporalServer(ctx context.Context, args []string) error {
	fs := newFlags("temporal-server", "temporal-server --postgres postgres://user@host:5432/?sslmode=disable [--db-prefix temporal] [--port 7233] [--namespace default]")
	dsn := fs.String("postgres", "", "PostgreSQL server to persist to, as a postgres:// URL (its database, if any, is only where the two below are created from)")
	prefix := fs.String("db-prefix", "temporal", "databases <prefix> and <prefix>_visibility: created if missing, schemas set up or updated with Temporal's own schema tool")
	port := fs.Int("port", 7233, "port of the gRPC frontend on 127.0.0.1 (0 = any free port)")
	namespace := fs.String("namespace", "default", "namespace to register (kept if it exists)")
	shards := fs.Int("shards", 4, "history shards; fixed for the life of the databases")
	logLevel := fs.String("log-level", "warn", "debug, info, warn or error (the server's own logs)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs(pos); err != nil {
		return err
	}
	if *dsn == "" {
		return usagef("--postgres is required (e.g. postgres://postgres@127.0.0.1:5432/?sslmode=disable)")
	}
	if *shards <= 0 || *shards > 1<<14 {
		return usagef("--shards must be between 1 and 16384")
	}
	lvl, err := parseLevel(*logLevel)
	if err != nil {
		return err
	}
	log := newLogger(lvl)
	srv, err := temporalrt.Start(ctx, temporalrt.Options{
		Namespace: *namespace, FrontendPort: *port, Logger: log, LogLevel: lvl,
		Postgres: &temporalrt.PostgresOptions{DSN: *dsn, DBPrefix: *prefix, HistoryShards: int32(*shards)},
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "temporal frontend %s namespace %s (PostgreSQL databases %s, %s_visibility), ready in %s\n",
		srv.HostPort(), srv.Namespace(), *prefix, *prefix, srv.StartupTime().Round(1e6))
	<-ctx.Done()
	log.Info("shutting down")
	return srv.Stop()
}
