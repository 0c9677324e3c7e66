package store_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"
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

// TestPostgresRandomPageCost checks that store.Open costs random page reads
// for SSDs (random_page_cost 1.1) unless the DSN sets random_page_cost
// itself, as a parameter or in its options.
func TestPostgresRandomPageCost(t *testing.T) {
	_, schema := storetest.PostgresSchema(t)
	for _, tt := range []struct{ name, extra, want string }{
		{"default", "", "1.1"},
		{"parameter", "&random_page_cost=2", "2"},
		{"options", "&options=-c%20random_page_cost%3D3", "3"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db, err := store.Open(storetest.Ctx(t), storetest.SchemaDSN(schema)+tt.extra)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := db.Close(); err != nil {
					t.Error(err)
				}
			})
			var cost string
			if err := db.QueryRowContext(storetest.Ctx(t), `SHOW random_page_cost`).Scan(&cost); err != nil {
				t.Fatal(err)
			}
			if cost != tt.want {
				t.Errorf("random_page_cost = %s, want %s", cost, tt.want)
			}
		})
	}
}

// TestPostgresBatchUpdateUsesKey checks the plan of a batch UPDATE like the
// outbox's (500 outcomes of a 20,000-debtor campaign): it must find the rows
// by the table's key, not read the whole table. With PostgreSQL's default
// random_page_cost (4) it reads the whole table into a hash join.
func TestPostgresBatchUpdateUsesKey(t *testing.T) {
	db := storetest.Postgres(t)
	ctx := storetest.Ctx(t)
	for _, q := range []string{
		`CREATE TABLE msgs (scope TEXT NOT NULL, item BIGINT NOT NULL, slot TEXT NOT NULL, state TEXT NOT NULL,
			updated_at TEXT NOT NULL, PRIMARY KEY (scope, slot, item))`,
		`INSERT INTO msgs SELECT 'campaign:c', g, 'io', 'sending', '' FROM generate_series(0, 19999) g`,
		`ANALYZE msgs`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	rows := make([][]any, 500)
	for i := range rows {
		rows[i] = []any{"campaign:c", int64(10000 + i), "io", "sent", "now"}
	}
	cols := []store.Col{{Name: "scope", Key: true}, {Name: "item", Type: "BIGINT", Key: true}, {Name: "slot", Key: true},
		{Name: "state"}, {Name: "updated_at"}}
	x := &explaining{db: db}
	if err := db.UpdateRows(ctx, x, "msgs", cols, `state = v.state, updated_at = v.updated_at`,
		`msgs.scope = v.scope AND msgs.slot = v.slot AND msgs.item = v.item`, rows); err != nil {
		t.Fatal(err)
	}
	if len(x.plans) != 1 {
		t.Fatalf("%d statements, want 1", len(x.plans))
	}
	if plan := x.plans[0]; !strings.Contains(plan, "Index Scan using msgs_pkey") || strings.Contains(plan, "Seq Scan on msgs") {
		t.Errorf("the batch UPDATE does not find its rows by the key:\n%s", plan)
	}
}

// explaining is an Execer that runs no statement but records the plan of
// each (EXPLAIN), with its arguments.
type explaining struct {
	db    *store.DB
	plans []string
}

func (e *explaining) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	rows, err := e.db.QueryContext(ctx, "EXPLAIN "+q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var plan strings.Builder
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return nil, err
		}
		fmt.Fprintln(&plan, line)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	e.plans = append(e.plans, plan.String())
	return driver.RowsAffected(0), nil
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
