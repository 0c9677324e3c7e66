package alert

import (
	"errors"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/ponte-pa/ponte/connectors/cap"
	"github.com/ponte-pa/ponte/internal/wfkit"
)

// Names of the workflow, its task queue, query and signals.
const (
	WorkflowName  = "Alert"
	Queue         = "ponte-alerts"
	QueryProgress = "progress"
	// SignalUpdate carries a Change with an Update: everyone the alert
	// reached or is reaching gets it, and pending sends of the old version
	// are dropped.
	SignalUpdate = "update"
	// SignalCancel carries a Change with the Cancel: sending stops and the
	// people already reached are told.
	SignalCancel = "cancel"
	// SignalConfirm carries the fiscal code of the operator who confirms
	// an alert that waits for confirmation (from a feed).
	SignalConfirm = "confirm"
)

// WorkflowID is the workflow id of a tenant's alert.
func WorkflowID(tenantID, alertID string) string { return "alert:" + tenantID + ":" + alertID }

// AlertID is tenant's alert id for a CAP identifier: the tenant's id and
// the identifier's letters, digits, dots, dashes and underscores (CAP
// identifiers may hold other characters). A regional bulletin concerns
// several comuni: each gets an alert of its own, with its own id.
func AlertID(tenantID, identifier string) string {
	var b strings.Builder
	b.WriteString(tenantID)
	b.WriteByte('.')
	for _, r := range identifier {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// Input starts one alert.
type Input struct {
	AlertID  string
	TenantID string
	// CAP is the first message (msgType Alert), as XML; or Definition,
	// from which the first activity writes it.
	CAP        string
	Definition *Definition
	// Origin says who started it: "operator:<fiscal code>", "cli",
	// "feed:<url>".
	Origin string
	// AwaitConfirm makes the alert wait for SignalConfirm before sending.
	AwaitConfirm bool
	// EscalateAfter overrides the tenant's alerts.escalateAfter.
	EscalateAfter time.Duration
	// BatchSize recipients per activity (default 500), Parallel batches
	// at once (default 8).
	BatchSize, Parallel int
}

func (in *Input) defaults() {
	if in.BatchSize <= 0 {
		in.BatchSize = 500
	}
	if in.Parallel <= 0 {
		in.Parallel = 8
	}
}

// Progress is where an alert stands (the progress query, and the
// workflow's result).
type Progress struct {
	AlertID     string         `json:"alertId"`
	Tenant      string         `json:"tenant"`
	Phase       string         `json:"phase"` // awaiting_confirmation, staging, sending, escalating, done, cancelled
	Version     int            `json:"version"`
	MsgType     string         `json:"msgType"`
	Stage       StageResult    `json:"stage"`
	Round       int            `json:"round"`
	Sent        map[string]int `json:"sent"`   // every message sent, by channel
	Failed      map[string]int `json:"failed"` // every message not sent or not delivered, by channel
	Reached     int            `json:"reached"`
	Waiting     int            `json:"waiting"`
	Pending     int            `json:"pending"`
	Unreached   int            `json:"unreached"`
	Revoked     int            `json:"revoked,omitempty"` // people told of the Cancel
	Webhooks    int            `json:"webhooks"`
	ConfirmedBy string         `json:"confirmedBy,omitempty"`
	StartedAt   time.Time      `json:"startedAt"`
	FirstSent   time.Time      `json:"firstSent,omitzero"`
	EndedAt     time.Time      `json:"endedAt,omitzero"`
}

var a *Activities

// Workflow sends one alert: it stages the recipients of its area, then
// per version (the Alert, each Update) sends in rounds — each person's
// preferred channel first, the next one after EscalateAfter if the first
// did not deliver, every channel at once at rosso or allarme — and after a
// Cancel tells those reached. It ends with the report kept as evidence.
func Workflow(ctx workflow.Context, in Input) (Progress, error) {
	in.defaults()
	p := Progress{AlertID: in.AlertID, Tenant: in.TenantID, Phase: "staging", Version: 1, MsgType: "Alert",
		Sent: map[string]int{}, Failed: map[string]int{}, StartedAt: workflow.Now(ctx)}
	if err := workflow.SetQueryHandler(ctx, QueryProgress, func() (Progress, error) { return p, nil }); err != nil {
		return p, err
	}
	var next []Change // Updates and Cancels received, in order
	confirmed := !in.AwaitConfirm
	updCh, cancelCh, confirmCh := workflow.GetSignalChannel(ctx, SignalUpdate), workflow.GetSignalChannel(ctx, SignalCancel), workflow.GetSignalChannel(ctx, SignalConfirm)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			sel := workflow.NewSelector(ctx)
			sel.AddReceive(updCh, func(c workflow.ReceiveChannel, _ bool) {
				var ch Change
				c.Receive(ctx, &ch)
				next = append(next, ch)
			})
			sel.AddReceive(cancelCh, func(c workflow.ReceiveChannel, _ bool) {
				var ch Change
				c.Receive(ctx, &ch)
				next = append(next, ch)
			})
			sel.AddReceive(confirmCh, func(c workflow.ReceiveChannel, _ bool) {
				c.Receive(ctx, &p.ConfirmedBy)
				confirmed = true
			})
			sel.Select(ctx)
		}
	})
	retry := &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second,
		NonRetryableErrorTypes: []string{wfkit.ErrBadInput}}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{TaskQueue: Queue, StartToCloseTimeout: 10 * time.Minute,
		HeartbeatTimeout: time.Minute, RetryPolicy: retry})
	var first string
	if err := workflow.ExecuteActivity(actx, a.RecordAlert, in).Get(ctx, &first); err != nil {
		return p, err
	}
	al, err := cap.Parse(strings.NewReader(first))
	if err != nil {
		return p, err
	}
	// nextVersion takes the first Update or Cancel received and makes it
	// the current version; a message the store refuses is dropped.
	nextVersion := func() error {
		change := next[0]
		next = next[1:]
		var v VersionResult
		if err := workflow.ExecuteActivity(actx, a.RecordVersion, VersionInput{AlertID: in.AlertID, TenantID: in.TenantID, Version: p.Version + 1, Change: change}).Get(ctx, &v); err != nil {
			var ae *temporal.ApplicationError
			if errors.As(err, &ae) && ae.Type() == wfkit.ErrBadInput {
				workflow.GetLogger(ctx).Warn("update refused", "error", err)
				return nil
			}
			return err
		}
		parsed, err := cap.Parse(strings.NewReader(v.CAP))
		if err != nil {
			return err
		}
		al, p.Version, p.MsgType, p.Round = parsed, p.Version+1, v.MsgType, 0
		return nil
	}
	if !confirmed {
		p.Phase = StateAwaiting
		for !confirmed && p.MsgType != "Cancel" {
			if err := workflow.Await(ctx, func() bool { return confirmed || len(next) > 0 }); err != nil {
				return p, err
			}
			for len(next) > 0 && p.MsgType != "Cancel" {
				if err := nextVersion(); err != nil {
					return p, err
				}
			}
		}
		if p.MsgType == "Cancel" { // cancelled before anyone confirmed: nobody was told anything
			p.Phase, p.EndedAt = StateCancelled, workflow.Now(ctx)
			return p, workflow.ExecuteActivity(actx, a.SetState, in.AlertID, StateCancelled).Get(ctx, nil)
		}
		if err := workflow.ExecuteActivity(actx, a.SetState, in.AlertID, StateSending).Get(ctx, nil); err != nil {
			return p, err
		}
	}
	p.Phase = "staging"
	if err := workflow.ExecuteActivity(actx, a.StageRecipients, StageInput{AlertID: in.AlertID, TenantID: in.TenantID}).Get(ctx, &p.Stage); err != nil {
		return p, err
	}
	escalate := in.EscalateAfter
	if escalate <= 0 {
		if err := workflow.ExecuteActivity(actx, a.EscalateAfter, in.TenantID).Get(ctx, &escalate); err != nil {
			return p, err
		}
	}
	n := int64(p.Stage.Recipients)
	batches := func(ri RoundInput) []RoundInput {
		var out []RoundInput
		for from := int64(1); from <= n; from += int64(in.BatchSize) {
			b := ri
			b.From, b.To = from, min(from+int64(in.BatchSize), n+1)
			out = append(out, b)
		}
		return out
	}
	// round runs one round over every batch, in windows of Parallel, and
	// stops between windows when an Update or Cancel arrives (except in
	// the Cancel's own round).
	round := func(ri RoundInput) (RoundResult, bool, error) {
		var total RoundResult
		total.Add(RoundResult{})
		all := batches(ri)
		for first := 0; first < len(all); first += in.Parallel {
			if ri.MsgType != "Cancel" && len(next) > 0 {
				return total, true, nil
			}
			var futs []workflow.Future
			for _, b := range all[first:min(first+in.Parallel, len(all))] {
				futs = append(futs, workflow.ExecuteActivity(actx, a.SendRound, b))
			}
			for _, f := range futs {
				var r RoundResult
				if err := f.Get(ctx, &r); err != nil {
					return total, false, err
				}
				total.Add(r)
				for k, v := range r.Sent {
					p.Sent[k] += v
				}
				for k, v := range r.Failed {
					p.Failed[k] += v
				}
				if p.FirstSent.IsZero() && len(r.Sent) > 0 {
					p.FirstSent = workflow.Now(ctx)
				}
			}
		}
		return total, false, nil
	}
	finish := func(state string) error {
		return workflow.ExecuteActivity(actx, a.FinishAlert, FinishInput{AlertID: in.AlertID, TenantID: in.TenantID, State: state, Progress: p}).Get(ctx, nil)
	}
	// maxRounds bounds the rounds of one version whatever the channels
	// answer (each person has a few channels; rounds that only check
	// deliveries wait between them).
	const maxRounds = 200
	// sleep waits d, or less if an Update or Cancel arrives.
	sleep := func(d time.Duration) error {
		timerCtx, cancelTimer := workflow.WithCancel(ctx)
		defer cancelTimer()
		timer := workflow.NewTimer(timerCtx, d)
		return workflow.Await(ctx, func() bool { return len(next) > 0 || timer.IsReady() })
	}
	for {
		if p.MsgType == "Cancel" {
			p.Phase = "cancelling"
			// The sirens and displays stop too.
			if err := workflow.ExecuteActivity(actx, a.SendWebhooks, WebhookInput{AlertID: in.AlertID, TenantID: in.TenantID, Version: p.Version}).Get(ctx, &p.Webhooks); err != nil {
				return p, err
			}
			t, _, err := round(RoundInput{AlertID: in.AlertID, TenantID: in.TenantID, Version: p.Version, MsgType: "Cancel", Started: workflow.Now(ctx)})
			if err != nil {
				return p, err
			}
			p.Revoked, p.Phase = t.Reached, StateCancelled
			break
		}
		info := InfoFor(al, "it")
		it := cap.ItalianOf(info)
		allAtOnce := it.Colour == cap.Rosso || it.Phase == cap.Allarme || info.Severity == "Extreme" || info.Urgency == "Immediate"
		p.Phase = "sending"
		if err := workflow.ExecuteActivity(actx, a.SendWebhooks, WebhookInput{AlertID: in.AlertID, TenantID: in.TenantID, Version: p.Version}).Get(ctx, &p.Webhooks); err != nil {
			return p, err
		}
		// Rounds: the first sends each person's first channel; a failed
		// send moves to the next channel in the round right after; a sent
		// message whose channel reports deliveries is checked every few
		// seconds, and after EscalateAfter without a delivery the person
		// gets the next channel too.
		interrupted := false
		lastSend := workflow.Now(ctx)
		pause := min(escalate, 2*time.Second)
	rounds:
		for r := 0; r < maxRounds; r++ {
			p.Round = r
			due := workflow.Now(ctx).Sub(lastSend) >= escalate
			t, stopped, err := round(RoundInput{AlertID: in.AlertID, TenantID: in.TenantID, Version: p.Version, MsgType: p.MsgType,
				Round: r, AllAtOnce: allAtOnce, EscalateWaiting: due, Started: workflow.Now(ctx)})
			if err != nil {
				return p, err
			}
			if interrupted = stopped; stopped {
				break rounds
			}
			p.Reached, p.Waiting, p.Pending, p.Unreached = t.Reached, t.Waiting, t.Pending, t.Exhausted
			sent, failed := 0, 0
			for _, n := range t.Sent {
				sent += n
			}
			for _, n := range t.Failed {
				failed += n
			}
			if sent > 0 {
				lastSend = workflow.Now(ctx)
			}
			switch {
			case t.Waiting+t.Pending == 0:
			case t.Pending > 0 && sent+failed > 0:
				continue // failed sends go to the next channel at once
			case t.Pending == 0 && due && sent == 0:
				// Waiting for deliveries that did not come, with no channel left.
			default:
				// Wait for deliveries (or for a channel that failed for a
				// moment), or for an Update or Cancel.
				p.Phase = "escalating"
				wait := pause
				if t.Pending == 0 {
					wait = min(pause, max(escalate-workflow.Now(ctx).Sub(lastSend), time.Second))
				}
				if err := sleep(wait); err != nil {
					return p, err
				}
				pause = min(2*pause, time.Minute)
				if interrupted = len(next) > 0; interrupted {
					break rounds
				}
				p.Phase = "sending"
				continue
			}
			break
		}
		if !interrupted {
			// Every round done: what is still unconfirmed is not reached.
			p.Unreached += p.Waiting + p.Pending
			p.Waiting, p.Pending = 0, 0
			p.Phase = StateDone
			if err := finish(StateDone); err != nil {
				return p, err
			}
			// The alert stays open for an Update or Cancel until it
			// expires (at most a week).
			wait := 7 * 24 * time.Hour
			if info.Expires != nil {
				wait = min(wait, max(info.Expires.Sub(workflow.Now(ctx)), 0))
			}
			if wait > 0 {
				timerCtx, cancelTimer := workflow.WithCancel(ctx)
				timer := workflow.NewTimer(timerCtx, wait)
				err := workflow.Await(ctx, func() bool { return len(next) > 0 || timer.IsReady() })
				cancelTimer()
				if err != nil {
					return p, err
				}
			}
			if len(next) == 0 {
				p.EndedAt = workflow.Now(ctx)
				return p, nil
			}
		}
		if err := nextVersion(); err != nil {
			return p, err
		}
	}
	if err := finish(p.Phase); err != nil {
		return p, err
	}
	p.EndedAt = workflow.Now(ctx)
	return p, nil
}
