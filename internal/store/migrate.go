package store

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// VersionTable records which migrations a state database has applied: one
// row per (component, version), written in the transaction that applied the
// migration.
const VersionTable = "ponte_schema_migrations"

// Component is the schema of one store: its name in VersionTable and its
// ordered migrations. A store package keeps its migrations beside its code
// and registers them with Register; they are numbered 1, 2, 3… in the order
// they were written and, once released, never change: a change of schema is
// a new migration.
//
// The first migration of a component that existed before VersionTable
// (whose tables were created with CREATE TABLE IF NOT EXISTS at start-up)
// must accept the tables it finds: such a database runs every migration
// from 1.
type Component struct {
	// Name identifies the component in VersionTable; never rename one.
	Name string
	// FS and Dir hold the SQL migrations, common to both dialects: files
	// named NNNNN_what.sql in directory Dir of FS (usually an embed.FS).
	// A file is the statements of its migration, each ending with ';' at
	// the end of a line; lines starting with "--" are comments.
	FS  fs.FS
	Dir string
	// Go are the migrations written in Go, for what the dialects spell
	// differently. Their versions share one sequence with the SQL files.
	Go []GoMigration
	// After names the components whose migrations must run before this
	// one's (a migration that moves data into another component's tables).
	// Migrate runs them first, also when they were not asked for.
	After []string

	migrations []migration // parsed by check
}

// GoMigration is a migration written in Go. Up runs in the transaction that
// records the version, so it is applied entirely or not at all.
type GoMigration struct {
	Version int64
	// Name says what it does, for VersionTable (like a SQL file's name).
	Name string
	Up   func(ctx context.Context, tx *sql.Tx, dialect string) error
}

// migration is one step of a component: SQL statements or a Go function.
type migration struct {
	version int64
	name    string
	stmts   []string
	up      func(ctx context.Context, tx *sql.Tx, dialect string) error
}

var registry = struct {
	sync.Mutex
	m map[string]Component
}{m: map[string]Component{}}

// Register adds a store's component to those Migrate knows and returns its
// name. It is meant for a package-level variable beside the store's code:
//
//	//go:embed migrations/*.sql
//	var migrationsFS embed.FS
//
//	var Migrations = store.Register(store.Component{Name: "campaign", FS: migrationsFS, Dir: "migrations"})
//
// It panics on an empty or duplicate name, a component without migrations,
// a badly named file or a version used twice: programming errors, which any
// test of the package then finds.
func Register(c Component) string {
	c, err := c.check()
	if err != nil {
		panic("store.Register: " + err.Error())
	}
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.m[c.Name]; dup {
		panic("store.Register: component " + c.Name + " registered twice")
	}
	registry.m[c.Name] = c
	return c.Name
}

var migrationFile = regexp.MustCompile(`^([0-9]+)_[A-Za-z0-9_]+\.sql$`)

