package pagopa

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"
)

func openSQLite(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestIUVAllocatorSQLite(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "iuv.db")
	db := openSQLite(t, path)
	a, err := NewIUVAllocator(db, "sqlite")
	if err != nil {
		t.Fatal(err)
	}
	first, err := a.Allocate(ctx, "00000000001", "01", "IUPD-1")
	if err != nil {
		t.Fatal(err)
	}
	if first != "01000000000000144" {
		t.Fatalf("first IUV = %s, want 01000000000000144 (base 1)", first)
	}
	again, err := a.Allocate(ctx, "00000000001", "01", "IUPD-1")
	if err != nil || again != first {
		t.Fatalf("same key: %s, %v; want %s", again, err, first)
	}
	second, _ := a.Allocate(ctx, "00000000001", "01", "IUPD-2")
	if second == first || !strings.HasPrefix(second, "01") {
		t.Fatalf("second IUV = %s", second)
	}
	// Another org has its own counter; another segregation code too.
	other, _ := a.Allocate(ctx, "00000000002", "01", "IUPD-1")
	if other != first {
		t.Fatalf("other org first IUV = %s, want %s", other, first)
	}
	seg2, _ := a.Allocate(ctx, "00000000001", "02", "IUPD-3")
	if want, _ := NewIUV("02", "0000000000001"); seg2 != want {
		t.Fatalf("seg 02 IUV = %s, want %s", seg2, want)
	}
	if _, err := a.Allocate(ctx, "00000000001", "02", "IUPD-1"); err == nil {
		t.Fatal("key reused with another segregation code: want error")
	}
	if _, err := a.Allocate(ctx, "00000000001", "1", "x"); err == nil {
		t.Fatal("bad segregation code: want error")
	}
	for _, iuv := range []string{first, second, seg2} {
		if _, err := NAVFromIUV(3, "", iuv); err != nil {
			t.Errorf("IUV %s has bad check digits: %v", iuv, err)
		}
	}

	// Reopen: keys keep their IUV and new keys continue after the last base.
	db.Close()
	db2 := openSQLite(t, path)
	a2, err := NewIUVAllocator(db2, "sqlite")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := a2.Allocate(ctx, "00000000001", "01", "IUPD-2"); got != second {
		t.Fatalf("after reopen IUPD-2 = %s, want %s", got, second)
	}
	third, _ := a2.Allocate(ctx, "00000000001", "01", "IUPD-4")
	if want, _ := NewIUV("01", "0000000000003"); third != want {
		t.Fatalf("after reopen next IUV = %s, want %s", third, want)
	}
}

