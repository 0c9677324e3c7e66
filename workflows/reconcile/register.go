package reconcile

import (
	"context"

	"github.com/ponte-pa/ponte/internal/wfkit"
)

func init() { wfkit.Add(wfkit.Package{Name: "reconcile", Register: Register}) }

// Register adds reconciliation's workflow and activities: fetching
// receipts on the pagoPA queue, the store, sinks and reports on the legacy
// queue.
func Register(ctx context.Context, h *wfkit.Host) error {
	st, err := NewStore(ctx, h.DB)
	if err != nil {
		return err
	}
	a := &Activities{Tenants: h.Tenants, Store: st, ReportDir: h.ReportDir, Conns: h.Conns, Metrics: h.Metrics}
	h.Workflow(QueueWorkflows, WorkflowName, Workflow)
	h.Activity(QueueLegacy, "PlanReconcile", a.PlanReconcile)
	h.Activity(QueuePagoPA, "FetchReceipts", a.FetchReceipts)
	h.Activity(QueueLegacy, "MatchReceipts", a.MatchReceipts)
	h.Activity(QueueLegacy, "WriteBackPayments", a.WriteBackPayments)
	h.Activity(QueueLegacy, "WriteReconcileReport", a.WriteReconcileReport)
	return nil
}
