// Package storetest gives tests a state database of each dialect: SQLite in
// the test's temporary directory, and PostgreSQL on 127.0.0.1 (or
// $PONTE_TEST_POSTGRES) in a schema of its own that is dropped at the end,
// so that tests running at the same time never share a table.
//
// A database server that is not reachable skips the test on a laptop and
// fails it when CI=true: CI must never pass without database coverage.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ponte-pa/ponte/internal/store"
)

// DefaultPostgresDSN is the test PostgreSQL when $PONTE_TEST_POSTGRES is
// not set: what .ci/run starts.
const DefaultPostgresDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// CI reports whether the tests run in CI ($CI is true), where a missing
// database server is a failure, not a reason to skip.
func CI() bool {
	ci, err := strconv.ParseBool(os.Getenv("CI"))
	return err == nil && ci
}

// Unavailable stops a test that needs a server it cannot reach: it skips
// with the message, or fails with it when CI is true.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if CI() {
		t.Fatalf("%s (CI=true: a database test may not skip)", msg)
	}
	t.Skip(msg)
}

// ForEachDialect runs f as a subtest on a fresh SQLite database ("sqlite")
// and on a fresh PostgreSQL schema ("postgres").
func ForEachDialect(t *testing.T, f func(t *testing.T, db *store.DB)) {
	t.Helper()
	t.Run(store.SQLite, func(t *testing.T) { f(t, SQLite(t)) })
	t.Run(store.Postgres, func(t *testing.T) { f(t, Postgres(t)) })
}

// ForEachDialectB is ForEachDialect for a benchmark.
func ForEachDialectB(b *testing.B, f func(b *testing.B, db *store.DB)) {
	b.Helper()
	b.Run(store.SQLite, func(b *testing.B) { f(b, SQLite(b)) })
	b.Run(store.Postgres, func(b *testing.B) { f(b, Postgres(b)) })
}

// SQLite opens a new SQLite file database in the test's temporary
// directory, closed at the end of the test.
func SQLite(t testing.TB) *store.DB {
	t.Helper()
	return SQLiteAt(t, filepath.Join(t.TempDir(), "state.db"))
}

// SQLiteAt opens (another handle on) the SQLite file at path, closed at the
// end of the test.
func SQLiteAt(t testing.TB, path string) *store.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := store.Open(ctx, "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("closing %s: %v", path, err)
		}
	})
	return db
}

// Reopen opens another handle on the database of db (the SQLite file, or
// the PostgreSQL schema), as another worker process would: its own
// connections, closed at the end of the test.
func Reopen(t testing.TB, db *store.DB) *store.DB {
	t.Helper()
	if db.Dialect == store.SQLite {
		return SQLiteAt(t, db.Where)
	}
	var schema string
	if err := db.QueryRowContext(Ctx(t), `SELECT current_schema()`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	return OpenSchema(t, schema)
}

// Ctx is a context for one database operation of a test: long enough for
// a loaded machine, cancelled at the end of the test. Give each operation
// its own, so that a slow one never eats the time of the next.
func Ctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// PostgresDSN is the DSN of the test PostgreSQL.
func PostgresDSN() string {
	if dsn := os.Getenv("PONTE_TEST_POSTGRES"); dsn != "" {
		return dsn
	}
	return DefaultPostgresDSN
}

// Postgres opens the test PostgreSQL with a new, empty schema as the only
// schema of its search_path; the schema is dropped at the end of the test.
func Postgres(t testing.TB) *store.DB {
	t.Helper()
	db, _ := PostgresSchema(t)
	return db
}

// PostgresSchema is Postgres, also returning the schema's name.
func PostgresSchema(t testing.TB) (*store.DB, string) {
	t.Helper()
	dsn := PostgresDSN()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, err := store.Open(ctx, dsn)
	if err != nil {
		Unavailable(t, "%v; start PostgreSQL on 127.0.0.1:5432 (.ci/run does) or set PONTE_TEST_POSTGRES to a DSN", err)
	}
	t.Cleanup(func() {
		if err := admin.Close(); err != nil {
			t.Errorf("closing the PostgreSQL admin connection: %v", err)
		}
	})
	schema := NewSchemaName(t)
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		t.Fatalf("creating schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := admin.ExecContext(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
	})
	db := OpenSchema(t, schema)
	return db, schema
}

// OpenSchema opens another handle on the test PostgreSQL with schema as its
// search_path (a second worker process, say), closed at the end of the test.
func OpenSchema(t testing.TB, schema string) *store.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := store.Open(ctx, SchemaDSN(schema))
	if err != nil {
		t.Fatalf("opening schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("closing schema %s: %v", schema, err)
		}
	})
	var got string
	if err := db.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&got); err != nil {
		t.Fatalf("schema %s: %v", schema, err)
	}
	if got != schema {
		t.Fatalf("current_schema() = %q, want %q: the DSN's search_path did not apply", got, schema)
	}
	return db
}

// SchemaDSN is the DSN of the test PostgreSQL with schema as the
// search_path, for code that opens its own connections (pgx).
func SchemaDSN(schema string) string {
	dsn := PostgresDSN()
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + "search_path=" + schema
}

// NewSchemaName returns a schema name no other test uses.
func NewSchemaName(t testing.TB) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("ponte_test_%d_%s", os.Getpid(), hex.EncodeToString(b))
}

// Querier is a *store.DB's or a *sql.Tx's QueryContext.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Plan is the query plan of q (written with '?' placeholders) on the
// dialect, as text: EXPLAIN QUERY PLAN on SQLite, EXPLAIN on PostgreSQL,
// the columns of each row of the answer on a line.
func Plan(t testing.TB, q Querier, dialect, query string, args ...any) string {
	t.Helper()
	explain := "EXPLAIN QUERY PLAN "
	if dialect == store.Postgres {
		explain = "EXPLAIN "
	}
	rows, err := q.QueryContext(Ctx(t), store.Rebind(dialect, explain+query), args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var plan strings.Builder
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(&plan, vals...)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan.String()
}
