package spid_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ponte-pa/ponte/connectors/spid"
	"github.com/ponte-pa/ponte/internal/gateway/gatewaytest"
	"github.com/ponte-pa/ponte/internal/store"
	"github.com/ponte-pa/ponte/internal/store/storetest"
)

func stores() map[string]func(t *testing.T) spid.RequestStore {
	return map[string]func(t *testing.T) spid.RequestStore{
		"memory":       func(t *testing.T) spid.RequestStore { return spid.NewMemoryStore() },
		store.SQLite:   func(t *testing.T) spid.RequestStore { return sqlStore(t, storetest.SQLite(t)) },
		store.Postgres: func(t *testing.T) spid.RequestStore { return sqlStore(t, storetest.Postgres(t)) },
	}
}

func sqlStore(t *testing.T, db *store.DB) *spid.SQLStore {
	t.Helper()
	s, err := spid.NewSQLStore(storetest.Ctx(t), db)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func rid(t *testing.T) string {
	t.Helper()
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "_t" + hex.EncodeToString(b)
}

// seenFor is id for Consume, kept for an hour.
func seenFor(now time.Time, id string) spid.SeenID {
	return spid.SeenID{ID: id, Until: now.Add(time.Hour)}
}

func TestRequestStores(t *testing.T) {
	for name, mk := range stores() {
		t.Run(name, func(t *testing.T) {
			s := mk(t)
			ctx := t.Context()
			now := time.Now()
			p := spid.PendingRequest{ID: rid(t), IdP: "https://idp", Level: 2, AttrIndex: 1, IssueInstant: now.UTC().Truncate(time.Millisecond), Expires: now.Add(time.Minute), RelayState: "rs_1", ReturnTo: "/x"}
			if err := s.Put(ctx, p); err != nil {
				t.Fatal(err)
			}
			got, err := s.Pending(ctx, p.ID, now)
			if err != nil || got.IdP != p.IdP || got.Level != 2 || got.AttrIndex != 1 || got.RelayState != "rs_1" || got.ReturnTo != "/x" || !got.IssueInstant.Equal(p.IssueInstant) {
				t.Fatalf("pending: %v %+v", err, got)
			}
			if _, err := s.Pending(ctx, p.ID, now); err != nil {
				t.Fatalf("reading twice: %v", err)
			}
			resp, assertion := seenFor(now, "resp:"+rid(t)), seenFor(now, "assertion:"+rid(t))
			if err := s.Consume(ctx, p.ID, []spid.SeenID{resp, assertion}, now); err != nil {
				t.Fatalf("consume: %v", err)
			}
			if _, err := s.Pending(ctx, p.ID, now); !errors.Is(err, spid.ErrNotPending) {
				t.Fatalf("pending after consume: %v", err)
			}
			if err := s.Consume(ctx, p.ID, nil, now); !errors.Is(err, spid.ErrNotPending) {
				t.Fatalf("second consume: %v", err)
			}
			for _, id := range []string{resp.ID, assertion.ID} {
				if seen, err := s.Seen(ctx, id, now); !seen || err != nil {
					t.Fatalf("%s not seen after consume: %v", id, err)
				}
			}
			if seen, err := s.Seen(ctx, resp.ID, resp.Until.Add(time.Second)); seen || err != nil {
				t.Fatalf("seen after its time: %v %v", seen, err)
			}
			// A request answered with an ID already seen is consumed, the
			// fresh ID recorded, the replayed one named.
			q := spid.PendingRequest{ID: rid(t), Expires: now.Add(time.Minute)}
			if err := s.Put(ctx, q); err != nil {
				t.Fatal(err)
			}
			fresh := seenFor(now, "resp:"+rid(t))
			err = s.Consume(ctx, q.ID, []spid.SeenID{fresh, assertion}, now)
			var re *spid.ReplayError
			if !errors.As(err, &re) || !errors.Is(err, spid.ErrReplayed) || len(re.IDs) != 1 || re.IDs[0] != assertion.ID {
				t.Fatalf("replayed assertion: %v", err)
			}
			if seen, err := s.Seen(ctx, fresh.ID, now); !seen || err != nil {
				t.Fatalf("fresh ID beside a replayed one not recorded: %v %v", seen, err)
			}
			if _, err := s.Pending(ctx, q.ID, now); !errors.Is(err, spid.ErrNotPending) {
				t.Fatalf("request answered with a replay still pending: %v", err)
			}
			exp := spid.PendingRequest{ID: rid(t), Expires: now.Add(time.Minute)}
			if err := s.Put(ctx, exp); err != nil {
				t.Fatal(err)
			}
			late := seenFor(now, "resp:"+rid(t))
			if _, err := s.Pending(ctx, exp.ID, now.Add(2*time.Minute)); !errors.Is(err, spid.ErrNotPending) {
				t.Fatalf("expired pending: %v", err)
			}
			if err := s.Consume(ctx, exp.ID, []spid.SeenID{late}, now.Add(2*time.Minute)); !errors.Is(err, spid.ErrNotPending) {
				t.Fatalf("expired consume: %v", err)
			}
			if seen, err := s.Seen(ctx, late.ID, now); seen || err != nil {
				t.Fatalf("ID recorded for an expired request: %v %v", seen, err)
			}
			if _, err := s.Pending(ctx, rid(t), now); !errors.Is(err, spid.ErrNotPending) {
				t.Fatalf("unknown pending: %v", err)
			}
			if err := s.Consume(ctx, rid(t), []spid.SeenID{late}, now); !errors.Is(err, spid.ErrNotPending) {
				t.Fatalf("unknown consume: %v", err)
			}
			id := rid(t)
			if ok, err := s.MarkSeen(ctx, id, now.Add(time.Hour), now); !ok || err != nil {
				t.Fatalf("first seen: %v %v", ok, err)
			}
			if ok, err := s.MarkSeen(ctx, id, now.Add(time.Hour), now); ok || err != nil {
				t.Fatalf("second seen: %v %v", ok, err)
			}
			// Concurrent consumes of one request: exactly one winner.
			c := spid.PendingRequest{ID: rid(t), Expires: now.Add(time.Minute)}
			if err := s.Put(ctx, c); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			var mu sync.Mutex
			wins := 0
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					err := s.Consume(ctx, c.ID, []spid.SeenID{seenFor(now, "resp:"+rid(t))}, now)
					switch {
					case err == nil:
						mu.Lock()
						wins++
						mu.Unlock()
					case !errors.Is(err, spid.ErrNotPending):
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			if wins != 1 {
				t.Fatalf("%d concurrent winners", wins)
			}
		})
	}
}

func TestACSWithSQLStore(t *testing.T) {
	for _, name := range []string{store.SQLite, store.Postgres} {
		t.Run(name, func(t *testing.T) {
			e := newEnvWith(t, spid.Options{}, stores()[name](t))
			action, v := e.idpForm(t, "2", "0", "mario", "")
			if st, code, ck := e.acs(t, action, v); st != http.StatusSeeOther || ck == nil {
				t.Fatalf("%d %s", st, code)
			}
			if st, code, _ := e.acs(t, action, v); code != "replay" {
				t.Fatalf("replay: %d %s", st, code)
			}
		})
	}
}

// TestSQLStoreUpgradesPreMigrationTables opens a database made before
// versioned migrations (the tables as NewSQLStore created them, no version
// table): pending requests and the replay cache survive.
func TestSQLStoreUpgradesPreMigrationTables(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		now := time.Now()
		p := spid.PendingRequest{ID: rid(t), IdP: "https://idp", Level: 2, Expires: now.Add(time.Hour)}
		data, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		seen := rid(t)
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`CREATE TABLE spid_pending (id TEXT PRIMARY KEY, data TEXT NOT NULL, expires_at BIGINT NOT NULL)`, nil},
			{`CREATE TABLE spid_seen (id TEXT PRIMARY KEY, expires_at BIGINT NOT NULL)`, nil},
			{`INSERT INTO spid_pending (id, data, expires_at) VALUES (?, ?, ?)`, []any{p.ID, string(data), p.Expires.Unix()}},
			{`INSERT INTO spid_seen (id, expires_at) VALUES (?, ?)`, []any{seen, now.Add(time.Hour).Unix()}},
		} {
			if _, err := db.ExecContext(storetest.Ctx(t), db.Rebind(q.sql), q.args...); err != nil {
				t.Fatalf("%s: %v", q.sql, err)
			}
		}
		s := sqlStore(t, db)
		if got, err := s.Pending(storetest.Ctx(t), p.ID, now); err != nil || got.IdP != p.IdP || got.Level != 2 {
			t.Errorf("pending request from before the upgrade: %+v, %v", got, err)
		}
		if ok, err := s.MarkSeen(storetest.Ctx(t), seen, now.Add(time.Hour), now); ok || err != nil {
			t.Errorf("assertion seen before the upgrade: MarkSeen = %v, %v; want a replay", ok, err)
		}
		v, err := db.Versions(storetest.Ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if v[spid.Migrations] != 2 {
			t.Errorf("versions %v, want %s at 2", v, spid.Migrations)
		}
	})
}

