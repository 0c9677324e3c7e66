package campaign

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/ponte-pa/ponte/connectors/appio"
	"github.com/ponte-pa/ponte/connectors/channels"
	"github.com/ponte-pa/ponte/connectors/failure"
	"github.com/ponte-pa/ponte/connectors/legacy"
	"github.com/ponte-pa/ponte/connectors/pagopa"
	"github.com/ponte-pa/ponte/internal/metrics"
	"github.com/ponte-pa/ponte/internal/rome"
	"github.com/ponte-pa/ponte/internal/tenant"
	"github.com/ponte-pa/ponte/internal/wfkit"
)

// TenantLookup finds a tenant's loaded configuration by id.
type TenantLookup = wfkit.TenantLookup

// Activities are the campaign's steps. One value is registered on each worker
// (each activity only on its own task queue, see Register); it is safe for
// concurrent use.
type Activities struct {
	Tenants TenantLookup
	Store   *Store
	IUV     *pagopa.IUVAllocator
	// Conns opens the connectors (GPD, App IO, channels, sources); nil
	// means a default set with Concurrency.
	Conns *wfkit.Connectors
	// Concurrency is the number of calls one batch makes at once to a
	// connector (default 8), when Conns is nil.
	Concurrency int
	// Metrics counts debt positions (nil counts nothing); messages are
	// counted by the outbox's Observer.
	Metrics *metrics.Metrics

	connsOnce sync.Once
}

func (a *Activities) conns() *wfkit.Connectors {
	a.connsOnce.Do(func() {
		if a.Conns == nil {
			a.Conns = &wfkit.Connectors{Concurrency: a.Concurrency}
		}
	})
	return a.Conns
}

func (a *Activities) conc() int { return a.conns().Conc() }

func (a *Activities) tenant(id string) (*tenant.Tenant, error) { return a.Tenants.Get(id) }

// StageDebtors reads the tenant's source, validates every row and stores the
// valid debtors and the rejected rows. Re-running it (after a crash) stores
// nothing twice.
func (a *Activities) StageDebtors(ctx context.Context, in Input) (StageResult, error) {
	t, err := a.tenant(in.TenantID)
	if err != nil {
		return StageResult{}, err
	}
	s, err := a.conns().Source(t, in.Source)
	if err != nil {
		return StageResult{}, err
	}
	// Rows are stored a batch at a time, each batch in one transaction:
	// one commit per row made staging on PostgreSQL (an fsync each) the
	// slowest phase of a campaign.
	const stageBatch = 1000
	var (
		seq     int
		items   []Staged
		rejects []legacy.Reject
	)
	flush := func() error {
		if err := a.Store.Stage(ctx, in.CampaignID, items, rejects); err != nil {
			return err
		}
		items, rejects = items[:0], rejects[:0]
		activity.RecordHeartbeat(ctx, seq)
		return nil
	}
	stats, err := s.Read(ctx, func(d legacy.Debtor) error {
		// The definition's amount and description, when given, are the
		// campaign's for every debtor (a flat fee, one wording).
		if in.AmountCents > 0 {
			d.AmountCents = in.AmountCents
		}
		if in.Description != "" {
			d.Description = in.Description
		}
		for _, w := range d.Warnings {
			// The record is used; the warning (a possible duplicate, say) is for the
			// people reading the logs and `ponte source check`.
			activity.GetLogger(ctx).Warn("source record warning", "line", d.Line, "key", d.Key, "rule", w.Rule, "it", w.MessageIT, "en", w.MessageEN)
		}
		items = append(items, Staged{Seq: seq, Debtor: d})
		seq++
		if len(items)+len(rejects) >= stageBatch {
			return flush()
		}
		return nil
	}, func(r legacy.Reject) error {
		rejects = append(rejects, r)
		if len(items)+len(rejects) >= stageBatch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return StageResult{}, wfkit.BadInput("%v", err)
		}
		return StageResult{}, wfkit.ActivityError(err)
	}
	return StageResult{Read: stats.Read, Valid: stats.Valid, Rejected: stats.Rejected}, nil
}

// IUPD is the debt position id of a campaign item: stable across retries, so
// GPD's uniqueness on IUPD makes creation idempotent. It is derived from the
// item's seq (its position among the source's valid records), never from the
// record's external id, which is optional (legacy.Debtor.Key): a source read
// again gives the same records in the same order, hence the same IUPDs, and a
// retried StageDebtors stores nothing twice (one row per seq).
func IUPD(tenantID, campaignID string, seq int) string {
	return fmt.Sprintf("PONTE-%s-%s-%07d", tenantID, campaignID, seq)
}