// check validates c and reads its migrations, sorted by version.
func (c Component) check() (Component, error) {
	if c.Name == "" {
		return c, errors.New("component without a name")
	}
	var ms []migration
	if c.FS != nil {
		dir := c.Dir
		if dir == "" {
			dir = "."
		}
		entries, err := fs.ReadDir(c.FS, dir)
		if err != nil {
			return c, fmt.Errorf("component %s: %w", c.Name, err)
		}
		for _, e := range entries {
			if e.IsDir() || path.Ext(e.Name()) != ".sql" {
				continue
			}
			m := migrationFile.FindStringSubmatch(e.Name())
			if m == nil {
				return c, fmt.Errorf("component %s: migration file %s: want NNNNN_what.sql", c.Name, e.Name())
			}
			v, err := strconv.ParseInt(m[1], 10, 64)
			if err != nil {
				return c, fmt.Errorf("component %s: migration file %s: %w", c.Name, e.Name(), err)
			}
			data, err := fs.ReadFile(c.FS, path.Join(dir, e.Name()))
			if err != nil {
				return c, fmt.Errorf("component %s: %w", c.Name, err)
			}
			stmts, err := splitStatements(data)
			if err != nil {
				return c, fmt.Errorf("component %s: migration file %s: %w", c.Name, e.Name(), err)
			}
			ms = append(ms, migration{version: v, name: e.Name(), stmts: stmts})
		}
	}
	for _, g := range c.Go {
		if g.Up == nil {
			return c, fmt.Errorf("component %s: Go migration %d has no Up", c.Name, g.Version)
		}
		ms = append(ms, migration{version: g.Version, name: cmpOr(g.Name, "go"), up: g.Up})
	}
	if len(ms) == 0 {
		return c, fmt.Errorf("component %s has no migrations", c.Name)
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version < 1 {
			return c, fmt.Errorf("component %s: migration %s: versions start at 1", c.Name, m.name)
		}
		if i > 0 && ms[i-1].version == m.version {
			return c, fmt.Errorf("component %s: version %d used by %s and %s", c.Name, m.version, ms[i-1].name, m.name)
		}
	}
	c.migrations = ms
	return c, nil
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// splitStatements cuts a SQL file into statements: each ends with ';' at
// the end of a line. Comment lines and blank lines between statements are
// dropped.
func splitStatements(data []byte) ([]string, error) {
	var stmts []string
	var cur strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "--")) {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(trimmed, ";") {
			stmts = append(stmts, strings.TrimSpace(cur.String()))
			cur.Reset()
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if rest := strings.TrimSpace(cur.String()); rest != "" {
		return nil, fmt.Errorf("statement without a final ';': %.60q", rest)
	}
	if len(stmts) == 0 {
		return nil, errors.New("no statements")
	}
	return stmts, nil
}

// Components returns the names of the registered components, sorted.
func Components() []string {
	registry.Lock()
	defer registry.Unlock()
	names := make([]string, 0, len(registry.m))
	for n := range registry.m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func lookup(names []string) ([]Component, error) {
	if len(names) == 0 {
		names = Components()
	}
	registry.Lock()
	defer registry.Unlock()
	// Depth first over After, so that every component comes after the
	// ones it names, in the order asked otherwise.
	var out []Component
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(n string, from string) error
	visit = func(n, from string) error {
		switch state[n] {
		case 1:
			return fmt.Errorf("state store: components %s and %s wait for each other (After)", from, n)
		case 2:
			return nil
		}
		c, ok := registry.m[n]
		if !ok {
			if from != "" {
				return fmt.Errorf("state store: component %s runs after %q, which is not registered (is its package linked in?)", from, n)
			}
			return fmt.Errorf("state store: no migrations registered as %q (is its package linked in?)", n)
		}
		state[n] = 1
		for _, d := range c.After {
			if err := visit(d, n); err != nil {
				return err
			}
		}
		state[n] = 2
		out = append(out, c)
		return nil
	}
	for _, n := range names {
		if err := visit(n, ""); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Migrate applies the pending migrations of the named components (of every
// registered component when none is named), in order, each in one
// transaction with its row in VersionTable. It is idempotent and cheap when
// the database is up to date (one read per component), so the stores'
// constructors call it for their own component and runtime start-up for
// all of them.
//
// Concurrent callers are safe. Within a process they take turns per
// database. On PostgreSQL, processes take turns on an advisory lock named
// after VersionTable and the current schema (other schemas, other
// deployments, do not wait), held for the whole call; on SQLite every
// migration re-checks its version inside its own write transaction.
func (d *DB) Migrate(ctx context.Context, components ...string) error {
	return MigrateDB(ctx, d.DB, d.Dialect, components...)
}

// MigrateDB is DB.Migrate for callers that hold a *sql.DB and a dialect
// name (SQLite or Postgres).
func MigrateDB(ctx context.Context, db *sql.DB, dialect string, components ...string) error {
	if db == nil {
		return errors.New("state store: migrate: nil db")
	}
	if dialect != SQLite && dialect != Postgres {
		return fmt.Errorf("state store: migrate: dialect %q, want %q or %q", dialect, SQLite, Postgres)
	}
	comps, err := lookup(components)
	if err != nil {
		return err
	}
	return migrate(ctx, db, dialect, comps)
}

// migrate applies the pending migrations of comps under the locks.
func migrate(ctx context.Context, db *sql.DB, dialect string, comps []Component) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("state store: migrate: %w", err)
	}
	turn := migrateTurn(db)
	select {
	case turn <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("state store: waiting for another migration: %w", ctx.Err())
	}
	defer func() { <-turn }()
	if dialect == Postgres {
		unlock, err := lockPostgres(ctx, db)
		if err != nil {
			return err
		}
		defer unlock()
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+VersionTable+` (
		component TEXT NOT NULL,
		version BIGINT NOT NULL,
		name TEXT NOT NULL,
		applied_at TEXT NOT NULL,
		PRIMARY KEY (component, version))`); err != nil {
		return fmt.Errorf("state store: creating %s: %w", VersionTable, err)
	}
	for _, c := range comps {
		if err := migrateOne(ctx, db, dialect, c); err != nil {
			return fmt.Errorf("state store: migrating %s: %w", c.Name, err)
		}
	}
	return nil
}

func migrateOne(ctx context.Context, db *sql.DB, dialect string, c Component) error {
	applied, err := appliedVersions(ctx, db, dialect, c.Name)
	if err != nil {
		return err
	}
	var last int64
	for v := range applied {
		last = max(last, v)
	}
	for _, m := range c.migrations {
		if applied[m.version] {
			continue
		}
		if m.version < last {
			// A migration slipped in below released ones: applying it now
			// would run it in an order no other database saw.
			return fmt.Errorf("migration %d (%s) is not applied but %d is: migrations must be added after the last one", m.version, m.name, last)
		}
		if err := apply(ctx, db, dialect, c.Name, m); err != nil {
			return fmt.Errorf("migration %d (%s): %w", m.version, m.name, err)
		}
	}
	return nil
}

func appliedVersions(ctx context.Context, db *sql.DB, dialect, component string) (map[int64]bool, error) {
	rows, err := db.QueryContext(ctx, Rebind(dialect, `SELECT version FROM `+VersionTable+` WHERE component = ?`), component)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]bool{}
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out[v] = true
	}
	return out, rows.Err()
}

// apply runs one migration and records it, in one transaction. The version
// is checked again inside the transaction: on SQLite (whose file databases
// begin write transactions immediately) another process may have applied
// it since appliedVersions read.
func apply(ctx context.Context, db *sql.DB, dialect, component string, m migration) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }() // after Commit: sql.ErrTxDone, nothing to undo
	var n int
	if err := tx.QueryRowContext(ctx, Rebind(dialect, `SELECT COUNT(*) FROM `+VersionTable+` WHERE component = ? AND version = ?`),
		component, m.version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	for _, s := range m.stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%w\n%s", err, s)
		}
	}
	if m.up != nil {
		if err := m.up(ctx, tx, dialect); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, Rebind(dialect, `INSERT INTO `+VersionTable+` (component, version, name, applied_at) VALUES (?, ?, ?, ?)`),
		component, m.version, m.name, time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
		return err
	}
	return tx.Commit()
}

