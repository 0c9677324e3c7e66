package spid_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ponte-pa/ponte/connectors/spid"
	"github.com/ponte-pa/ponte/internal/store"
)

func stores(t *testing.T) map[string]func(t *testing.T) spid.RequestStore {
	return map[string]func(t *testing.T) spid.RequestStore{
		"memory": func(t *testing.T) spid.RequestStore { return spid.NewMemoryStore() },
		"sqlite": func(t *testing.T) spid.RequestStore { return sqlStore(t, "") },
		"postgres": func(t *testing.T) spid.RequestStore {
			dsn := os.Getenv("PONTE_TEST_POSTGRES")
			if dsn == "" {
				dsn = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
			}
			return sqlStore(t, dsn)
		},
	}
}

func sqlStore(t *testing.T, dsn string) spid.RequestStore {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Skipf("database not reachable (set PONTE_TEST_POSTGRES to a DSN to run this test): %v", err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := spid.NewSQLStore(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func rid() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "_t" + hex.EncodeToString(b)
}

func TestRequestStores(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			s := mk(t)
			ctx := t.Context()
			now := time.Now()
			p := spid.PendingRequest{ID: rid(), IdP: "https://idp", Level: 2, AttrIndex: 1, IssueInstant: now.UTC().Truncate(time.Millisecond), Expires: now.Add(time.Minute), RelayState: "rs_1", ReturnTo: "/x"}
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
			exp := spid.PendingRequest{ID: rid(), Expires: now.Add(time.Minute)}
			_ = s.Put(ctx, exp)
			if _, err := s.Take(ctx, exp.ID, now.Add(2*time.Minute)); !errors.Is(err, spid.ErrNotPending) {
				t.Fatalf("expired take: %v", err)
			}
			if _, err := s.Take(ctx, rid(), now); !errors.Is(err, spid.ErrNotPending) {
				t.Fatalf("unknown take: %v", err)
			}
			id := rid()
			if ok, err := s.MarkSeen(ctx, id, now.Add(time.Hour), now); !ok || err != nil {
				t.Fatalf("first seen: %v %v", ok, err)
			}
			if ok, err := s.MarkSeen(ctx, id, now.Add(time.Hour), now); ok || err != nil {
				t.Fatalf("second seen: %v %v", ok, err)
			}
			// Concurrent takes: exactly one winner.
			c := spid.PendingRequest{ID: rid(), Expires: now.Add(time.Minute)}
			_ = s.Put(ctx, c)
			var wg sync.WaitGroup
			var mu sync.Mutex
			wins := 0
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := s.Take(ctx, c.ID, now); err == nil {
						mu.Lock()
						wins++
						mu.Unlock()
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
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			e := newEnvWith(t, spid.Options{}, stores(t)[name](t))
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
