package appio

import (
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ponte-pa/ponte/internal/store"
)

// Default rate limit per subscription key. The spec documents 429 but no
// number, and PagoPA does not publish one per service; 100 requests in any
// 5 seconds (20/s sustained) is well below what APIM products usually grant,
// still sends a 10,000-debtor campaign (profile check + submit each) in
// under 17 minutes, and leaves headroom for the other workflows that share
// the key (alerts, status polling).
const (
	DefaultRateLimit  = 100
	DefaultRateWindow = 5 * time.Second
)

// Limiter hands out permission to send one HTTP request for a subscription
// key. Wait blocks until the request may be sent or ctx ends.
//
// The limiters of this package guarantee that no window of the configured
// length, wherever it starts, holds more than the configured number of
// grants (a sliding window, not a token bucket: a bucket with burst N
// refilling at N per window lets up to 2N through in one window, which a
// server counting in sliding windows answers with 429). The server counts
// arrivals, which lag grants by a variable transit time: configure the
// window a little longer than the server's (e.g. +2%) to absorb that jitter.
type Limiter interface {
	Wait(ctx context.Context, key string) error
}

// AnswerLimiter is a Limiter that can also learn when the answer to a
// granted request arrived. The Client uses Acquire when the limiter has it
// and calls release as soon as the response is in (or the request failed):
// until then the slot stays taken, and afterwards the grant counts from that
// moment, an upper bound of when the server counted the request. Windows
// measured this way never overlap on the server, whatever the transit
// jitter or a stalled request, at the price of one round trip per window
// and grant (a throughput of window/(window+latency) of the limit). A
// release that never comes (the worker died) frees its slot after a
// minute.
type AnswerLimiter interface {
	Limiter
	Acquire(ctx context.Context, key string) (release func(), err error)
}

// KeyHash returns the hex SHA-256 of a subscription key: limiters store and
// lock on this, never on the key itself.
func KeyHash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// pendingTimeout is how long a grant whose answer never came (the worker
// died) keeps its slot: longer than any request (the default HTTP timeout
// is 30s).
const pendingTimeout = time.Minute

// slidingLog keeps the times of the last limit grants of one key, sorted
// by time. A grant at now is allowed when fewer than limit of them fall in
// (now-window, now], i.e. when the oldest is at least window old. A grant
// made with Acquire is pending (stored negated) until its answer arrives:
// a pending request may still reach the server, so its slot is not reused
// however old the grant is (up to pendingTimeout).
type slidingLog []int64 // unix nanoseconds; negative = pending

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

func (l slidingLog) sort() {
	slices.SortFunc(l, func(a, b int64) int { return cmp.Compare(abs64(a), abs64(b)) })
}

// take records a grant at now and returns (its recorded time, 0), or
// returns how long to wait before a grant may be possible. Recorded times
// are unique per key, so complete can find them.
func (l *slidingLog) take(now time.Time, limit int, window time.Duration, pending bool) (int64, time.Duration) {
	n := now.UnixNano()
	if len(*l) > limit { // the limit was lowered: keep the newest
		*l = (*l)[len(*l)-limit:]
	}
	if len(*l) == limit {
		// The slot that frees first: a completed grant frees window after
		// it, a pending one pendingTimeout after it.
		best, bestFree := 0, int64(math.MaxInt64)
		for i, v := range *l {
			free := v + int64(window)
			if v < 0 {
				free = -v + int64(pendingTimeout)
			}
			if free < bestFree {
				best, bestFree = i, free
			}
		}
		if bestFree > n {
			return 0, time.Duration(bestFree - n)
		}
		*l = slices.Delete(*l, best, best+1)
	}
	if k := len(*l); k > 0 && abs64((*l)[k-1]) >= n {
		n = abs64((*l)[k-1]) + 1
	}
	if pending {
		*l = append(*l, -n)
	} else {
		*l = append(*l, n)
	}
	return n, 0
}

// complete marks the pending grant recorded at granted as answered at at
// (or at the grant, if at is earlier): the server saw the request no
// later. Unknown grants are ignored.
func (l slidingLog) complete(granted, at int64) bool {
	i := slices.Index(l, -granted)
	if i < 0 {
		return false
	}
	at = max(at, granted)
	for _, v := range l {
		if abs64(v) == at {
			at++ // keep times unique
		}
	}
	l[i] = at
	l.sort()
	return true
}

func (l slidingLog) marshal() []byte {
	b := make([]byte, 8*len(l))
	for i, v := range l {
		binary.BigEndian.PutUint64(b[8*i:], uint64(v))
	}
	return b
}

func unmarshalLog(b []byte) slidingLog {
	l := make(slidingLog, 0, len(b)/8)
	for i := 0; i+8 <= len(b); i += 8 {
		l = append(l, int64(binary.BigEndian.Uint64(b[i:])))
	}
	return l
}