func testConcurrentAllocations(t *testing.T, a *IUVAllocator, org string) {
	const workers, per = 8, 200
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var mu sync.Mutex
	byKey := map[string]string{}
	owner := map[string]string{}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				key := fmt.Sprintf("k-%d-%d", w, i)
				// Every worker also asks for a shared key: all must get one IUV.
				if i%50 == 0 {
					key = fmt.Sprintf("shared-%d", i)
				}
				iuv, err := a.Allocate(ctx, org, "01", key)
				if err != nil {
					errs <- err
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
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	wantKeys := workers*(per-per/50) + per/50
	if len(byKey) != wantKeys || len(owner) != wantKeys {
		t.Fatalf("%d keys, %d IUVs; want %d of each", len(byKey), len(owner), wantKeys)
	}
}

func TestIUVAllocatorSQLiteConcurrent(t *testing.T) {
	db := openSQLite(t, filepath.Join(t.TempDir(), "iuv.db"))
	a, err := NewIUVAllocator(db, "sqlite")
	if err != nil {
		t.Fatal(err)
	}
	testConcurrentAllocations(t, a, "00000000001")
}

func TestIUVAllocatorPostgres(t *testing.T) {
	dsn := os.Getenv("PONTE_TEST_POSTGRES")
	if dsn == "" {
		dsn = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	admin, err := sql.Open("pgx", dsn)
	if err == nil {
		err = admin.PingContext(ctx)
	}
	if err != nil {
		t.Skipf("PostgreSQL not reachable at %s (set PONTE_TEST_POSTGRES): %v", dsn, err)
	}
	defer admin.Close()
	schema := fmt.Sprintf("ponte_iuv_test_%d", time.Now().UnixNano())
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE") })
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	db, err := sql.Open("pgx", dsn+sep+"search_path="+schema)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a, err := NewIUVAllocator(db, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	first, err := a.Allocate(ctx, "00000000001", "01", "IUPD-1")
	if err != nil || first != "01000000000000144" {
		t.Fatalf("first IUV = %s, %v", first, err)
	}
	if again, _ := a.Allocate(ctx, "00000000001", "01", "IUPD-1"); again != first {
		t.Fatalf("same key got %s, want %s", again, first)
	}
	var n int
	if err := admin.QueryRowContext(ctx, "SELECT count(*) FROM "+schema+".ponte_iuv_allocations").Scan(&n); err != nil || n != 1 {
		t.Fatalf("rows in the test schema = %d, %v; want 1", n, err)
	}
	testConcurrentAllocations(t, a, "00000000009")
	// A second allocator on the same database (another process) continues the counter.
	a2, err := NewIUVAllocator(db, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	next, _ := a2.Allocate(ctx, "00000000001", "01", "IUPD-2")
	if want, _ := NewIUV("01", "0000000000002"); next != want {
		t.Fatalf("next IUV = %s, want %s", next, want)
	}
	batch, err := a2.AllocateBatch(ctx, "00000000001", "01", []string{"IUPD-2", "IUPD-3", "IUPD-4"})
	if err != nil {
		t.Fatal(err)
	}
	w3, _ := NewIUV("01", "0000000000003")
	w4, _ := NewIUV("01", "0000000000004")
	if batch["IUPD-2"] != next || batch["IUPD-3"] != w3 || batch["IUPD-4"] != w4 {
		t.Fatalf("batch = %v; want IUPD-2 %s, IUPD-3 %s, IUPD-4 %s", batch, next, w3, w4)
	}
}

func TestIUVAllocatorBatchSQLite(t *testing.T) {
	ctx := context.Background()
	db := openSQLite(t, filepath.Join(t.TempDir(), "iuv.db"))
	a, err := NewIUVAllocator(db, "sqlite")
	if err != nil {
		t.Fatal(err)
	}
	one, err := a.Allocate(ctx, "00000000001", "01", "k-1")
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{"k-0", "k-1", "k-2", "k-2", "k-3"}
	got, err := a.AllocateBatch(ctx, "00000000001", "01", keys)
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
	again, err := a.AllocateBatch(ctx, "00000000001", "01", keys)
	if err != nil {
		t.Fatal(err)
	}
	for k := range got {
		if again[k] != got[k] {
			t.Fatalf("key %s: %s then %s", k, got[k], again[k])
		}
	}
	next, _ := a.Allocate(ctx, "00000000001", "01", "k-4")
	if want, _ := NewIUV("01", "0000000000005"); next != want {
		t.Fatalf("next single IUV = %s, want %s (bases 1..4 used)", next, want)
	}
	if _, err := a.AllocateBatch(ctx, "00000000001", "02", []string{"k-1"}); err == nil {
		t.Fatal("key reused with another segregation code: want error")
	}
	if _, err := a.AllocateBatch(ctx, "00000000001", "01", []string{""}); err == nil {
		t.Fatal("empty key: want error")
	}
}

func TestIUVAllocatorBatchConcurrentWithSingles(t *testing.T) {
	db := openSQLite(t, filepath.Join(t.TempDir(), "iuv.db"))
	a, err := NewIUVAllocator(db, "sqlite")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	owner := map[string]string{}
	errs := make(chan error, 8)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range 10 {
				keys := make([]string, 20)
				for i := range keys {
					keys[i] = fmt.Sprintf("w%d-b%d-%d", w, b, i)
				}
				got, err := a.AllocateBatch(ctx, "00000000001", "01", keys)
				if err == nil {
					_, err = a.Allocate(ctx, "00000000001", "01", fmt.Sprintf("single-%d-%d", w, b))
				}
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				for k, iuv := range got {
					if o, ok := owner[iuv]; ok && o != k {
						errs <- fmt.Errorf("IUV %s given to %s and %s", iuv, o, k)
					}
					owner[iuv] = k
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(owner) != 4*10*20 {
		t.Fatalf("%d IUVs, want %d", len(owner), 800)
	}
}
