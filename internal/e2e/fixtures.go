// Package e2e holds Ponte's end-to-end tests: real workflows on the embedded
// Temporal server against the mock servers, including a kill-and-restart of a
// `ponte serve --dev` process.
package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/ponte-pa/ponte/internal/fixtures"
	"github.com/ponte-pa/ponte/internal/runtime"
	"github.com/ponte-pa/ponte/mocks/mockset"
	"github.com/ponte-pa/ponte/mocks/record"
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

// startMocks starts the mock set recording every call (mocks/record), and
// fails the test at its end if a call our clients made, or an answer of a
// mock, broke the official GPD or App IO contract: every end-to-end run is
// also a conformance run of our clients.
func startMocks(t *testing.T, opts mockset.Options) *mockset.Set {
	t.Helper()
	rec, err := record.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	opts.Record = rec
	mocks, err := mockset.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		mocks.Close()
		if err := rec.Close(); err != nil {
			t.Fatal(err)
		}
		s, err := record.Summarize(rec.Dir())
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range s.Violations {
			if e.Response.Status >= 500 || e.Response.Status == 429 {
				continue // a fault the test injected on purpose
			}
			t.Errorf("a call broke the contract: %s", strings.Join(e.Describe(), "; "))
		}
		if s.Mocks["gpd"].Calls == 0 {
			t.Error("the recording holds no GPD call")
		}
	})
	return mocks
}

// startRuntime starts the embedded Temporal server and the workers for
// the tenant config files, closed at the end of the test.
func startRuntime(t *testing.T, tenants ...string) *runtime.Runtime {
	t.Helper()
	ctx := context.Background()
	rt, err := runtime.Start(ctx, runtime.Config{Tenants: tenants})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.Close)
	if err := rt.StartWorkers(ctx, runtime.WorkerOptions{}); err != nil {
		t.Fatal(err)
	}
	return rt
}
