package pagopa

import (
	"fmt"
	"sync"
	"testing"

	"github.com/ponte-pa/ponte/internal/store"
	"github.com/ponte-pa/ponte/internal/store/storetest"
)

func newAllocator(t *testing.T, db *store.DB) *IUVAllocator {
	t.Helper()
	a, err := NewIUVAllocator(db.DB, db.Dialect)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// allocate is Allocate with its own context, failing the test on an error.
func allocate(t *testing.T, a *IUVAllocator, org, seg, key string) string {
	t.Helper()
	iuv, err := a.Allocate(storetest.Ctx(t), org, seg, key)
	if err != nil {
		t.Fatalf("Allocate(%s, %s, %s): %v", org, seg, key, err)
	}
	return iuv
}

func iuvOf(t *testing.T, seg, base string) string {
	t.Helper()
	iuv, err := NewIUV(seg, base)
	if err != nil {
		t.Fatal(err)
	}
	return iuv
}

func TestIUVAllocator(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		a := newAllocator(t, db)
		first := allocate(t, a, "00000000001", "01", "IUPD-1")
		if first != "01000000000000144" {
			t.Fatalf("first IUV = %s, want 01000000000000144 (base 1)", first)
		}
		if again := allocate(t, a, "00000000001", "01", "IUPD-1"); again != first {
			t.Fatalf("same key: %s, want %s", again, first)
		}
		second := allocate(t, a, "00000000001", "01", "IUPD-2")
		if want := iuvOf(t, "01", "0000000000002"); second != want {
			t.Fatalf("second IUV = %s, want %s", second, want)
		}
		// Another org has its own counter; another segregation code too.
		if other := allocate(t, a, "00000000002", "01", "IUPD-1"); other != first {
			t.Fatalf("other org first IUV = %s, want %s", other, first)
		}
		seg2 := allocate(t, a, "00000000001", "02", "IUPD-3")
		if want := iuvOf(t, "02", "0000000000001"); seg2 != want {
			t.Fatalf("seg 02 IUV = %s, want %s", seg2, want)
		}
		if _, err := a.Allocate(storetest.Ctx(t), "00000000001", "02", "IUPD-1"); err == nil {
			t.Fatal("key reused with another segregation code: want error")
		}
		if _, err := a.Allocate(storetest.Ctx(t), "00000000001", "1", "x"); err == nil {
			t.Fatal("bad segregation code: want error")
		}
		if _, err := a.Allocate(storetest.Ctx(t), "", "01", "x"); err == nil {
			t.Fatal("no org: want error")
		}
		for _, iuv := range []string{first, second, seg2} {
			if _, err := NAVFromIUV(3, "", iuv); err != nil {
				t.Errorf("IUV %s has bad check digits: %v", iuv, err)
			}
		}
		// The rows are in this test's database (its own PostgreSQL schema).
		var n int
		if err := db.QueryRowContext(storetest.Ctx(t), `SELECT COUNT(*) FROM ponte_iuv_allocations`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 4 {
			t.Errorf("%d allocations stored, want 4", n)
		}

		// Another process on the same database: keys keep their IUV and new
		// keys continue after the last base.
		a2 := newAllocator(t, storetest.Reopen(t, db))
		if got := allocate(t, a2, "00000000001", "01", "IUPD-2"); got != second {
			t.Fatalf("after reopen IUPD-2 = %s, want %s", got, second)
		}
		if got, want := allocate(t, a2, "00000000001", "01", "IUPD-4"), iuvOf(t, "01", "0000000000003"); got != want {
			t.Fatalf("after reopen next IUV = %s, want %s", got, want)
		}
	})
}

