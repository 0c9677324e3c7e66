package campaign

import (
	"errors"
	"fmt"
	"time"

	"github.com/ponte-pa/ponte/connectors/appio"
	"github.com/ponte-pa/ponte/internal/tenant"
)

// DefinitionSchema validates campaign definition files.
const DefinitionSchema = "campaign.schema.json"

// Definition is a campaign definition file (campaign.yaml), the operator's
// description of one campaign; see schemas/campaign.schema.json.
type Definition struct {
	ID      string           `json:"id"`
	Source  string           `json:"source"`
	Subject tenant.Localized `json:"subject"`
	DueDate string           `json:"dueDate,omitempty"`
	// Description of every debt position; AmountCents a flat amount for
	// every debtor (otherwise the source's amount column).
	Description string `json:"description,omitempty"`
	AmountCents int64  `json:"amountCents,omitempty"`
	// Installments (rate) offered besides the single payment.
	Installments []struct {
		DueDate string `json:"dueDate"`
		Percent int    `json:"percent"`
	} `json:"installments,omitempty"`
	IOService string `json:"ioService,omitempty"`
	Reminders *struct {
		DaysBefore []int `json:"daysBefore"`
		Hour       int   `json:"hour,omitempty"`
	} `json:"reminders,omitempty"`
	// IOMessage replaces the built-in App IO text (appio.DefaultPaymentTemplates
	// variables); checked against App IO's limits when loaded.
	IOMessage map[string]appio.TextPair `json:"ioMessage,omitempty"`
	Fallback  string                    `json:"fallback,omitempty"`
	Batch     struct {
		Size     int `json:"size,omitempty"`
		Parallel int `json:"parallel,omitempty"`
	} `json:"batch"`
}

// LoadDefinition reads and validates a campaign definition (.yaml, .yml or
// .json). Every problem is reported at once in a *tenant.ConfigError naming
// the file, line, JSON pointer, rule and what to do.
func LoadDefinition(path string) (*Definition, error) {
	var d Definition
	doc, err := tenant.ReadDocument(path, DefinitionSchema, 1<<20, &d)
	if err != nil {
		return nil, err
	}
	return d.check(doc)
}

// parseDefinition validates and decodes a definition read from path.
func parseDefinition(path string, data []byte) (*Definition, error) {
	var d Definition
	doc, err := tenant.DecodeDocument(path, data, DefinitionSchema, 1<<20, &d)
	if err != nil {
		return nil, err
	}
	return d.check(doc)
}

// check finds what the schema cannot.
func (d *Definition) check(doc *tenant.Document) (*Definition, error) {
	if probs := d.checkInstallments(); len(probs) > 0 {
		return nil, doc.Error(probs...)
	}
	if d.IOMessage != nil {
		if _, err := ioTemplates(d.IOMessage); err != nil {
			p := tenant.Problem{Pointer: "/ioMessage", Rule: "template", Message: err.Error(),
				Hint: "shorten the text or clip long values ({{clip 50 .subject}}); App IO wants a subject of 10-120 characters and a markdown body of 80-10000"}
			var te *appio.TemplateError
			if errors.As(err, &te) && te.Lang != "" {
				p.Pointer += "/" + te.Lang
				if te.Part == "subject" || te.Part == "markdown" {
					p.Pointer += "/" + te.Part
				}
			}
			return nil, doc.Error(p)
		}
	}
	return d, nil
}

// checkInstallments checks what the schema cannot: percentages that add up
// to 100, dates in order, a single payment due no later than the first rata.
func (d *Definition) checkInstallments() []tenant.Problem {
	if len(d.Installments) == 0 {
		return nil
	}
	var probs []tenant.Problem
	sum, prev := 0, ""
	for i, in := range d.Installments {
		sum += in.Percent
		if _, err := time.Parse("2006-01-02", in.DueDate); err != nil {
			probs = append(probs, tenant.Problem{Pointer: fmt.Sprintf("/installments/%d/dueDate", i), Rule: "date",
				Message: fmt.Sprintf("%q is not a calendar date", in.DueDate), Hint: "write an existing date as YYYY-MM-DD"})
		} else if in.DueDate <= prev {
			probs = append(probs, tenant.Problem{Pointer: fmt.Sprintf("/installments/%d/dueDate", i), Rule: "order",
				Message: fmt.Sprintf("rata %d is due on %s, not after rata %d (%s)", i+1, in.DueDate, i, prev), Hint: "list the rate from the first due to the last"})
		}
		prev = in.DueDate
	}
	if sum != 100 {
		probs = append(probs, tenant.Problem{Pointer: "/installments", Rule: "sum",
			Message: fmt.Sprintf("the percentages add up to %d, not 100", sum), Hint: "make the rate's percent values add up to 100"})
	}
	if d.DueDate != "" && d.DueDate > d.Installments[0].DueDate {
		probs = append(probs, tenant.Problem{Pointer: "/dueDate", Rule: "installments",
			Message: fmt.Sprintf("the single payment is due on %s, after the first rata (%s)", d.DueDate, d.Installments[0].DueDate),
			Hint:    "make dueDate no later than the first rata, or drop it to use the first rata's date"})
	}
	return probs
}

// Check compares a definition with the tenant it runs for: the source and
// the App IO service must exist there.
func (d *Definition) Check(t *tenant.Tenant, file string) error {
	var probs []tenant.Problem
	if _, ok := t.Sources[d.Source]; !ok {
		probs = append(probs, tenant.Problem{Pointer: "/source", Rule: "tenant", Message: fmt.Sprintf("tenant %q has no source %q", t.ID, d.Source),
			Hint: "use one of: " + t.SourceNames()})
	}
	purpose := d.IOService
	if purpose == "" {
		purpose = "payments"
	}
	if _, ok := t.AppIO.Services[purpose]; !ok {
		probs = append(probs, tenant.Problem{Pointer: "/ioService", Rule: "tenant", Message: fmt.Sprintf("tenant %q has no App IO service %q", t.ID, purpose),
			Hint: "add appio.services." + purpose + " to the tenant config or pick a configured one"})
	}
	if len(probs) > 0 {
		return &tenant.ConfigError{File: file, Problems: probs}
	}
	return nil
}

// Input is the workflow input that runs this definition for a tenant.
func (d *Definition) Input(tenantID string) Input {
	in := Input{
		CampaignID: d.ID, TenantID: tenantID, Source: d.Source,
		Subject: d.Subject.IT, SubjectEN: d.Subject.EN, DueDate: d.DueDate,
		IOPurpose: d.IOService, Fallback: d.Fallback, IOMessage: d.IOMessage,
		Description: d.Description, AmountCents: d.AmountCents,
		BatchSize: d.Batch.Size, Parallel: d.Batch.Parallel,
	}
	for _, r := range d.Installments {
		in.Installments = append(in.Installments, Installment{DueDate: r.DueDate, Percent: r.Percent})
	}
	if in.DueDate == "" && len(in.Installments) > 0 {
		in.DueDate = in.Installments[0].DueDate
	}
	if d.Reminders != nil {
		in.ReminderDaysBefore = d.Reminders.DaysBefore
		in.ReminderHour = d.Reminders.Hour
	}
	return in
}
