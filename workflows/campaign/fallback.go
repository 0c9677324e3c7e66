package campaign

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/ponte-pa/ponte/connectors/channels"
	"github.com/ponte-pa/ponte/internal/tenant"
	"github.com/ponte-pa/ponte/internal/wfkit"
)

// SendFallback sends the payment notice to debtors App IO cannot reach (not
// registered, service blocked, legal persons) through the first of the
// tenant's channels that has an address for them (channels: email, …), via
// the outbox (slot "fallback"), with the notice PDF attached. Debtors no
// channel can address, and campaigns that print, are marked for the
// print-and-post batch. As with App IO, a message found "sending" is marked
// unknown and never resent.
func (a *Activities) SendFallback(ctx context.Context, b BatchInput) (BatchResult, error) {
	t, err := a.tenant(b.TenantID)
	if err != nil {
		return BatchResult{}, err
	}
	var senders []channels.Sender
	if b.Fallback != "print" && b.Fallback != "none" {
		if senders, err = a.conns().Channels(t); err != nil {
			return BatchResult{}, err
		}
	}
	var res BatchResult
	if b.Fallback != "none" {
		if res.Failed, err = a.Store.Outbox().Recover(ctx, Scope(b.CampaignID), SlotFallback, int64(b.From), int64(b.To)); err != nil {
			return res, err
		}
	}
	items, err := a.Store.Items(ctx, b.CampaignID, b.From, b.To)
	if err != nil {
		return res, err
	}
	if b.Fallback == "none" {
		return BatchResult{Skipped: len(items)}, nil
	}
	var todo []Item
	for _, it := range items {
		needs := it.State == StatePublished && (it.IOState == IONotOnIO || it.IOState == IONotAllowed)
		open := it.FallbackState == "" || it.FallbackState == FallbackRetry
		if !needs || !open {
			res.Skipped++
			continue
		}
		todo = append(todo, it)
	}
	var retries wfkit.Retries
	if err := wfkit.InChunks(ctx, todo, 2*a.conc(), func(chunk []Item) error {
		return a.fallbackChunk(ctx, t, senders, b, chunk, &res, &retries)
	}, func() { activity.RecordHeartbeat(ctx, res) }); err != nil {
		return res, err
	}
	if err := retries.Err("fallback messages", len(todo)); err != nil {
		return res, err
	}
	return res, ctx.Err()
}

// fallbackChunk decides, renders and sends the fallback of a few items.
func (a *Activities) fallbackChunk(ctx context.Context, t *tenant.Tenant, senders []channels.Sender, b BatchInput, items []Item, res *BatchResult, retries *wfkit.Retries) error {
	scope := Scope(b.CampaignID)
	batch := channels.Batch{Tenant: t.ID, Concurrency: a.conc()}
	deliveries := make([]*channels.Delivery, len(items))
	outcomes := make([]*channels.Outcome, len(items))
	for i, it := range items {
		key := channels.Key{Scope: scope, Item: int64(it.Seq), Slot: SlotFallback}
		to := channels.Recipient{FiscalCode: it.FiscalCode, Name: strings.TrimSpace(it.Name + " " + it.Surname), Email: it.Email}
		var sender channels.Sender
		for _, s := range senders {
			if s.Reaches(to) {
				sender = s
				break
			}
		}
		switch {
		case b.Fallback == "print":
			outcomes[i] = &channels.Outcome{Key: key, State: FallbackNoChannel, Error: "the campaign sends notices by post (fallback: print)"}
		case len(senders) == 0:
			outcomes[i] = &channels.Outcome{Key: key, State: FallbackNoChannel, Error: "the tenant has no channel besides App IO (channels in its config): print and post the notice"}
		case sender == nil:
			outcomes[i] = &channels.Outcome{Key: key, State: FallbackNoAddress, Error: "no address in the source for the tenant's channels (" + kindsOf(senders) + "): print and post the notice"}
		default:
			deliveries[i] = &channels.Delivery{Key: key, Sender: sender}
		}
	}
	// The notices are rendered concurrently: a PDF takes a few milliseconds.
	var renderIdx []int
	for i, d := range deliveries {
		if d != nil {
			renderIdx = append(renderIdx, i)
		}
	}
	_ = wfkit.ForEach(ctx, a.conc(), renderIdx, func(i int) {
		it := items[i]
		pdf, err := noticePDF(t, b, it)
		if err != nil {
			outcomes[i] = &channels.Outcome{Key: deliveries[i].Key, Channel: deliveries[i].Sender.Kind(), State: FallbackFailed, Error: "payment notice PDF: " + err.Error()}
			return
		}
		m := fallbackMessage(t, b, it)
		m.Attachments = []channels.Attachment{{Name: "avviso-pagopa-" + it.NAV + ".pdf", ContentType: "application/pdf", Data: pdf}}
		deliveries[i].Message = m
	})
	if err := ctx.Err(); err != nil {
		return err
	}
	var lines []int // of batch.Send
	for i, it := range items {
		switch {
		case outcomes[i] != nil:
			batch.Record = append(batch.Record, *outcomes[i])
		case deliveries[i] != nil:
			batch.Send = append(batch.Send, *deliveries[i])
			lines = append(lines, it.Line)
		}
	}
	results, err := a.Store.Outbox().Run(ctx, batch)
	if err != nil {
		return err
	}
	res.Failed += len(batch.Record)
	for i, r := range results {
		switch {
		case r.Before:
			res.Skipped++
		case r.State == FallbackSent:
			res.Sent++
		case r.State == FallbackRetry:
			retries.Add(fmt.Sprintf("line %d", lines[i]), r.Err)
		default:
			res.Failed++
		}
	}
	return nil
}

