package campaign

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/ponte-pa/ponte/connectors/appio"
	"github.com/ponte-pa/ponte/connectors/channels"
	"github.com/ponte-pa/ponte/connectors/failure"
	"github.com/ponte-pa/ponte/connectors/pagopa"
	"github.com/ponte-pa/ponte/internal/rome"
	"github.com/ponte-pa/ponte/internal/tenant"
	"github.com/ponte-pa/ponte/internal/wfkit"
)

// RemindersWorkflowName is the workflow that reminds unpaid debtors before
// the due date. The campaign starts it as an abandoned child when the
// campaign has reminders, so the campaign itself ends once notices are out.
const RemindersWorkflowName = "PaymentCampaignReminders"

// RemindersWorkflowID is the workflow id of a campaign's reminders.
func RemindersWorkflowID(tenantID, campaignID string) string {
	return "campaign-reminders/" + tenantID + "/" + campaignID
}

// RemindersInput is the reminder plan of one campaign.
type RemindersInput struct {
	TenantID, CampaignID string
	Subject, SubjectEN   string
	IOPurpose            string
	// DueDate (YYYY-MM-DD) of the notices; reminders are sent DaysBefore it,
	// at SendHour (default 9) Rome time.
	DueDate    string
	DaysBefore []int
	SendHour   int
	// Items is the number of staged debtors (sequence numbers 0..Items-1).
	Items     int
	BatchSize int
	Parallel  int
}

// ReminderBatch is one batch of one reminder (N counts from 1).
type ReminderBatch struct {
	RemindersInput
	N        int
	From, To int
}

// ReminderResult counts what one reminder did.
type ReminderResult struct {
	// Sent reminders (App IO or email); Paid debtors were skipped because
	// GPD says the position is paid; Closed ones because it is no longer
	// payable (invalidated, expired); NoChannel ones were never reached
	// digitally (their notice goes by post); Unknown ones were being sent
	// when a worker died (never resent); Failed ones were refused.
	Sent, Paid, Closed, NoChannel, Unknown, Failed, Skipped int
}

func (r *ReminderResult) add(o ReminderResult) {
	r.Sent += o.Sent
	r.Paid += o.Paid
	r.Closed += o.Closed
	r.NoChannel += o.NoChannel
	r.Unknown += o.Unknown
	r.Failed += o.Failed
	r.Skipped += o.Skipped
}

// RemindersResult is the outcome of every reminder of a campaign.
type RemindersResult struct {
	// Reminders[i] is reminder i+1 (DaysBefore sorted from the farthest).
	Reminders []ReminderResult
	// Late counts reminders whose time had already passed when the
	// workflow got to them by more than a day: they were not sent.
	Late int
}

// reminderTime is when reminder daysBefore is due: SendHour Rome time,
// daysBefore days before dueDate.
func reminderTime(dueDate string, daysBefore, hour int) (time.Time, error) {
	d, err := time.Parse("2006-01-02", dueDate)
	if err != nil {
		return time.Time{}, fmt.Errorf("due date %q: %w", dueDate, err)
	}
	if hour <= 0 || hour > 23 {
		hour = 9
	}
	return rome.At(d.AddDate(0, 0, -daysBefore), hour), nil
}

