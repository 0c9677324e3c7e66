package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// Execer is what InsertRows runs statements on: a *sql.Tx or a *sql.DB.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Querier is what QueryRows runs statements on: a *sql.Tx or a *sql.DB.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// maxParams bounds the parameters of one statement, below both SQLite's
// limit (32,766 since 3.32) and PostgreSQL's (65,535).
const maxParams = 30000

// maxRows bounds the rows of one statement: past a few hundred, a longer
// statement saves no round trip worth its parsing.
const maxRows = 500

// Col describes one column of the rows given to UpdateRows and QueryRows.
type Col struct {
	// Name is what the statement calls the value (v.Name in UpdateRows).
	Name string
	// Type is the SQL type of the values ("BIGINT", "INTEGER"), or "" for
	// text. PostgreSQL cannot infer the type of a parameter in a VALUES
	// list that is not an INSERT's, so non-text values are cast there.
	Type string
	// Key marks the columns that identify the row a value writes. Rows
	// with a key seen earlier in the batch go to a later statement, so a
	// batch does what the same rows written one at a time, in order,
	// would: PostgreSQL refuses to upsert one row twice in a statement and
	// UPDATE … FROM would apply only one of two matches.
	Key bool
}

// InsertRows inserts rows with as few statements as the parameter limits
// allow: "<head> VALUES (?,…),(?,…)… <tail>" (on PostgreSQL "<head>
// SELECT * FROM unnest(…) <tail>", see chunks), each row with the same
// number of values. On PostgreSQL every statement outside a transaction is
// a commit and an fsync, so callers pass a transaction and insert a whole
// batch at once (staging 10,000 debtors one INSERT at a time was the main
// reason a campaign ran slower on PostgreSQL than on SQLite).
func (d *DB) InsertRows(ctx context.Context, x Execer, head, tail string, rows [][]any) error {
	return InsertRows(ctx, x, d.Dialect, head, tail, rows)
}

// InsertRows is DB.InsertRows for callers that hold only a dialect name
// and a connection.
func InsertRows(ctx context.Context, x Execer, dialect, head, tail string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	cols := make([]Col, len(rows[0]))
	if len(cols) == 0 {
		return fmt.Errorf("store: InsertRows with empty rows")
	}
	return chunks(dialect, cols, rows, func(source string, args []any, _ int) error {
		_, err := x.ExecContext(ctx, Rebind(dialect, head+" "+source+" "+tail), args...)
		return err
	})
}

// UpdateRows updates one row of table per row of values, with as few
// statements as the parameter limits allow:
//
//	WITH v (<cols>) AS (VALUES (?,…),(?,…)…) UPDATE <table> SET <set> FROM v WHERE <where>
//
// (on PostgreSQL, SELECT * FROM unnest(…) in place of VALUES: see chunks).
// set and where name the values v.<col>. Writing a batch of 500 rows this
// way is one round trip to PostgreSQL instead of 500. Rows whose key (see
// Col.Key) repeats go to later statements, in order.
func (d *DB) UpdateRows(ctx context.Context, x Execer, table string, cols []Col, set, where string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	if len(cols) == 0 {
		return fmt.Errorf("store: UpdateRows of %s with no columns", table)
	}
	head := "WITH v (" + colNames(cols) + ") AS ("
	tail := ") UPDATE " + table + " SET " + set + " FROM v WHERE " + where
	return chunks(d.Dialect, cols, rows, func(source string, args []any, _ int) error {
		if _, err := x.ExecContext(ctx, d.Rebind(head+source+tail), args...); err != nil {
			return fmt.Errorf("store: updating %s: %w", table, err)
		}
		return nil
	})
}

// QueryRows runs "<head> <rows> <tail>" for rows (see chunks), with as few
// statements as the parameter limits allow, and calls scan on the result
// set of each, with the index in rows of the statement's first row and its
// rows. It is for statements that say what they did row by row, such as
// "INSERT … ON CONFLICT … DO UPDATE … WHERE … RETURNING <key>". Rows whose
// key (see Col.Key) repeats go to later statements, in order, so that no
// statement touches a row twice.
func (d *DB) QueryRows(ctx context.Context, x Querier, cols []Col, head, tail string, rows [][]any,
	scan func(first int, chunk [][]any, res *sql.Rows) error) error {
	if len(rows) == 0 {
		return nil
	}
	if len(cols) == 0 {
		return fmt.Errorf("store: QueryRows with no columns")
	}
	first := 0
	return chunks(d.Dialect, cols, rows, func(source string, args []any, n int) error {
		res, err := x.QueryContext(ctx, d.Rebind(head+" "+source+" "+tail), args...)
		if err != nil {
			return err
		}
		defer res.Close()
		if err := scan(first, rows[first:first+n], res); err != nil {
			return err
		}
		first += n
		if err := res.Close(); err != nil {
			return err
		}
		return res.Err()
	})
}

func colNames(cols []Col) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	return strings.Join(names, ", ")
}