// Versions returns the last version each component has reached in this
// database (components never migrated here are absent).
func (d *DB) Versions(ctx context.Context) (map[string]int64, error) {
	out := map[string]int64{}
	q := `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`
	if d.Dialect == Postgres {
		// current_schema() is where CREATE TABLE puts the table.
		q = `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1`
	}
	var n int
	if err := d.QueryRowContext(ctx, q, VersionTable).Scan(&n); err != nil || n == 0 {
		return out, err
	}
	rows, err := d.QueryContext(ctx, `SELECT component, MAX(version) FROM `+VersionTable+` GROUP BY component`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var c string
		var v int64
		if err := rows.Scan(&c, &v); err != nil {
			return nil, err
		}
		out[c] = v
	}
	return out, rows.Err()
}

// migrateTurns serializes the migrations of one *sql.DB within the process
// (a channel of capacity 1 is a mutex that a context can give up on).
// Entries are never removed: one small channel per database opened.
var migrateTurns sync.Map // *sql.DB → chan struct{}

func migrateTurn(db *sql.DB) chan struct{} {
	turn, _ := migrateTurns.LoadOrStore(db, make(chan struct{}, 1))
	return turn.(chan struct{})
}

// lockKey is the advisory lock of this schema's migrations.
const lockKey = `hashtext('` + VersionTable + `.' || coalesce(current_schema(), ''))`

// lockPostgres takes the migration advisory lock on a connection of its own
// (pg_advisory_lock waits as long as ctx allows) and returns its release.
func lockPostgres(ctx context.Context, db *sql.DB) (func(), error) {
	if db.Stats().MaxOpenConnections == 1 {
		// The lock would hold the only connection: the migrations would wait forever.
		return nil, errors.New("state store: migrating PostgreSQL needs a pool of at least 2 connections")
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("state store: migration lock: %w", err)
	}
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(`+lockKey+`)`); err != nil {
		discard(conn)
		return nil, fmt.Errorf("state store: migration lock: %w", err)
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_unlock(`+lockKey+`)`); err != nil {
			// A session lock lives as long as the session: end this one
			// rather than give it back to the pool still holding the lock.
			discard(conn)
			return
		}
		_ = conn.Close() // back to the pool; Close of a *sql.Conn only fails if already closed
	}, nil
}

// discard closes conn's session instead of returning it to the pool.
func discard(conn *sql.Conn) {
	_ = conn.Raw(func(any) error { return driver.ErrBadConn }) // ErrBadConn is the point: the pool drops the connection
}
