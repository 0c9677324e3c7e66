// Package e2e holds Ponte's end-to-end tests: real workflows on the embedded
// Temporal server against the mock servers, including a kill-and-restart of a
// `ponte serve --dev` process.
package e2e

import (
	"context"
	"testing"

	"github.com/ponte-pa/ponte/internal/fixtures"
	"github.com/ponte-pa/ponte/internal/runtime"
	"github.com/ponte-pa/ponte/workflows/campaign"
	"github.com/ponte-pa/ponte/workflows/reconcile"
)

func writeDebtorsCSV(path string, n, broken int, seed uint64) ([]string, error) {
	return fixtures.WriteDebtorsCSV(path, n, broken, seed)
}

// campaignStore is the campaign store of rt's state database.
func campaignStore(t *testing.T, rt *runtime.Runtime) *campaign.Store {
	t.Helper()
	st, err := campaign.NewStore(context.Background(), rt.DB)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// reconcileStore is the reconciliation store of rt's state database.
func reconcileStore(t *testing.T, rt *runtime.Runtime) *reconcile.Store {
	t.Helper()
	st, err := reconcile.NewStore(context.Background(), rt.DB)
	if err != nil {
		t.Fatal(err)
	}
	return st
}
