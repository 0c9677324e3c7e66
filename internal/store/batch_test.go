package store_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ponte-pa/ponte/internal/store"
	"github.com/ponte-pa/ponte/internal/store/storetest"
)

func TestInsertRows(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := storetest.Ctx(t)
		if _, err := db.ExecContext(ctx, `CREATE TABLE batch_t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)`); err != nil {
			t.Fatal(err)
		}
		// 1,234 rows: three statements of at most 500 rows.
		var rows [][]any
		for i := range 1234 {
			rows = append(rows, []any{i, fmt.Sprint("v", i)})
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.InsertRows(ctx, tx, "INSERT INTO batch_t (k, v)", "ON CONFLICT DO NOTHING", rows); err != nil {
			t.Fatal(err)
		}
		// Again, with a new row among them: only it is added.
		rows = append(rows, []any{5000, "new"})
		if err := db.InsertRows(ctx, tx, "INSERT INTO batch_t (k, v)", "ON CONFLICT DO NOTHING", rows); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		var n, sum int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*), SUM(k) FROM batch_t`).Scan(&n, &sum); err != nil {
			t.Fatal(err)
		}
		if n != 1235 || sum != 1233*1234/2+5000 {
			t.Errorf("%d rows, sum of keys %d", n, sum)
		}
		var v string
		if err := db.QueryRowContext(ctx, db.Rebind(`SELECT v FROM batch_t WHERE k = ?`), 777).Scan(&v); err != nil || v != "v777" {
			t.Errorf("row 777: %q %v", v, err)
		}
		// Rows of different widths are a caller's mistake, named.
		err = db.InsertRows(ctx, db, "INSERT INTO batch_t (k, v)", "", [][]any{{1, "a"}, {2}})
		if err == nil || !strings.Contains(err.Error(), "row 1 has 1 values, want 2") {
			t.Errorf("uneven rows: %v", err)
		}
		if err := db.InsertRows(ctx, db, "INSERT INTO batch_t (k, v)", "", nil); err != nil {
			t.Errorf("no rows: %v", err)
		}
	})
}
