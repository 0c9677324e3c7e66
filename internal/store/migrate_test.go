package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/ponte-pa/ponte/internal/store"
	"github.com/ponte-pa/ponte/internal/store/storetest"
)

func sqlFile(stmts ...string) *fstest.MapFile {
	return &fstest.MapFile{Data: []byte("-- migration\n" + strings.Join(stmts, ";\n") + ";\n")}
}

// notesV1 is a component as first released: a table and an index.
func notesV1() store.Component {
	return store.Component{Name: "test.notes", FS: fstest.MapFS{
		"migrations/00001_notes.sql": sqlFile(`CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)`,
			`CREATE INDEX notes_body ON notes (body)`),
	}, Dir: "migrations"}
}

// notesV2 is the next release: one more SQL migration and a Go one.
func notesV2() store.Component {
	c := notesV1()
	c.FS.(fstest.MapFS)["migrations/00002_author.sql"] = sqlFile(`ALTER TABLE notes ADD COLUMN author TEXT NOT NULL DEFAULT ''`)
	c.Go = []store.GoMigration{{Version: 3, Up: func(ctx context.Context, tx *sql.Tx, dialect string) error {
		blob := "BLOB"
		if dialect == store.Postgres {
			blob = "BYTEA"
		}
		_, err := tx.ExecContext(ctx, `CREATE TABLE attachments (note_id INTEGER NOT NULL, data `+blob+` NOT NULL)`)
		return err
	}}}
	return c
}

