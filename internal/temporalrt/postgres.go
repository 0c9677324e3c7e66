package temporalrt

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the driver of forgetPostgresMembers
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/server/common/config"
	tlog "go.temporal.io/server/common/log"
	pgplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/postgresql"
	pgschema "go.temporal.io/server/schema/postgresql/v12"
	"go.temporal.io/server/tools/common/schema"
	sqltool "go.temporal.io/server/tools/sql"
)

// PostgresOptions put the server's persistence on PostgreSQL instead of
// SQLite: a standalone single-node Temporal server (what `ponte
// temporal-server` runs), not the embedded dev one.
type PostgresOptions struct {
	// DSN is a postgres:// URL of the server; its database (if any) is only
	// where the databases below are created from ("postgres" when empty).
	// Query parameters (sslmode, …) are passed to the connection.
	DSN string
	// DBPrefix names the two databases: <DBPrefix> for the workflow state
	// and <DBPrefix>_visibility; "temporal" when empty. Created if missing,
	// their schemas set up or brought up to date at every start.
	DBPrefix string
	// HistoryShards is the number of history shards (4 when 0). It is
	// fixed for the life of a database: give the same value at every start.
	HistoryShards int32
}

var dbNameRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,50}$`)

// sqlConfigs parses the DSN into the server's config of the two databases.
func (o PostgresOptions) sqlConfigs() (main, visibility config.SQL, adminDB string, err error) {
	u, err := url.Parse(o.DSN)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		return main, visibility, "", fmt.Errorf("PostgreSQL DSN %q: want postgres://user[:password]@host:port/[db][?sslmode=…]", redactDSN(o.DSN))
	}
	prefix := o.DBPrefix
	if prefix == "" {
		prefix = "temporal"
	}
	if !dbNameRE.MatchString(prefix) {
		return main, visibility, "", fmt.Errorf("database prefix %q: use lower-case letters, digits and _ (at most 51)", prefix)
	}
	host := u.Host
	if u.Port() == "" {
		host += ":5432"
	}
	attrs := map[string]string{}
	for k, v := range u.Query() {
		if len(v) > 0 {
			attrs[k] = v[0]
		}
	}
	pw, _ := u.User.Password()
	main = config.SQL{
		PluginName:        pgplugin.PluginNamePGX,
		ConnectAddr:       host,
		ConnectProtocol:   "tcp",
		User:              u.User.Username(),
		Password:          pw,
		DatabaseName:      prefix,
		ConnectAttributes: attrs,
		MaxConns:          20,
		MaxIdleConns:      20,
		MaxConnLifetime:   time.Hour,
	}
	visibility = main
	visibility.DatabaseName = prefix + "_visibility"
	visibility.ConnectAttributes = maps.Clone(attrs)
	adminDB = "postgres"
	if db := u.Path; len(db) > 1 {
		adminDB = db[1:]
	}
	return main, visibility, adminDB, nil
}

// redactDSN hides the password of a DSN for error messages.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable DSN)"
	}
	return u.Redacted()
}

// setupPostgres creates the database if missing and sets its schema up to
// the version this server needs, with the server's own schema tool used as
// a library: exactly `temporal-sql-tool create-database`, `setup-schema -v
// 0.0` and `update-schema --schema-name postgresql/v12/…`, so a database
// made here is one the official tool can upgrade later, and the reverse.
func setupPostgres(cfg config.SQL, adminDB, schemaName, version string, logger tlog.Logger) error {
	create := cfg
	if err := sqltool.DoCreateDatabase(&create, adminDB, logger); err != nil {
		return fmt.Errorf("creating database %s: %w", cfg.DatabaseName, err)
	}
	conn, err := sqltool.NewConnection(&cfg, logger)
	if err != nil {
		return fmt.Errorf("connecting to database %s: %w", cfg.DatabaseName, err)
	}
	defer conn.Close()
	if err := schema.NewSetupSchemaTask(conn, &schema.SetupConfig{InitialVersion: "0.0"}, logger).Run(); err != nil {
		return fmt.Errorf("schema version tables in %s: %w", cfg.DatabaseName, err)
	}
	up := &schema.UpdateConfig{SchemaName: schemaName, TargetVersion: version}
	if err := schema.NewUpdateSchemaTask(conn, up, logger).Run(); err != nil {
		return fmt.Errorf("schema %s in %s: %w", schemaName, cfg.DatabaseName, err)
	}
	return nil
}

// postgresPersistence sets up both databases and returns the persistence
// config that uses them.
func postgresPersistence(ctx context.Context, o PostgresOptions, logger tlog.Logger) (config.Persistence, error) {
	main, vis, adminDB, err := o.sqlConfigs()
	if err != nil {
		return config.Persistence{}, err
	}
	if err := setupPostgres(main, adminDB, "postgresql/v12/temporal", pgschema.Version, logger); err != nil {
		return config.Persistence{}, err
	}
	if err := setupPostgres(vis, adminDB, "postgresql/v12/visibility", pgschema.VisibilityVersion, logger); err != nil {
		return config.Persistence{}, err
	}
	if err := forgetPostgresMembers(ctx, main); err != nil {
		return config.Persistence{}, err
	}
	shards := o.HistoryShards
	if shards == 0 {
		shards = 4
	}
	return config.Persistence{
		DefaultStore:     "default",
		VisibilityStore:  "visibility",
		NumHistoryShards: shards,
		DataStores: map[string]config.DataStore{
			"default":    {SQL: &main},
			"visibility": {SQL: &vis},
		},
	}, nil
}

// forgetPostgresMembers is forgetMembers for a PostgreSQL database: the
// server started here is the only node of its cluster, so membership rows
// are those of earlier processes, dead by now.
func forgetPostgresMembers(ctx context.Context, cfg config.SQL) error {
	u := url.URL{Scheme: "postgres", Host: cfg.ConnectAddr, Path: "/" + cfg.DatabaseName}
	if cfg.Password != "" {
		u.User = url.UserPassword(cfg.User, cfg.Password)
	} else {
		u.User = url.User(cfg.User)
	}
	q := url.Values{}
	for k, v := range cfg.ConnectAttributes {
		q.Set(k, v)
	}
	u.RawQuery = q.Encode()
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		return fmt.Errorf("temporal server: %s: %w", cfg.DatabaseName, err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `DELETE FROM cluster_membership`); err != nil {
		return fmt.Errorf("temporal server: clearing the membership of earlier runs in %s: %w", cfg.DatabaseName, err)
	}
	return nil
}

// registerNamespace registers ns through the frontend (retention in
// hours), and is content if it exists already.
func registerNamespace(ctx context.Context, hostPort, ns string, retentionHours int) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	c, err := client.Dial(client.Options{HostPort: hostPort, Namespace: ns, Logger: quietSDKLogger()})
	if err != nil {
		return fmt.Errorf("temporal server: dial %s: %w", hostPort, err)
	}
	defer c.Close()
	for {
		_, err := c.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
			Namespace: ns, WorkflowExecutionRetentionPeriod: durationpbHours(retentionHours),
		})
		var exists *serviceerror.NamespaceAlreadyExists
		if err == nil || errors.As(err, &exists) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("temporal server: registering namespace %q: %w", ns, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
