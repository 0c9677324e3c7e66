package spid

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"sync"
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
type SQLStore struct {
	db *store.DB
}

// NewSQLStore brings its tables in db up to date (see Migrations) and
// returns the store.
func NewSQLStore(ctx context.Context, db *store.DB) (*SQLStore, error) {
	if err := db.Migrate(ctx, Migrations); err != nil {
		return nil, err
	}
	return &SQLStore{db: db}, nil
}

// Put implements RequestStore.
func (s *SQLStore) Put(ctx context.Context, r PendingRequest) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, s.db.Rebind(`DELETE FROM spid_pending WHERE expires_at < ?`), time.Now().Add(-time.Hour).Unix()); err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO spid_pending (id, data, expires_at) VALUES (?, ?, ?)`), r.ID, string(b), r.Expires.Unix())
	return err
}

// Take implements RequestStore: the DELETE … RETURNING makes it single-use
// even with concurrent callers.
func (s *SQLStore) Take(ctx context.Context, id string, now time.Time) (PendingRequest, error) {
	var data string
	err := s.db.QueryRowContext(ctx, s.db.Rebind(`DELETE FROM spid_pending WHERE id = ? RETURNING data`), id).Scan(&data)
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

// MarkSeen implements RequestStore.
func (s *SQLStore) MarkSeen(ctx context.Context, id string, until, now time.Time) (bool, error) {
	if _, err := s.db.ExecContext(ctx, s.db.Rebind(`DELETE FROM spid_seen WHERE expires_at < ?`), now.Unix()); err != nil {
		return false, err
	}
	_, err := s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO spid_seen (id, expires_at) VALUES (?, ?)`), id, until.Unix())
	if err != nil {
		msg := strings.ToLower(err.Error())
		if strings.Contains(msg, "unique") || strings.Contains(msg, "duplicate") || strings.Contains(msg, "primary key") {
			return false, nil
		}
		return false, err
	}
	return true, nil
}