// CreatePositions allocates an IUV and creates + publishes the GPD debt
// position of every item of the batch not done yet.
func (a *Activities) CreatePositions(ctx context.Context, b BatchInput) (BatchResult, error) {
	t, err := a.tenant(b.TenantID)
	if err != nil {
		return BatchResult{}, err
	}
	gpd, err := a.conns().GPD(t)
	if err != nil {
		return BatchResult{}, err
	}
	items, err := a.Store.Items(ctx, b.CampaignID, b.From, b.To)
	if err != nil {
		return BatchResult{}, err
	}
	// One transaction reserves the IUVs of every item still to create
	// (idempotent by IUPD: a retried batch gets the same IUVs back).
	var keys []string
	for _, it := range items {
		if it.State == StateStaged {
			iupd := IUPD(t.ID, b.CampaignID, it.Seq)
			keys = append(keys, iupd)
			for n := range b.Installments {
				keys = append(keys, rataKey(iupd, n+1))
			}
		}
	}
	iuvs, err := a.IUV.AllocateBatch(ctx, t.FiscalCode, t.PagoPA.SegregationCode, keys)
	if err != nil {
		return BatchResult{}, err
	}
	var (
		mu      sync.Mutex
		res     BatchResult
		retries wfkit.Retries
		ups     = make([]PositionUpdate, 0, len(keys))
	)
	_ = wfkit.ForEach(ctx, a.conc(), items, func(it Item) { // items not started are retried

		if it.State != StateStaged {
			mu.Lock()
			res.Skipped++
			mu.Unlock()
			return
		}
		iupd := IUPD(t.ID, b.CampaignID, it.Seq)
		rate, rerr := rateOf(t, b, it, iupd, iuvs)
		state, nav, errText, err := a.createOne(ctx, t, gpd, b, it, iupd, iuvs[iupd], rate)
		if rerr != nil {
			state, errText, err = StatePositionFailed, rerr.Error(), nil
		}
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			retries.Add(fmt.Sprintf("line %d (%s)", it.Line, iupd), err)
			return
		}
		up := PositionUpdate{Seq: it.Seq, State: state, IUPD: iupd, IUV: iuvs[iupd], NAV: nav, Error: errText}
		if state == StatePublished {
			up.Rate = rate
		}
		ups = append(ups, up)
		if state == StatePublished {
			res.Done++
		} else {
			res.Failed++
		}
		activity.RecordHeartbeat(ctx, res)
	})
	// Record what was done even when some items must be retried. If the
	// process dies before this, the retried batch recreates the same IUPDs,
	// which GPD's idempotent create resolves without duplicates.
	if err := a.Store.SetPositions(context.WithoutCancel(ctx), b.CampaignID, ups); err != nil {
		return res, err
	}
	// Counted once recorded: a batch retried after a failed record creates
	// (idempotently) and counts them again only then.
	for _, up := range ups {
		if up.State == StatePublished {
			a.Metrics.Position(t.ID, metrics.PositionCreated)
		} else {
			a.Metrics.Position(t.ID, metrics.PositionFailed)
		}
	}
	if err := retries.Err("debt positions", len(items)); err != nil {
		return res, err
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	return res, nil
}

// createOne returns the item's final position state, or an error when it must
// be retried.
func (a *Activities) createOne(ctx context.Context, t *tenant.Tenant, gpd *pagopa.GPDClient, b BatchInput, it Item, iupd, iuv string, rate []Rata) (state, nav, errText string, err error) {
	nav, err = pagopa.NAVFromIUV(t.PagoPA.AuxDigit, t.PagoPA.ApplicationCode, iuv)
	if err != nil {
		return StatePositionFailed, "", err.Error(), nil
	}
	pos := a.position(t, b, it, iupd, iuv)
	pos.PaymentOption = append(pos.PaymentOption, rateOptions(pos.PaymentOption[0], rate)...)
	if verr := pos.Validate(); verr != nil {
		return StatePositionFailed, nav, verr.Error(), nil
	}
	if _, err := gpd.Create(ctx, t.FiscalCode, pos, true); err != nil {
		if failure.IsRetryable(err) {
			return "", "", "", err
		}
		return StatePositionFailed, nav, err.Error(), nil
	}
	return StatePublished, nav, "", nil
}