// TestSQLStoreSweep: expired rows go in one bulk sweep, live ones stay and
// are still refused; an expired entry the sweep has not reached yet does not
// refuse its ID.
func TestSQLStoreSweep(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		s := sqlStore(t, db)
		s.SweepEvery = time.Hour // only explicit sweeps in this test
		now := time.Now()
		// The first MarkSeen sweeps (nothing yet); then none for an hour.
		live, expired := []string{rid(t), rid(t), rid(t)}, []string{rid(t), rid(t)}
		for _, id := range live {
			if ok, err := s.MarkSeen(storetest.Ctx(t), id, now.Add(time.Hour), now); !ok || err != nil {
				t.Fatalf("live %s: %v %v", id, ok, err)
			}
		}
		for _, id := range expired {
			if ok, err := s.MarkSeen(storetest.Ctx(t), id, now.Add(time.Minute), now); !ok || err != nil {
				t.Fatalf("short-lived %s: %v %v", id, ok, err)
			}
		}
		stale := spid.PendingRequest{ID: rid(t), Expires: now.Add(time.Minute)}
		fresh := spid.PendingRequest{ID: rid(t), Expires: now.Add(time.Hour)}
		for _, p := range []spid.PendingRequest{stale, fresh} {
			if err := s.Put(storetest.Ctx(t), p); err != nil {
				t.Fatal(err)
			}
		}
		later := now.Add(2 * time.Minute)
		// Expired but not swept: the ID is free again, and stays refused
		// for its new lifetime.
		if ok, err := s.MarkSeen(storetest.Ctx(t), expired[0], later.Add(time.Minute), later); !ok || err != nil {
			t.Fatalf("expired, unswept entry: MarkSeen = %v, %v; want true", ok, err)
		}
		if ok, err := s.MarkSeen(storetest.Ctx(t), expired[0], later.Add(time.Minute), later); ok || err != nil {
			t.Fatalf("renewed entry: MarkSeen = %v, %v; want a replay", ok, err)
		}
		n, err := s.Sweep(storetest.Ctx(t), later)
		if err != nil {
			t.Fatal(err)
		}
		if n != 2 { // expired[1] and the stale request
			t.Errorf("sweep deleted %d rows, want 2", n)
		}
		var seen, pending int
		if err := db.QueryRowContext(storetest.Ctx(t), `SELECT COUNT(*) FROM spid_seen`).Scan(&seen); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRowContext(storetest.Ctx(t), `SELECT COUNT(*) FROM spid_pending`).Scan(&pending); err != nil {
			t.Fatal(err)
		}
		if seen != 4 || pending != 1 {
			t.Errorf("after the sweep: %d seen, %d pending; want 4 and 1", seen, pending)
		}
		for _, id := range live {
			if ok, err := s.MarkSeen(storetest.Ctx(t), id, later.Add(time.Hour), later); ok || err != nil {
				t.Errorf("live %s after the sweep: MarkSeen = %v, %v; want a replay", id, ok, err)
			}
		}
		if _, err := s.Pending(storetest.Ctx(t), fresh.ID, later); err != nil {
			t.Errorf("live request after the sweep: %v", err)
		}
	})
}

