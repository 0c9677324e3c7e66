package info

import (
	"encoding/csv"
	"encoding/json"
	"io"
)

// ConsentHeader is the header of the consent evidence as CSV.
var ConsentHeader = []string{"id", "tenant", "subject", "fiscal_code", "phone", "email", "topic", "channel", "status", "at", "source", "campaign"}

// WriteConsentCSV writes consent records as semicolon-separated CSV, one
// line each, times in UTC (RFC 3339).
func WriteConsentCSV(w io.Writer, cs []Consent) error {
	cw := csv.NewWriter(w)
	cw.Comma = ';'
	if err := cw.Write(ConsentHeader); err != nil {
		return err
	}
	for _, c := range cs {
		if err := cw.Write([]string{c.ID, c.Tenant, c.Subject, c.FiscalCode, c.Phone, c.Email, c.Topic, c.Channel, c.Status,
			c.At.UTC().Format("2006-01-02T15:04:05.000Z"), c.Source, c.Campaign}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteConsentJSON writes consent records as a JSON array.
func WriteConsentJSON(w io.Writer, cs []Consent) error {
	if cs == nil {
		cs = []Consent{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(cs)
}