// rateOf is the installments of an item's position: amounts split by the
// campaign's percentages, IUVs from the batch's allocation.
func rateOf(t *tenant.Tenant, b BatchInput, it Item, iupd string, iuvs map[string]string) ([]Rata, error) {
	if len(b.Installments) == 0 {
		return nil, nil
	}
	amounts := splitAmount(it.AmountCents, b.Installments)
	out := make([]Rata, len(b.Installments))
	for i, in := range b.Installments {
		if amounts[i] <= 0 {
			return nil, fmt.Errorf("amount %d cents is too small for %d rate", it.AmountCents, len(b.Installments))
		}
		iuv := iuvs[rataKey(iupd, i+1)]
		nav, err := pagopa.NAVFromIUV(t.PagoPA.AuxDigit, t.PagoPA.ApplicationCode, iuv)
		if err != nil {
			return nil, err
		}
		out[i] = Rata{N: i + 1, IUV: iuv, NAV: nav, AmountCents: amounts[i], DueDate: in.DueDate}
	}
	return out, nil
}

// endOfDay is the last second of day d in Rome: a notice due on d can be
// paid all day long.
func endOfDay(d time.Time) time.Time { return rome.EndOfDay(d) }

// rateOptions are the installment payment options (isPartialPayment) that
// go with the single payment option single.
func rateOptions(single pagopa.PaymentOption, rate []Rata) []pagopa.PaymentOption {
	var out []pagopa.PaymentOption
	for _, r := range rate {
		o := single
		d, _ := time.Parse("2006-01-02", r.DueDate)
		o.IUV, o.Amount, o.IsPartialPayment = r.IUV, r.AmountCents, true
		o.DueDate = endOfDay(d)
		o.Description = clip(fmt.Sprintf("Rata %d di %d - %s", r.N, len(rate), single.Description), 140)
		o.Transfer = []pagopa.Transfer{single.Transfer[0]}
		o.Transfer[0].Amount = r.AmountCents
		o.Transfer[0].RemittanceInformation = o.Description
		out = append(out, o)
	}
	return out
}

func (a *Activities) position(t *tenant.Tenant, b BatchInput, it Item, iupd, iuv string) pagopa.PaymentPosition {
	due := it.DueDate
	if b.DueDate != "" {
		due = b.DueDate
	}
	dueT, _ := time.Parse("2006-01-02", due)
	dueAt := endOfDay(dueT)
	retention := dueAt.AddDate(1, 0, 0)
	typ, full := "F", strings.TrimSpace(it.Name+" "+it.Surname)
	if len(it.FiscalCode) == 11 {
		typ = "G"
	}
	desc := it.Description
	if desc == "" {
		desc = b.Subject
	}
	desc = clip(desc, 140)
	return pagopa.PaymentPosition{
		IUPD:            iupd,
		Type:            typ,
		FiscalCode:      it.FiscalCode,
		FullName:        clip(full, 140),
		Email:           it.Email,
		CompanyName:     clip(t.Name.IT, 140),
		SwitchToExpired: false,
		PaymentOption: []pagopa.PaymentOption{{
			IUV:              iuv,
			Amount:           it.AmountCents,
			Description:      desc,
			IsPartialPayment: false,
			DueDate:          dueAt,
			RetentionDate:    &retention,
			Transfer: []pagopa.Transfer{{
				IDTransfer:            "1",
				Amount:                it.AmountCents,
				RemittanceInformation: clip(desc, 140),
				Category:              "9/0101108TS/",
				IBAN:                  t.PagoPA.IBAN,
			}},
		}},
	}
}

// NotifyIO checks each published item's App IO profile and sends the payment
// message through the outbox (slot "io"). A message found "sending" was
// being sent when an earlier attempt died: it is marked unknown and never
// resent, because App IO has no idempotency key and a second copy is worse
// than a reported gap.
func (a *Activities) NotifyIO(ctx context.Context, b BatchInput) (BatchResult, error) {
	t, err := a.tenant(b.TenantID)
	if err != nil {
		return BatchResult{}, err
	}
	io, err := a.conns().AppIO(t, b.IOPurpose)
	if err != nil {
		return BatchResult{}, err
	}
	ob := a.Store.Outbox()
	var res BatchResult
	if res.Unknown, err = ob.Recover(ctx, Scope(b.CampaignID), SlotIO, int64(b.From), int64(b.To)); err != nil {
		return res, err
	}
	items, err := a.Store.Items(ctx, b.CampaignID, b.From, b.To)
	if err != nil {
		return res, err
	}
	var todo []Item
	for _, it := range items {
		if it.State != StatePublished || (it.IOState != IONone && it.IOState != IORetry) {
			res.Skipped++
			continue
		}
		todo = append(todo, it)
	}
	// Items go in chunks: profile checks run concurrently, then the outbox
	// records their outcomes and claims the messages to send in one
	// transaction, sends them and records the results in one more. A crash
	// leaves at most one chunk "sending", reported as unknown.
	var retries wfkit.Retries
	if err := wfkit.InChunks(ctx, todo, 2*a.conc(), func(chunk []Item) error {
		return a.notifyChunk(ctx, t, io, b, chunk, &res, &retries)
	}, func() { activity.RecordHeartbeat(ctx, res) }); err != nil {
		return res, err
	}
	if err := retries.Err("App IO messages", len(items)); err != nil {
		return res, err
	}
	return res, ctx.Err()
}