// RemindersWorkflow sleeps (a durable timer) until each reminder's time and
// then reminds, in batches, every debtor whose position is still unpaid on
// GPD, through the channel that reached them (App IO or email).
func RemindersWorkflow(ctx workflow.Context, in RemindersInput) (RemindersResult, error) {
	if in.BatchSize <= 0 {
		in.BatchSize = 500
	}
	if in.Parallel <= 0 {
		in.Parallel = 2
	}
	if in.IOPurpose == "" {
		in.IOPurpose = "payments"
	}
	days := slices.Clone(in.DaysBefore)
	slices.Sort(days)
	slices.Reverse(days)
	days = slices.Compact(days)
	res := RemindersResult{Reminders: make([]ReminderResult, len(days))}
	if err := workflow.SetQueryHandler(ctx, QueryProgress, func() (RemindersResult, error) { return res, nil }); err != nil {
		return res, err
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:           QueueAppIO,
		StartToCloseTimeout: 30 * time.Minute,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
			NonRetryableErrorTypes: []string{ErrBadInput},
		},
	})
	for i, d := range days {
		at, err := reminderTime(in.DueDate, d, in.SendHour)
		if err != nil {
			return res, temporal.NewNonRetryableApplicationError(err.Error(), ErrBadInput, err)
		}
		wait := at.Sub(workflow.Now(ctx))
		if wait < -24*time.Hour {
			res.Late++
			continue
		}
		if wait > 0 {
			if err := workflow.Sleep(ctx, wait); err != nil {
				return res, err
			}
		}
		for from := 0; from < in.Items; from += in.BatchSize * in.Parallel {
			var futs []workflow.Future
			for b := from; b < min(from+in.BatchSize*in.Parallel, in.Items); b += in.BatchSize {
				futs = append(futs, workflow.ExecuteActivity(actx, a.SendReminders,
					ReminderBatch{RemindersInput: in, N: i + 1, From: b, To: min(b+in.BatchSize, in.Items)}))
			}
			for _, f := range futs {
				var r ReminderResult
				if err := f.Get(ctx, &r); err != nil {
					return res, err
				}
				res.Reminders[i].add(r)
			}
		}
	}
	return res, nil
}

// Reminder outcomes in the outbox (slot SlotReminder(n)), besides the
// outbox's own states.
const (
	reminderSent      = channels.StateSent
	reminderPaid      = "paid"       // GPD says the position is paid: not reminded
	reminderClosed    = "closed"     // no longer payable (invalidated, expired)
	reminderNoChannel = "no_channel" // never reached digitally: the notice went by post
	reminderUnknown   = channels.StateUnknown
	reminderRetry     = channels.StateRetry
)

func (r *ReminderResult) count(state string) {
	switch state {
	case reminderSent:
		r.Sent++
	case reminderPaid:
		r.Paid++
	case reminderClosed:
		r.Closed++
	case reminderNoChannel:
		r.NoChannel++
	case reminderUnknown, channels.StateSending:
		r.Unknown++
	default:
		r.Failed++
	}
}

// SendReminders sends reminder N to the batch's debtors whose debt position
// GPD still holds as payable, through the channel that reached them (App IO,
// or the channel of their fallback), via the outbox (slot
// SlotReminder(N)), so a retried batch never reminds anyone twice.
func (a *Activities) SendReminders(ctx context.Context, b ReminderBatch) (ReminderResult, error) {
	t, err := a.tenant(b.TenantID)
	if err != nil {
		return ReminderResult{}, err
	}
	gpd, err := a.conns().GPD(t)
	if err != nil {
		return ReminderResult{}, err
	}
	ob, scope, slot := a.Store.Outbox(), Scope(b.CampaignID), SlotReminder(b.N)
	var res ReminderResult
	if _, err := ob.Recover(ctx, scope, slot, int64(b.From), int64(b.To)); err != nil {
		return res, err
	}
	items, err := a.Store.Items(ctx, b.CampaignID, b.From, b.To)
	if err != nil {
		return res, err
	}
	done, err := ob.Entries(ctx, scope, slot, int64(b.From), int64(b.To))
	if err != nil {
		return res, err
	}
	var todo []Item
	for _, it := range items {
		switch e, ok := done[int64(it.Seq)]; {
		case it.State != StatePublished:
			res.Skipped++
		case ok && e.Final():
			res.count(e.State)
		default:
			todo = append(todo, it)
		}
	}
	// The channels that reached the debtors: opened once, before any
	// reminder, so that a configuration problem fails the batch.
	var via reminderChannels
	for _, it := range todo {
		switch {
		case it.IOState == IOSent && via.io == nil:
			if via.io, err = a.conns().AppIO(t, b.IOPurpose); err != nil {
				return res, err
			}
		case it.FallbackState == FallbackSent && via.others == nil:
			if via.others, err = a.conns().Channels(t); err != nil {
				return res, err
			}
		}
	}
	var retries wfkit.Retries
	if err := wfkit.InChunks(ctx, todo, 2*a.conc(), func(chunk []Item) error {
		return a.remindChunk(ctx, t, gpd, via, b, chunk, &res, &retries)
	}, func() { activity.RecordHeartbeat(ctx, res) }); err != nil {
		return res, err
	}
	if err := retries.Err("reminders", len(todo)); err != nil {
		return res, err
	}
	return res, ctx.Err()
}

