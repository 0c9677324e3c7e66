package campaign

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
	_ "time/tzdata" // Europe/Rome for reminder times, even without system tzdata

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/ponte-pa/ponte/connectors/appio"
	"github.com/ponte-pa/ponte/connectors/channels"
	"github.com/ponte-pa/ponte/connectors/pagopa"
	"github.com/ponte-pa/ponte/internal/tenant"
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
	return time.Date(d.Year(), d.Month(), d.Day()-daysBefore, hour, 0, 0, 0, rome), nil
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

// Reminder states in campaign_reminders.
const (
	reminderSending   = "sending"
	reminderSent      = "sent"
	reminderPaid      = "paid"
	reminderClosed    = "closed"
	reminderNoChannel = "no_channel"
	reminderUnknown   = "unknown"
	reminderFailed    = "failed"
)

func (a *Activities) reminderStates(ctx context.Context, b ReminderBatch) (map[int]string, error) {
	rows, err := a.Store.db.QueryContext(ctx, a.Store.db.Rebind(`SELECT seq, state FROM campaign_reminders
		WHERE campaign_id = ? AND n = ? AND seq >= ? AND seq < ?`), b.CampaignID, b.N, b.From, b.To)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int]string{}
	for rows.Next() {
		var seq int
		var st string
		if err := rows.Scan(&seq, &st); err != nil {
			return nil, err
		}
		out[seq] = st
	}
	return out, rows.Err()
}

func (a *Activities) setReminder(ctx context.Context, b ReminderBatch, seq int, channel, state, id, errText string) error {
	db := a.Store.db
	_, err := db.ExecContext(ctx, db.Rebind(`INSERT INTO campaign_reminders (campaign_id, seq, n, channel, state, message_id, error, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (campaign_id, seq, n) DO UPDATE SET channel = excluded.channel, state = excluded.state,
		message_id = excluded.message_id, error = excluded.error, updated_at = excluded.updated_at`),
		b.CampaignID, seq, b.N, channel, state, id, clip(errText, 1000), now())
	return err
}

// SendReminders sends reminder N to the batch's debtors whose debt position
// GPD still holds as payable, through the channel that reached them. Each
// (item, reminder) is recorded in campaign_reminders, with a "sending"
// marker before the send, so a retried batch never reminds anyone twice.
func (a *Activities) SendReminders(ctx context.Context, b ReminderBatch) (ReminderResult, error) {
	t, err := a.tenant(b.TenantID)
	if err != nil {
		return ReminderResult{}, err
	}
	gpd, err := a.gpdClient(t)
	if err != nil {
		return ReminderResult{}, err
	}
	items, err := a.Store.Items(ctx, b.CampaignID, b.From, b.To)
	if err != nil {
		return ReminderResult{}, err
	}
	done, err := a.reminderStates(ctx, b)
	if err != nil {
		return ReminderResult{}, err
	}
	var io *appio.Client
	var key string
	var sender *channels.SMTPSender
	var (
		mu        sync.Mutex
		res       ReminderResult
		retryErrs []error
	)
	count := func(state string) {
		switch state {
		case reminderSent:
			res.Sent++
		case reminderPaid:
			res.Paid++
		case reminderClosed:
			res.Closed++
		case reminderNoChannel:
			res.NoChannel++
		case reminderUnknown:
			res.Unknown++
		default:
			res.Failed++
		}
	}
	var todo []Item
	for _, it := range items {
		switch st := done[it.Seq]; {
		case it.State != StatePublished:
			res.Skipped++
		case st == "":
			todo = append(todo, it)
		case st == reminderSending:
			if err := a.setReminder(ctx, b, it.Seq, "", reminderUnknown, "", "an earlier attempt stopped while sending: not resent"); err != nil {
				return res, err
			}
			res.Unknown++
		default:
			count(st)
		}
		if it.State == StatePublished && it.IOState == IOSent && io == nil {
			if io, key, err = a.ioClient(t, b.IOPurpose); err != nil {
				return res, err
			}
		}
		if it.State == StatePublished && it.FallbackState == FallbackSent && sender == nil && t.Channels.Email != nil {
			if sender, err = a.smtpSender(t); err != nil {
				return res, err
			}
		}
	}
	forEach(ctx, a.conc(), todo, func(it Item) {
		channel, state, id, errText, err := a.remindOne(ctx, t, gpd, io, key, sender, b, it)
		if err == nil {
			err = a.setReminder(context.WithoutCancel(ctx), b, it.Seq, channel, state, id, errText)
		}
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			retryErrs = append(retryErrs, fmt.Errorf("line %d: %w", it.Line, err))
			return
		}
		count(state)
		activity.RecordHeartbeat(ctx, res)
	})
	if len(retryErrs) > 0 {
		return res, retryable(fmt.Sprintf("%d of %d reminders hit a temporary failure; the batch will be retried (done ones are skipped): %v",
			len(retryErrs), len(todo), errors.Join(retryErrs...)), 0)
	}
	return res, nil
}

