package campaign

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/ponte-pa/ponte/connectors/appio"
	"github.com/ponte-pa/ponte/connectors/legacy"
	"github.com/ponte-pa/ponte/connectors/pagopa"
	"github.com/ponte-pa/ponte/internal/tenant"
)

// TenantLookup finds a tenant's loaded configuration by id.
type TenantLookup func(id string) (*tenant.Tenant, error)

// Activities are the campaign's steps. One value is registered on each worker;
// it is safe for concurrent use.
type Activities struct {
	Tenants TenantLookup
	Store   *Store
	IUV     *pagopa.IUVAllocator
	// Concurrency is the number of calls one batch makes at once to a
	// connector (default 8).
	Concurrency int
	// IOLimiter, when set, is waited on before every App IO request (one
	// limit per subscription key, shared by the workers using it).
	IOLimiter appio.Limiter
	// Now is the clock for due dates; time.Now when nil.
	Now func() time.Time

	mu   sync.Mutex
	http *http.Client
	gpd  map[string]*pagopa.GPDClient
	io   map[string]*appio.Client
	keys map[string]string
}

func badInput(format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return temporal.NewNonRetryableApplicationError(msg, ErrBadInput, errors.New(msg))
}

func (a *Activities) tenant(id string) (*tenant.Tenant, error) {
	t, err := a.Tenants(id)
	if err != nil {
		return nil, badInput("tenant %q: %v", id, err)
	}
	return t, nil
}

func (a *Activities) secret(t *tenant.Tenant, what string, s tenant.Secret) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.keys == nil {
		a.keys = map[string]string{}
	}
	k := t.ID + "\x00" + what
	if v, ok := a.keys[k]; ok {
		return v, nil
	}
	v, err := s.Resolve()
	if err != nil {
		return "", badInput("tenant %q: %s: %v", t.ID, what, err)
	}
	a.keys[k] = v
	return v, nil
}

// httpClient is shared by every connector client of this worker: one
// connection pool sized for Concurrency calls in flight per batch, instead of
// Go's default of two idle connections per host (which makes a busy batch
// open and close a connection per call).
func (a *Activities) httpClient() *http.Client {
	if a.http == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConns = 256
		t.MaxIdleConnsPerHost = 4 * a.conc()
		a.http = &http.Client{Transport: t, Timeout: 30 * time.Second}
	}
	return a.http
}

func (a *Activities) gpdClient(t *tenant.Tenant) (*pagopa.GPDClient, error) {
	key, err := a.secret(t, "pagopa.gpd.subscriptionKey", t.PagoPA.GPD.SubscriptionKey)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.gpd == nil {
		a.gpd = map[string]*pagopa.GPDClient{}
	}
	c, ok := a.gpd[t.ID]
	if !ok {
		c = pagopa.NewGPDClient(pagopa.GPDOptions{BaseURL: t.PagoPA.GPD.BaseURL, SubscriptionKey: key, HTTPClient: a.httpClient()})
		a.gpd[t.ID] = c
	}
	return c, nil
}

func (a *Activities) ioClient(t *tenant.Tenant, purpose string) (*appio.Client, string, error) {
	svc, ok := t.AppIO.Services[purpose]
	if !ok {
		return nil, "", badInput("tenant %q has no App IO service for purpose %q: add appio.services.%s to its config", t.ID, purpose, purpose)
	}
	key, err := a.secret(t, "appio.services."+purpose+".key", svc.Key)
	if err != nil {
		return nil, "", err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.io == nil {
		a.io = map[string]*appio.Client{}
	}
	c, ok := a.io[t.AppIO.BaseURL]
	if !ok {
		c = appio.NewClient(appio.Options{BaseURL: t.AppIO.BaseURL, HTTPClient: a.httpClient(), Limiter: a.IOLimiter})
		a.io[t.AppIO.BaseURL] = c
	}
	return c, key, nil
}

func (a *Activities) conc() int {
	if a.Concurrency > 0 {
		return a.Concurrency
	}
	return 8
}

// StageDebtors reads the tenant's source, validates every row and stores the
// valid debtors and the rejected rows. Re-running it (after a crash) stores
// nothing twice.
func (a *Activities) StageDebtors(ctx context.Context, in Input) (StageResult, error) {
	t, err := a.tenant(in.TenantID)
	if err != nil {
		return StageResult{}, err
	}
	src, ok := t.Sources[in.Source]
	if !ok {
		return StageResult{}, badInput("tenant %q has no source %q (known: %s)", t.ID, in.Source, strings.Join(sourceNames(t), ", "))
	}
	s, err := legacy.OpenSource(src.Kind, src.Config, t.Dir)
	if err != nil {
		return StageResult{}, badInput("tenant %q source %q: %v", t.ID, in.Source, err)
	}
	seq := 0
	stats, err := s.Read(ctx, func(d legacy.Debtor) error {
		// The definition's amount and description, when given, are the
		// campaign's for every debtor (a flat fee, one wording).
		if in.AmountCents > 0 {
			d.AmountCents = in.AmountCents
		}
		if in.Description != "" {
			d.Description = in.Description
		}
		if err := a.Store.AddItem(ctx, in.CampaignID, seq, d); err != nil {
			return err
		}
		seq++
		if seq%1000 == 0 {
			activity.RecordHeartbeat(ctx, seq)
		}
		return nil
	}, func(r legacy.Reject) error {
		return a.Store.AddReject(ctx, in.CampaignID, r)
	})
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return StageResult{}, badInput("%v", err)
		}
		return StageResult{}, err
	}
	return StageResult{Read: stats.Read, Valid: stats.Valid, Rejected: stats.Rejected}, nil
}