// reminderStep is one item's reminder: an outcome to record, a message to
// send, or an error to retry later.
type reminderStep struct {
	outcome *channels.Outcome
	send    *channels.Delivery
	err     error
}

// reminderChannels are the senders a batch reminds through: App IO, and
// the tenant's other channels for debtors whose fallback reached them.
type reminderChannels struct {
	io     *appio.Sender
	others []channels.Sender
}

func (a *Activities) remindChunk(ctx context.Context, t *tenant.Tenant, gpd *pagopa.GPDClient, via reminderChannels, b ReminderBatch, items []Item, res *ReminderResult, retries *wfkit.Retries) error {
	steps := make([]reminderStep, len(items))
	idx := make(map[int]int, len(items))
	for i, it := range items {
		idx[it.Seq] = i
	}
	_ = wfkit.ForEach(ctx, a.conc(), items, func(it Item) { // items not started are retried
		steps[idx[it.Seq]] = a.remindOne(ctx, t, gpd, via, b, it)
	})
	if err := ctx.Err(); err != nil {
		return err
	}
	batch := channels.Batch{Tenant: t.ID, Concurrency: a.conc()}
	var lines []int // of batch.Send
	for i, st := range steps {
		switch {
		case st.err != nil:
			retries.Add(fmt.Sprintf("line %d", items[i].Line), st.err)
		case st.outcome != nil:
			batch.Record = append(batch.Record, *st.outcome)
		case st.send != nil:
			batch.Send = append(batch.Send, *st.send)
			lines = append(lines, items[i].Line)
		}
	}
	results, err := a.Store.Outbox().Run(ctx, batch)
	if err != nil {
		return err
	}
	for _, o := range batch.Record {
		res.count(o.State)
	}
	for i, r := range results {
		switch {
		case r.Before:
			res.Skipped++
		case r.State == reminderRetry:
			retries.Add(fmt.Sprintf("line %d", lines[i]), r.Err)
		default:
			res.count(r.State)
		}
	}
	return nil
}

// remindOne decides one item's reminder: the channel that reached the
// debtor, whether GPD still holds the position payable, and the message.
func (a *Activities) remindOne(ctx context.Context, t *tenant.Tenant, gpd *pagopa.GPDClient, via reminderChannels, b ReminderBatch, it Item) reminderStep {
	key := channels.Key{Scope: Scope(b.CampaignID), Item: int64(it.Seq), Slot: SlotReminder(b.N)}
	final := func(channel, state, errText string) reminderStep {
		return reminderStep{outcome: &channels.Outcome{Key: key, Channel: channel, State: state, Error: errText}}
	}
	var sender channels.Sender
	switch {
	case it.IOState == IOSent:
		sender = via.io
	case it.FallbackState == FallbackSent:
		for _, s := range via.others {
			if s.Kind() == it.FallbackChannel {
				sender = s
				break
			}
		}
		if sender == nil {
			return final("", reminderNoChannel, "the tenant no longer has the "+it.FallbackChannel+" channel that sent the notice")
		}
	default:
		return final("", reminderNoChannel, "")
	}
	pos, err := gpd.Get(ctx, t.FiscalCode, it.IUPD)
	switch {
	case failure.IsRetryable(err):
		return reminderStep{err: err}
	case err != nil:
		return final(sender.Kind(), channels.StateFailed, "GPD: "+err.Error())
	}
	switch pos.Status {
	case pagopa.StatusPaid, pagopa.StatusReported:
		return final(sender.Kind(), reminderPaid, "")
	case pagopa.StatusInvalid, pagopa.StatusExpired, pagopa.StatusDraft:
		return final(sender.Kind(), reminderClosed, "GPD status "+pos.Status)
	}
	if io, ok := sender.(*appio.Sender); ok {
		// The profile says whether the citizen still takes messages from the
		// service, and in which language.
		prof, err := io.Client.GetProfile(ctx, io.Key, it.FiscalCode)
		switch {
		case errors.Is(err, appio.ErrNotOnIO):
			return final(io.Kind(), reminderNoChannel, "no longer on App IO")
		case failure.IsRetryable(err):
			return reminderStep{err: err}
		case err != nil:
			return final(io.Kind(), channels.StateFailed, err.Error())
		case !prof.SenderAllowed:
			return final(io.Kind(), reminderNoChannel, "the citizen has blocked this service on App IO")
		}
		msg, err := reminderMessage(t, b, it, prof.PreferredLanguages)
		if err != nil {
			return final(io.Kind(), channels.StateFailed, err.Error())
		}
		return reminderStep{send: &channels.Delivery{Key: key, Sender: io, Message: msg}}
	}
	bi := BatchInput{TenantID: b.TenantID, CampaignID: b.CampaignID, Subject: b.Subject, SubjectEN: b.SubjectEN, DueDate: b.DueDate}
	pdf, err := noticePDF(t, bi, it)
	if err != nil {
		return final(sender.Kind(), channels.StateFailed, "payment notice PDF: "+err.Error())
	}
	msg := fallbackMessage(t, bi, it)
	msg.Subject = clip("Promemoria / Reminder: "+msg.Subject, 150)
	msg.Text = "Promemoria: l'avviso di pagamento qui sotto non risulta ancora pagato.\n" +
		"Reminder: the payment notice below does not appear to be paid yet.\n\n" + msg.Text
	msg.ID = fmt.Sprintf("%s.%s.%d.r%d@ponte", t.ID, b.CampaignID, it.Seq, b.N)
	msg.Attachments = []channels.Attachment{{Name: "avviso-pagopa-" + it.NAV + ".pdf", ContentType: "application/pdf", Data: pdf}}
	return reminderStep{send: &channels.Delivery{Key: key, Sender: sender, Message: msg}}
}

