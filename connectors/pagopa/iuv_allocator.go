package pagopa

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ponte-pa/ponte/internal/store"
)

// maxIUVBase is the first value that no longer fits the 13-digit IUV base.
const maxIUVBase = 10_000_000_000_000

// ErrIUVExhausted is returned when a (org, segregation code) counter has used
// all 10^13 - 1 bases.
var ErrIUVExhausted = errors.New("pagopa: IUV bases exhausted for this segregation code")

// IUVAllocator hands out aux-3 IUVs that are unique per organization, durable
// across restarts and safe for concurrent workers and processes sharing the
// database. Allocation is idempotent by key: the same (org, key) always gets
// the same IUV.
type IUVAllocator struct {
	db      *sql.DB
	dialect string
}

// NewIUVAllocator returns an allocator storing its state in db, bringing
// its tables (ponte_iuv_counters, ponte_iuv_allocations) up to date first
// (see IUVMigrations). dialect is "sqlite" (modernc.org/sqlite; use a file
// database, not a private :memory: one per connection) or "postgres" (pgx
// stdlib).
func NewIUVAllocator(db *sql.DB, dialect string) (*IUVAllocator, error) {
	if db == nil {
		return nil, errors.New("pagopa: NewIUVAllocator: nil db")
	}
	if dialect != "sqlite" && dialect != "postgres" {
		return nil, fmt.Errorf("pagopa: NewIUVAllocator: dialect %q, want \"sqlite\" or \"postgres\"", dialect)
	}
	a := &IUVAllocator{db: db, dialect: dialect}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// A failed migration leaves nothing behind (one transaction each): on a
	// busy SQLite file it is simply tried again.
	if err := a.retryBusy(ctx, func() error { return store.MigrateDB(ctx, db, dialect, IUVMigrations) }); err != nil {
		return nil, fmt.Errorf("pagopa: IUV allocator: %w", err)
	}
	return a, nil
}

// q rewrites $n placeholders to ? for SQLite.
func (a *IUVAllocator) q(s string) string {
	if a.dialect != "sqlite" {
		return s
	}
	for i := 9; i >= 1; i-- {
		s = strings.ReplaceAll(s, "$"+strconv.Itoa(i), "?")
	}
	return s
}

// Allocate returns the IUV for (org, key), allocating the next one from the
// (org, segregationCode) counter the first time. key is a business id such as
// the IUPD. If key was already allocated with another segregation code, an
// error is returned.
func (a *IUVAllocator) Allocate(ctx context.Context, org, segregationCode, key string) (string, error) {
	if org == "" || key == "" {
		return "", errors.New("pagopa: Allocate: org and key are required")
	}
	if _, err := NewIUV(segregationCode, "0000000000000"); err != nil {
		return "", fmt.Errorf("pagopa: Allocate: segregation code: %w", err)
	}
	var iuv string
	err := a.retryBusy(ctx, func() error {
		var err error
		iuv, err = a.allocateOnce(ctx, org, segregationCode, key)
		return err
	})
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(iuv, segregationCode) {
		return "", fmt.Errorf("pagopa: Allocate: key %q of %s already has IUV %s with another segregation code than %s", key, org, iuv, segregationCode)
	}
	return iuv, nil
}

type retryableTxError struct{ err error }

func (e retryableTxError) Error() string { return e.err.Error() }
func (e retryableTxError) Unwrap() error { return e.err }

