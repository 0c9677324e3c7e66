package campaign

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ponte-pa/ponte/connectors/appio"
	"github.com/ponte-pa/ponte/connectors/channels"
	"github.com/ponte-pa/ponte/internal/tenant"
)

var (
	payTemplatesOnce sync.Once
	payTemplates     *appio.TemplateSet
	payTemplatesErr  error
)

// paymentTemplates is appio.DefaultPaymentTemplates, parsed (and checked
// against App IO's length limits for worst-case values) once.
func paymentTemplates() (*appio.TemplateSet, error) {
	payTemplatesOnce.Do(func() { payTemplates, payTemplatesErr = appio.ParseTemplates(appio.DefaultPaymentTemplates()) })
	return payTemplates, payTemplatesErr
}

// paymentMessage is the App IO message that tells a debtor about a new payment
// notice, in English when the citizen's IO profile prefers it and the
// campaign has an English subject, Italian otherwise. The amount and notice
// number travel as payment_data, so the citizen can pay from the app.
func paymentMessage(t *tenant.Tenant, b BatchInput, it Item, langs []string) (channels.Message, error) {
	ts, err := paymentTemplates()
	if b.IOMessage != nil {
		ts, err = ioTemplates(b.IOMessage)
	}
	if err != nil {
		return channels.Message{}, err
	}
	return paymentMessageFrom(ts, t, b, it, langs)
}

// paymentMessageFrom renders a message with the variables of
// appio.DefaultPaymentTemplates from ts and adds the payment data.
func paymentMessageFrom(ts *appio.TemplateSet, t *tenant.Tenant, b BatchInput, it Item, langs []string) (channels.Message, error) {
	due := it.DueDate
	if b.DueDate != "" {
		due = b.DueDate
	}
	dueT, err := time.Parse("2006-01-02", due)
	if err != nil {
		return channels.Message{}, fmt.Errorf("due date %q: %w", due, err)
	}
	lang, subject, org := "it", b.Subject, t.Name.IT
	if ts.Language(langs) == "en" && (b.SubjectEN != "" || b.IOMessage != nil) {
		lang = "en"
		if b.SubjectEN != "" {
			subject = b.SubjectEN
		}
		if t.Name.EN != "" {
			org = t.Name.EN
		}
	}
	subj, md, err := ts.Render(lang, map[string]any{
		appio.PayVarName:         clip(strings.TrimSpace(it.Name+" "+it.Surname), 100),
		appio.PayVarOrganization: clip(org, 100),
		appio.PayVarSubject:      clip(subject, 200),
		appio.PayVarAmount:       it.AmountCents,
		appio.PayVarDueDate:      dueT,
		appio.PayVarNAV:          it.NAV,
	})
	if err != nil {
		return channels.Message{}, err
	}
	md += rateText(it.Rate, lang)
	return channels.Message{
		To:       channels.Recipient{FiscalCode: it.FiscalCode, Name: strings.TrimSpace(it.Name + " " + it.Surname), Lang: lang},
		Subject:  subj,
		Markdown: md,
		Payment: &channels.Payment{
			AmountCents:     it.AmountCents,
			NoticeNumber:    it.NAV,
			PayeeFiscalCode: t.FiscalCode,
			DueDate:         endOfDay(dueT).UTC(),
		},
	}, nil
}

var ioTemplateCache sync.Map // canonical JSON of the texts → *appio.TemplateSet

// ioTemplates parses a campaign's own App IO texts (the variables of
// appio.DefaultPaymentTemplates), once per distinct text.
func ioTemplates(texts map[string]appio.TextPair) (*appio.TemplateSet, error) {
	key, err := json.Marshal(texts) // maps marshal with sorted keys
	if err != nil {
		return nil, err
	}
	if ts, ok := ioTemplateCache.Load(string(key)); ok {
		return ts.(*appio.TemplateSet), nil
	}
	def := appio.DefaultPaymentTemplates()
	def.Name, def.Languages = "campaign ioMessage", texts
	ts, err := appio.ParseTemplates(def)
	if err != nil {
		return nil, err
	}
	ioTemplateCache.Store(string(key), ts)
	return ts, nil
}

// rateText lists an item's installments under the message, with their own
// notice numbers (the payment data of the message is the single payment).
func rateText(rate []Rata, lang string) string {
	if len(rate) == 0 {
		return ""
	}
	var b strings.Builder
	if lang == "en" {
		b.WriteString("\n\nYou can also pay in instalments, each with its own notice code:\n")
	} else {
		b.WriteString("\n\nPuoi anche pagare a rate, ognuna con il suo codice avviso:\n")
	}
	for _, r := range rate {
		d, _ := time.Parse("2006-01-02", r.DueDate)
		if lang == "en" {
			fmt.Fprintf(&b, "- instalment %d of %d: **%s** by **%s**, notice code `%s`\n", r.N, len(rate), appio.FormatEuro(r.AmountCents, lang), d.Format("02/01/2006"), groupNAV(r.NAV))
		} else {
			fmt.Fprintf(&b, "- rata %d di %d: **%s** entro il **%s**, codice avviso `%s`\n", r.N, len(rate), appio.FormatEuro(r.AmountCents, lang), d.Format("02/01/2006"), groupNAV(r.NAV))
		}
	}
	return b.String()
}

// groupNAV writes a notice number in groups of four digits, as printed.
func groupNAV(nav string) string {
	var b strings.Builder
	for i, r := range nav {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}