// remindOne returns the final state of one reminder, or an error to retry.
func (a *Activities) remindOne(ctx context.Context, t *tenant.Tenant, gpd *pagopa.GPDClient, io *appio.Client, key string,
	sender *channels.SMTPSender, b ReminderBatch, it Item) (channel, state, id, errText string, err error) {
	channel = ""
	switch {
	case it.IOState == IOSent:
		channel = "io"
	case it.FallbackState == FallbackSent && sender != nil:
		channel = "email"
	default:
		return "", reminderNoChannel, "", "", nil
	}
	pos, err := gpd.Get(ctx, t.FiscalCode, it.IUPD)
	if err != nil {
		if pagopa.IsRetryable(err) {
			return "", "", "", "", err
		}
		return channel, reminderFailed, "", "GPD: " + err.Error(), nil
	}
	switch pos.Status {
	case pagopa.StatusPaid, pagopa.StatusReported:
		return channel, reminderPaid, "", "", nil
	case pagopa.StatusInvalid, pagopa.StatusExpired, pagopa.StatusDraft:
		return channel, reminderClosed, "", "GPD status " + pos.Status, nil
	}
	var msg appio.NewMessage
	if channel == "io" {
		// The profile says whether the citizen still takes messages from the
		// service, and in which language.
		prof, err := io.GetProfile(ctx, key, it.FiscalCode)
		switch {
		case errors.Is(err, appio.ErrNotOnIO):
			return channel, reminderNoChannel, "", "no longer on App IO", nil
		case err != nil && appio.IsRetryable(err):
			return "", "", "", "", err
		case err != nil:
			return channel, reminderFailed, "", err.Error(), nil
		case !prof.SenderAllowed:
			return channel, reminderNoChannel, "", "the citizen has blocked this service on App IO", nil
		}
		if msg, err = reminderMessage(t, b, it, prof.PreferredLanguages); err != nil {
			return channel, reminderFailed, "", err.Error(), nil
		}
	}
	if err := a.setReminder(ctx, b, it.Seq, channel, reminderSending, "", ""); err != nil {
		return "", "", "", "", err
	}
	if channel == "io" {
		id, err := io.SubmitMessage(ctx, key, msg)
		switch {
		case err == nil:
			return channel, reminderSent, id, "", nil
		case appio.IsAmbiguous(err):
			return channel, reminderUnknown, "", err.Error(), nil
		case appio.IsRetryable(err):
			// Not sent: clear the marker so the retry sends it.
			if serr := a.setReminder(context.WithoutCancel(ctx), b, it.Seq, channel, "", "", err.Error()); serr != nil {
				return "", "", "", "", serr
			}
			return "", "", "", "", err
		default:
			return channel, reminderFailed, "", err.Error(), nil
		}
	}
	bi := BatchInput{TenantID: b.TenantID, CampaignID: b.CampaignID, Subject: b.Subject, SubjectEN: b.SubjectEN, DueDate: b.DueDate}
	pdf, err := noticePDF(t, bi, it)
	if err != nil {
		return channel, reminderFailed, "", "payment notice PDF: " + err.Error(), nil
	}
	mail := fallbackEmail(t, bi, it)
	mail.Subject = clip("Promemoria / Reminder: "+mail.Subject, 150)
	mail.Text = "Promemoria: l'avviso di pagamento qui sotto non risulta ancora pagato.\n" +
		"Reminder: the payment notice below does not appear to be paid yet.\n\n" + mail.Text
	mail.MessageID = fmt.Sprintf("%s.%s.%d.r%d@ponte", t.ID, b.CampaignID, it.Seq, b.N)
	mail.Attachments = []channels.Attachment{{Name: "avviso-pagopa-" + it.NAV + ".pdf", ContentType: "application/pdf", Data: pdf}}
	err = sender.Send(ctx, mail)
	switch {
	case err == nil:
		return channel, reminderSent, mail.MessageID, "", nil
	case channels.IsTemporary(err):
		if serr := a.setReminder(context.WithoutCancel(ctx), b, it.Seq, channel, "", "", err.Error()); serr != nil {
			return "", "", "", "", serr
		}
		return "", "", "", "", err
	default:
		return channel, reminderFailed, "", err.Error(), nil
	}
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
func reminderMessage(t *tenant.Tenant, b ReminderBatch, it Item, langs []string) (appio.NewMessage, error) {
	ts, err := reminderTemplates()
	if err != nil {
		return appio.NewMessage{}, err
	}
	bi := BatchInput{TenantID: b.TenantID, CampaignID: b.CampaignID, Subject: b.Subject, SubjectEN: b.SubjectEN, DueDate: b.DueDate}
	msg, err := paymentMessageFrom(ts, t, bi, it, langs)
	if err != nil {
		return msg, err
	}
	return msg, msg.Validate()
}