// TestSQLStoreSweepsByItself: MarkSeen sweeps once SweepEvery has passed.
func TestSQLStoreSweepsByItself(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		s := sqlStore(t, db)
		now := time.Now()
		old := rid(t)
		if ok, err := s.MarkSeen(storetest.Ctx(t), old, now.Add(time.Second), now); !ok || err != nil {
			t.Fatalf("%v %v", ok, err)
		}
		count := func() int {
			var n int
			if err := db.QueryRowContext(storetest.Ctx(t), db.Rebind(`SELECT COUNT(*) FROM spid_seen WHERE id = ?`), old).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		if ok, err := s.MarkSeen(storetest.Ctx(t), rid(t), now.Add(time.Hour), now.Add(30*time.Second)); !ok || err != nil {
			t.Fatalf("%v %v", ok, err)
		}
		if count() != 1 {
			t.Fatal("swept before SweepEvery passed")
		}
		if ok, err := s.MarkSeen(storetest.Ctx(t), rid(t), now.Add(time.Hour), now.Add(61*time.Second)); !ok || err != nil {
			t.Fatalf("%v %v", ok, err)
		}
		if count() != 0 {
			t.Fatal("expired entry not swept after SweepEvery")
		}
	})
}

// TestReplayRefusedAcrossInstances: two SP instances (two stores on two
// handles of one database, as two gateway replicas or a restart have) race
// to mark the same IDs; each ID is accepted exactly once.
func TestReplayRefusedAcrossInstances(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		a, b := sqlStore(t, db), sqlStore(t, storetest.Reopen(t, db))
		now := time.Now()
		for range 20 {
			id := rid(t)
			var wg sync.WaitGroup
			var wins atomic.Int32
			for i := range 8 {
				s := a
				if i%2 == 1 {
					s = b
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					ok, err := s.MarkSeen(storetest.Ctx(t), id, now.Add(time.Hour), now)
					if err != nil {
						t.Error(err)
					}
					if ok {
						wins.Add(1)
					}
				}()
			}
			wg.Wait()
			if wins.Load() != 1 {
				t.Fatalf("%s accepted %d times", id, wins.Load())
			}
		}
	})
}

