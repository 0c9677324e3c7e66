package spid

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ponte-pa/ponte/internal/store"
)

// PendingRequest is what the SP remembers about an AuthnRequest until it is
// answered or expires.
type PendingRequest struct {
	ID           string    `json:"id"`
	IdP          string    `json:"idp"`
	Level        int       `json:"level"`
	ACSIndex     int       `json:"acs"`
	AttrIndex    int       `json:"attrs"`
	IssueInstant time.Time `json:"issueInstant"`
	Expires      time.Time `json:"expires"`
	// RelayState is the opaque reference sent to the IdP.
	RelayState string `json:"relayState"`
	// ReturnTo is a local path to go to after login; it never leaves the server.
	ReturnTo string `json:"returnTo,omitempty"`
}

// ErrNotPending is returned for an unknown, used or expired request.
var ErrNotPending = errors.New("spid: no such pending request")

// ErrReplayed is returned (wrapped in a *ReplayError) by Consume when an ID
// is already in the replay cache.
var ErrReplayed = errors.New("spid: ID already seen")

// ReplayError names the IDs Consume found already in the replay cache.
type ReplayError struct{ IDs []string }

func (e *ReplayError) Error() string { return "spid: already seen: " + strings.Join(e.IDs, ", ") }
func (e *ReplayError) Unwrap() error { return ErrReplayed }

// SeenID is an ID for the replay cache, refused again until Until (the
// second of Until included).
type SeenID struct {
	ID    string
	Until time.Time
}

// RequestStore keeps pending requests (single use, with expiry) and the IDs
// already seen, against replays. A login reads its request with Pending,
// and only once the response has passed every check consumes it and
// records the response's and assertion's IDs with Consume: one atomic
// write per login.
type RequestStore interface {
	// Put stores a pending request.
	Put(ctx context.Context, r PendingRequest) error
	// Pending returns a pending request without taking it; ErrNotPending
	// when it is unknown, already taken or expired at now.
	Pending(ctx context.Context, id string, now time.Time) (PendingRequest, error)
	// Consume takes the pending request id and records seen in the replay
	// cache, in one atomic step. It returns ErrNotPending when the request
	// was taken meanwhile or expired at now (nothing is recorded), and a
	// *ReplayError when an ID of seen is already live: the request is
	// consumed all the same (it is single use) and the fresh IDs recorded.
	Consume(ctx context.Context, id string, seen []SeenID, now time.Time) error
	// Seen reports whether id is live in the replay cache at now: it tells a
	// replayed response from one answering an unknown request.
	Seen(ctx context.Context, id string, now time.Time) (bool, error)
	// MarkSeen records id until until, for a message that answers no
	// request of ours (an IdP's LogoutRequest); it returns false when id
	// was already seen.
	MarkSeen(ctx context.Context, id string, until, now time.Time) (bool, error)
}

// MemoryStore is an in-memory RequestStore for one process.
type MemoryStore struct {
	mu      sync.Mutex
	pending map[string]PendingRequest
	seen    map[string]time.Time
	puts    int
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{pending: map[string]PendingRequest{}, seen: map[string]time.Time{}}
}

// Put implements RequestStore.
func (m *MemoryStore) Put(_ context.Context, r PendingRequest) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.puts++
	if m.puts%256 == 0 {
		for k, v := range m.pending {
			if time.Now().After(v.Expires) {
				delete(m.pending, k)
			}
		}
	}
	m.pending[r.ID] = r
	return nil
}

// Pending implements RequestStore.
func (m *MemoryStore) Pending(_ context.Context, id string, now time.Time) (PendingRequest, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.pending[id]
	if !ok || now.After(r.Expires) {
		return PendingRequest{}, ErrNotPending
	}
	return r, nil
}

// Consume implements RequestStore.
func (m *MemoryStore) Consume(_ context.Context, id string, seen []SeenID, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.pending[id]
	if !ok || now.After(r.Expires) {
		return ErrNotPending
	}
	delete(m.pending, id)
	if len(m.seen) > 4096 {
		for k, v := range m.seen {
			if now.After(v) {
				delete(m.seen, k)
			}
		}
	}
	var replayed []string
	for _, s := range seen {
		if !m.mark(s.ID, s.Until, now) {
			replayed = append(replayed, s.ID)
		}
	}
	if replayed != nil {
		return &ReplayError{IDs: replayed}
	}
	return nil
}

// MarkSeen implements RequestStore.
func (m *MemoryStore) MarkSeen(_ context.Context, id string, until, now time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mark(id, until, now), nil
}

// mark records id until until unless it is live at now; m.mu is held.
func (m *MemoryStore) mark(id string, until, now time.Time) bool {
	if exp, ok := m.seen[id]; ok && !now.After(exp) {
		return false
	}
	m.seen[id] = until
	return true
}

// Seen implements RequestStore.
func (m *MemoryStore) Seen(_ context.Context, id string, now time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	exp, ok := m.seen[id]
	return ok && !now.After(exp), nil
}

