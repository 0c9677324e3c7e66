package alert

import (
	"context"

	"github.com/ponte-pa/ponte/internal/wfkit"
)

func init() { wfkit.Add(wfkit.Package{Name: "alert", Register: Register}) }

// Register adds the alert workflows and activities on the alerts task
// queue, which workers can scale and throttle apart from payments.
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
	h.Activity(Queue, "RecordAlert", a.RecordAlert)
	h.Activity(Queue, "RecordVersion", a.RecordVersion)
	h.Activity(Queue, "SetState", a.SetState)
	h.Activity(Queue, "StageRecipients", a.StageRecipients)
	h.Activity(Queue, "EscalateAfter", a.EscalateAfter)
	h.Activity(Queue, "SendRound", a.SendRound)
	h.Activity(Queue, "SendWebhooks", a.SendWebhooks)
	h.Activity(Queue, "FinishAlert", a.FinishAlert)
	h.Workflow(Queue, FeedWorkflowName, FeedWorkflow)
	h.Activity(Queue, "PollFeeds", a.PollFeeds)
	h.Activity(Queue, "MarkFeedSeen", a.MarkFeedSeen)
	return nil
}
