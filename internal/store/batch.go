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

// maxParams bounds the parameters of one statement, below both SQLite's
// limit (32,766 since 3.32) and PostgreSQL's (65,535).
const maxParams = 30000

// InsertRows inserts rows with as few statements as the parameter limits
// allow: "<head> VALUES (?,…),(?,…)… <tail>", each row with the same
// number of values. On PostgreSQL every statement outside a transaction is
// a commit and an fsync, so callers pass a transaction and insert a whole
// batch at once (staging 10,000 debtors one INSERT at a time was the main
// reason a campaign ran slower on PostgreSQL than on SQLite).
func (d *DB) InsertRows(ctx context.Context, x Execer, head, tail string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	width := len(rows[0])
	if width == 0 {
		return fmt.Errorf("store: InsertRows with empty rows")
	}
	per := max(1, min(500, maxParams/width))
	one := "(" + strings.TrimSuffix(strings.Repeat("?,", width), ",") + ")"
	for start := 0; start < len(rows); start += per {
		chunk := rows[start:min(start+per, len(rows))]
		var q strings.Builder
		q.WriteString(head)
		q.WriteString(" VALUES ")
		args := make([]any, 0, len(chunk)*width)
		for i, r := range chunk {
			if len(r) != width {
				return fmt.Errorf("store: InsertRows: row %d has %d values, want %d", start+i, len(r), width)
			}
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteString(one)
			args = append(args, r...)
		}
		q.WriteByte(' ')
		q.WriteString(tail)
		if _, err := x.ExecContext(ctx, d.Rebind(q.String()), args...); err != nil {
			return err
		}
	}
	return nil
}
