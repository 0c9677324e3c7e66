package store_test

import (
	"testing"
	"testing/fstest"

	"github.com/ponte-pa/ponte/internal/store"
	"github.com/ponte-pa/ponte/internal/store/storetest"
)

// A component that moves data into another component's table names it in
// After: Migrate runs that one first, even when only the mover is asked
// for, and whatever the names' alphabetical order.
var (
	afterTarget = store.Register(store.Component{Name: "test.z-target", FS: fstest.MapFS{
		"m/00001_target.sql": sqlFile(`CREATE TABLE after_target (v TEXT NOT NULL)`)}, Dir: "m"})
	afterMover = store.Register(store.Component{Name: "test.a-mover", FS: fstest.MapFS{
		"m/00001_move.sql": sqlFile(`CREATE TABLE after_source (v TEXT NOT NULL)`,
			`INSERT INTO after_source (v) VALUES ('moved')`,
			`INSERT INTO after_target (v) SELECT v FROM after_source`)}, Dir: "m", After: []string{afterTarget}})
)

func TestMigrateAfter(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		if err := db.Migrate(storetest.Ctx(t), afterMover); err != nil {
			t.Fatal(err)
		}
		var v string
		if err := db.QueryRowContext(storetest.Ctx(t), `SELECT v FROM after_target`).Scan(&v); err != nil || v != "moved" {
			t.Fatalf("after_target = %q, %v", v, err)
		}
		if got := versions(t, db); got[afterTarget] != 1 || got[afterMover] != 1 {
			t.Errorf("versions = %v", got)
		}
	})
}
