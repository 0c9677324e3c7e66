package store_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/ponte-pa/ponte/internal/store"
	"github.com/ponte-pa/ponte/internal/store/storetest"
)

// TestPostgresPlansEachExecution checks the setting that keeps PostgreSQL
// from reusing a plan made when a campaign's tables were empty.
func TestPostgresPlansEachExecution(t *testing.T) {
	db := storetest.Postgres(t)
	var mode string
	if err := db.QueryRowContext(storetest.Ctx(t), `SHOW plan_cache_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "force_custom_plan" {
		t.Errorf("plan_cache_mode = %q, want force_custom_plan", mode)
	}
}

// TestCommitWithoutFlush turns synchronous_commit off for one PostgreSQL
// transaction only, and is a no-op on SQLite.
func TestCommitWithoutFlush(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := storetest.Ctx(t)
		tx, c := countingTx(t, db)
		if err := db.CommitWithoutFlush(ctx, c.tx); err != nil {
			t.Fatal(err)
		}
		if db.Dialect != store.Postgres {
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			return
		}
		show := func(q interface {
			QueryRowContext(context.Context, string, ...any) *sql.Row
		}) string {
			var v string
			if err := q.QueryRowContext(ctx, `SHOW synchronous_commit`).Scan(&v); err != nil {
				t.Fatal(err)
			}
			return v
		}
		if v := show(tx); v != "off" {
			t.Errorf("in the transaction: synchronous_commit = %s, want off", v)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if v := show(db); v != "on" {
			t.Errorf("after it: synchronous_commit = %s, want on", v)
		}
	})
}