func checkLimit(limit int, window time.Duration) error {
	if limit <= 0 || window <= 0 {
		return fmt.Errorf("appio: rate limit must be positive (got %d per %s)", limit, window)
	}
	return nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// LocalLimiter is an in-process sliding-window limiter: enough for a
// deployment with a single worker. It is safe for concurrent use.
type LocalLimiter struct {
	limit  int
	window time.Duration
	now    func() time.Time
	mu     sync.Mutex
	logs   map[string]*slidingLog
}

// NewLocalLimiter allows limit requests in any window per key.
func NewLocalLimiter(limit int, window time.Duration) (*LocalLimiter, error) {
	if err := checkLimit(limit, window); err != nil {
		return nil, err
	}
	return &LocalLimiter{limit: limit, window: window, now: time.Now, logs: map[string]*slidingLog{}}, nil
}

// Wait blocks until a request with key may be sent.
func (l *LocalLimiter) Wait(ctx context.Context, key string) error {
	_, err := l.acquire(ctx, key, false)
	return err
}

// Acquire is Wait, returning a release to call when the answer arrived.
// Until then the grant's slot stays taken.
func (l *LocalLimiter) Acquire(ctx context.Context, key string) (func(), error) {
	return l.acquire(ctx, key, true)
}

func (l *LocalLimiter) acquire(ctx context.Context, key string, pending bool) (func(), error) {
	h := KeyHash(key)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		l.mu.Lock()
		lg := l.logs[h]
		if lg == nil {
			lg = &slidingLog{}
			l.logs[h] = lg
		}
		granted, wait := lg.take(l.now(), l.limit, l.window, pending)
		l.mu.Unlock()
		if wait == 0 {
			return func() {
				l.mu.Lock()
				defer l.mu.Unlock()
				if lg := l.logs[h]; lg != nil {
					lg.complete(granted, l.now().UnixNano())
				}
			}, nil
		}
		if err := sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// SQLLimiter is a sliding-window limiter whose state lives in the SQL state
// store, so every worker of a deployment (processes on several hosts
// sharing PostgreSQL, or processes sharing one SQLite file) respects one
// limit per subscription key. Each key has one row holding the times of its
// last limit grants; a grant is a locked read-modify-write of that row in a
// transaction. Keys are stored as SHA-256 hashes.
type SQLLimiter struct {
	db      *sql.DB
	dialect string
	limit   int
	window  time.Duration
	now     func() time.Time

	mu    sync.Mutex
	gates map[string]chan struct{}
}

// NewSQLLimiter brings the table ponte_appio_rate up to date (see
// RateMigrations) and returns a limiter allowing limit requests in any
// window per key. dialect is "sqlite" or "postgres". On PostgreSQL the
// database server's clock is used, so workers with skewed clocks agree; on
// SQLite (one host) the local clock.
func NewSQLLimiter(db *sql.DB, dialect string, limit int, window time.Duration) (*SQLLimiter, error) {
	if db == nil {
		return nil, errors.New("appio: NewSQLLimiter: nil db")
	}
	if dialect != store.SQLite && dialect != store.Postgres {
		return nil, fmt.Errorf("appio: NewSQLLimiter: dialect %q, want %q or %q", dialect, store.SQLite, store.Postgres)
	}
	if err := checkLimit(limit, window); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := store.MigrateDB(ctx, db, dialect, RateMigrations); err != nil {
		return nil, fmt.Errorf("appio: rate limiter: %w", err)
	}
	return &SQLLimiter{db: db, dialect: dialect, limit: limit, window: window, now: time.Now, gates: map[string]chan struct{}{}}, nil
}

// gate serializes this process's callers per key, so that only one of them
// at a time contends for the database row (the others could not get a
// grant before it anyway).
func (l *SQLLimiter) gate(h string) chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	g := l.gates[h]
	if g == nil {
		g = make(chan struct{}, 1)
		l.gates[h] = g
	}
	return g
}

// Wait blocks until a request with key may be sent. A database error ends
// the wait with that error: the request is then not sent.
func (l *SQLLimiter) Wait(ctx context.Context, key string) error {
	_, err := l.acquire(ctx, key, false)
	return err
}

// Acquire is Wait, returning a release to call when the answer arrived.
// release records the answer time in the database (errors are ignored: the
// slot then stays taken for a minute).
func (l *SQLLimiter) Acquire(ctx context.Context, key string) (func(), error) {
	return l.acquire(ctx, key, true)
}

func (l *SQLLimiter) acquire(ctx context.Context, key string, pending bool) (func(), error) {
	h := KeyHash(key)
	g := l.gate(h)
	select {
	case g <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-g }()
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		granted, wait, err := l.try(ctx, h, pending)
		if err != nil {
			return nil, fmt.Errorf("appio: rate limiter: %w", err)
		}
		if wait == 0 {
			return func() {
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				defer cancel()
				_ = l.complete(rctx, h, granted)
			}, nil
		}
		if err := sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// try takes a grant for key hash h, or says how long to wait.
func (l *SQLLimiter) try(ctx context.Context, h string, pending bool) (granted int64, wait time.Duration, err error) {
	err = l.withRow(ctx, h, func(lg *slidingLog, now time.Time) bool {
		granted, wait = lg.take(now, l.limit, l.window, pending)
		return wait == 0
	})
	return granted, wait, err
}

// complete moves a grant to the answer's time.
func (l *SQLLimiter) complete(ctx context.Context, h string, granted int64) error {
	return l.withRow(ctx, h, func(lg *slidingLog, now time.Time) bool {
		return lg.complete(granted, now.UnixNano())
	})
}

// withRow runs f on the key's log inside a transaction holding the row (or
// SQLite's write lock), with the current time; it writes the log back when
// f returns true.
func (l *SQLLimiter) withRow(ctx context.Context, h string, f func(lg *slidingLog, now time.Time) bool) error {
	conn, err := l.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	begin := "BEGIN"
	switch l.dialect {
	case store.SQLite:
		// Take the write lock up front: a read that upgrades to a write can
		// fail with SQLITE_BUSY without waiting.
		begin = "BEGIN IMMEDIATE"
	case store.Postgres:
		// The grants are a rate window, not a record: a crash that loses
		// the last few hundred milliseconds of them lets at most that many
		// requests through again, which App IO answers with a 429 the
		// client waits out. Not waiting for the WAL flush at each commit
		// is most of what makes a grant cheap on PostgreSQL
		// (BenchmarkSQLLimiterAcquire); every other table keeps its
		// durable commits. Both statements go in one round trip (no
		// arguments: the simple protocol).
		begin = "BEGIN; SET LOCAL synchronous_commit TO OFF"
	}
	if _, err := conn.ExecContext(ctx, begin); err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()
	q := func(s string) string { return store.Rebind(l.dialect, s) }
	sel := `SELECT grants FROM ponte_appio_rate WHERE key_hash = ?`
	if l.dialect == store.Postgres {
		sel += " FOR UPDATE"
	}
	var raw []byte
	err = conn.QueryRowContext(ctx, q(sel), h).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		// The key's first grant: create its row (another worker may be
		// doing the same), then lock it.
		if _, err := conn.ExecContext(ctx, q(`INSERT INTO ponte_appio_rate (key_hash, grants) VALUES (?, ?) ON CONFLICT (key_hash) DO NOTHING`), h, []byte{}); err != nil {
			return err
		}
		err = conn.QueryRowContext(ctx, q(sel), h).Scan(&raw)
	}
	if err != nil {
		return err
	}
	now := l.now()
	if l.dialect == store.Postgres {
		// Read after the row lock is held, so the time is the grant's.
		var us int64
		if err := conn.QueryRowContext(ctx, `SELECT (extract(epoch from clock_timestamp()) * 1000000)::bigint`).Scan(&us); err != nil {
			return err
		}
		now = time.UnixMicro(us)
	}
	lg := unmarshalLog(raw)
	if !f(&lg, now) {
		return nil
	}
	if l.dialect == store.Postgres {
		// The update and the commit in one round trip: both values are hex
		// this package made (the key's SHA-256, the encoded log), so they
		// can be written into the statement.
		if _, err := conn.ExecContext(ctx, fmt.Sprintf(`UPDATE ponte_appio_rate SET grants = '\x%s'::bytea WHERE key_hash = '%s'; COMMIT`,
			hex.EncodeToString(lg.marshal()), hexOnly(h))); err != nil {
			return err
		}
		done = true
		return nil
	}
	if _, err := conn.ExecContext(ctx, q(`UPDATE ponte_appio_rate SET grants = ? WHERE key_hash = ?`), lg.marshal(), h); err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return err
	}
	done = true
	return nil
}

// hexOnly returns s when it is hexadecimal, as key hashes are (KeyHash),
// and "" otherwise, so that nothing but hex reaches a statement.
func hexOnly(s string) string {
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return ""
		}
	}
	return s
}

// limitedTransport takes a grant before every request it sends, retries of
// reads included.
type limitedTransport struct {
	base    http.RoundTripper
	limiter Limiter
}

func (t *limitedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	key := req.Header.Get(SubscriptionKeyHeader)
	var release func()
	var err error
	if al, ok := t.limiter.(AnswerLimiter); ok {
		release, err = al.Acquire(req.Context(), key)
	} else {
		err = t.limiter.Wait(req.Context(), key)
	}
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, &limiterError{err: err}
	}
	resp, err := t.base.RoundTrip(req)
	if release != nil {
		release()
	}
	return resp, err
}

// limiterError marks a request that was not sent because no grant came.
type limiterError struct{ err error }

func (e *limiterError) Error() string {
	if strings.HasPrefix(e.err.Error(), "appio: rate limiter") {
		return e.err.Error()
	}
	return "appio: rate limiter: " + e.err.Error()
}
func (e *limiterError) Unwrap() error { return e.err }