func versions(t *testing.T, db *store.DB) map[string]int64 {
	t.Helper()
	v, err := db.Versions(storetest.Ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func rowsOf(t *testing.T, db *store.DB, component string) []int64 {
	t.Helper()
	rows, err := db.QueryContext(storetest.Ctx(t), db.Rebind(`SELECT version FROM `+store.VersionTable+` WHERE component = ? ORDER BY version`), component)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func exec(t *testing.T, db *store.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(storetest.Ctx(t), db.Rebind(q), args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func TestMigrateFreshTwiceAndUpgrade(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		if v := versions(t, db); len(v) != 0 {
			t.Fatalf("fresh database: versions %v, want none", v)
		}
		if err := db.MigrateUnregistered(storetest.Ctx(t), notesV1()); err != nil {
			t.Fatal(err)
		}
		exec(t, db, `INSERT INTO notes (id, body) VALUES (?, ?)`, 1, "first")
		if got := rowsOf(t, db, "test.notes"); fmt.Sprint(got) != "[1]" {
			t.Fatalf("versions recorded: %v, want [1]", got)
		}
		// Again: nothing is run (CREATE TABLE without IF NOT EXISTS would fail).
		if err := db.MigrateUnregistered(storetest.Ctx(t), notesV1()); err != nil {
			t.Fatalf("second run: %v", err)
		}
		// The next release applies only what is new, and keeps the data.
		if err := db.MigrateUnregistered(storetest.Ctx(t), notesV2()); err != nil {
			t.Fatal(err)
		}
		if got := rowsOf(t, db, "test.notes"); fmt.Sprint(got) != "[1 2 3]" {
			t.Fatalf("versions recorded: %v, want [1 2 3]", got)
		}
		exec(t, db, `INSERT INTO attachments (note_id, data) VALUES (?, ?)`, 1, []byte{0, 1, 2})
		var body, author string
		if err := db.QueryRowContext(storetest.Ctx(t), `SELECT body, author FROM notes WHERE id = 1`).Scan(&body, &author); err != nil {
			t.Fatal(err)
		}
		if body != "first" || author != "" {
			t.Errorf("row after the upgrade: %q, %q", body, author)
		}
		if v := versions(t, db); len(v) != 1 || v["test.notes"] != 3 {
			t.Errorf("Versions = %v, want test.notes 3", v)
		}
		if err := db.MigrateUnregistered(storetest.Ctx(t), notesV2()); err != nil {
			t.Fatalf("running the new release twice: %v", err)
		}
	})
}

func TestMigrateComponentsShareTheVersionTable(t *testing.T) {
	other := store.Component{Name: "test.other", FS: fstest.MapFS{
		"00001_a.sql": sqlFile(`CREATE TABLE other_a (x TEXT)`),
		"00002_b.sql": sqlFile(`CREATE TABLE other_b (x TEXT)`),
	}}
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		if err := db.MigrateUnregistered(storetest.Ctx(t), notesV1(), other); err != nil {
			t.Fatal(err)
		}
		// A component's versions are its own: notes is at 1 while other is
		// at 2, and notes' 2 and 3 still apply.
		if err := db.MigrateUnregistered(storetest.Ctx(t), notesV2()); err != nil {
			t.Fatal(err)
		}
		if v := versions(t, db); len(v) != 2 || v["test.notes"] != 3 || v["test.other"] != 2 {
			t.Errorf("Versions = %v, want test.notes 3, test.other 2", v)
		}
		var tables int
		q := `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name LIKE 'ponte_%'`
		if db.Dialect == store.Postgres {
			q = `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name LIKE 'ponte_%'`
		}
		if err := db.QueryRowContext(storetest.Ctx(t), q).Scan(&tables); err != nil {
			t.Fatal(err)
		}
		if tables != 1 {
			t.Errorf("%d ponte_ tables, want only %s", tables, store.VersionTable)
		}
	})
}

func TestMigrateFailureLeavesNothingBehind(t *testing.T) {
	broken := store.Component{Name: "test.broken", FS: fstest.MapFS{
		"00001_ok.sql":  sqlFile(`CREATE TABLE ok_table (x TEXT)`),
		"00002_bad.sql": sqlFile(`CREATE TABLE half_done (x TEXT)`, `INSERT INTO no_such_table VALUES (1)`),
	}}
	fixed := store.Component{Name: "test.broken", FS: fstest.MapFS{
		"00001_ok.sql":  broken.FS.(fstest.MapFS)["00001_ok.sql"],
		"00002_bad.sql": sqlFile(`CREATE TABLE half_done (x TEXT)`),
	}}
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		err := db.MigrateUnregistered(storetest.Ctx(t), broken)
		if err == nil || !strings.Contains(err.Error(), "test.broken") {
			t.Fatalf("broken migration: %v, want an error naming the component", err)
		}
		if got := rowsOf(t, db, "test.broken"); fmt.Sprint(got) != "[1]" {
			t.Fatalf("versions after the failure: %v, want [1]", got)
		}
		// Its transaction was rolled back: half_done does not exist, so the
		// fixed migration can create it.
		if err := db.MigrateUnregistered(storetest.Ctx(t), fixed); err != nil {
			t.Fatalf("fixed migration: %v", err)
		}
		if got := rowsOf(t, db, "test.broken"); fmt.Sprint(got) != "[1 2]" {
			t.Fatalf("versions after the fix: %v, want [1 2]", got)
		}
	})
}

var registered = store.Register(store.Component{Name: "test.registered", FS: fstest.MapFS{
	"00001_r.sql": sqlFile(`CREATE TABLE registered_table (x TEXT)`),
}})

func TestMigrateRegistered(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		if err := db.Migrate(storetest.Ctx(t), "test.no-such-component"); err == nil || !strings.Contains(err.Error(), "test.no-such-component") {
			t.Errorf("unknown component: %v", err)
		}
		// No name: every registered component.
		if err := db.Migrate(storetest.Ctx(t)); err != nil {
			t.Fatal(err)
		}
		if err := db.Migrate(storetest.Ctx(t), registered); err != nil {
			t.Fatal(err)
		}
		if v := versions(t, db); v[registered] != 1 {
			t.Errorf("Versions = %v, want %s 1", v, registered)
		}
		exec(t, db, `INSERT INTO registered_table (x) VALUES (?)`, "y")
	})
	found := false
	for _, n := range store.Components() {
		found = found || n == registered
	}
	if !found {
		t.Errorf("Components() = %v, missing %s", store.Components(), registered)
	}
}

