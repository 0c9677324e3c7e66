// Package temporalrt runs a Temporal server inside the ponte process (SQLite
// persistence, static single-node membership, loopback ports), so that the demo,
// `ponte serve --dev` and end-to-end tests need nothing installed; with
// Options.Postgres it persists to PostgreSQL instead, as `ponte
// temporal-server` runs it for the cluster test.
//
// It is the only package that imports go.temporal.io/server: the server is large
// and slow to link, so everything else depends on the SDK alone.
package temporalrt

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	tlog "go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
	"google.golang.org/protobuf/types/known/durationpb"
	_ "modernc.org/sqlite" // the driver of forgetMembers
)

// Options configure the embedded server. The zero value is an in-memory server
// with namespace "default" on a free loopback port.
type Options struct {
	// DBPath is the SQLite file that holds all workflow state. Empty means in
	// memory: fast, and gone when the process exits (tests, the demo).
	DBPath string
	// Namespace to create at start; "default" when empty.
	Namespace string
	// FrontendPort for the gRPC frontend; 0 picks a free port.
	FrontendPort int
	// Logger receives the server's warnings and errors; nil discards them.
	Logger *slog.Logger
	// LogLevel is the minimum server log level forwarded to Logger (default Warn):
	// the server is chatty at info level.
	LogLevel slog.Level
	// Postgres, when set, keeps all state in PostgreSQL instead of SQLite
	// (DBPath is then ignored): a single-node server other processes reach
	// on FrontendPort, as `ponte temporal-server` runs it.
	Postgres *PostgresOptions
}

// Server is a running embedded Temporal server.
type Server struct {
	srv       temporal.Server
	bridge    *slogBridge
	hostPort  string
	namespace string
	dbPath    string
	started   time.Time
	ready     time.Duration
}

