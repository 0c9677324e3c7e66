package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
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

// counting counts the statements run through it.
type counting struct {
	tx *sql.Tx
	n  int
}

func (c *counting) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	c.n++
	return c.tx.ExecContext(ctx, q, args...)
}

func (c *counting) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	c.n++
	return c.tx.QueryContext(ctx, q, args...)
}

// kvCols are the values of the tests' updates of batch_t: k is the key.
var kvCols = []store.Col{{Name: "k", Type: "BIGINT", Key: true}, {Name: "v"}, {Name: "n", Type: "INTEGER"}}

func TestUpdateRows(t *testing.T) {
	rowsOf := func(from, to int, v string) [][]any {
		var out [][]any
		for i := from; i < to; i++ {
			out = append(out, []any{int64(i), fmt.Sprint(v, i), 1})
		}
		return out
	}
	cases := []struct {
		name  string
		rows  [][]any
		stmts int
		want  map[int64]string // values of some keys afterwards
		sum   int              // of n over the table afterwards (each row starts at 0)
	}{
		{name: "empty", rows: nil, stmts: 0, want: map[int64]string{1: "old1"}, sum: 0},
		{name: "one row", rows: [][]any{{int64(7), "seven", 1}}, stmts: 1, want: map[int64]string{7: "seven", 8: "old8"}, sum: 1},
		// 12,000 rows of 3 values are 36,000 parameters, more than one
		// statement may have on SQLite: 24 statements of 500 rows.
		{name: "past the parameter limit", rows: rowsOf(0, 12000, "new"), stmts: 24,
			want: map[int64]string{0: "new0", 11999: "new11999", 12000: "old12000"}, sum: 12000},
		// A key twice: the second write goes to a second statement and
		// wins, as it would one row at a time; n adds up both.
		{name: "a key twice", rows: [][]any{{int64(1), "a", 1}, {int64(2), "b", 1}, {int64(1), "c", 1}, {int64(3), "d", 1}},
			stmts: 2, want: map[int64]string{1: "c", 2: "b", 3: "d"}, sum: 4},
		{name: "a key three times in a row", rows: [][]any{{int64(5), "x", 1}, {int64(5), "y", 1}, {int64(5), "z", 1}},
			stmts: 3, want: map[int64]string{5: "z"}, sum: 3},
		{name: "a row matching nothing", rows: [][]any{{int64(99999), "none", 1}}, stmts: 1, want: map[int64]string{99999: ""}, sum: 0},
	}
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				ctx := storetest.Ctx(t)
				freshKVN(t, db, "batch_u")
				var seed [][]any
				for i := range 12001 {
					seed = append(seed, []any{i, fmt.Sprint("old", i), 0})
				}
				if err := db.InsertRows(ctx, db, `INSERT INTO batch_u (k, v, n)`, "", seed); err != nil {
					t.Fatal(err)
				}
				tx, c := countingTx(t, db)
				if err := db.UpdateRows(ctx, c, "batch_u", kvCols, `v = v.v, n = batch_u.n + v.n`, `batch_u.k = v.k`, tc.rows); err != nil {
					t.Fatal(err)
				}
				if err := tx.Commit(); err != nil {
					t.Fatal(err)
				}
				if c.n != tc.stmts {
					t.Errorf("%d statements, want %d", c.n, tc.stmts)
				}
				for k, want := range tc.want {
					var v string
					err := db.QueryRowContext(ctx, db.Rebind(`SELECT v FROM batch_u WHERE k = ?`), k).Scan(&v)
					if want == "" && !errors.Is(err, sql.ErrNoRows) || want != "" && (err != nil || v != want) {
						t.Errorf("key %d: %q (%v), want %q", k, v, err, want)
					}
				}
				var sum int
				if err := db.QueryRowContext(ctx, `SELECT SUM(n) FROM batch_u`).Scan(&sum); err != nil {
					t.Fatal(err)
				}
				if sum != tc.sum {
					t.Errorf("sum of n %d, want %d", sum, tc.sum)
				}
			})
		}
		t.Run("uneven rows", func(t *testing.T) {
			ctx := storetest.Ctx(t)
			err := db.UpdateRows(ctx, db, "batch_u", kvCols, `v = v.v`, `batch_u.k = v.k`, [][]any{{int64(1), "a", 1}, {int64(2), "b"}})
			if err == nil || !strings.Contains(err.Error(), "row 1 has 2 values, want 3") {
				t.Errorf("uneven rows: %v", err)
			}
		})
	})
}

