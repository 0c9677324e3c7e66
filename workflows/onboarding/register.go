package onboarding

import (
	"context"

	"github.com/ponte-pa/ponte/internal/wfkit"
)

func init() { wfkit.Add(wfkit.Package{Name: "onboarding", Register: Register}) }

// Register adds the Check workflow and its activities, all on the
// onboarding queue: the checks are few and slow, and must not wait behind
// a campaign's batches.
func Register(ctx context.Context, h *wfkit.Host) error {
	st, err := NewStore(ctx, h.DB)
	if err != nil {
		return err
	}
	a := &Activities{Tenants: h.Tenants, Checker: &Checker{Conns: h.Conns}, Store: st}
	h.Workflow(QueueWorkflows, WorkflowName, Workflow)
	h.Activity(QueueWorkflows, ActivityCheck, a.RunCheck)
	h.Activity(QueueWorkflows, ActivitySave, a.SaveRun)
	return nil
}
