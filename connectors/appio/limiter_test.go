package appio

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ponte-pa/ponte/internal/store"
	appiomock "github.com/ponte-pa/ponte/mocks/appio"
)

func TestSlidingLog(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	var l slidingLog
	// Grants at 0 and 20ms are plain (Wait); the one at 10ms is pending
	// (Acquire) until its answer comes.
	for _, g := range []struct {
		at      int
		pending bool
	}{{0, false}, {10, true}, {20, false}} {
		if got, w := l.take(ms(g.at), 3, time.Second, g.pending); w != 0 || got != ms(g.at).UnixNano() {
			t.Fatalf("grant at %dms: (%d, %s)", g.at, got, w)
		}
	}
	if _, w := l.take(ms(400), 3, time.Second, false); w != 600*time.Millisecond {
		t.Errorf("4th grant in the window: wait %s, want 600ms", w)
	}
	if _, w := l.take(ms(1000), 3, time.Second, false); w != 0 {
		t.Errorf("at 1s: wait %s, want a grant (the grant at 0 is a second old)", w)
	}
	// The pending grant at 10ms keeps its slot after 1.01s; the one at
	// 20ms frees first.
	if _, w := l.take(ms(1015), 3, time.Second, false); w != 5*time.Millisecond {
		t.Errorf("at 1015ms: wait %s, want 5ms (the pending grant is skipped)", w)
	}
	if _, w := l.take(ms(1020), 3, time.Second, false); w != 0 {
		t.Errorf("at 1020ms: wait %s, want a grant", w)
	}
	if _, w := l.take(ms(1500), 3, time.Second, false); w != 500*time.Millisecond {
		t.Errorf("at 1500ms: wait %s, want 500ms (the grant at 1s)", w)
	}
	// Its answer came at 1.2s: from then it counts like any grant.
	if !l.complete(ms(10).UnixNano(), ms(1200).UnixNano()) {
		t.Fatal("complete did not find the pending grant")
	}
	if l.complete(ms(10).UnixNano(), ms(1300).UnixNano()) {
		t.Error("completed twice")
	}
	if _, w := l.take(ms(2000), 3, time.Second, false); w != 0 {
		t.Errorf("at 2s: wait %s, want a grant", w)
	}
	if _, w := l.take(ms(2000), 3, time.Second, false); w != 20*time.Millisecond {
		t.Errorf("at 2s again: wait %s, want 20ms (the grant at 1020ms)", w)
	}
	// A pending grant whose answer never comes frees after pendingTimeout.
	var p slidingLog
	p.take(t0, 1, time.Second, true)
	if _, w := p.take(ms(1000), 1, time.Second, false); w != pendingTimeout-time.Second {
		t.Errorf("lost answer: wait %s, want %s", w, pendingTimeout-time.Second)
	}
	// Same-instant grants get unique times.
	var u slidingLog
	u.take(t0, 3, time.Second, false)
	u.take(t0, 3, time.Second, true)
	if abs64(u[0]) == abs64(u[1]) {
		t.Errorf("equal grant times %v", u)
	}
	if l.complete(42, t0.UnixNano()) {
		t.Error("complete found a grant that does not exist")
	}
	// A lowered limit keeps the newest grants.
	if _, w := l.take(ms(10000), 1, time.Second, false); w != 0 || len(l) != 1 || l[0] != ms(10000).UnixNano() {
		t.Errorf("lowered limit: wait %s, log %v", w, l)
	}
	if got := unmarshalLog(u.marshal()); len(got) != 2 || got[0] != u[0] || got[1] != u[1] {
		t.Errorf("marshal round trip: %v != %v", got, u)
	}
}