// Start sets up the schema (first run only), registers the namespace, starts all
// four Temporal services and waits until the frontend answers.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.Namespace == "" {
		opts.Namespace = "default"
	}
	begin := time.Now()
	const ip = "127.0.0.1"
	pick := freePorts
	if opts.Postgres != nil {
		// PostgreSQL keeps membership ports as SMALLINT: stay below 32768,
		// where Linux does not hand out ephemeral ports.
		pick = freeLowPorts
	}
	ports, err := pick(ip, 9)
	if err != nil {
		return nil, fmt.Errorf("embedded temporal: finding free ports: %w", err)
	}
	if opts.FrontendPort != 0 {
		ports[0] = opts.FrontendPort
	}

	var logger tlog.Logger = tlog.NewNoopLogger()
	var bridge *slogBridge
	if opts.Logger != nil {
		lvl := opts.LogLevel
		if lvl == 0 {
			lvl = slog.LevelWarn
		}
		bridge = &slogBridge{l: opts.Logger.With("component", "temporal-server"), min: lvl}
		logger = bridge
	}

	sqlCfg := config.SQL{
		PluginName:        sqliteplugin.PluginName,
		ConnectAttributes: map[string]string{},
	}
	if opts.Postgres != nil {
		opts.DBPath = ""
	} else if opts.DBPath == "" {
		sqlCfg.ConnectAttributes["mode"] = "memory"
		sqlCfg.ConnectAttributes["cache"] = "shared"
		sqlCfg.DatabaseName = fmt.Sprintf("ponte-%d", rand.IntN(1<<30))
	} else {
		abs, err := filepath.Abs(opts.DBPath)
		if err != nil {
			return nil, err
		}
		opts.DBPath = abs
		sqlCfg.DatabaseName = abs
		sqlCfg.ConnectAttributes["mode"] = "rwc"
		// WAL with synchronous=normal: ~3x the throughput of the default
		// journal, and still durable across a process crash (not a power cut).
		sqlCfg.ConnectAttributes["journal_mode"] = "wal"
		sqlCfg.ConnectAttributes["synchronous"] = "normal"
		if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
			return nil, fmt.Errorf("embedded temporal: creating %s: %w", filepath.Dir(abs), err)
		}
		if _, err := os.Stat(abs); errors.Is(err, os.ErrNotExist) {
			if err := sqlite.SetupSchema(&sqlCfg); err != nil {
				return nil, fmt.Errorf("embedded temporal: setting up schema in %s: %w", abs, err)
			}
		} else if err := forgetMembers(ctx, abs); err != nil {
			return nil, err
		}
	}

	cfg := &config.Config{}
	cfg.Global.Membership = config.Membership{MaxJoinDuration: 30 * time.Second, BroadcastAddress: ip}
	cfg.Global.PProf = config.PProf{Port: 0}
	if opts.Postgres != nil {
		// The schema tool logs every step at info level: it goes through
		// the same bridge, which forwards only from LogLevel up.
		if cfg.Persistence, err = postgresPersistence(ctx, *opts.Postgres, logger); err != nil {
			return nil, fmt.Errorf("temporal server on PostgreSQL: %w", err)
		}
	} else {
		cfg.Persistence = config.Persistence{
			DefaultStore:     sqliteplugin.PluginName,
			VisibilityStore:  sqliteplugin.PluginName,
			NumHistoryShards: 1,
			DataStores:       map[string]config.DataStore{sqliteplugin.PluginName: {SQL: &sqlCfg}},
		}
	}
	cfg.ClusterMetadata = &cluster.Config{
		EnableGlobalNamespace:    false,
		FailoverVersionIncrement: 10,
		MasterClusterName:        "active",
		CurrentClusterName:       "active",
		ClusterInformation: map[string]cluster.ClusterInformation{
			"active": {Enabled: true, InitialFailoverVersion: 1, RPCAddress: fmt.Sprintf("%s:%d", ip, ports[0])},
		},
	}
	cfg.DCRedirectionPolicy = config.DCRedirectionPolicy{Policy: "noop"}
	svc := func(grpc, membership int, frontend bool) config.Service {
		s := config.Service{RPC: config.RPC{GRPCPort: grpc, MembershipPort: membership, BindOnLocalHost: true}}
		if frontend {
			s.RPC.BindOnLocalHost = false
			s.RPC.BindOnIP = ip
		}
		return s
	}
	cfg.Services = map[string]config.Service{
		"frontend": withHTTP(svc(ports[0], ports[1], true), ports[8]),
		"history":  svc(ports[2], ports[3], false),
		"matching": svc(ports[4], ports[5], false),
		"worker":   svc(ports[6], ports[7], false),
	}
	cfg.Archival = config.Archival{
		History:    config.HistoryArchival{State: "disabled"},
		Visibility: config.VisibilityArchival{State: "disabled"},
	}
	cfg.NamespaceDefaults = config.NamespaceDefaults{Archival: config.ArchivalNamespaceDefaults{
		History:    config.HistoryArchivalNamespaceDefaults{State: "disabled"},
		Visibility: config.VisibilityArchivalNamespaceDefaults{State: "disabled"},
	}}
	cfg.PublicClient = config.PublicClient{HostPort: fmt.Sprintf("%s:%d", ip, ports[0])}

	// On PostgreSQL the namespace is registered through the frontend once
	// it is up (below): the server's own API, whatever the database.
	if opts.Postgres == nil {
		ns, err := sqlite.NewNamespaceConfig(cfg.ClusterMetadata.CurrentClusterName, opts.Namespace, false, nil)
		if err != nil {
			return nil, fmt.Errorf("embedded temporal: namespace config: %w", err)
		}
		// Three days of retention: enough to inspect finished campaigns in dev mode.
		ns.Detail.Config.Retention = durationpbHours(72)
		if err := sqlite.CreateNamespaces(&sqlCfg, ns); err != nil {
			return nil, fmt.Errorf("embedded temporal: creating namespace %q: %w", opts.Namespace, err)
		}
	}
	authorizer, err := authorization.GetAuthorizerFromConfig(&cfg.Global.Authorization)
	if err != nil {
		return nil, err
	}
	claimMapper, err := authorization.GetClaimMapperFromConfig(&cfg.Global.Authorization, logger)
	if err != nil {
		return nil, err
	}
	dc := dynamicconfig.StaticClient{
		dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(): []dynamicconfig.ConstrainedValue{{Value: true}},
		// Single node: a frontend rate limit only slows the demo and tests.
		dynamicconfig.FrontendRPS.Key():                        []dynamicconfig.ConstrainedValue{{Value: 10000}},
		dynamicconfig.FrontendMaxNamespaceRPSPerInstance.Key(): []dynamicconfig.ConstrainedValue{{Value: 10000}},
	}
	srv, err := temporal.NewServer(
		temporal.WithConfig(cfg),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithLogger(logger),
		temporal.WithAuthorizer(authorizer),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return claimMapper }),
		temporal.WithDynamicConfigClient(dc),
	)
	if err != nil {
		return nil, fmt.Errorf("embedded temporal: %w", err)
	}
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("embedded temporal: start: %w", err)
	}
	s := &Server{srv: srv, bridge: bridge, hostPort: cfg.PublicClient.HostPort, namespace: opts.Namespace, dbPath: opts.DBPath, started: begin}
	if opts.Postgres != nil {
		if err := registerNamespace(ctx, s.hostPort, opts.Namespace, 72); err != nil {
			_ = srv.Stop()
			return nil, err
		}
	}
	if err := s.waitReady(ctx); err != nil {
		_ = srv.Stop()
		return nil, err
	}
	s.ready = time.Since(begin)
	if bridge != nil {
		bridge.ready.Store(true)
	}
	return s, nil
}