// TestQueryRows upserts with RETURNING, as the outbox claims messages: a
// row comes back only when this statement inserted or changed it, and a
// key given twice behaves as two upserts one after the other.
func TestQueryRows(t *testing.T) {
	cases := []struct {
		name  string
		rows  [][]any // k, v, n
		got   []int   // indexes of rows returned
		stmts int
	}{
		{name: "empty", rows: nil, got: nil, stmts: 0},
		{name: "one new row", rows: [][]any{{int64(100), "new", 1}}, got: []int{0}, stmts: 1},
		// Keys 1 and 2 exist: 1 is "open" and taken, 2 is "done" and left.
		{name: "open, done and new", rows: [][]any{{int64(1), "taken", 1}, {int64(2), "taken", 1}, {int64(101), "taken", 1}},
			got: []int{0, 2}, stmts: 1},
		// The second upsert of key 1 finds it taken by the first.
		{name: "a key twice", rows: [][]any{{int64(1), "taken", 1}, {int64(102), "x", 1}, {int64(1), "again", 1}},
			got: []int{0, 1}, stmts: 2},
		// Setting it open again lets the next upsert of the key take it.
		{name: "reopened within the batch", rows: [][]any{{int64(1), "open", 1}, {int64(1), "taken", 1}, {int64(1), "again", 1}},
			got: []int{0, 1}, stmts: 3},
	}
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				ctx := storetest.Ctx(t)
				freshKVN(t, db, "batch_q")
				if _, err := db.ExecContext(ctx, `INSERT INTO batch_q (k, v, n) VALUES (1, 'open', 0), (2, 'done', 0)`); err != nil {
					t.Fatal(err)
				}
				tx, c := countingTx(t, db)
				got := []int{}
				err := db.QueryRows(ctx, c, kvCols, `INSERT INTO batch_q (k, v, n)`,
					`ON CONFLICT (k) DO UPDATE SET v = excluded.v, n = batch_q.n + excluded.n WHERE batch_q.v = 'open' RETURNING k`,
					tc.rows, func(first int, chunk [][]any, res *sql.Rows) error {
						for res.Next() {
							var k int64
							if err := res.Scan(&k); err != nil {
								return err
							}
							for i, r := range chunk {
								if r[0].(int64) == k {
									got = append(got, first+i)
								}
							}
						}
						return nil
					})
				if err != nil {
					t.Fatal(err)
				}
				if err := tx.Commit(); err != nil {
					t.Fatal(err)
				}
				slices.Sort(got)
				if tc.got == nil {
					tc.got = []int{}
				}
				if !slices.Equal(got, tc.got) {
					t.Errorf("returned rows %v, want %v", got, tc.got)
				}
				if c.n != tc.stmts {
					t.Errorf("%d statements, want %d", c.n, tc.stmts)
				}
			})
		}
	})
}

// TestInsertRowsTypes inserts values of every kind the PostgreSQL arrays
// take, and a NULL, which they do not (the statement is then a VALUES
// list): both dialects store the same.
func TestInsertRowsTypes(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := storetest.Ctx(t)
		if _, err := db.ExecContext(ctx, `CREATE TABLE batch_types (k INTEGER PRIMARY KEY, s TEXT, b BOOLEAN, f DOUBLE PRECISION, raw BYTEA)`); err != nil {
			t.Fatal(err)
		}
		head := `INSERT INTO batch_types (k, s, b, f, raw)`
		if err := db.InsertRows(ctx, db, head, "", [][]any{{1, "one", true, 1.5, []byte{1}}, {int64(2), "two", false, 2.5, []byte{2}}}); err != nil {
			t.Fatal(err)
		}
		if err := db.InsertRows(ctx, db, head, "", [][]any{{int32(3), "three", true, 3.5, []byte{3}}, {4, nil, true, 4.5, []byte{4}}}); err != nil {
			t.Fatal(err)
		}
		rows, err := db.QueryContext(ctx, `SELECT k, COALESCE(s, '-'), b, f, raw FROM batch_types ORDER BY k`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var got []string
		for rows.Next() {
			var (
				k   int
				s   string
				b   bool
				f   float64
				raw []byte
			)
			if err := rows.Scan(&k, &s, &b, &f, &raw); err != nil {
				t.Fatal(err)
			}
			got = append(got, fmt.Sprintf("%d %s %v %v %v", k, s, b, f, raw))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if want := "[1 one true 1.5 [1] 2 two false 2.5 [2] 3 three true 3.5 [3] 4 - true 4.5 [4]]"; fmt.Sprint(got) != want {
			t.Errorf("rows %v, want %s", got, want)
		}
	})
}

// freshKVN (re)creates table name with a BIGINT key k, a text v and a
// counter n.
func freshKVN(t *testing.T, db *store.DB, name string) {
	t.Helper()
	ctx := storetest.Ctx(t)
	if _, err := db.ExecContext(ctx, `DROP TABLE IF EXISTS `+name); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE `+name+` (k BIGINT PRIMARY KEY, v TEXT NOT NULL, n INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
}

// countingTx begins a transaction that counts its statements; it is rolled
// back at the end of the test unless committed.
func countingTx(t *testing.T, db *store.DB) (*sql.Tx, *counting) {
	t.Helper()
	tx, err := db.BeginTx(storetest.Ctx(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
			t.Error(err)
		}
	})
	return tx, &counting{tx: tx}
}
