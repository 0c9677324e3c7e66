// Package store opens the SQL database that holds Ponte's own state outside
// Temporal (campaign items, IUV allocations, message ledger): SQLite (pure Go)
// by default, PostgreSQL in production, behind database/sql.
//
// Its schema is versioned: each store keeps its migrations beside its code
// and registers them as a Component; DB.Migrate applies what is pending and
// records it in VersionTable (see migrate.go). Tests get a database of each
// dialect from package storetest.
package store

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib" // PostgreSQL driver "pgx"
	_ "modernc.org/sqlite"           // SQLite driver "sqlite"
)

// Dialects understood by Rebind and by the packages that keep tables here.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// DB is an open state database and its dialect.
type DB struct {
	*sql.DB
	Dialect string
	// DSN as given, with any password removed, for messages.
	Where string
}

// Open opens a state database from a DSN:
//   - "" or ":memory:"              in-memory SQLite (tests, throwaway runs)
//   - "sqlite:/path/state.db" or a bare path ending in .db  SQLite file (WAL)
//   - "postgres://…" / "postgresql://…"               PostgreSQL via pgx
func Open(ctx context.Context, dsn string) (*DB, error) {
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			return nil, fmt.Errorf("state store: %w", err)
		}
		if _, set := cfg.RuntimeParams["plan_cache_mode"]; !set {
			// Plan every execution of a prepared statement for the
			// tables as they are then. pgx prepares each statement once
			// per connection, and PostgreSQL soon switches to a generic
			// plan costed for the tables at that moment: a campaign's
			// tables start empty and are never analyzed while it runs,
			// so the outbox's multi-row UPDATE kept a hash join over a
			// sequential scan of the whole outbox (2.9 million rows read
			// for 20,000 debtors, growing with the square of them).
			// Statements are few and large here; planning each costs
			// little.
			cfg.RuntimeParams["plan_cache_mode"] = "force_custom_plan"
		}
		if !setsParam(cfg, "random_page_cost") {
			// Cost a random page read as little more than a sequential
			// one, as it is on SSDs and with tables in memory (what
			// PostgreSQL's default of 4 assumes is a spinning disk). A
			// batch UPDATE joins a few hundred rows of values to the
			// outbox or to campaign_items by their key; with the default
			// the planner preferred a sequential scan of the whole table
			// into a hash join over the key index (500 outcomes of a
			// 20,000-debtor campaign read all 20,000 rows of the
			// outbox). A DSN that sets random_page_cost itself keeps
			// its value.
			cfg.RuntimeParams["random_page_cost"] = "1.1"
		}
		db := stdlib.OpenDB(*cfg)
		db.SetMaxOpenConns(16)
		// Keep them all open: database/sql keeps 2 idle by default, so
		// under load each burst of batches opened and closed connections,
		// and each new one is a server process forked and warmed up and
		// pgx's prepared statements prepared again (159 connections and
		// 14 s of server CPU for a campaign of 20,000 debtors).
		db.SetMaxIdleConns(16)
		// A worker that has been quiet for a while gives them back.
		db.SetConnMaxIdleTime(5 * time.Minute)
		if err := ping(ctx, db); err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("state store: cannot reach PostgreSQL at %s: %w", redact(dsn), err)
		}
		return &DB{DB: db, Dialect: Postgres, Where: redact(dsn)}, nil
	case dsn == "" || dsn == ":memory:":
		// A named shared-cache in-memory DB, so every pooled connection sees it.
		name := fmt.Sprintf("file:ponte-mem-%d?mode=memory&cache=shared", time.Now().UnixNano())
		db, err := sql.Open("sqlite", name+"&_pragma=busy_timeout(10000)")
		if err != nil {
			return nil, fmt.Errorf("state store: %w", err)
		}
		db.SetMaxOpenConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
		return &DB{DB: db, Dialect: SQLite, Where: "in-memory SQLite"}, ping(ctx, db)
	default:
		path := strings.TrimPrefix(dsn, "sqlite:")
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, fmt.Errorf("state store: %w", err)
		}
		db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate")
		if err != nil {
			return nil, fmt.Errorf("state store: %w", err)
		}
		// One writer at a time is what SQLite does anyway; a single connection
		// avoids SQLITE_BUSY between our own goroutines.
		db.SetMaxOpenConns(1)
		if err := ping(ctx, db); err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("state store: cannot open SQLite file %s: %w", path, err)
		}
		return &DB{DB: db, Dialect: SQLite, Where: path}, nil
	}
}

// setsParam reports whether the DSN parsed into cfg sets the server
// setting name, as a parameter of its own (?name=…) or in its options
// (?options=-c name=…).
func setsParam(cfg *pgx.ConnConfig, name string) bool {
	if _, set := cfg.RuntimeParams[name]; set {
		return true
	}
	return strings.Contains(cfg.RuntimeParams["options"], name)
}

func ping(ctx context.Context, db *sql.DB) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return db.PingContext(ctx)
}

// Rebind turns the '?' placeholders of a query into the dialect's own ($1, $2…
// for PostgreSQL). Queries here never contain a literal '?'.
func (d *DB) Rebind(q string) string { return Rebind(d.Dialect, q) }

// Rebind is DB.Rebind for callers that hold only a dialect name.
func Rebind(dialect, q string) string {
	if dialect != Postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func redact(dsn string) string {
	if i := strings.Index(dsn, "@"); i > 0 {
		if j := strings.Index(dsn, "://"); j > 0 && j < i {
			return dsn[:j+3] + "…" + dsn[i:]
		}
	}
	return dsn
}

// CommitWithoutFlush lets the commit of tx on PostgreSQL return before its
// WAL is flushed to disk (SET LOCAL synchronous_commit = off); SQLite's
// commits are left as they are. An operating-system crash may then lose
// the transaction, but never half of it, and a later durable commit
// flushes it too. Only for writes whose loss cannot send a message twice
// or create a debt position twice, and leaves a gap that is reported: the
// outbox's record of a send's outcome (lost, the message stays "sending"
// and is reported unknown, never sent again). Never for a claim, an IUV
// allocation or a debt position's outcome (lost after the workflow moved
// on, the item would stay staged and silently get no message).
func (d *DB) CommitWithoutFlush(ctx context.Context, tx *sql.Tx) error {
	if d.Dialect != Postgres {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}