// waitReady polls the frontend until the namespace answers a describe call.
func (s *Server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	c, err := client.Dial(client.Options{HostPort: s.hostPort, Namespace: s.namespace, Logger: quietSDKLogger()})
	if err != nil {
		return fmt.Errorf("embedded temporal: dial %s: %w", s.hostPort, err)
	}
	defer c.Close()
	for {
		_, err := c.WorkflowService().DescribeNamespace(ctx, describeNS(s.namespace))
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("embedded temporal: not ready after 60s: %w", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// HostPort is the gRPC address of the frontend, for client.Dial.
func (s *Server) HostPort() string { return s.hostPort }

// Namespace is the namespace created at start.
func (s *Server) Namespace() string { return s.namespace }

// DBPath is the SQLite file, or "" when in memory.
func (s *Server) DBPath() string { return s.dbPath }

// StartupTime is how long Start took until the frontend answered.
func (s *Server) StartupTime() time.Duration { return s.ready }

// Stop shuts all services down. Work in flight stays in the SQLite file (if any)
// and resumes at the next Start.
func (s *Server) Stop() error {
	if s.bridge != nil {
		s.bridge.stopped.Store(true)
	}
	return s.srv.Stop()
}

// withHTTP also serves the frontend's HTTP API (and Nexus endpoints).
func withHTTP(s config.Service, port int) config.Service {
	s.RPC.HTTPPort = port
	return s
}

// freePorts reserves n distinct free TCP ports on ip. The ports are released
// before return, so another process could take one in between; on loopback in a
// test or demo that race is accepted.
func freePorts(ip string, n int) ([]int, error) {
	ls := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", ip+":0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// freeLowPorts is freePorts in 20000–32767, tried at random.
func freeLowPorts(ip string, n int) ([]int, error) {
	ls := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for tries := 0; len(ports) < n; tries++ {
		if tries > 1000 {
			return nil, errors.New("no free port in 20000-32767")
		}
		p := 20000 + rand.IntN(32768-20000)
		l, err := net.Listen("tcp", fmt.Sprintf("%s:%d", ip, p))
		if err != nil {
			continue
		}
		ls = append(ls, l)
		ports = append(ports, p)
	}
	return ports, nil
}

// slogBridge forwards the server's structured logs to slog, above a level.
type slogBridge struct {
	l       *slog.Logger
	min     slog.Level
	ready   atomic.Bool
	stopped atomic.Bool
}

func (b *slogBridge) log(lvl slog.Level, msg string, tags []tag.Tag) {
	// While stopping, the services log every connection they lose to each
	// other: expected, and only noise for an operator.
	// Until the frontend answers, the services report each other as not yet
	// healthy: expected too. A real startup failure is returned by Start.
	if lvl < b.min || b.stopped.Load() || !b.ready.Load() {
		return
	}
	attrs := make([]any, 0, len(tags)*2)
	for _, t := range tags {
		attrs = append(attrs, t.Key(), fmt.Sprint(t.Value()))
	}
	b.l.Log(context.Background(), lvl, msg, attrs...)
}

func (b *slogBridge) Debug(msg string, tags ...tag.Tag) { b.log(slog.LevelDebug, msg, tags) }
func (b *slogBridge) Info(msg string, tags ...tag.Tag)  { b.log(slog.LevelInfo, msg, tags) }
func (b *slogBridge) Warn(msg string, tags ...tag.Tag)  { b.log(slog.LevelWarn, msg, tags) }
func (b *slogBridge) Error(msg string, tags ...tag.Tag) { b.log(slog.LevelError, msg, tags) }
func (b *slogBridge) DPanic(msg string, tags ...tag.Tag) {
	b.log(slog.LevelError, msg, tags)
}
func (b *slogBridge) Panic(msg string, tags ...tag.Tag) {
	b.always(msg, tags)
	panic(msg)
}

// Fatal ends the process: its message is logged even before the frontend
// is ready, or the process would exit without a word.
func (b *slogBridge) Fatal(msg string, tags ...tag.Tag) {
	b.always(msg, tags)
	os.Exit(1)
}

func (b *slogBridge) always(msg string, tags []tag.Tag) {
	attrs := make([]any, 0, len(tags)*2)
	for _, t := range tags {
		attrs = append(attrs, t.Key(), fmt.Sprint(t.Value()))
	}
	b.l.Log(context.Background(), slog.LevelError, msg, attrs...)
}

func durationpbHours(h int) *durationpb.Duration { return durationpb.New(time.Duration(h) * time.Hour) }

func describeNS(ns string) *workflowservice.DescribeNamespaceRequest {
	return &workflowservice.DescribeNamespaceRequest{Namespace: ns}
}

// quietSDKLogger drops the SDK client's own logs during the readiness probe.
func quietSDKLogger() sdklog.Logger { return sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)) }

// forgetMembers removes the cluster membership rows an earlier process left
// in the server's SQLite file. The embedded server is the file's only user
// and listens on new ports at every start, so every row there belongs to a
// process that is gone: after a crash (or a kill) they are recent, and
// ringpop would try to join those dead hosts first, which on a loaded
// machine outlasted its 30-second join limit and failed the restart.
func forgetMembers(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return fmt.Errorf("embedded temporal: %s: %w", path, err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `DELETE FROM cluster_membership`); err != nil {
		return fmt.Errorf("embedded temporal: clearing the membership of earlier runs in %s: %w", path, err)
	}
	return nil
}
