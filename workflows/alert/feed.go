package alert

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/ponte-pa/ponte/connectors/cap"
	"github.com/ponte-pa/ponte/internal/wfkit"
)

// FeedWorkflowName is the workflow that follows a tenant's CAP feeds.
const FeedWorkflowName = "AlertFeed"

// FeedWorkflowID is the id of the workflow following tenant's feeds.
func FeedWorkflowID(tenantID string) string { return "alert-feed:" + tenantID }

// FeedInput names the tenant whose feeds to follow.
type FeedInput struct {
	TenantID string
	// Polls bounds the polls of one run before it continues as new (so
	// that its history stays small); 0 means 500.
	Polls int
}

// FeedPoll is what one poll found.
type FeedPoll struct {
	// Start are new alerts for the tenant's zones or comuni.
	Start []Input
	// Changes are Updates and Cancels of alerts the feed started.
	Changes []FeedChange
	// Seen are the feed entries to mark as handled once started.
	Seen []string
	// Errors describe entries or feeds that could not be read.
	Errors []string
	// Every is when to poll again (the shortest feed interval).
	Every time.Duration
}

// FeedChange is an Update or Cancel in a feed for an alert it started.
type FeedChange struct {
	WorkflowID string
	Change     Change
}

// FeedWorkflow polls the tenant's CAP feeds: a bulletin for one of its
// zones or comuni starts an alert (waiting for an operator's confirmation
// when the feed says so); an Update or Cancel of one goes to that alert.
func FeedWorkflow(ctx workflow.Context, in FeedInput) error {
	if in.Polls <= 0 {
		in.Polls = 500
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{TaskQueue: Queue, StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 5 * time.Second, MaximumInterval: time.Minute, NonRetryableErrorTypes: []string{wfkit.ErrBadInput}}})
	for i := 0; i < in.Polls; i++ {
		var poll FeedPoll
		if err := workflow.ExecuteActivity(actx, a.PollFeeds, in.TenantID).Get(ctx, &poll); err != nil {
			return err
		}
		for _, st := range poll.Start {
			cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
				WorkflowID:            WorkflowID(st.TenantID, st.AlertID),
				TaskQueue:             Queue,
				ParentClosePolicy:     enums.PARENT_CLOSE_POLICY_ABANDON,
				WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
			})
			child := workflow.ExecuteChildWorkflow(cctx, WorkflowName, st)
			var ex workflow.Execution
			if err := child.GetChildWorkflowExecution().Get(ctx, &ex); err != nil && !isAlreadyStarted(err) {
				return err
			}
		}
		for _, c := range poll.Changes {
			sig := SignalUpdate
			if c.Change.Cancel || strings.Contains(c.Change.CAP, "<msgType>Cancel</msgType>") {
				sig = SignalCancel
			}
			if err := workflow.SignalExternalWorkflow(ctx, c.WorkflowID, "", sig, c.Change).Get(ctx, nil); err != nil {
				workflow.GetLogger(ctx).Warn("feed change for an alert that is not running", "workflow", c.WorkflowID, "error", err)
			}
		}
		if len(poll.Seen) > 0 {
			if err := workflow.ExecuteActivity(actx, a.MarkFeedSeen, in.TenantID, poll.Seen).Get(ctx, nil); err != nil {
				return err
			}
		}
		if err := workflow.Sleep(ctx, max(poll.Every, 5*time.Second)); err != nil {
			return err
		}
	}
	return workflow.NewContinueAsNewError(ctx, FeedWorkflowName, in)
}

func isAlreadyStarted(err error) bool { return temporal.IsWorkflowExecutionAlreadyStartedError(err) }

// PollFeeds reads the tenant's feeds and returns the new alerts that
// concern it (by zone or ISTAT code, at or above the feed's minimum
// severity) and the Updates and Cancels of those it started. Entries seen
// before are skipped.
func (a *Activities) PollFeeds(ctx context.Context, tenantID string) (FeedPoll, error) {
	var poll FeedPoll
	t, err := a.tenantOf(tenantID)
	if err != nil {
		return poll, err
	}
	zones, istat := t.Alerts.ZoneIDs(), t.Alerts.ISTAT
	for _, f := range t.Alerts.Feeds {
		if poll.Every == 0 || f.Every() < poll.Every {
			poll.Every = f.Every()
		}
		items, bad, err := cap.ReadFeed(ctx, a.Conns.HTTPClient(), f.URL)
		if err != nil {
			poll.Errors = append(poll.Errors, fmt.Sprintf("%s: %v", f.URL, err))
			continue
		}
		for _, b := range bad {
			poll.Errors = append(poll.Errors, fmt.Sprintf("%s: %v", f.URL, b))
		}
		for _, it := range items {
			al := it.Alert
			if al == nil || al.Status != "Actual" || len(cap.Matches(al, zones, istat)) == 0 || !severeEnough(al, f.MinSeverity) {
				continue
			}
			entry := cmpOr(it.ID, al.Identifier)
			seen, err := a.Store.FeedSeen(ctx, t.ID, entry)
			if err != nil {
				return poll, wfkit.ActivityError(err)
			}
			if seen {
				continue
			}
			b, err := cap.Marshal(al)
			if err != nil {
				poll.Errors = append(poll.Errors, fmt.Sprintf("%s: %s: %v", f.URL, entry, err))
				continue
			}
			switch al.MsgType {
			case "Alert":
				poll.Start = append(poll.Start, Input{AlertID: AlertID(t.ID, al.Identifier), TenantID: t.ID, CAP: string(b),
					Origin: "feed:" + f.URL, AwaitConfirm: f.NeedsConfirm()})
			case "Update", "Cancel":
				orig := firstReference(al.References)
				if orig == "" {
					poll.Errors = append(poll.Errors, fmt.Sprintf("%s: %s: an %s without references", f.URL, entry, al.MsgType))
					continue
				}
				poll.Changes = append(poll.Changes, FeedChange{WorkflowID: WorkflowID(t.ID, AlertID(t.ID, orig)), Change: Change{CAP: string(b), By: "feed:" + f.URL}})
			default:
				continue
			}
			poll.Seen = append(poll.Seen, entry)
		}
	}
	if poll.Every == 0 {
		poll.Every = time.Hour // no feeds: look again later, the config may change
	}
	return poll, nil
}

// MarkFeedSeen records feed entries as handled.
func (a *Activities) MarkFeedSeen(ctx context.Context, tenantID string, entries []string) error {
	for _, e := range entries {
		if _, err := a.Store.SeeFeedEntry(ctx, tenantID, e, ""); err != nil {
			return wfkit.ActivityError(err)
		}
	}
	return nil
}

// firstReference is the identifier of the first message references names
// ("sender,identifier,sent …").
func firstReference(refs string) string {
	f := strings.Fields(refs)
	if len(f) == 0 {
		return ""
	}
	parts := strings.Split(f[0], ",")
	if len(parts) < 2 {
		return ""
	}
	return parts[1]
}

var severities = []string{"Unknown", "Minor", "Moderate", "Severe", "Extreme"}

// severeEnough says whether an alert reaches min (default Moderate) in
// any info block.
func severeEnough(al *cap.Alert, min string) bool {
	need := slices.Index(severities, cmpOr(min, "Moderate"))
	for _, in := range al.Info {
		if slices.Index(severities, in.Severity) >= need {
			return true
		}
	}
	return false
}