// testConcurrentAllocations runs workers allocating at once, every one also
// asking for a few shared keys: each key gets one IUV, each IUV one key.
func testConcurrentAllocations(t *testing.T, allocators []*IUVAllocator, org string) {
	const workers, per = 8, 100
	var mu sync.Mutex
	byKey := map[string]string{}
	owner := map[string]string{}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		a := allocators[w%len(allocators)]
		wg.Go(func() {
			for i := range per {
				key := fmt.Sprintf("k-%d-%d", w, i)
				if i%25 == 0 {
					key = fmt.Sprintf("shared-%d", i)
				}
				iuv, err := a.Allocate(storetest.Ctx(t), org, "01", key)
				if err != nil {
					errs <- fmt.Errorf("worker %d, key %s: %w", w, key, err)
					return
				}
				mu.Lock()
				if prev, ok := byKey[key]; ok && prev != iuv {
					mu.Unlock()
					errs <- fmt.Errorf("key %s got %s and %s", key, prev, iuv)
					return
				}
				byKey[key] = iuv
				if k, ok := owner[iuv]; ok && k != key {
					mu.Unlock()
					errs <- fmt.Errorf("IUV %s given to %s and %s", iuv, k, key)
					return
				}
				owner[iuv] = key
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
	wantKeys := workers*(per-per/25) + per/25
	if len(byKey) != wantKeys || len(owner) != wantKeys {
		t.Fatalf("%d keys, %d IUVs; want %d of each", len(byKey), len(owner), wantKeys)
	}
}

func TestIUVAllocatorConcurrent(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		// Two handles on one database act as two worker processes.
		testConcurrentAllocations(t, []*IUVAllocator{newAllocator(t, db), newAllocator(t, storetest.Reopen(t, db))}, "00000000009")
		// The counter went on without gaps or reuse: the next key gets the
		// next base.
		next := allocate(t, newAllocator(t, db), "00000000009", "01", "after")
		if want := iuvOf(t, "01", fmt.Sprintf("%013d", 8*(100-4)+4+1)); next != want {
			t.Errorf("next IUV = %s, want %s", next, want)
		}
	})
}

func TestIUVAllocatorBatch(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		a := newAllocator(t, db)
		one := allocate(t, a, "00000000001", "01", "k-1")
		keys := []string{"k-0", "k-1", "k-2", "k-2", "k-3"}
		got, err := a.AllocateBatch(storetest.Ctx(t), "00000000001", "01", keys)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 4 || got["k-1"] != one {
			t.Fatalf("batch = %v; want 4 keys and k-1 = %s", got, one)
		}
		seen := map[string]bool{}
		for k, iuv := range got {
			if seen[iuv] {
				t.Fatalf("IUV %s given twice (%v)", iuv, got)
			}
			seen[iuv] = true
			if _, err := NAVFromIUV(3, "", iuv); err != nil {
				t.Errorf("%s: IUV %s has bad check digits: %v", k, iuv, err)
			}
		}
		// Again: same answer, no new bases consumed.
		again, err := a.AllocateBatch(storetest.Ctx(t), "00000000001", "01", keys)
		if err != nil {
			t.Fatal(err)
		}
		for k := range got {
			if again[k] != got[k] {
				t.Fatalf("key %s: %s then %s", k, got[k], again[k])
			}
		}
		if next, want := allocate(t, a, "00000000001", "01", "k-4"), iuvOf(t, "01", "0000000000005"); next != want {
			t.Fatalf("next single IUV = %s, want %s (bases 1..4 used)", next, want)
		}
		if _, err := a.AllocateBatch(storetest.Ctx(t), "00000000001", "02", []string{"k-1"}); err == nil {
			t.Fatal("key reused with another segregation code: want error")
		}
		if _, err := a.AllocateBatch(storetest.Ctx(t), "00000000001", "01", []string{""}); err == nil {
			t.Fatal("empty key: want error")
		}
	})
}

// TestIUVAllocatorBigBatch allocates batches of more keys than one SQLite
// statement looks up (500), some of them allocated before.
func TestIUVAllocatorBigBatch(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		a := newAllocator(t, db)
		keys := make([]string, 1300)
		for i := range keys {
			keys[i] = fmt.Sprintf("k-%04d", i)
		}
		first, err := a.AllocateBatch(storetest.Ctx(t), "00000000001", "01", keys[:700])
		if err != nil {
			t.Fatal(err)
		}
		got, err := a.AllocateBatch(storetest.Ctx(t), "00000000001", "01", keys)
		if err != nil {
			t.Fatal(err)
		}
		if len(first) != 700 || len(got) != len(keys) {
			t.Fatalf("batches of %d and %d keys, want 700 and %d", len(first), len(got), len(keys))
		}
		for k, iuv := range first {
			if got[k] != iuv {
				t.Errorf("key %s: %s, then %s", k, iuv, got[k])
			}
		}
		if last, want := got[keys[len(keys)-1]], iuvOf(t, "01", "0000000001300"); last != want {
			t.Errorf("last key's IUV = %s, want %s (a base for each new key, none for the known)", last, want)
		}
	})
}

