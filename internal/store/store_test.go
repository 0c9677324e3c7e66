package store_test

import (
	"testing"

	"github.com/ponte-pa/ponte/internal/store/storetest"
)

// TestPostgresPlansEachExecution checks the setting that keeps PostgreSQL
// from reusing a plan made when a campaign's tables were empty.
func TestPostgresPlansEachExecution(t *testing.T) {
	db := storetest.Postgres(t)
	var mode string
	if err := db.QueryRowContext(storetest.Ctx(t), `SHOW plan_cache_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "force_custom_plan" {
		t.Errorf("plan_cache_mode = %q, want force_custom_plan", mode)
	}
}