func TestLocalLimiterFakeClock(t *testing.T) {
	clock := newFakeClock()
	l, err := NewLocalLimiter(2, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	l.now = clock.Now
	ctx := context.Background()
	for range 2 {
		if err := l.Wait(ctx, "k1"); err != nil {
			t.Fatal(err)
		}
	}
	// Keys are limited separately.
	if err := l.Wait(ctx, "k2"); err != nil {
		t.Fatal(err)
	}
	// The third call for k1 must wait for the (fake) minute: with a short
	// deadline it gives up.
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := l.Wait(short, "k1"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("third grant within the window: %v, want DeadlineExceeded", err)
	}
	clock.Advance(time.Minute)
	if err := l.Wait(ctx, "k1"); err != nil {
		t.Errorf("after the window: %v", err)
	}
	if _, err := NewLocalLimiter(0, time.Second); err == nil {
		t.Error("limit 0 accepted")
	}
}

func sqliteDB(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// postgresDB connects to the test PostgreSQL and gives the test its own
// schema-less table names by dropping the tables first.
func postgresDB(t testing.TB) *store.DB {
	t.Helper()
	dsn := os.Getenv("PONTE_TEST_POSTGRES")
	if dsn == "" {
		dsn = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Skipf("PostgreSQL not reachable (set PONTE_TEST_POSTGRES to a DSN to run this test): %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func bothDBs(t *testing.T, f func(t *testing.T, db *store.DB)) {
	t.Run("sqlite", func(t *testing.T) { f(t, sqliteDB(t)) })
	t.Run("postgres", func(t *testing.T) { f(t, postgresDB(t)) })
}

func TestSQLLimiter(t *testing.T) {
	bothDBs(t, func(t *testing.T, db *store.DB) {
		key := fmt.Sprintf("limiter-test-%d", time.Now().UnixNano())
		const limit, window = 5, 300 * time.Millisecond
		// Two limiters on the same database act as two workers.
		var ls []*SQLLimiter
		for range 2 {
			l, err := NewSQLLimiter(db.DB, db.Dialect, limit, window)
			if err != nil {
				t.Fatal(err)
			}
			ls = append(ls, l)
		}
		ctx := context.Background()
		start := time.Now()
		var mu sync.Mutex
		var grants []time.Time
		var wg sync.WaitGroup
		for g := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 3 {
					if err := ls[g%2].Wait(ctx, key); err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					grants = append(grants, time.Now())
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(grants) != 18 {
			t.Fatalf("%d grants, want 18", len(grants))
		}
		// The database must hold the hash, never the key.
		var n int
		if err := db.QueryRowContext(ctx, db.Rebind(`SELECT count(*) FROM ponte_appio_rate WHERE key_hash = ?`), KeyHash(key)).Scan(&n); err != nil || n != 1 {
			t.Errorf("rows for the key hash: %d, %v", n, err)
		}
		var raw []byte
		if err := db.QueryRowContext(ctx, db.Rebind(`SELECT grants FROM ponte_appio_rate WHERE key_hash = ?`), KeyHash(key)).Scan(&raw); err != nil {
			t.Fatal(err)
		}
		lg := unmarshalLog(raw)
		if len(lg) != limit {
			t.Errorf("%d grants kept, want %d", len(lg), limit)
		}
		if err := db.QueryRowContext(ctx, db.Rebind(`SELECT count(*) FROM ponte_appio_rate WHERE key_hash = ?`), key).Scan(&n); err != nil || n != 0 {
			t.Errorf("rows keyed by the plain key: %d, %v", n, err)
		}
		// 18 grants at 5 per window: the last is at least 3 windows after
		// the first (a lower bound that holds however slow the machine).
		if span := time.Unix(0, abs64(lg[len(lg)-1])).Sub(start); span < 3*window {
			t.Errorf("the 18th grant came %s after the start, want ≥ %s", span, 3*window)
		}
		for i := 1; i < len(lg); i++ {
			if abs64(lg[i]) <= abs64(lg[i-1]) {
				t.Errorf("stored grants not increasing: %v", lg)
			}
		}
	})
}

func TestSQLLimiterBadArgs(t *testing.T) {
	db := sqliteDB(t)
	for _, tc := range []struct {
		db      *sql.DB
		dialect string
		limit   int
	}{{nil, "sqlite", 1}, {db.DB, "mysql", 1}, {db.DB, "sqlite", 0}} {
		if _, err := NewSQLLimiter(tc.db, tc.dialect, tc.limit, time.Second); err == nil {
			t.Errorf("NewSQLLimiter(%v, %q, %d) accepted", tc.db != nil, tc.dialect, tc.limit)
		}
	}
}

// TestClientUsesLimiter checks that every HTTP request, read retries
// included, takes a grant, and that a limiter failure sends nothing.
func TestClientUsesLimiter(t *testing.T) {
	ctx := context.Background()
	cl := &countingLimiter{}
	e := newEnv(t, nil, Options{Limiter: cl})
	e.mock.Faults().FailNext(1, 500)
	if _, err := e.client.GetProfile(ctx, keyPayments, fcAllowed); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.SubmitMessage(ctx, keyPayments, validMessage()); err != nil {
		t.Fatal(err)
	}
	if cl.n != 3 || e.mock.Stats().Requests != 3 {
		t.Errorf("limiter saw %d requests, mock %d; want 3 each (a retried read counts twice)", cl.n, e.mock.Stats().Requests)
	}
	if cl.keys[0] != keyPayments {
		t.Errorf("limiter keyed by %q", cl.keys[0])
	}
	cl.err = errors.New("database down")
	_, err := e.client.SubmitMessage(ctx, keyPayments, validMessage())
	ae := asAPIError(t, err)
	if ae.Kind != KindRetryable || ae.Ambiguous || !strings.Contains(err.Error(), "database down") {
		t.Errorf("limiter failure: %v, want a non-ambiguous retryable error", err)
	}
	if e.mock.Stats().Requests != 3 {
		t.Errorf("a request went out without a grant")
	}
}

type countingLimiter struct {
	mu   sync.Mutex
	n    int
	keys []string
	err  error
}

func (c *countingLimiter) Wait(_ context.Context, key string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	c.n++
	c.keys = append(c.keys, key)
	return nil
}

func TestLedger(t *testing.T) {
	bothDBs(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l, err := NewLedger(db.DB, db.Dialect)
		if err != nil {
			t.Fatal(err)
		}
		run := fmt.Sprint(time.Now().UnixNano())
		k := func(s string) string { return LedgerKey("c"+run, s, "payments") }

		// New key: claimed; second Begin finds it sending.
		if e, err := l.Begin(ctx, k("a")); e != nil || err != nil {
			t.Fatalf("first Begin = %+v, %v", e, err)
		}
		if e, err := l.Begin(ctx, k("a")); err != nil || e == nil || e.State != LedgerSending {
			t.Fatalf("second Begin = %+v, %v; want sending", e, err)
		}
		if err := l.Done(ctx, k("a"), "01ID"); err != nil {
			t.Fatal(err)
		}
		if e, err := l.Begin(ctx, k("a")); err != nil || e == nil || e.State != LedgerSent || e.MessageID != "01ID" || e.Attempts != 1 {
			t.Fatalf("Begin after Done = %+v, %v", e, err)
		}
		// Definite failure: may be claimed again, attempts count.
		if _, err := l.Begin(ctx, k("b")); err != nil {
			t.Fatal(err)
		}
		if err := l.Fail(ctx, k("b"), true); err != nil {
			t.Fatal(err)
		}
		if e, err := l.Begin(ctx, k("b")); e != nil || err != nil {
			t.Fatalf("Begin after a definite failure = %+v, %v; want a new claim", e, err)
		}
		if e, err := l.Get(ctx, k("b")); err != nil || e.Attempts != 2 || e.State != LedgerSending {
			t.Errorf("entry %+v, %v; want 2 attempts, sending", e, err)
		}
		// Ambiguous failure: never claimed again.
		if _, err := l.Begin(ctx, k("c")); err != nil {
			t.Fatal(err)
		}
		if err := l.Fail(ctx, k("c"), false); err != nil {
			t.Fatal(err)
		}
		if e, err := l.Begin(ctx, k("c")); err != nil || e == nil || e.State != LedgerUnknown {
			t.Fatalf("Begin after an ambiguous failure = %+v, %v; want unknown", e, err)
		}
		if err := l.Done(ctx, k("nope"), "x"); !errors.Is(err, ErrLedgerKey) {
			t.Errorf("Done on an unknown key: %v", err)
		}
		if _, err := l.Begin(ctx, ""); !errors.Is(err, ErrLedgerKey) {
			t.Errorf("Begin with an empty key: %v", err)
		}
		// Concurrent Begins: exactly one claim.
		var wg sync.WaitGroup
		var mu sync.Mutex
		claims := 0
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e, err := l.Begin(ctx, k("race"))
				if err != nil {
					t.Error(err)
					return
				}
				if e == nil {
					mu.Lock()
					claims++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if claims != 1 {
			t.Errorf("%d concurrent Begins claimed the key, want 1", claims)
		}
	})
}

func TestSubmitOnce(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil, Options{})
	db := sqliteDB(t)
	l, err := NewLedger(db.DB, db.Dialect)
	if err != nil {
		t.Fatal(err)
	}
	id, prev, err := e.client.SubmitOnce(ctx, l, keyPayments, "k1", validMessage())
	if err != nil || prev != nil || id == "" {
		t.Fatalf("first = %q, %+v, %v", id, prev, err)
	}
	id2, prev, err := e.client.SubmitOnce(ctx, l, keyPayments, "k1", validMessage())
	if err != nil || prev == nil || id2 != id {
		t.Fatalf("second = %q, %+v, %v; want the first id %s", id2, prev, err, id)
	}
	// A lost response is ambiguous: recorded unknown, never resent.
	e.mock.Faults().LoseNext(1)
	if _, _, err := e.client.SubmitOnce(ctx, l, keyPayments, "k2", validMessage()); !IsAmbiguous(err) {
		t.Fatalf("lost response: %v, want ambiguous", err)
	}
	if _, prev, err := e.client.SubmitOnce(ctx, l, keyPayments, "k2", validMessage()); err != nil || prev == nil || prev.State != LedgerUnknown {
		t.Errorf("after a lost response: %+v, %v; want unknown", prev, err)
	}
	// A 503 is definite: the next attempt sends.
	e.mock.Faults().FailNext(1, 503)
	if _, _, err := e.client.SubmitOnce(ctx, l, keyPayments, "k3", validMessage()); IsAmbiguous(err) || err == nil {
		t.Fatalf("503: %v", err)
	}
	if id, prev, err := e.client.SubmitOnce(ctx, l, keyPayments, "k3", validMessage()); err != nil || prev != nil || id == "" {
		t.Errorf("retry after 503 = %q, %+v, %v", id, prev, err)
	}
	if n := len(e.mock.Messages()); n != 3 {
		t.Errorf("mock stored %d messages, want 3 (k1, k2 once, k3)", n)
	}
}

// BenchmarkLimitedBulk measures the fraction of the mock's limit achieved
// by 4 workers sharing a SQL limiter (SQLite file), with limits scaled
// down to 100 requests per 250 ms.
func BenchmarkLimitedBulk(b *testing.B) {
	mock := appiomock.New(appiomock.Options{DefaultKnown: true, RateLimit: bulkLimit, RateWindow: bulkWindow})
	ts := httptest.NewServer(mock)
	defer ts.Close()
	workers := newBulkWorkers(b, filepath.Join(b.TempDir(), "state.db"), ts.URL, 4, bulkLimit, bulkWindow)
	n := max(b.N, 1000)
	b.ResetTimer()
	res := runBulk(context.Background(), workers, 8, n)
	b.StopTimer()
	if len(res.errs) > 0 {
		b.Fatal(res.errs[0])
	}
	var at []time.Time
	for _, r := range mock.Requests() {
		at = append(at, r.At)
	}
	frac, peak := windowFraction(at, bulkLimit, bulkWindow)
	b.ReportMetric(frac, "fraction-of-limit")
	b.ReportMetric(float64(peak), "peak-per-window")
	b.ReportMetric(float64(mock.Stats().RateLimited), "429s")
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msgs/s")
}
