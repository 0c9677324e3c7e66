// Package info sends information and territorial campaigns to the people
// who consented to their topic, keeps that consent (and its withdrawal
// through the link in every message) as evidence, and reports.
package info

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/ponte-pa/ponte/internal/wfkit"
)

// Names of the workflow, its task queue, query and signals.
const (
	WorkflowName  = "InfoCampaign"
	Queue         = "ponte-info"
	QueryProgress = "progress"
	SignalPause   = "pause"
	SignalResume  = "resume"
	SignalCancel  = "cancel"
)

// WorkflowID is the workflow id of a tenant's campaign.
func WorkflowID(tenantID, id string) string { return "info:" + tenantID + ":" + id }

// Input starts one campaign.
type Input struct {
	TenantID   string
	Definition *Definition
	// PublicURL is the tenant's base URL on the gateway (…/t/<id>), for
	// the unsubscribe links.
	PublicURL string
	Origin    string
}

// Progress is where a campaign stands (the progress query, and the
// workflow's result).
type Progress struct {
	Campaign    string         `json:"campaign"`
	Tenant      string         `json:"tenant"`
	Topic       string         `json:"topic"`
	Phase       string         `json:"phase"` // staging, waiting, quiet, sending, paused, done, cancelled
	Stage       StageResult    `json:"stage"`
	Batches     int            `json:"batches"`
	BatchesDone int            `json:"batchesDone"`
	Sent        map[string]int `json:"sent"`
	Failed      map[string]int `json:"failed"`
	Withdrawn   int            `json:"withdrawn"`
	Unreachable int            `json:"unreachable"`
	NextAt      time.Time      `json:"nextAt,omitzero"`
	StartedAt   time.Time      `json:"startedAt"`
	EndedAt     time.Time      `json:"endedAt,omitzero"`
	// SentAt is when each batch went (workflow time), for the schedule.
	SentAt []time.Time `json:"sentAt,omitempty"`
}

const defaultBatch = 200

// Workflow stages the campaign's recipients, waits for its start and
// sends it in batches spread over its window, never in its quiet hours;
// each batch reads consent again. Pause, resume and cancel are signals.
func Workflow(ctx workflow.Context, in Input) (Progress, error) {
	d := in.Definition
	p := Progress{Tenant: in.TenantID, Phase: "staging", Sent: map[string]int{}, Failed: map[string]int{}, StartedAt: workflow.Now(ctx)}
	if d != nil {
		p.Campaign, p.Topic = d.ID, d.Topic
	}
	if err := workflow.SetQueryHandler(ctx, QueryProgress, func() (Progress, error) { return p, nil }); err != nil {
		return p, err
	}
	paused, cancelled := false, false
	workflow.Go(ctx, func(ctx workflow.Context) {
		pause, resume, cancel := workflow.GetSignalChannel(ctx, SignalPause), workflow.GetSignalChannel(ctx, SignalResume), workflow.GetSignalChannel(ctx, SignalCancel)
		for {
			sel := workflow.NewSelector(ctx)
			sel.AddReceive(pause, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil); paused = true })
			sel.AddReceive(resume, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil); paused = false })
			sel.AddReceive(cancel, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil); cancelled = true })
			sel.Select(ctx)
		}
	})
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{TaskQueue: Queue, StartToCloseTimeout: 10 * time.Minute, HeartbeatTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second,
			NonRetryableErrorTypes: []string{wfkit.ErrBadInput}}})
	if err := workflow.ExecuteActivity(actx, "InfoRecord", in).Get(ctx, nil); err != nil {
		return p, err
	}
	if err := workflow.ExecuteActivity(actx, "InfoStage", StageInput{TenantID: in.TenantID, CampaignID: d.ID}).Get(ctx, &p.Stage); err != nil {
		return p, err
	}
	size := d.BatchSize
	if size <= 0 {
		size = defaultBatch
	}
	n := (p.Stage.Recipients + size - 1) / size
	p.Batches = n
	spread, _ := d.SpreadDuration() // checked when the definition was read
	start := d.Start
	if start.IsZero() || start.Before(p.StartedAt) {
		start = p.StartedAt
	}
	// wait sleeps until at, or less when a signal arrives.
	wait := func(at time.Time) error {
		dur := at.Sub(workflow.Now(ctx))
		if dur <= 0 {
			return nil
		}
		tctx, stop := workflow.WithCancel(ctx)
		defer stop()
		timer := workflow.NewTimer(tctx, dur)
		wasPaused := paused
		return workflow.Await(ctx, func() bool { return timer.IsReady() || cancelled || paused != wasPaused })
	}
	for i := 0; i < n && !cancelled; {
		at := SendAt(start, spread, i, n, d.QuietHours)
		now := workflow.Now(ctx)
		if q := NotQuiet(now, d.QuietHours); q.After(now) && !at.After(now) {
			at = q // a batch due in the quiet hours goes when they end
		}
		switch {
		case paused:
			p.Phase = StatePaused
			if err := workflow.Await(ctx, func() bool { return !paused || cancelled }); err != nil {
				return p, err
			}
			continue
		case at.After(now):
			p.Phase, p.NextAt = "waiting", at
			if NotQuiet(now, d.QuietHours).After(now) {
				p.Phase = "quiet"
			}
			if err := wait(at); err != nil {
				return p, err
			}
			continue
		}
		p.Phase, p.NextAt = StateSending, time.Time{}
		var r BatchResult
		from := int64(i*size + 1)
		if err := workflow.ExecuteActivity(actx, "InfoSendBatch", BatchInput{TenantID: in.TenantID, CampaignID: d.ID, PublicURL: in.PublicURL,
			From: from, To: from + int64(size)}).Get(ctx, &r); err != nil {
			return p, err
		}
		for k, v := range r.Sent {
			p.Sent[k] += v
		}
		for k, v := range r.Failed {
			p.Failed[k] += v
		}
		p.Withdrawn += r.Withdrawn
		p.Unreachable += r.Unreachable
		p.SentAt = append(p.SentAt, workflow.Now(ctx))
		i++
		p.BatchesDone = i
	}
	state := StateDone
	if cancelled && p.BatchesDone < n {
		state = StateCancelled
	}
	p.Phase = state
	p.EndedAt = workflow.Now(ctx)
	if err := workflow.ExecuteActivity(actx, "InfoFinish", FinishInput{TenantID: in.TenantID, CampaignID: d.ID, State: state, Progress: p}).Get(ctx, nil); err != nil {
		return p, err
	}
	return p, nil
}