func TestRegisterRefusesMistakes(t *testing.T) {
	goUp := func(context.Context, *sql.Tx, string) error { return nil }
	for name, c := range map[string]store.Component{
		"no name":            {FS: fstest.MapFS{"00001_a.sql": sqlFile(`SELECT 1`)}},
		"no migrations":      {Name: "test.empty", FS: fstest.MapFS{"README.md": {Data: []byte("x")}}},
		"duplicate":          {Name: registered, FS: fstest.MapFS{"00001_a.sql": sqlFile(`SELECT 1`)}},
		"bad file name":      {Name: "test.badname", FS: fstest.MapFS{"add-table.sql": sqlFile(`SELECT 1`)}},
		"version twice":      {Name: "test.twice", FS: fstest.MapFS{"00001_a.sql": sqlFile(`SELECT 1`)}, Go: []store.GoMigration{{Version: 1, Up: goUp}}},
		"version 0":          {Name: "test.zero", FS: fstest.MapFS{"00000_a.sql": sqlFile(`SELECT 1`)}},
		"no final semicolon": {Name: "test.semicolon", FS: fstest.MapFS{"00001_a.sql": {Data: []byte("CREATE TABLE x (a TEXT)\n")}}},
		"only comments":      {Name: "test.comments", FS: fstest.MapFS{"00001_a.sql": {Data: []byte("-- nothing\n")}}},
		"Go without Up":      {Name: "test.noup", Go: []store.GoMigration{{Version: 1}}},
		"missing directory":  {Name: "test.nodir", FS: fstest.MapFS{"00001_a.sql": sqlFile(`SELECT 1`)}, Dir: "migrations"},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("Register(%+v) did not panic", c)
				}
			}()
			store.Register(c)
		})
	}
}

func TestMigrateRefusesOutOfOrder(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		v1 := store.Component{Name: "test.order", FS: fstest.MapFS{
			"00001_a.sql": sqlFile(`CREATE TABLE order_a (x TEXT)`),
			"00003_c.sql": sqlFile(`CREATE TABLE order_c (x TEXT)`),
		}}
		if err := db.MigrateUnregistered(storetest.Ctx(t), v1); err != nil {
			t.Fatal(err)
		}
		// A migration numbered below the last applied one (two branches
		// that both added one, say) is refused, not applied out of order.
		v2 := v1
		v2.FS = fstest.MapFS{
			"00001_a.sql": v1.FS.(fstest.MapFS)["00001_a.sql"],
			"00002_b.sql": sqlFile(`CREATE TABLE order_b (x TEXT)`),
			"00003_c.sql": v1.FS.(fstest.MapFS)["00003_c.sql"],
		}
		if err := db.MigrateUnregistered(storetest.Ctx(t), v2); err == nil || !strings.Contains(err.Error(), "00002_b.sql") {
			t.Fatalf("out-of-order migration: %v, want an error naming it", err)
		}
		if got := rowsOf(t, db, "test.order"); fmt.Sprint(got) != "[1 3]" {
			t.Errorf("versions recorded: %v, want [1 3]", got)
		}
	})
}

// slowNotes is notesV1 with a migration that takes a moment, so that
// concurrent migrators really overlap; its CREATE TABLE fails if run twice.
func slowNotes(dialect string) store.Component {
	c := notesV1()
	c.Go = []store.GoMigration{{Version: 2, Up: func(ctx context.Context, tx *sql.Tx, d string) error {
		if d == store.Postgres {
			if _, err := tx.ExecContext(ctx, `SELECT pg_sleep(0.2)`); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `CREATE TABLE slow_table (x TEXT)`)
		return err
	}}}
	return c
}

