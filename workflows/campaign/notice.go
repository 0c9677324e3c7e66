package campaign

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ponte-pa/ponte/connectors/pagopa/notice"
	"github.com/ponte-pa/ponte/internal/tenant"
)

// noticeFor is the printable pagoPA payment notice of a published item. The
// tenant's CBILL code and, when it has a BancoPosta IBAN, its postal account
// (for the Bollettino Postale PA the guide requires then) come from its
// config. Texts from the source longer than the notice has room for are cut
// to the guide's limits (the debt position in GPD keeps them whole).
func noticeFor(t *tenant.Tenant, subject, dueDate string, it Item, lang string) (notice.Notice, error) {
	due := it.DueDate
	if dueDate != "" {
		due = dueDate
	}
	d, err := time.Parse("2006-01-02", due)
	if err != nil {
		return notice.Notice{}, fmt.Errorf("due date %q: %w", due, err)
	}
	desc := it.Description
	if desc == "" {
		desc = subject
	}
	name := t.Name.IT
	if lang == "en" && t.Name.EN != "" {
		name = t.Name.EN
	}
	n := notice.Notice{
		EC: notice.EC{Name: notice.Clip(name, notice.MaxECName), FiscalCode: t.FiscalCode, CBILL: t.PagoPA.CBILL},
		Debtor: notice.Debtor{Name: notice.Clip(strings.TrimSpace(it.Name+" "+it.Surname), notice.MaxDebtorName),
			FiscalCode: it.FiscalCode},
		Subject: notice.Clip(desc, notice.MaxSubject),
		Options: []notice.Option{{NAV: it.NAV, AmountCents: it.AmountCents, DueDate: notice.NewDate(d.Year(), d.Month(), d.Day())}},
		Lang:    lang,
	}
	if t.PagoPA.PostalIBAN != "" {
		acc, err := notice.PostalAccountFromIBAN(t.PagoPA.PostalIBAN)
		if err != nil {
			return notice.Notice{}, fmt.Errorf("tenant %s: pagopa.postalIban: %w", t.ID, err)
		}
		n.EC.Postal = &notice.Postal{Account: acc, Owner: notice.Clip(t.PagoPA.PostalOwner, notice.MaxPostalOwner),
			Authorization: t.PagoPA.PostalAuthorization}
	}
	for _, r := range it.Rate {
		rd, err := time.Parse("2006-01-02", r.DueDate)
		if err != nil {
			return notice.Notice{}, fmt.Errorf("rata %d due date %q: %w", r.N, r.DueDate, err)
		}
		n.Options = append(n.Options, notice.Option{NAV: r.NAV, AmountCents: r.AmountCents,
			DueDate: notice.NewDate(rd.Year(), rd.Month(), rd.Day()), Installment: r.N, Of: len(it.Rate)})
	}
	if err := n.Validate(); err != nil {
		return notice.Notice{}, err
	}
	return n, nil
}

// noticePDF renders an item's payment notice (Italian) as a PDF file.
func noticePDF(t *tenant.Tenant, b BatchInput, it Item) ([]byte, error) {
	n, err := noticeFor(t, b.Subject, b.DueDate, it, "it")
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := notice.Render(&buf, n); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WritePrintBatch renders into w one PDF with the payment notices of every
// item of a campaign that no digital channel reached (no App IO and no email
// address or relay), in item order, for printing and postal delivery. It
// returns how many notices it wrote; none writes nothing.
func WritePrintBatch(ctx context.Context, st *Store, t *tenant.Tenant, campaignID, subject, dueDate string, w io.Writer) (int, error) {
	items, err := st.AllItems(ctx, campaignID)
	if err != nil {
		return 0, err
	}
	var ns []notice.Notice
	for _, it := range items {
		if it.FallbackState != FallbackNoAddress && it.FallbackState != FallbackNoChannel {
			continue
		}
		n, err := noticeFor(t, subject, dueDate, it, "it")
		if err != nil {
			return 0, fmt.Errorf("line %d (%s): %w", it.Line, it.FiscalCode, err)
		}
		ns = append(ns, n)
	}
	if len(ns) == 0 {
		return 0, nil
	}
	return len(ns), notice.RenderBatch(w, ns)
}