func (a *IUVAllocator) allocateOnce(ctx context.Context, org, seg, key string) (iuv string, err error) {
	conn, err := a.db.Conn(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	begin, commit, rollback := "BEGIN", "COMMIT", "ROLLBACK"
	if a.dialect == "sqlite" {
		// Take the write lock up front: a deferred transaction that upgrades
		// from read to write can fail with SQLITE_BUSY without waiting.
		begin = "BEGIN IMMEDIATE"
		if _, err := conn.ExecContext(ctx, "PRAGMA busy_timeout = 5000"); err != nil {
			return "", err
		}
	}
	if _, err := conn.ExecContext(ctx, begin); err != nil {
		return "", err
	}
	done := false
	defer func() {
		if !done {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), rollback)
		}
	}()
	err = conn.QueryRowContext(ctx, a.q(`SELECT iuv FROM ponte_iuv_allocations WHERE org = $1 AND alloc_key = $2`), org, key).Scan(&iuv)
	switch {
	case err == nil:
		return iuv, nil
	case !errors.Is(err, sql.ErrNoRows):
		return "", err
	}
	// The upsert locks the counter row (PostgreSQL) or runs under the write lock
	// (SQLite), so concurrent callers get distinct bases.
	var base int64
	err = conn.QueryRowContext(ctx, a.q(`INSERT INTO ponte_iuv_counters (org, seg, last_base) VALUES ($1, $2, 1)
		ON CONFLICT (org, seg) DO UPDATE SET last_base = ponte_iuv_counters.last_base + 1
		RETURNING last_base`), org, seg).Scan(&base)
	if err != nil {
		return "", err
	}
	if base >= maxIUVBase {
		return "", ErrIUVExhausted
	}
	iuv, err = NewIUV(seg, fmt.Sprintf("%013d", base))
	if err != nil {
		return "", err
	}
	_, err = conn.ExecContext(ctx, a.q(`INSERT INTO ponte_iuv_allocations (org, alloc_key, iuv, created_at) VALUES ($1, $2, $3, $4)`),
		org, key, iuv, time.Now().UTC().Format(time.RFC3339Nano))
	if err != nil {
		if isUniqueViolation(err) {
			// Another caller allocated the same key concurrently: start over
			// and find its IUV.
			return "", retryableTxError{err}
		}
		return "", err
	}
	if _, err := conn.ExecContext(ctx, commit); err != nil {
		return "", err
	}
	done = true
	return iuv, nil
}

func isUniqueViolation(err error) bool {
	s := err.Error()
	return strings.Contains(s, "UNIQUE constraint failed") || strings.Contains(s, "SQLSTATE 23505") || strings.Contains(s, "duplicate key value")
}

func isBusy(err error) bool {
	s := err.Error()
	return strings.Contains(s, "SQLITE_BUSY") || strings.Contains(s, "database is locked") ||
		strings.Contains(s, "SQLSTATE 40001") || strings.Contains(s, "SQLSTATE 40P01")
}

// retryBusy runs f again on lock contention, serialization failures and
// concurrent-insert races, with a small growing pause.
func (a *IUVAllocator) retryBusy(ctx context.Context, f func() error) error {
	var err error
	for attempt := 0; attempt < 50; attempt++ {
		err = f()
		if err == nil {
			return nil
		}
		var rt retryableTxError
		if !errors.As(err, &rt) && !isBusy(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt+1) * 5 * time.Millisecond):
		}
	}
	return fmt.Errorf("pagopa: IUV allocation still contended after retries: %w", err)
}

// AllocateBatch is Allocate for many keys of one (org, segregationCode) in a
// single transaction: keys that already have an IUV keep it, the others get
// consecutive fresh bases reserved with one counter update. It returns key →
// IUV for every key (duplicates in keys are allowed). Use it for campaign
// batches: one transaction instead of one per debtor.
func (a *IUVAllocator) AllocateBatch(ctx context.Context, org, segregationCode string, keys []string) (map[string]string, error) {
	if org == "" {
		return nil, errors.New("pagopa: AllocateBatch: org is required")
	}
	for _, k := range keys {
		if k == "" {
			return nil, errors.New("pagopa: AllocateBatch: empty key")
		}
	}
	if _, err := NewIUV(segregationCode, "0000000000000"); err != nil {
		return nil, fmt.Errorf("pagopa: AllocateBatch: segregation code: %w", err)
	}
	if len(keys) == 0 {
		return map[string]string{}, nil
	}
	var out map[string]string
	err := a.retryBusy(ctx, func() error {
		var err error
		out, err = a.allocateBatchOnce(ctx, org, segregationCode, keys)
		return err
	})
	if err != nil {
		return nil, err
	}
	for k, iuv := range out {
		if !strings.HasPrefix(iuv, segregationCode) {
			return nil, fmt.Errorf("pagopa: AllocateBatch: key %q of %s already has IUV %s with another segregation code than %s", k, org, iuv, segregationCode)
		}
	}
	return out, nil
}

