package campaign

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ponte-pa/ponte/connectors/appio"
	"github.com/ponte-pa/ponte/internal/tenant"
)

// paymentMessage is the App IO message that tells a debtor about a new payment
// notice, in English when the citizen's IO profile prefers it and Italian
// otherwise. The amount and notice number travel as payment_data, so the
// citizen can pay from the app.
func paymentMessage(t *tenant.Tenant, b BatchInput, it Item, langs []string) appio.NewMessage {
	due := it.DueDate
	if b.DueDate != "" {
		due = b.DueDate
	}
	dueT, _ := time.Parse("2006-01-02", due)
	english := slices.ContainsFunc(langs, func(l string) bool { return strings.HasPrefix(strings.ToLower(l), "en") })
	euros := fmt.Sprintf("%d,%02d", it.AmountCents/100, it.AmountCents%100)
	var subject, md string
	if english && b.SubjectEN != "" {
		name := t.Name.EN
		if name == "" {
			name = t.Name.IT
		}
		subject = clip("Payment notice: "+b.SubjectEN, 120)
		md = fmt.Sprintf("Dear %s,\n\n%s has issued a pagoPA payment notice for **%s**.\n\n"+
			"- Amount: **€ %s**\n- Due date: **%s**\n- Notice code: `%s`\n\n"+
			"You can pay directly in the app with the button below, or at any pagoPA payment provider using the notice code.",
			strings.TrimSpace(it.Name+" "+it.Surname), name, b.SubjectEN, euros, dueT.Format("02/01/2006"), it.NAV)
	} else {
		subject = clip("Avviso di pagamento: "+b.Subject, 120)
		md = fmt.Sprintf("Gentile %s,\n\n%s ha emesso un avviso di pagamento pagoPA per **%s**.\n\n"+
			"- Importo: **€ %s**\n- Scadenza: **%s**\n- Codice avviso: `%s`\n\n"+
			"Puoi pagare direttamente in app con il pulsante qui sotto, oppure presso qualsiasi prestatore pagoPA indicando il codice avviso.",
			strings.TrimSpace(it.Name+" "+it.Surname), t.Name.IT, b.Subject, euros, dueT.Format("02/01/2006"), it.NAV)
	}
	rome, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		rome = time.UTC
	}
	dueAt := time.Date(dueT.Year(), dueT.Month(), dueT.Day(), 23, 59, 59, 0, rome).UTC()
	return appio.NewMessage{
		FiscalCode:       it.FiscalCode,
		TimeToLive:       3600,
		FeatureLevelType: "STANDARD",
		Content: appio.MessageContent{
			Subject:  subject,
			Markdown: md,
			DueDate:  &dueAt,
			PaymentData: &appio.PaymentData{
				Amount:              it.AmountCents,
				NoticeNumber:        it.NAV,
				InvalidAfterDueDate: false,
				Payee:               &appio.Payee{FiscalCode: t.FiscalCode},
			},
		},
	}
}
