package info

import (
	"fmt"
	"time"
	"unicode/utf16"

	"github.com/ponte-pa/ponte/internal/tenant"
)

// DefinitionSchema validates campaign definitions.
const DefinitionSchema = "info.schema.json"

// Channel is one channel a campaign may use.
type Channel struct {
	Kind    string `json:"kind"`              // appio, email, sms
	Purpose string `json:"purpose,omitempty"` // appio: the App IO service (default news)
}

// QuietHours are the hours, Europe/Rome time, when nothing is sent.
type QuietHours struct {
	From string `json:"from"` // HH:MM
	To   string `json:"to"`   // HH:MM
}

// Definition is an information campaign as the operator writes it
// (schemas/info.schema.json).
type Definition struct {
	ID         string           `json:"id"`
	Topic      string           `json:"topic"`
	Title      tenant.Localized `json:"title"`
	Text       tenant.Localized `json:"text"`
	Channels   []Channel        `json:"channels"`
	Start      time.Time        `json:"start,omitzero"`
	QuietHours *QuietHours      `json:"quietHours,omitempty"`
	Spread     string           `json:"spread,omitempty"`
	BatchSize  int              `json:"batchSize,omitempty"`
	Area       struct {
		ISTAT []string `json:"istat,omitempty"`
	} `json:"area,omitzero"`
	Sources []string `json:"sources,omitempty"`
}

// App IO limits on a message (Services API v1 NewMessage): the subject is
// 10 to 120 characters, the Markdown body 80 to 10000, counted as the
// API's Java strings count them, in UTF-16 units.
const (
	ioSubjectMin, ioSubjectMax = 10, 120
	ioBodyMin, ioBodyMax       = 80, 10000
)

// LoadDefinition reads and checks a definition file (YAML or JSON).
func LoadDefinition(path string) (*Definition, error) {
	var d Definition
	doc, err := tenant.ReadDocument(path, DefinitionSchema, 64<<10, &d)
	if err != nil {
		return nil, err
	}
	return &d, d.check(doc)
}

// ParseDefinition is LoadDefinition of data read from path.
func ParseDefinition(path string, data []byte) (*Definition, error) {
	var d Definition
	doc, err := tenant.DecodeDocument(path, data, DefinitionSchema, 64<<10, &d)
	if err != nil {
		return nil, err
	}
	return &d, d.check(doc)
}

func utf16Len(s string) int { return len(utf16.Encode([]rune(s))) }

// check finds what the schema cannot: App IO's lengths, the spread and
// the quiet hours.
func (d *Definition) check(doc *tenant.Document) error {
	var probs []tenant.Problem
	for _, lang := range []string{"it", "en"} {
		if n := utf16Len(d.Title.In(lang)); n < ioSubjectMin || n > ioSubjectMax {
			probs = append(probs, tenant.Problem{Pointer: "/title/" + lang, Rule: "appio-subject",
				Message: fmt.Sprintf("%d characters (UTF-16 units): App IO takes a subject of %d to %d", n, ioSubjectMin, ioSubjectMax), Hint: "shorten or lengthen the title"})
		}
		if n := utf16Len(d.Text.In(lang)); n < ioBodyMin || n > ioBodyMax-600 {
			probs = append(probs, tenant.Problem{Pointer: "/text/" + lang, Rule: "appio-body",
				Message: fmt.Sprintf("%d characters (UTF-16 units): App IO takes a body of %d to %d, and Ponte adds the unsubscribe link (up to 600)", n, ioBodyMin, ioBodyMax), Hint: "write at least two sentences"})
		}
	}
	if _, err := d.SpreadDuration(); err != nil {
		probs = append(probs, tenant.Problem{Pointer: "/spread", Rule: "duration", Message: err.Error(), Hint: "e.g. 2h or 90m"})
	}
	if d.QuietHours != nil {
		if _, err := d.QuietHours.window(); err != nil {
			probs = append(probs, tenant.Problem{Pointer: "/quietHours", Rule: "hours", Message: err.Error(), Hint: "e.g. from 21:00 to 08:00"})
		}
	}
	if len(probs) > 0 {
		return doc.Error(probs...)
	}
	return nil
}

// SpreadDuration is the spread window (0: all at once).
func (d *Definition) SpreadDuration() (time.Duration, error) {
	if d.Spread == "" {
		return 0, nil
	}
	s, err := time.ParseDuration(d.Spread)
	if err != nil || s < 0 || s > 7*24*time.Hour {
		return 0, fmt.Errorf("spread %q: a duration of at most a week", d.Spread)
	}
	return s, nil
}

// Purpose is the App IO service the campaign sends from.
func (c Channel) purpose() string {
	if c.Purpose == "" {
		return "news"
	}
	return c.Purpose
}