// ioCheck is one item's App IO profile check: a final outcome (state set),
// a message to send, or an error to retry later.
type ioCheck struct {
	state, reason string
	send          bool
	msg           channels.Message
	err           error
}

func (a *Activities) notifyChunk(ctx context.Context, t *tenant.Tenant, io *appio.Sender, b BatchInput, items []Item, res *BatchResult, retries *wfkit.Retries) error {
	checks := make([]ioCheck, len(items))
	idx := make(map[int]int, len(items))
	for i, it := range items {
		idx[it.Seq] = i
	}
	_ = wfkit.ForEach(ctx, a.conc(), items, func(it Item) { // unchecked items are retried
		checks[idx[it.Seq]] = a.checkOne(ctx, t, io, b, it)
	})
	scope := Scope(b.CampaignID)
	batch := channels.Batch{Tenant: t.ID, Concurrency: a.conc()}
	for i, it := range items {
		c := checks[i]
		key := channels.Key{Scope: scope, Item: int64(it.Seq), Slot: SlotIO}
		switch {
		case c.err != nil:
			retries.Add(fmt.Sprintf("line %d", it.Line), c.err)
		case c.state != "":
			batch.Record = append(batch.Record, channels.Outcome{Key: key, Channel: io.Kind(), State: c.state, Error: c.reason})
		case c.send:
			batch.Send = append(batch.Send, channels.Delivery{Key: key, Sender: io, Message: c.msg})
		default:
			// never checked: ctx ended first; the retry does it
		}
	}
	results, err := a.Store.Outbox().Run(ctx, batch)
	if err != nil {
		return err
	}
	for _, o := range batch.Record {
		count(res, o.State)
	}
	for i, r := range results {
		switch {
		case r.Before:
			res.Skipped++
		case r.State == IORetry:
			retries.Add(fmt.Sprintf("line %d", items[idx[int(batch.Send[i].Key.Item)]].Line), r.Err)
		default:
			count(res, r.State)
		}
	}
	return nil
}

func count(res *BatchResult, state string) {
	switch state {
	case IOSent:
		res.Sent++
	case IONotOnIO:
		res.NotOnIO++
	case IONotAllowed:
		res.NotAllowed++
	case IOUnknown:
		res.Unknown++
	default:
		res.Failed++
	}
}

// checkOne decides an item's App IO outcome short of sending: a final
// state, or the message to send, or an error to retry later.
func (a *Activities) checkOne(ctx context.Context, t *tenant.Tenant, io *appio.Sender, b BatchInput, it Item) ioCheck {
	if !io.Reaches(channels.Recipient{FiscalCode: it.FiscalCode}) {
		// Companies and other legal persons have no App IO profile: App IO is
		// for citizens. They need the fallback channel.
		return ioCheck{state: IONotOnIO, reason: "legal person (11-digit fiscal code): App IO reaches citizens only"}
	}
	prof, err := io.Client.GetProfile(ctx, io.Key, it.FiscalCode)
	switch {
	case errors.Is(err, appio.ErrNotOnIO):
		return ioCheck{state: IONotOnIO}
	case failure.IsRetryable(err):
		return ioCheck{err: err}
	case err != nil:
		return ioCheck{state: IOFailed, reason: err.Error()}
	case !prof.SenderAllowed:
		return ioCheck{state: IONotAllowed}
	}
	msg, err := paymentMessage(t, b, it, prof.PreferredLanguages)
	if err != nil {
		return ioCheck{state: IOFailed, reason: err.Error()}
	}
	if verr := io.Message(msg).Validate(); verr != nil {
		return ioCheck{state: IOFailed, reason: verr.Error()}
	}
	return ioCheck{send: true, msg: msg}
}

// Totals returns the campaign's counts from the state store.
func (a *Activities) Totals(ctx context.Context, campaignID string) (Progress, error) {
	return a.Store.Counts(ctx, campaignID)
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}
