package reports

import (
	"context"

	"github.com/ponte-pa/ponte/connectors/channels"
	"github.com/ponte-pa/ponte/internal/tenant"
	"github.com/ponte-pa/ponte/internal/wfkit"
)

func init() {
	tenant.CRMKinds = CRMs
	wfkit.Add(wfkit.Package{Name: "reports", Register: Register})
}

// Register adds the report lifecycle workflow and its activities on the
// reports task queue.
func Register(ctx context.Context, h *wfkit.Host) error {
	st, err := NewStore(ctx, h.DB)
	if err != nil {
		return err
	}
	ob, err := channels.NewOutbox(ctx, h.DB)
	if err != nil {
		return err
	}
	if h.Metrics != nil {
		ob.Observer = h.Metrics
	}
	a := &Activities{Tenants: h.Tenants, Store: st, Outbox: ob, Conns: h.Conns}
	h.Workflow(Queue, WorkflowName, Workflow)
	h.Activity(Queue, "ReportOpen", a.Open)
	h.Activity(Queue, "ReportForward", a.Forward)
	h.Activity(Queue, "ReportStatus", a.Status)
	h.Activity(Queue, "ReportSetState", a.SetState)
	h.Activity(Queue, "ReportNotify", a.Notify)
	h.Activity(Queue, "ReportEscalate", a.Escalate)
	return nil
}
