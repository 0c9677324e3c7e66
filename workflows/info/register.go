package info

import (
	"context"

	"github.com/ponte-pa/ponte/internal/wfkit"
)

func init() { wfkit.Add(wfkit.Package{Name: "info", Register: Register}) }

// Register adds the information-campaign workflow and activities on
// their own task queue.
func Register(ctx context.Context, h *wfkit.Host) error {
	st, err := NewStore(ctx, h.DB)
	if err != nil {
		return err
	}
	if h.Metrics != nil {
		st.Outbox().Observer = h.Metrics
	}
	a := &Activities{Tenants: h.Tenants, Store: st, Conns: h.Conns}
	h.Workflow(Queue, WorkflowName, Workflow)
	h.Activity(Queue, "InfoRecord", a.Record)
	h.Activity(Queue, "InfoStage", a.Stage)
	h.Activity(Queue, "InfoSendBatch", a.SendBatch)
	h.Activity(Queue, "InfoFinish", a.Finish)
	return nil
}