// SQLStore is a RequestStore on the shared state database (SQLite or
// PostgreSQL), so that several SP instances share pending requests and the
// replay cache.
//
// A login costs one read (Pending) and one atomic write (Consume): one
// statement on PostgreSQL, where the request's deletion and the replay
// cache's inserts are one data-modifying WITH; one transaction on SQLite.
// Expired rows are not deleted on every call: Consume sweeps both tables in
// bulk at most every SweepEvery, through the expires_at indexes, so the
// cost of a login does not grow with the logins of the last hour. Expired
// rows waiting for the sweep are harmless: an expired request is not
// pending and an expired cache entry does not refuse its ID.
type SQLStore struct {
	db *store.DB
	// SweepEvery is how often expired rows are deleted (default 1m).
	SweepEvery time.Duration

	put, pending, seen, mark, take, sweepSeen, sweepPending *sql.Stmt
	lastSweep                                               atomic.Int64 // unix nanoseconds of the last sweep's clock
	consumeStmts                                            sync.Map     // number of IDs -> *sql.Stmt of the dialect's consume
}

// markSeenSQL inserts n IDs in the replay cache (id, until pairs, then
// now): the unique key refuses a live ID; an expired one not yet swept is
// renewed. It returns the IDs it recorded, so that whatever the number of
// SP instances each ID is accepted once.
func markSeenSQL(n int) string {
	return `INSERT INTO spid_seen (id, expires_at) VALUES ` + strings.TrimSuffix(strings.Repeat("(?, ?),", n), ",") + `
		ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at WHERE spid_seen.expires_at < ? RETURNING id`
}

// NewSQLStore brings its tables in db up to date (see Migrations) and
// returns the store.
func NewSQLStore(ctx context.Context, db *store.DB) (*SQLStore, error) {
	if err := db.Migrate(ctx, Migrations); err != nil {
		return nil, err
	}
	s := &SQLStore{db: db, SweepEvery: time.Minute}
	for _, p := range []struct {
		st **sql.Stmt
		q  string
	}{
		{&s.put, `INSERT INTO spid_pending (id, data, expires_at) VALUES (?, ?, ?)`},
		{&s.pending, `SELECT data FROM spid_pending WHERE id = ?`},
		{&s.seen, `SELECT expires_at FROM spid_seen WHERE id = ?`},
		{&s.mark, markSeenSQL(1)},
		{&s.take, `DELETE FROM spid_pending WHERE id = ? RETURNING expires_at`},
		{&s.sweepSeen, `DELETE FROM spid_seen WHERE expires_at < ?`},
		{&s.sweepPending, `DELETE FROM spid_pending WHERE expires_at < ?`},
	} {
		st, err := db.PrepareContext(ctx, db.Rebind(p.q))
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("spid: preparing %q: %w", p.q, err)
		}
		*p.st = st
	}
	return s, nil
}

// Close releases the prepared statements (not the database).
func (s *SQLStore) Close() error {
	var errs []error
	for _, st := range []*sql.Stmt{s.put, s.pending, s.seen, s.mark, s.take, s.sweepSeen, s.sweepPending} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	s.consumeStmts.Range(func(_, v any) bool {
		errs = append(errs, v.(*sql.Stmt).Close())
		return true
	})
	return errors.Join(errs...)
}

// Put implements RequestStore.
func (s *SQLStore) Put(ctx context.Context, r PendingRequest) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = s.put.ExecContext(ctx, r.ID, string(b), r.Expires.Unix())
	return err
}

// Pending implements RequestStore.
func (s *SQLStore) Pending(ctx context.Context, id string, now time.Time) (PendingRequest, error) {
	var data string
	err := s.pending.QueryRowContext(ctx, id).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return PendingRequest{}, ErrNotPending
	}
	if err != nil {
		return PendingRequest{}, err
	}
	var r PendingRequest
	if err := json.Unmarshal([]byte(data), &r); err != nil {
		return PendingRequest{}, err
	}
	if now.After(r.Expires) {
		return PendingRequest{}, ErrNotPending
	}
	return r, nil
}

// Seen implements RequestStore.
func (s *SQLStore) Seen(ctx context.Context, id string, now time.Time) (bool, error) {
	var until int64
	err := s.seen.QueryRowContext(ctx, id).Scan(&until)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil && until >= now.Unix(), err
}