// TestReplayCacheQueryPlan: with a busy hour's replay cache, the sweep
// reads the expires_at index, not the whole table.
func TestReplayCacheQueryPlan(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		sqlStore(t, db)
		now := time.Now().Unix()
		tx, err := db.BeginTx(storetest.Ctx(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 20000; i += 500 {
			q := `INSERT INTO spid_seen (id, expires_at) VALUES ` + strings.TrimSuffix(strings.Repeat("(?, ?),", 500), ",")
			args := make([]any, 0, 1000)
			for j := range 500 {
				args = append(args, fmt.Sprintf("id%d", i+j), now+int64(i+j))
			}
			if _, err := tx.ExecContext(storetest.Ctx(t), db.Rebind(q), args...); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(storetest.Ctx(t), `ANALYZE spid_seen`); err != nil {
			t.Fatal(err)
		}
		text := storetest.Plan(t, db, db.Dialect, `DELETE FROM spid_seen WHERE expires_at < ?`, now+100)
		t.Logf("%s plan of the sweep:\n%s", db.Dialect, text)
		if !strings.Contains(text, "spid_seen_expires_at") {
			t.Errorf("the sweep does not use the expires_at index:\n%s", text)
		}
	})
}

// BenchmarkSQLStoreLogin measures the state store's part of a login: the
// request put (at /spid/login), read and taken with the response's two IDs
// recorded in the replay cache (at the ACS), with a replay cache holding
// the two IDs of each of the 20,000 logins before. CPU per op is this
// process's (the PostgreSQL server's is not included).
func BenchmarkSQLStoreLogin(b *testing.B) {
	storetest.ForEachDialectB(b, func(b *testing.B, db *store.DB) {
		ctx := context.Background()
		s, err := spid.NewSQLStore(ctx, db)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			if err := s.Close(); err != nil {
				b.Error(err)
			}
		})
		login := func(i int) error {
			now := time.Now()
			id := fmt.Sprintf("_%d%s", i, strings.Repeat("0", 24))
			p := spid.PendingRequest{ID: id, IdP: "https://idp.example", Level: 2, IssueInstant: now,
				Expires: now.Add(10 * time.Minute), RelayState: "rs" + id, ReturnTo: "/t/x/app/"}
			if err := s.Put(ctx, p); err != nil {
				return err
			}
			if _, err := s.Pending(ctx, id, now); err != nil {
				return err
			}
			until := now.Add(time.Hour)
			return s.Consume(ctx, id, []spid.SeenID{{ID: "r" + id, Until: until}, {ID: "a" + id, Until: until}}, now)
		}
		for i := range 20000 {
			if err := login(-1 - i); err != nil {
				b.Fatal(err)
			}
		}
		b.ResetTimer()
		cpu0 := gatewaytest.ProcessCPU()
		for i := 0; b.Loop(); i++ {
			if err := login(i); err != nil {
				b.Fatal(err)
			}
		}
		if cpu := gatewaytest.ProcessCPU() - cpu0; cpu > 0 {
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
		}
	})
}