func TestIUVAllocatorBatchConcurrentWithSingles(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		as := []*IUVAllocator{newAllocator(t, db), newAllocator(t, storetest.Reopen(t, db))}
		var wg sync.WaitGroup
		var mu sync.Mutex
		owner := map[string]string{}
		errs := make(chan error, 4*10*20)
		for w := range 4 {
			a := as[w%2]
			wg.Go(func() {
				for b := range 10 {
					keys := make([]string, 20)
					for i := range keys {
						keys[i] = fmt.Sprintf("w%d-b%d-%d", w, b, i)
					}
					got, err := a.AllocateBatch(storetest.Ctx(t), "00000000001", "01", keys)
					if err != nil {
						errs <- fmt.Errorf("worker %d batch %d: %w", w, b, err)
						return
					}
					single := fmt.Sprintf("single-%d-%d", w, b)
					iuv, err := a.Allocate(storetest.Ctx(t), "00000000001", "01", single)
					if err != nil {
						errs <- fmt.Errorf("worker %d single %d: %w", w, b, err)
						return
					}
					got[single] = iuv
					mu.Lock()
					for k, iuv := range got {
						if o, ok := owner[iuv]; ok && o != k {
							errs <- fmt.Errorf("IUV %s given to %s and %s", iuv, o, k)
						}
						owner[iuv] = k
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if want := 4 * 10 * 21; len(owner) != want {
			t.Fatalf("%d IUVs, want %d", len(owner), want)
		}
	})
}

// TestIUVAllocatorUpgradesPreMigrationTables opens a database made before
// versioned migrations (the tables as NewIUVAllocator created them, no
// version table): allocations and the counter carry on.
func TestIUVAllocatorUpgradesPreMigrationTables(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		for _, q := range []string{
			`CREATE TABLE ponte_iuv_counters (org TEXT NOT NULL, seg TEXT NOT NULL, last_base BIGINT NOT NULL, PRIMARY KEY (org, seg))`,
			`CREATE TABLE ponte_iuv_allocations (org TEXT NOT NULL, alloc_key TEXT NOT NULL, iuv TEXT NOT NULL, created_at TEXT NOT NULL,
				PRIMARY KEY (org, alloc_key), UNIQUE (org, iuv))`,
			`INSERT INTO ponte_iuv_counters VALUES ('00000000001', '01', 7)`,
		} {
			if _, err := db.ExecContext(storetest.Ctx(t), q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		old := iuvOf(t, "01", "0000000000007")
		if _, err := db.ExecContext(storetest.Ctx(t), db.Rebind(`INSERT INTO ponte_iuv_allocations VALUES (?, ?, ?, ?)`),
			"00000000001", "old-key", old, "2025-01-01T00:00:00Z"); err != nil {
			t.Fatal(err)
		}
		a := newAllocator(t, db)
		if got := allocate(t, a, "00000000001", "01", "old-key"); got != old {
			t.Errorf("old key: %s, want the IUV it had, %s", got, old)
		}
		if got, want := allocate(t, a, "00000000001", "01", "new-key"), iuvOf(t, "01", "0000000000008"); got != want {
			t.Errorf("new key: %s, want %s (after base 7)", got, want)
		}
		v, err := db.Versions(storetest.Ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if v[IUVMigrations] != 1 {
			t.Errorf("versions %v, want %s at 1", v, IUVMigrations)
		}
		// A second start finds nothing to do.
		newAllocator(t, db)
	})
}

func TestNewIUVAllocatorRefusesBadArguments(t *testing.T) {
	db := storetest.SQLite(t)
	if _, err := NewIUVAllocator(nil, store.SQLite); err == nil {
		t.Error("nil db accepted")
	}
	if _, err := NewIUVAllocator(db.DB, "mysql"); err == nil {
		t.Error("dialect mysql accepted")
	}
}