func kindsOf(senders []channels.Sender) string {
	kinds := make([]string, len(senders))
	for i, s := range senders {
		kinds[i] = s.Kind()
	}
	return strings.Join(kinds, ", ")
}

// fallbackMessage is the notice as a plain-text message (email, or any
// channel that carries text): Italian first, English below, since a citizen
// outside App IO has told us no language preference.
func fallbackMessage(t *tenant.Tenant, b BatchInput, it Item) channels.Message {
	due := it.DueDate
	if b.DueDate != "" {
		due = b.DueDate
	}
	dueT, _ := time.Parse("2006-01-02", due)
	euros := fmt.Sprintf("%d,%02d", it.AmountCents/100, it.AmountCents%100)
	name := strings.TrimSpace(it.Name + " " + it.Surname)
	en := t.Name.EN
	if en == "" {
		en = t.Name.IT
	}
	subjEN := b.SubjectEN
	if subjEN == "" {
		subjEN = b.Subject
	}
	text := fmt.Sprintf(`Gentile %s,

%s ha emesso un avviso di pagamento pagoPA per: %s.

  Importo:        € %s
  Scadenza:       %s
  Codice avviso:  %s
  Ente creditore: %s (C.F. %s)

Puoi pagare con l'app IO, sul sito del Comune o presso qualsiasi prestatore pagoPA
(banche, uffici postali, tabaccherie) indicando il codice avviso e il codice fiscale dell'ente.
In allegato l'avviso di pagamento da stampare.

---

Dear %s,

%s has issued a pagoPA payment notice for: %s.

  Amount:         € %s
  Due date:       %s
  Notice code:    %s
  Creditor:       %s (tax code %s)

You can pay with the IO app, on the comune's website or at any pagoPA provider
(banks, post offices, tobacconists) with the notice code and the creditor's tax code.
The printable payment notice is attached.
`, name, t.Name.IT, b.Subject, euros, dueT.Format("02/01/2006"), it.NAV, t.Name.IT, t.FiscalCode,
		name, en, subjEN, euros, dueT.Format("02/01/2006"), it.NAV, en, t.FiscalCode)
	return channels.Message{
		To:      channels.Recipient{FiscalCode: it.FiscalCode, Name: name, Email: it.Email},
		Subject: clip("Avviso di pagamento / Payment notice: "+b.Subject, 150),
		Text:    text,
		ID:      fmt.Sprintf("%s.%s.%d@ponte", t.ID, b.CampaignID, it.Seq),
	}
}
