package spid

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
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

// ErrNotPending is returned by Take for an unknown, used or expired request.
var ErrNotPending = errors.New("spid: no such pending request")

// RequestStore keeps pending requests (single use, with expiry) and the IDs
// already seen, against replays.
type RequestStore interface {
	// Put stores a pending request.
	Put(ctx context.Context, r PendingRequest) error
	// Take returns and deletes a pending request; ErrNotPending when it is
	// unknown, already taken or expired at now.
	Take(ctx context.Context, id string, now time.Time) (PendingRequest, error)
	// MarkSeen records id until until; it returns false when id was already seen.
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

// Take implements RequestStore.
func (m *MemoryStore) Take(_ context.Context, id string, now time.Time) (PendingRequest, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.pending[id]
	if !ok {
		return PendingRequest{}, ErrNotPending
	}
	delete(m.pending, id)
	if now.After(r.Expires) {
		return PendingRequest{}, ErrNotPending
	}
	return r, nil
}

// MarkSeen implements RequestStore.
func (m *MemoryStore) MarkSeen(_ context.Context, id string, until, now time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.seen) > 4096 {
		for k, v := range m.seen {
			if now.After(v) {
				delete(m.seen, k)
			}
		}
	}
	if exp, ok := m.seen[id]; ok && !now.After(exp) {
		return false, nil
	}
	m.seen[id] = until
	return true, nil
}

// SQLStore is a RequestStore on the shared state database (SQLite or
// PostgreSQL), so that several SP instances share pending requests and the
// replay cache.
//
// Each call is one prepared statement, one round trip. Expired rows are not
// deleted on every call: MarkSeen sweeps both tables in bulk at most every
// SweepEvery, through the expires_at indexes, so the cost of a login does
// not grow with the logins of the last hour. Expired rows waiting for the
// sweep are harmless: Take refuses an expired request and MarkSeen treats
// an expired entry as absent.
type SQLStore struct {
	db *store.DB
	// SweepEvery is how often expired rows are deleted (default 1m).
	SweepEvery time.Duration

	put, take, seen, sweepSeen, sweepPending *sql.Stmt
	lastSweep                                atomic.Int64 // unix nanoseconds of the last sweep's clock
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
		{&s.take, `DELETE FROM spid_pending WHERE id = ? RETURNING data`},
		// One atomic statement whatever the number of SP instances: the
		// unique key refuses a live ID; an expired one not yet swept is
		// renewed. RowsAffected is 1 when id was not live.
		{&s.seen, `INSERT INTO spid_seen (id, expires_at) VALUES (?, ?)
			ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at WHERE spid_seen.expires_at < ?`},
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
	for _, st := range []*sql.Stmt{s.put, s.take, s.seen, s.sweepSeen, s.sweepPending} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
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

// Take implements RequestStore: the DELETE … RETURNING makes it single-use
// even with concurrent callers.
func (s *SQLStore) Take(ctx context.Context, id string, now time.Time) (PendingRequest, error) {
	var data string
	err := s.take.QueryRowContext(ctx, id).Scan(&data)
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

// MarkSeen implements RequestStore. An entry counts as seen until the
// second of until included.
func (s *SQLStore) MarkSeen(ctx context.Context, id string, until, now time.Time) (bool, error) {
	if err := s.maybeSweep(ctx, now); err != nil {
		return false, err
	}
	res, err := s.seen.ExecContext(ctx, id, until.Unix(), now.Unix())
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	return n == 1, nil
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