// chunks cuts rows into consecutive statements of at most maxRows rows and
// maxParams parameters, with no key twice, and calls do with each one's
// source of rows, its arguments and its number of rows, in order. The
// source is a VALUES list on SQLite; on PostgreSQL "SELECT * FROM
// unnest(CAST(? AS TEXT[]), …)", one array per column, when the values'
// types allow it (see pgArrays): the statement's text is then the same
// whatever the number of rows and has one parameter per column, where a
// VALUES list of 500 rows has thousands for the server to parse, type and
// plan at every execution.
func chunks(dialect string, cols []Col, rows [][]any, do func(source string, args []any, n int) error) error {
	width := len(cols)
	per := max(1, min(maxRows, maxParams/width))
	one := valuesRow(dialect, cols)
	var keys []int
	for i, c := range cols {
		if c.Key {
			keys = append(keys, i)
		}
	}
	for start := 0; start < len(rows); {
		seen := map[string]bool{}
		end := start
		for ; end < len(rows) && end-start < per; end++ {
			r := rows[end]
			if len(r) != width {
				return fmt.Errorf("store: row %d has %d values, want %d", end, len(r), width)
			}
			if len(keys) > 0 {
				k := keyOf(r, keys)
				if seen[k] {
					break
				}
				seen[k] = true
			}
		}
		chunk := rows[start:end]
		source, args, ok := "", []any(nil), false
		if dialect == Postgres {
			source, args, ok = pgArrays(cols, chunk)
		}
		if !ok {
			source, args = valuesList(one, width, chunk)
		}
		if err := do(source, args, len(chunk)); err != nil {
			return err
		}
		start = end
	}
	return nil
}

// valuesList is "VALUES (?,…),(?,…)…" for rows, and its arguments.
func valuesList(one string, width int, rows [][]any) (string, []any) {
	var q strings.Builder
	q.WriteString("VALUES ")
	args := make([]any, 0, len(rows)*width)
	for i, r := range rows {
		if i > 0 {
			q.WriteByte(',')
		}
		q.WriteString(one)
		args = append(args, r...)
	}
	return q.String(), args
}

// pgArrays is "SELECT * FROM unnest(CAST(? AS <type>[]), …)" for rows, with
// one array argument per column, for PostgreSQL. The type of a column is
// its Col.Type, or else that of its first value (string, int, int64,
// int32, bool, []byte, float64); ok is false when a column's type is
// another or a value does not have it (a nil, say): the caller then uses
// a VALUES list.
func pgArrays(cols []Col, rows [][]any) (source string, args []any, ok bool) {
	var q strings.Builder
	q.WriteString("SELECT * FROM unnest(")
	args = make([]any, len(cols))
	for j, c := range cols {
		typ := strings.ToUpper(c.Type)
		if typ == "" && c.Name != "" {
			typ = "TEXT" // a declared column without a type is text
		}
		if typ == "" {
			typ = goType(rows[0][j])
		}
		a, ok := column(typ, rows, j)
		if !ok {
			return "", nil, false
		}
		if j > 0 {
			q.WriteByte(',')
		}
		q.WriteString("CAST(? AS " + typ + "[])")
		args[j] = a
	}
	q.WriteByte(')')
	return q.String(), args, true
}

// goType is the PostgreSQL type of an undeclared column from a value, or
// "" for a value pgArrays does not handle.
func goType(v any) string {
	switch v.(type) {
	case string:
		return "TEXT"
	case int, int64, int32:
		return "BIGINT"
	case bool:
		return "BOOLEAN"
	case []byte:
		return "BYTEA"
	case float64:
		return "DOUBLE PRECISION"
	}
	return ""
}

// column is column j of rows as a slice pgx sends as an array of typ.
func column(typ string, rows [][]any, j int) (any, bool) {
	switch typ {
	case "TEXT":
		return collect(rows, j, func(v any) (string, bool) { s, ok := v.(string); return s, ok })
	case "BIGINT", "INTEGER":
		return collect(rows, j, func(v any) (int64, bool) {
			switch n := v.(type) {
			case int:
				return int64(n), true
			case int64:
				return n, true
			case int32:
				return int64(n), true
			}
			return 0, false
		})
	case "BOOLEAN":
		return collect(rows, j, func(v any) (bool, bool) { b, ok := v.(bool); return b, ok })
	case "BYTEA":
		return collect(rows, j, func(v any) ([]byte, bool) { b, ok := v.([]byte); return b, ok && b != nil })
	case "DOUBLE PRECISION":
		return collect(rows, j, func(v any) (float64, bool) { f, ok := v.(float64); return f, ok })
	}
	return nil, false
}

func collect[T any](rows [][]any, j int, conv func(any) (T, bool)) (any, bool) {
	out := make([]T, len(rows))
	for i, r := range rows {
		v, ok := conv(r[j])
		if !ok {
			return nil, false
		}
		out[i] = v
	}
	return out, true
}

// valuesRow is one row of a VALUES list: "(?,?,…)", with the casts
// PostgreSQL needs to type its parameters.
func valuesRow(dialect string, cols []Col) string {
	var b strings.Builder
	b.WriteByte('(')
	for i, c := range cols {
		if i > 0 {
			b.WriteByte(',')
		}
		if c.Type != "" && dialect == Postgres {
			b.WriteString("CAST(? AS " + c.Type + ")")
		} else {
			b.WriteByte('?')
		}
	}
	b.WriteByte(')')
	return b.String()
}

// keyOf is a map key for the values of row at the key columns idx.
func keyOf(row []any, idx []int) string {
	var b strings.Builder
	for _, i := range idx {
		fmt.Fprintf(&b, "%T:%v\x00", row[i], row[i])
	}
	return b.String()
}
