package appio

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ponte-pa/ponte/connectors/channels"
	"github.com/ponte-pa/ponte/connectors/failure"
	"github.com/ponte-pa/ponte/internal/store"
	"github.com/ponte-pa/ponte/internal/store/storetest"
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

func TestSQLLimiter(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		key := fmt.Sprintf("limiter-test-%d", time.Now().UnixNano())
		const limit, window = 5, 300 * time.Millisecond
		// Two limiters on two handles of one database act as two workers.
		var ls []*SQLLimiter
		for _, h := range []*store.DB{db, storetest.Reopen(t, db)} {
			l, err := NewSQLLimiter(h.DB, h.Dialect, limit, window)
			if err != nil {
				t.Fatal(err)
			}
			ls = append(ls, l)
		}
		start := time.Now()
		var mu sync.Mutex
		var grants []time.Time
		var wg sync.WaitGroup
		for g := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 3 {
					if err := ls[g%2].Wait(storetest.Ctx(t), key); err != nil {
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
		if err := db.QueryRowContext(storetest.Ctx(t), db.Rebind(`SELECT count(*) FROM ponte_appio_rate WHERE key_hash = ?`), KeyHash(key)).Scan(&n); err != nil || n != 1 {
			t.Errorf("rows for the key hash: %d, %v", n, err)
		}
		var raw []byte
		if err := db.QueryRowContext(storetest.Ctx(t), db.Rebind(`SELECT grants FROM ponte_appio_rate WHERE key_hash = ?`), KeyHash(key)).Scan(&raw); err != nil {
			t.Fatal(err)
		}
		lg := unmarshalLog(raw)
		if len(lg) != limit {
			t.Errorf("%d grants kept, want %d", len(lg), limit)
		}
		if err := db.QueryRowContext(storetest.Ctx(t), db.Rebind(`SELECT count(*) FROM ponte_appio_rate WHERE key_hash = ?`), key).Scan(&n); err != nil || n != 0 {
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
	db := storetest.SQLite(t)
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

// TestAppIOTablesUpgradeFromPreMigrationSchema opens a database made before
// versioned migrations (the table as NewSQLLimiter created it, no version
// table): the limiter works and its component is recorded.
func TestAppIOTablesUpgradeFromPreMigrationSchema(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		blob := "BLOB"
		if db.Dialect == store.Postgres {
			blob = "BYTEA"
		}
		for _, q := range []string{
			`CREATE TABLE ponte_appio_rate (key_hash TEXT PRIMARY KEY, grants ` + blob + ` NOT NULL)`,
		} {
			if _, err := db.ExecContext(storetest.Ctx(t), q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		lim, err := NewSQLLimiter(db.DB, db.Dialect, 2, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if err := lim.Wait(storetest.Ctx(t), "key"); err != nil {
			t.Fatal(err)
		}
		v, err := db.Versions(storetest.Ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if v[RateMigrations] != 1 {
			t.Errorf("versions %v, want %s at 1", v, RateMigrations)
		}
	})
}

// TestSenderThroughOutbox sends App IO messages through the outbox against
// the mock: a lost response is ambiguous, recorded unknown and never sent
// again; a 503 is retryable, and the next run sends it.
func TestSenderThroughOutbox(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil, Options{})
	ob, err := channels.NewOutbox(ctx, storetest.SQLite(t))
	if err != nil {
		t.Fatal(err)
	}
	s := &Sender{Client: e.client, Key: keyPayments}
	vm := validMessage()
	send := func(item int64) channels.Result {
		t.Helper()
		k := channels.Key{Scope: "test", Item: item, Slot: "io"}
		rs, err := ob.Run(ctx, channels.Batch{Send: []channels.Delivery{{Key: k, Sender: s,
			Message: channels.Message{To: channels.Recipient{FiscalCode: vm.FiscalCode}, Subject: vm.Content.Subject, Markdown: vm.Content.Markdown}}}})
		if err != nil {
			t.Fatal(err)
		}
		return rs[0]
	}
	if r := send(1); r.State != channels.StateSent || r.MessageID == "" {
		t.Fatalf("first = %+v", r)
	}
	if r := send(1); !r.Before || r.State != channels.StateSent {
		t.Fatalf("second = %+v, want the first found", r)
	}
	e.mock.Faults().LoseNext(1)
	if r := send(2); r.State != channels.StateUnknown || !failure.IsAmbiguous(r.Err) {
		t.Fatalf("lost response: %+v, want unknown", r)
	}
	if r := send(2); !r.Before || r.State != channels.StateUnknown {
		t.Errorf("after a lost response: %+v; want unknown, not sent again", r)
	}
	e.mock.Faults().FailNext(1, 503)
	if r := send(3); r.State != channels.StateRetry || !failure.IsRetryable(r.Err) {
		t.Fatalf("503: %+v, want retry", r)
	}
	if r := send(3); r.State != channels.StateSent || r.Before {
		t.Errorf("retry after 503 = %+v", r)
	}
	if n := len(e.mock.Messages()); n != 3 {
		t.Errorf("mock stored %d messages, want 3 (1, 2 once, 3)", n)
	}
}

// BenchmarkLimitedBulk measures the fraction of the mock's limit achieved
// by 4 workers sharing a SQL limiter (SQLite file), with limits scaled
// down to 100 requests per 250 ms: throughput is measured here, never
// asserted in a test.
func BenchmarkLimitedBulk(b *testing.B) {
	mock := appiomock.New(appiomock.Options{DefaultKnown: true, RateLimit: bulkLimit, RateWindow: bulkWindow})
	ts := httptest.NewServer(mock)
	defer ts.Close()
	workers := newBulkWorkers(b, storetest.SQLite(b), ts.URL, 4, bulkLimit, bulkWindow)
	n := max(b.N, 1000)
	b.ResetTimer()
	res := runBulk(workers, 8, n)
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

// BenchmarkSQLLimiterAcquire is the cost of one grant and its release
// (what every App IO request pays) on each dialect, with a limit that
// never makes it wait.
func BenchmarkSQLLimiterAcquire(b *testing.B) {
	for _, d := range []string{store.SQLite, store.Postgres} {
		b.Run(d, func(b *testing.B) {
			var db *store.DB
			if d == store.SQLite {
				db = storetest.SQLiteAt(b, filepath.Join(b.TempDir(), "state.db"))
			} else {
				db = storetest.Postgres(b)
			}
			l, err := NewSQLLimiter(db.DB, db.Dialect, DefaultRateLimit, time.Millisecond)
			if err != nil {
				b.Fatal(err)
			}
			key := fmt.Sprintf("bench-%d", time.Now().UnixNano())
			ctx := context.Background()
			b.ResetTimer()
			for b.Loop() {
				release, err := l.Acquire(ctx, key)
				if err != nil {
					b.Fatal(err)
				}
				release()
			}
		})
	}
}