// MarkSeen implements RequestStore.
func (s *SQLStore) MarkSeen(ctx context.Context, id string, until, now time.Time) (bool, error) {
	if err := s.maybeSweep(ctx, now); err != nil {
		return false, err
	}
	var r string
	err := s.mark.QueryRowContext(ctx, id, until.Unix(), now.Unix()).Scan(&r)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// Consume implements RequestStore.
func (s *SQLStore) Consume(ctx context.Context, id string, seen []SeenID, now time.Time) error {
	if err := s.maybeSweep(ctx, now); err != nil {
		return err
	}
	args := make([]any, 0, 2+2*len(seen))
	for _, x := range seen {
		args = append(args, x.ID, x.Until.Unix())
	}
	args = append(args, now.Unix())
	var (
		recorded []string
		err      error
	)
	if s.db.Dialect == store.Postgres {
		recorded, err = s.consumePostgres(ctx, id, len(seen), args, now)
	} else {
		recorded, err = s.consumeTx(ctx, id, len(seen), args, now)
	}
	if err != nil {
		return err
	}
	if len(recorded) == len(seen) {
		return nil
	}
	re := &ReplayError{}
	for _, x := range seen {
		if !slices.Contains(recorded, x.ID) {
			re.IDs = append(re.IDs, x.ID)
		}
	}
	return re
}

// consumePostgres deletes the request and records the IDs in one statement
// (one round trip, one commit). The inserts happen only when the request
// was there and live.
func (s *SQLStore) consumePostgres(ctx context.Context, id string, n int, args []any, now time.Time) ([]string, error) {
	st, err := s.consumeStmt(ctx, n)
	if err != nil {
		return nil, err
	}
	all := []any{id, now.Unix()}
	if n > 0 {
		all = append(all, args...)
	}
	rows, err := st.QueryContext(ctx, all...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var (
		found    bool
		recorded []string
	)
	for rows.Next() {
		var seenID sql.NullString
		if err := rows.Scan(&seenID); err != nil {
			return nil, err
		}
		found = true
		if seenID.Valid {
			recorded = append(recorded, seenID.String)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if !found {
		return nil, ErrNotPending
	}
	return recorded, nil
}

// consumeStmt prepares, once per number of IDs, the statement of
// consumePostgres. It returns one row per recorded ID, or one row with a
// NULL ID when the request was taken but no ID recorded, or no row when the
// request was not pending. The inserts select from the deletion, so they
// happen only when the request was there and live.
func (s *SQLStore) consumeStmt(ctx context.Context, n int) (*sql.Stmt, error) {
	return s.stmt(ctx, n, func() string { return consumeSQL(n) })
}

// stmt is the statement of the dialect's consume for n IDs, prepared on
// first use (query makes its text).
func (s *SQLStore) stmt(ctx context.Context, n int, query func() string) (*sql.Stmt, error) {
	if st, ok := s.consumeStmts.Load(n); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := s.db.PrepareContext(ctx, query())
	if err != nil {
		return nil, fmt.Errorf("spid: preparing the consume statement: %w", err)
	}
	if prev, loaded := s.consumeStmts.LoadOrStore(n, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// consumeSQL is consumePostgres's statement for n IDs.
func consumeSQL(n int) string {
	q := `DELETE FROM spid_pending WHERE id = $1 AND expires_at >= $2 RETURNING NULL`
	if n > 0 {
		var values strings.Builder
		for i := range n {
			if i > 0 {
				values.WriteByte(',')
			}
			fmt.Fprintf(&values, "($%d, CAST($%d AS BIGINT))", 3+2*i, 4+2*i)
		}
		q = `WITH taken AS (DELETE FROM spid_pending WHERE id = $1 AND expires_at >= $2 RETURNING id),
			fresh AS (INSERT INTO spid_seen (id, expires_at) SELECT v.column1, v.column2 FROM taken, (VALUES ` + values.String() + `) AS v
				ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at WHERE spid_seen.expires_at < $` + strconv.Itoa(3+2*n) + `
				RETURNING id)
			SELECT fresh.id FROM taken LEFT JOIN fresh ON true`
	}
	return q
}

// consumeTx deletes the request and records the IDs in one transaction
// (SQLite: one commit).
func (s *SQLStore) consumeTx(ctx context.Context, id string, n int, args []any, now time.Time) ([]string, error) {
	// Prepared before the transaction: on SQLite the transaction holds the
	// only connection.
	var mark *sql.Stmt
	if n > 0 {
		var err error
		if mark, err = s.stmt(ctx, n, func() string { return s.db.Rebind(markSeenSQL(n)) }); err != nil {
			return nil, err
		}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()
	var expires int64
	err = tx.StmtContext(ctx, s.take).QueryRowContext(ctx, id).Scan(&expires)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && expires < now.Unix()) {
		return nil, ErrNotPending
	}
	if err != nil {
		return nil, err
	}
	var recorded []string
	if n > 0 {
		rows, err := tx.StmtContext(ctx, mark).QueryContext(ctx, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var r string
			if err := rows.Scan(&r); err != nil {
				rows.Close()
				return nil, err
			}
			recorded = append(recorded, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return recorded, tx.Commit()
}

// maybeSweep sweeps when SweepEvery has passed on the store's clock (or the
// clock went back); of concurrent callers only one sweeps.
func (s *SQLStore) maybeSweep(ctx context.Context, now time.Time) error {
	last := s.lastSweep.Load()
	t := now.UnixNano()
	if t >= last && t-last < int64(s.SweepEvery) {
		return nil
	}
	if !s.lastSweep.CompareAndSwap(last, t) {
		return nil
	}
	_, err := s.Sweep(ctx, now)
	return err
}

// Sweep deletes the replay-cache entries and pending requests expired at
// now and returns how many rows went.
func (s *SQLStore) Sweep(ctx context.Context, now time.Time) (int64, error) {
	var total int64
	for _, st := range []*sql.Stmt{s.sweepSeen, s.sweepPending} {
		res, err := st.ExecContext(ctx, now.Unix())
		if err != nil {
			return total, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}
