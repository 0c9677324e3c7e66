package campaign

import (
	"context"
	"testing"

	"github.com/ponte-pa/ponte/internal/store"
)

// testStore is a campaign store in a fresh in-memory state database.
func testStore(t *testing.T) *Store {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	st, err := NewStore(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	return st
}