func (a *IUVAllocator) allocateBatchOnce(ctx context.Context, org, seg string, keys []string) (map[string]string, error) {
	conn, err := a.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	begin := "BEGIN"
	if a.dialect == "sqlite" {
		begin = "BEGIN IMMEDIATE"
		if _, err := conn.ExecContext(ctx, "PRAGMA busy_timeout = 5000"); err != nil {
			return nil, err
		}
	}
	if _, err := conn.ExecContext(ctx, begin); err != nil {
		return nil, err
	}
	done := false
	defer func() {
		if !done {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()
	out := make(map[string]string, len(keys))
	if err := a.allocated(ctx, conn, org, keys, out); err != nil {
		return nil, err
	}
	var fresh []string
	for _, k := range keys {
		if _, ok := out[k]; !ok {
			out[k] = "" // dedupe
			fresh = append(fresh, k)
		}
	}
	if len(fresh) > 0 {
		n := int64(len(fresh))
		var last int64
		err = conn.QueryRowContext(ctx, a.q(`INSERT INTO ponte_iuv_counters (org, seg, last_base) VALUES ($1, $2, $3)
			ON CONFLICT (org, seg) DO UPDATE SET last_base = ponte_iuv_counters.last_base + $4
			RETURNING last_base`), org, seg, n, n).Scan(&last)
		if err != nil {
			return nil, err
		}
		if last >= maxIUVBase {
			return nil, ErrIUVExhausted
		}
		now := time.Now().UTC().Format(time.RFC3339Nano)
		rows := make([][]any, len(fresh))
		for i, k := range fresh {
			iuv, err := NewIUV(seg, fmt.Sprintf("%013d", last-n+1+int64(i)))
			if err != nil {
				return nil, err
			}
			rows[i] = []any{org, k, iuv, now}
			out[k] = iuv
		}
		// Multi-row INSERTs: one round trip per few hundred keys instead of
		// one per key on PostgreSQL.
		if err := store.InsertRows(ctx, conn, a.dialect, `INSERT INTO ponte_iuv_allocations (org, alloc_key, iuv, created_at)`, "", rows); err != nil {
			if isUniqueViolation(err) {
				return nil, retryableTxError{err}
			}
			return nil, err
		}
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return nil, err
	}
	done = true
	return out, nil
}

// allocated adds to out the IUVs already allocated to keys of org. On
// PostgreSQL one statement takes all keys as one array parameter: its text
// is the same whatever their number, and the server parses and plans one
// statement, not one per 500 keys each with 500 parameters. SQLite has no
// arrays: IN lists of at most 500 keys.
func (a *IUVAllocator) allocated(ctx context.Context, conn *sql.Conn, org string, keys []string, out map[string]string) error {
	if a.dialect == "postgres" {
		rows, err := conn.QueryContext(ctx, `SELECT alloc_key, iuv FROM ponte_iuv_allocations WHERE org = $1 AND alloc_key = ANY($2)`, org, keys)
		if err != nil {
			return err
		}
		return scanAllocations(rows, out)
	}
	const chunk = 500
	for i := 0; i < len(keys); i += chunk {
		part := keys[i:min(i+chunk, len(keys))]
		args := make([]any, 0, len(part)+1)
		args = append(args, org)
		for _, k := range part {
			args = append(args, k)
		}
		rows, err := conn.QueryContext(ctx, `SELECT alloc_key, iuv FROM ponte_iuv_allocations WHERE org = ?
			AND alloc_key IN (?`+strings.Repeat(",?", len(part)-1)+`)`, args...)
		if err != nil {
			return err
		}
		if err := scanAllocations(rows, out); err != nil {
			return err
		}
	}
	return nil
}

// scanAllocations adds rows of (alloc_key, iuv) to out and closes rows.
func scanAllocations(rows *sql.Rows, out map[string]string) error {
	defer rows.Close()
	for rows.Next() {
		var k, iuv string
		if err := rows.Scan(&k, &iuv); err != nil {
			return err
		}
		out[k] = iuv
	}
	// An error that ended the rows early (a connection lost mid-result)
	// would otherwise read as keys without an IUV, to be allocated again.
	if err := rows.Err(); err != nil {
		return err
	}
	return rows.Close()
}