var (
	remTemplatesOnce sync.Once
	remTemplates     *appio.TemplateSet
	remTemplatesErr  error
)

// reminderTemplates is the App IO reminder, Italian and English, with the
// variables of appio.DefaultPaymentTemplates.
func reminderTemplates() (*appio.TemplateSet, error) {
	remTemplatesOnce.Do(func() {
		def := appio.DefaultPaymentTemplates()
		def.Name = "payment-reminder"
		def.Languages = map[string]appio.TextPair{
			"it": {
				Subject: `Promemoria: {{clip 60 .subject}} scade il {{date .due_date}}`,
				Markdown: `Gentile {{with .name}}{{md .}}{{else}}contribuente{{end}},

ti ricordiamo che l'avviso di pagamento pagoPA di {{md .organization}} per **{{md .subject}}** non risulta ancora pagato.

- Importo: **{{money .amount}}**
- Scadenza: **{{date .due_date}}**
- Codice avviso: ` + "`{{nav .nav}}`" + `

Puoi pagare direttamente in app con il pulsante qui sotto. Se hai già pagato, non serve fare altro: la ricevuta può impiegare qualche giorno ad arrivare.`,
			},
			"en": {
				Subject: `Reminder: {{clip 70 .subject}} is due on {{date .due_date}}`,
				Markdown: `Dear {{with .name}}{{md .}}{{else}}taxpayer{{end}},

this is a reminder that the pagoPA payment notice of {{md .organization}} for **{{md .subject}}** does not appear to be paid yet.

- Amount: **{{money .amount}}**
- Due date: **{{date .due_date}}**
- Notice code: ` + "`{{nav .nav}}`" + `

You can pay directly in the app with the button below. If you have already paid, there is nothing else to do: the receipt may take a few days to arrive.`,
			},
		}
		remTemplates, remTemplatesErr = appio.ParseTemplates(def)
	})
	return remTemplates, remTemplatesErr
}

// reminderMessage is the App IO reminder for an item, with the same payment
// data as the notice message, in the citizen's preferred language when the
// campaign has it (as paymentMessage chooses).
func reminderMessage(t *tenant.Tenant, b ReminderBatch, it Item, langs []string) (channels.Message, error) {
	ts, err := reminderTemplates()
	if err != nil {
		return channels.Message{}, err
	}
	bi := BatchInput{TenantID: b.TenantID, CampaignID: b.CampaignID, Subject: b.Subject, SubjectEN: b.SubjectEN, DueDate: b.DueDate}
	msg, err := paymentMessageFrom(ts, t, bi, it, langs)
	if err != nil {
		return msg, err
	}
	return msg, (&appio.Sender{}).Message(msg).Validate()
}
