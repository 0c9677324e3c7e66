package campaign

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/ponte-pa/ponte/connectors/channels"
	"github.com/ponte-pa/ponte/internal/tenant"
)

// SendFallback emails the payment notice to debtors App IO cannot reach (not
// registered, service blocked, legal persons), through the tenant's SMTP
// relay. Debtors without an email address, or tenants without a relay, are
// marked for the print-and-post batch. As with IO, an item found "sending"
// is marked unknown and never resent.
func (a *Activities) SendFallback(ctx context.Context, b BatchInput) (BatchResult, error) {
	t, err := a.tenant(b.TenantID)
	if err != nil {
		return BatchResult{}, err
	}
	items, err := a.Store.Items(ctx, b.CampaignID, b.From, b.To)
	if err != nil {
		return BatchResult{}, err
	}
	if b.Fallback == "none" {
		return BatchResult{Skipped: len(items)}, nil
	}
	var sender *channels.SMTPSender
	if t.Channels.Email != nil && b.Fallback != "print" {
		if sender, err = a.smtpSender(t); err != nil {
			return BatchResult{}, err
		}
	}
	var (
		mu        sync.Mutex
		res       BatchResult
		retryErrs []error
	)
	forEach(ctx, a.conc(), items, func(it Item) {
		needs := it.State == StatePublished && (it.IOState == IONotOnIO || it.IOState == IONotAllowed)
		open := it.FallbackState == "" || it.FallbackState == FallbackRetry || it.FallbackState == FallbackSending
		if !needs || !open {
			mu.Lock()
			res.Skipped++
			mu.Unlock()
			return
		}
		state, err := a.fallbackOne(ctx, t, sender, b, it)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			retryErrs = append(retryErrs, fmt.Errorf("line %d: %w", it.Line, err))
			return
		}
		if state == FallbackSent {
			res.Sent++
		} else {
			res.Failed++
		}
		activity.RecordHeartbeat(ctx, res)
	})
	if len(retryErrs) > 0 {
		return res, retryable(fmt.Sprintf("%d fallback emails hit a temporary failure; the batch will be retried (sent ones are skipped): %v",
			len(retryErrs), errors.Join(retryErrs...)), 0)
	}
	return res, nil
}

func (a *Activities) fallbackOne(ctx context.Context, t *tenant.Tenant, sender *channels.SMTPSender, b BatchInput, it Item) (string, error) {
	set := func(state, errText string) (string, error) {
		return state, a.Store.SetFallback(ctx, b.CampaignID, it.Seq, state, errText)
	}
	switch {
	case it.FallbackState == FallbackSending:
		return set(FallbackUnknown, "an earlier attempt stopped while sending: check the relay's log before sending again")
	case sender == nil && b.Fallback == "print":
		return set(FallbackNoChannel, "the campaign sends notices by post (fallback: print)")
	case sender == nil:
		return set(FallbackNoChannel, "the tenant has no email relay (channels.email): print and post the notice")
	case it.Email == "":
		return set(FallbackNoAddress, "no email address in the source: print and post the notice")
	}
	pdf, err := noticePDF(t, b, it)
	if err != nil {
		return set(FallbackFailed, "payment notice PDF: "+err.Error())
	}
	mail := fallbackEmail(t, b, it)
	mail.Attachments = []channels.Attachment{{Name: "avviso-pagopa-" + it.NAV + ".pdf", ContentType: "application/pdf", Data: pdf}}
	if _, err := set(FallbackSending, ""); err != nil {
		return "", err
	}
	err = sender.Send(ctx, mail)
	switch {
	case err == nil:
		return set(FallbackSent, "")
	case channels.IsTemporary(err):
		if _, serr := set(FallbackRetry, err.Error()); serr != nil {
			return "", serr
		}
		return "", err
	default:
		return set(FallbackFailed, err.Error())
	}
}

func (a *Activities) smtpSender(t *tenant.Tenant) (*channels.SMTPSender, error) {
	e := t.Channels.Email
	o := channels.SMTPOptions{Addr: e.Addr, From: e.From, Username: e.Username, Timeout: 30 * time.Second}
	if e.Username != "" {
		pw, err := a.secret(t, "channels.email.password", e.Password)
		if err != nil {
			return nil, err
		}
		o.Password = pw
	}
	if e.CAFile != "" {
		pemData, err := os.ReadFile(e.CAFile)
		if err != nil {
			return nil, badInput("tenant %q: channels.email.caFile: %v", t.ID, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemData) {
			return nil, badInput("tenant %q: channels.email.caFile %s holds no PEM certificate", t.ID, e.CAFile)
		}
		host := e.Addr[:strings.LastIndexByte(e.Addr, ':')]
		o.TLSConfig = &tls.Config{RootCAs: pool, ServerName: host, MinVersion: tls.VersionTLS12}
	}
	s, err := channels.NewSMTPSender(o)
	if err != nil {
		return nil, badInput("tenant %q: channels.email: %v", t.ID, err)
	}
	return s, nil
}

// fallbackEmail is the notice by email: Italian first, English below, since a
// citizen outside App IO has told us no language preference.
func fallbackEmail(t *tenant.Tenant, b BatchInput, it Item) channels.Email {
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
	return channels.Email{
		To:        it.Email,
		Subject:   clip("Avviso di pagamento / Payment notice: "+b.Subject, 150),
		Text:      text,
		MessageID: fmt.Sprintf("%s.%s.%d@ponte", t.ID, b.CampaignID, it.Seq),
	}
}