// TestMigrateConcurrentInProcess runs migrators sharing one handle at once.
func TestMigrateConcurrentInProcess(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		var wg sync.WaitGroup
		errs := make(chan error, 6)
		for range 6 {
			wg.Go(func() { errs <- db.MigrateUnregistered(storetest.Ctx(t), slowNotes(db.Dialect)) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		if got := rowsOf(t, db, "test.notes"); fmt.Sprint(got) != "[1 2]" {
			t.Errorf("versions recorded: %v, want [1 2] once each", got)
		}
	})
}

// TestMigrateConcurrentWorkersPostgres starts several "workers" (each its
// own connection pool, as separate processes would have) on one fresh
// PostgreSQL schema at once: exactly one applies each migration, none fails.
func TestMigrateConcurrentWorkersPostgres(t *testing.T) {
	_, schema := storetest.PostgresSchema(t)
	const workers = 5
	dbs := make([]*store.DB, workers)
	for i := range dbs {
		dbs[i] = storetest.OpenSchema(t, schema)
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for _, db := range dbs {
		wg.Go(func() { errs <- db.MigrateUnregistered(storetest.Ctx(t), slowNotes(store.Postgres)) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if got := rowsOf(t, dbs[0], "test.notes"); fmt.Sprint(got) != "[1 2]" {
		t.Errorf("versions recorded: %v, want [1 2] once each", got)
	}
}

// TestMigrateLockIsPerSchema checks that the PostgreSQL lock makes another
// migrator of the same schema wait, and lets other schemas (deployments,
// tests) go on.
func TestMigrateLockIsPerSchema(t *testing.T) {
	dbA, schemaA := storetest.PostgresSchema(t)
	dbB := storetest.Postgres(t)
	// Hold schema A's migration lock as a migrator of another process would.
	holder := storetest.OpenSchema(t, schemaA)
	conn, err := holder.Conn(storetest.Ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := conn.Close(); err != nil {
			t.Error(err)
		}
	}()
	const key = `hashtext('` + store.VersionTable + `.' || coalesce(current_schema(), ''))`
	if _, err := conn.ExecContext(storetest.Ctx(t), `SELECT pg_advisory_lock(`+key+`)`); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- dbA.MigrateUnregistered(storetest.Ctx(t), notesV1()) }()
	// Schema B is not held up by A's lock.
	if err := dbB.MigrateUnregistered(storetest.Ctx(t), notesV1()); err != nil {
		t.Fatal(err)
	}
	// Wait until A's migrator is waiting for the lock (it shows in pg_locks),
	// then check it has done nothing yet.
	for {
		var waiting int
		if err := holder.QueryRowContext(storetest.Ctx(t), `SELECT COUNT(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
			WHERE l.locktype = 'advisory' AND NOT l.granted AND a.query LIKE '%pg_advisory_lock%'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("migrator of schema A finished (%v) while another held its lock", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	if v := versions(t, dbA); len(v) != 0 {
		t.Fatalf("schema A migrated while locked: %v", v)
	}
	if _, err := conn.ExecContext(storetest.Ctx(t), `SELECT pg_advisory_unlock(`+key+`)`); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if v := versions(t, dbA); v["test.notes"] != 1 {
		t.Errorf("schema A after the lock was released: %v", v)
	}
}

func TestMigrateRefusesBadArguments(t *testing.T) {
	db := storetest.SQLite(t)
	if err := store.MigrateDB(storetest.Ctx(t), nil, store.SQLite); err == nil {
		t.Error("nil db accepted")
	}
	if err := store.MigrateDB(storetest.Ctx(t), db.DB, "mysql"); err == nil {
		t.Error("dialect mysql accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := db.MigrateUnregistered(ctx, notesV1()); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
	// A cancelled first call leaves nothing broken: the next one migrates.
	if err := db.MigrateUnregistered(storetest.Ctx(t), notesV1()); err != nil {
		t.Fatal(err)
	}
}