// IUPD is the debt position id of a campaign item: stable across retries, so
// GPD's uniqueness on IUPD makes creation idempotent.
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
	gpd, err := a.gpdClient(t)
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
		mu        sync.Mutex
		res       BatchResult
		retryErrs []error
		delay     time.Duration
		ups       = make([]PositionUpdate, 0, len(keys))
	)
	forEach(ctx, a.conc(), items, func(it Item) {
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
			retryErrs = append(retryErrs, fmt.Errorf("line %d (%s): %w", it.Line, iupd, err))
			var ae *pagopa.APIError
			if errors.As(err, &ae) && ae.RetryAfter > delay {
				delay = ae.RetryAfter
			}
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
	if len(retryErrs) > 0 {
		return res, retryable(fmt.Sprintf("%d of %d debt positions hit a temporary failure; the batch will be retried (done ones are skipped): %v",
			len(retryErrs), len(items), errors.Join(retryErrs...)), delay)
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
		if pagopa.IsRetryable(err) {
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

// rome is where the comuni are; time/tzdata (reminders.go) makes it
// available on any machine.
var rome = func() *time.Location {
	l, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		return time.UTC
	}
	return l
}()

// endOfDay is the last second of day d in Rome: a notice due on d can be
// paid all day long.
func endOfDay(d time.Time) time.Time {
	return time.Date(d.Year(), d.Month(), d.Day(), 23, 59, 59, 0, rome)
}

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
// message. An item found in state "sending" was being sent when an earlier
// attempt died: it is marked unknown and never resent, because App IO has no
// idempotency key and a second copy is worse than a reported gap.
func (a *Activities) NotifyIO(ctx context.Context, b BatchInput) (BatchResult, error) {
	t, err := a.tenant(b.TenantID)
	if err != nil {
		return BatchResult{}, err
	}
	io, key, err := a.ioClient(t, b.IOPurpose)
	if err != nil {
		return BatchResult{}, err
	}
	items, err := a.Store.Items(ctx, b.CampaignID, b.From, b.To)
	if err != nil {
		return BatchResult{}, err
	}
	var todo []Item
	var res BatchResult
	for _, it := range items {
		if it.State != StatePublished || (it.IOState != IONone && it.IOState != IORetry && it.IOState != IOSending) {
			res.Skipped++
			continue
		}
		todo = append(todo, it)
	}
	// Items go in chunks: profile checks run concurrently, then one
	// transaction records their outcomes and marks the ones about to be sent
	// "sending", then the submits run concurrently and one transaction records
	// them. A crash leaves at most one chunk "sending", reported as unknown.
	chunk := 2 * a.conc()
	var retryErrs []error
	var delay time.Duration
	for i := 0; i < len(todo) && ctx.Err() == nil; i += chunk {
		errs, d := a.notifyChunk(ctx, t, io, key, b, todo[i:min(i+chunk, len(todo))], &res)
		retryErrs = append(retryErrs, errs...)
		delay = max(delay, d)
		activity.RecordHeartbeat(ctx, res)
	}
	if err := ctx.Err(); err != nil && len(retryErrs) == 0 {
		return res, err
	}
	if len(retryErrs) > 0 {
		return res, retryable(fmt.Sprintf("%d of %d App IO messages hit a temporary failure; the batch will be retried (sent ones are skipped): %v",
			len(retryErrs), len(items), errors.Join(retryErrs...)), delay)
	}
	return res, nil
}

// ioStep is one item's progress through notifyChunk.
type ioStep struct {
	up  IOUpdate         // final state, or IOSending with msg to submit
	msg appio.NewMessage // the message, when up.State is IOSending
	err error            // retry later
}

func (a *Activities) notifyChunk(ctx context.Context, t *tenant.Tenant, io *appio.Client, key string, b BatchInput, items []Item, res *BatchResult) ([]error, time.Duration) {
	steps := make([]ioStep, len(items))
	idx := make(map[int]int, len(items))
	for i, it := range items {
		idx[it.Seq] = i
	}
	forEach(ctx, a.conc(), items, func(it Item) {
		st := &steps[idx[it.Seq]]
		st.up, st.msg, st.err = a.checkOne(ctx, t, io, key, b, it)
	})
	var (
		ups   []IOUpdate
		send  []Item
		errs  []error
		delay time.Duration
	)
	fail := func(it Item, err error) {
		errs = append(errs, fmt.Errorf("line %d: %w", it.Line, err))
		var ae *appio.APIError
		if errors.As(err, &ae) && ae.RetryAfter > delay {
			delay = ae.RetryAfter
		}
	}
	for i, it := range items {
		st := steps[i]
		switch {
		case st.err != nil:
			fail(it, st.err)
		case st.up.State == "":
			// never checked: ctx ended first; the retry does it
		default:
			ups = append(ups, st.up)
			if st.up.State == IOSending {
				send = append(send, it)
			}
		}
	}
	// Outcomes of the checks and the "sending" markers, durably, before
	// anything is submitted.
	if err := a.Store.SetIOMany(ctx, b.CampaignID, ups); err != nil {
		return append(errs, err), delay
	}
	for _, up := range ups {
		if up.State != IOSending {
			count(res, up.State)
		}
	}
	var mu sync.Mutex
	var done []IOUpdate
	forEach(ctx, a.conc(), send, func(it Item) {
		id, err := io.SubmitMessage(ctx, key, steps[idx[it.Seq]].msg)
		up := IOUpdate{Seq: it.Seq, State: IOSent, MessageID: id}
		if err != nil {
			switch {
			case appio.IsAmbiguous(err):
				up = IOUpdate{Seq: it.Seq, State: IOUnknown, Error: err.Error()}
			case appio.IsRetryable(err):
				up = IOUpdate{Seq: it.Seq, State: IORetry, Error: err.Error()}
			default:
				up = IOUpdate{Seq: it.Seq, State: IOFailed, Error: err.Error()}
			}
		}
		mu.Lock()
		defer mu.Unlock()
		done = append(done, up)
		if up.State == IORetry {
			fail(it, err)
		} else {
			count(res, up.State)
		}
	})
	// Items never submitted (ctx ended first) go back to pending: only a
	// crash can leave "sending" behind, which the retry reports as unknown.
	if len(done) < len(send) {
		submitted := make(map[int]bool, len(done))
		for _, up := range done {
			submitted[up.Seq] = true
		}
		for _, it := range send {
			if !submitted[it.Seq] {
				done = append(done, IOUpdate{Seq: it.Seq, State: IONone})
			}
		}
		if len(errs) == 0 {
			errs = append(errs, fmt.Errorf("stopped before sending %d messages: %w", len(send)-len(submitted), context.Cause(ctx)))
		}
	}
	if err := a.Store.SetIOMany(context.WithoutCancel(ctx), b.CampaignID, done); err != nil {
		errs = append(errs, err)
	}
	return errs, delay
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

// checkOne decides an item's IO outcome short of sending: a final state, or
// IOSending with the message to submit, or an error to retry later.
func (a *Activities) checkOne(ctx context.Context, t *tenant.Tenant, io *appio.Client, key string, b BatchInput, it Item) (IOUpdate, appio.NewMessage, error) {
	final := func(state, errText string) (IOUpdate, appio.NewMessage, error) {
		return IOUpdate{Seq: it.Seq, State: state, Error: errText}, appio.NewMessage{}, nil
	}
	if it.IOState == IOSending {
		return final(IOUnknown, "an earlier attempt stopped while sending: check in the App IO back office before sending again")
	}
	if len(it.FiscalCode) == 11 {
		// Companies and other legal persons have no App IO profile: App IO is
		// for citizens. They need the fallback channel.
		return final(IONotOnIO, "legal person (11-digit fiscal code): App IO reaches citizens only")
	}
	prof, err := io.GetProfile(ctx, key, it.FiscalCode)
	if err != nil {
		if errors.Is(err, appio.ErrNotOnIO) {
			return final(IONotOnIO, "")
		}
		if appio.IsRetryable(err) {
			return IOUpdate{}, appio.NewMessage{}, err
		}
		return final(IOFailed, err.Error())
	}
	if !prof.SenderAllowed {
		return final(IONotAllowed, "")
	}
	msg, err := paymentMessage(t, b, it, prof.PreferredLanguages)
	if err != nil {
		return final(IOFailed, err.Error())
	}
	if verr := msg.Validate(); verr != nil {
		return final(IOFailed, verr.Error())
	}
	return IOUpdate{Seq: it.Seq, State: IOSending}, msg, nil
}

// Totals returns the campaign's counts from the state store.
func (a *Activities) Totals(ctx context.Context, campaignID string) (Progress, error) {
	return a.Store.Counts(ctx, campaignID)
}

func retryable(msg string, delay time.Duration) error {
	if delay > 0 {
		return temporal.NewApplicationErrorWithOptions(msg, "Retryable", temporal.ApplicationErrorOptions{NextRetryDelay: delay})
	}
	return temporal.NewApplicationError(msg, "Retryable")
}

// forEach runs fn on every item with at most n in flight, and stops starting
// new ones when ctx is done.
func forEach(ctx context.Context, n int, items []Item, fn func(Item)) {
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for _, it := range items {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			fn(it)
		}()
	}
	wg.Wait()
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}

func sourceNames(t *tenant.Tenant) []string {
	names := make([]string, 0, len(t.Sources))
	for n := range t.Sources {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
