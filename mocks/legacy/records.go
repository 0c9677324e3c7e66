package legacymock

import (
	"fmt"
	"slices"
	"time"
)

// Debtor is one record of the back office's register: a debt of a
// citizen or a company, keyed by the practice id.
type Debtor struct {
	ExternalID  string // idPratica
	FiscalCode  string
	Name        string // empty for companies
	Surname     string // or company name
	Email       string
	AmountCents int64
	DueDate     string // YYYY-MM-DD
	Description string
}

// StatusUpdate is a status written back to the back office, over REST (the
// JSON body of PUT/POST /api/debitori/{id}/stato) or SOAP (aggiornaStato).
type StatusUpdate struct {
	ExternalID      string `json:"externalId"`
	Status          string `json:"status"`
	IUPD            string `json:"iupd,omitempty"`
	NAV             string `json:"nav,omitempty"`
	IUV             string `json:"iuv,omitempty"`
	PaidDate        string `json:"paidDate,omitempty"` // YYYY-MM-DD
	AmountPaidCents int64  `json:"amountPaidCents,omitempty"`
	Message         string `json:"message,omitempty"`
}

// Statuses are the practice states the back office records.
var Statuses = []string{"published", "notified", "paid", "failed", "cancelled"}

// check applies the back office's rules to a write-back.
func (u StatusUpdate) check() error {
	if u.ExternalID == "" {
		return fmt.Errorf("externalId mancante / missing externalId")
	}
	if !slices.Contains(Statuses, u.Status) {
		return fmt.Errorf("stato %q sconosciuto / unknown status %q (one of %v)", u.Status, u.Status, Statuses)
	}
	if u.PaidDate != "" {
		if _, err := time.Parse(time.DateOnly, u.PaidDate); err != nil {
			return fmt.Errorf("paidDate %q: data non valida / not a YYYY-MM-DD date", u.PaidDate)
		}
	}
	return nil
}
