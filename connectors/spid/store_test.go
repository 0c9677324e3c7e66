package spid_test

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/ponte-pa/ponte/connectors/spid"
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
			got, err := s.Take(ctx, p.ID, now)
			if err != nil || got.IdP != p.IdP || got.Level != 2 || got.AttrIndex != 1 || got.RelayState != "rs_1" || got.ReturnTo != "/x" || !got.IssueInstant.Equal(p.IssueInstant) {
				t.Fatalf("take: %v %+v", err, got)
			}
			if _, err := s.Take(ctx, p.ID, now); !errors.Is(err, spid.ErrNotPending) {
				t.Fatalf("second take: %v", err)
			}
			exp := spid.PendingRequest{ID: rid(t), Expires: now.Add(time.Minute)}
			if err := s.Put(ctx, exp); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Take(ctx, exp.ID, now.Add(2*time.Minute)); !errors.Is(err, spid.ErrNotPending) {
				t.Fatalf("expired take: %v", err)
			}
			if _, err := s.Take(ctx, rid(t), now); !errors.Is(err, spid.ErrNotPending) {
				t.Fatalf("unknown take: %v", err)
			}
			id := rid(t)
			if ok, err := s.MarkSeen(ctx, id, now.Add(time.Hour), now); !ok || err != nil {
				t.Fatalf("first seen: %v %v", ok, err)
			}
			if ok, err := s.MarkSeen(ctx, id, now.Add(time.Hour), now); ok || err != nil {
				t.Fatalf("second seen: %v %v", ok, err)
			}
			// Concurrent takes: exactly one winner.
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
					_, err := s.Take(ctx, c.ID, now)
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
		if got, err := s.Take(storetest.Ctx(t), p.ID, now); err != nil || got.IdP != p.IdP || got.Level != 2 {
			t.Errorf("pending request from before the upgrade: %+v, %v", got, err)
		}
		if ok, err := s.MarkSeen(storetest.Ctx(t), seen, now.Add(time.Hour), now); ok || err != nil {
			t.Errorf("assertion seen before the upgrade: MarkSeen = %v, %v; want a replay", ok, err)
		}
		v, err := db.Versions(storetest.Ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if v[spid.Migrations] != 1 {
			t.Errorf("versions %v, want %s at 1", v, spid.Migrations)
		}
	})
}
