package campaign

import (
	"context"

	"github.com/ponte-pa/ponte/connectors/pagopa"
	"github.com/ponte-pa/ponte/internal/wfkit"
)

func init() { wfkit.Add(wfkit.Package{Name: "campaign", Register: Register}) }

// Register adds the campaign's workflows and activities, each activity on
// the task queue of the connector it calls: staging and totals on the
// legacy queue, debt positions on the pagoPA queue, App IO messages and
// reminders on the App IO queue, the fallback on the channels queue.
func Register(ctx context.Context, h *wfkit.Host) error {
	st, err := NewStore(ctx, h.DB)
	if err != nil {
		return err
	}
	iuv, err := pagopa.NewIUVAllocator(h.DB.DB, h.DB.Dialect)
	if err != nil {
		return err
	}
	if h.Metrics != nil {
		st.Outbox().Observer = h.Metrics
	}
	a := &Activities{Tenants: h.Tenants, Store: st, IUV: iuv, Conns: h.Conns, Metrics: h.Metrics}
	h.Workflow(QueueWorkflows, WorkflowName, Workflow)
	h.Workflow(QueueWorkflows, RemindersWorkflowName, RemindersWorkflow)
	h.Activity(QueueLegacy, "RecordCampaign", a.RecordCampaign)
	h.Activity(QueueLegacy, "StageDebtors", a.StageDebtors)
	h.Activity(QueueLegacy, "Totals", a.Totals)
	h.Activity(QueueLegacy, "FinishCancel", a.FinishCancel)
	h.Activity(QueuePagoPA, "CreatePositions", a.CreatePositions)
	h.Activity(QueuePagoPA, "CancelBatch", a.CancelBatch)
	h.Activity(QueueAppIO, "NotifyIO", a.NotifyIO)
	h.Activity(QueueAppIO, "SendReminders", a.SendReminders)
	h.Activity(QueueChannels, "SendFallback", a.SendFallback)
	return nil
}
