package appio

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	fcAllowed  = "SPNDNL80R13C555X"
	fcOptedOut = "RSSMRA85T10A562S"
	fcNotOnIO  = "VRDGPP80A01H501Z"
	fcFailing  = "BNCLRA90E45F205T"
	fcThrottle = "NRIFNC75M20L219K"
	fcOmocodia = "RSSMRA85T10A56NS" // omocodia: a digit replaced by a letter
	orgFC      = "01234567890"
)

func validMessage() NewMessage {
	due := time.Date(2026, 9, 30, 22, 0, 0, 0, time.UTC)
	return NewMessage{
		FiscalCode:       fcAllowed,
		TimeToLive:       3600,
		FeatureLevelType: FeatureStandard,
		Content: MessageContent{
			Subject:  "Avviso di pagamento TARI 2026",
			Markdown: strings.Repeat("Gentile contribuente, è disponibile l'avviso di pagamento TARI. ", 2),
			DueDate:  &due,
			PaymentData: &PaymentData{
				Amount:       12345,
				NoticeNumber: "301000000000000144",
				Payee:        &Payee{FiscalCode: orgFC},
			},
		},
	}
}

func TestValidate(t *testing.T) {
	zero := time.Time{}
	y10k := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		edit  func(*NewMessage)
		field string // "" means valid
		rule  string // substring of Rule
	}{
		{"valid full message", func(*NewMessage) {}, "", ""},
		{"valid minimal message", func(m *NewMessage) {
			m.TimeToLive, m.FeatureLevelType, m.Content.DueDate, m.Content.PaymentData = 0, "", nil, nil
		}, "", ""},
		{"fiscal code required", func(m *NewMessage) { m.FiscalCode = "" }, "fiscal_code", "required"},
		{"fiscal code lower case", func(m *NewMessage) { m.FiscalCode = strings.ToLower(fcAllowed) }, "fiscal_code", "pattern"},
		{"fiscal code too short", func(m *NewMessage) { m.FiscalCode = fcAllowed[:15] }, "fiscal_code", "pattern"},
		{"fiscal code bad month letter", func(m *NewMessage) { m.FiscalCode = "SPNDNL80Z13C555X" }, "fiscal_code", "pattern"},
		{"fiscal code omocodia ok", func(m *NewMessage) { m.FiscalCode = fcOmocodia }, "", ""},
		{"ttl at minimum", func(m *NewMessage) { m.TimeToLive = 3600 }, "", ""},
		{"ttl at maximum", func(m *NewMessage) { m.TimeToLive = 604800 }, "", ""},
		{"ttl below minimum", func(m *NewMessage) { m.TimeToLive = 3599 }, "time_to_live", "3600..604800"},
		{"ttl above maximum", func(m *NewMessage) { m.TimeToLive = 604801 }, "time_to_live", "3600..604800"},
		{"ttl negative", func(m *NewMessage) { m.TimeToLive = -1 }, "time_to_live", "3600..604800"},
		{"feature level ADVANCED", func(m *NewMessage) { m.FeatureLevelType = FeatureAdvanced }, "", ""},
		{"feature level unknown", func(m *NewMessage) { m.FeatureLevelType = "PREMIUM" }, "feature_level_type", "STANDARD or ADVANCED"},
		{"feature level lower case", func(m *NewMessage) { m.FeatureLevelType = "standard" }, "feature_level_type", "STANDARD or ADVANCED"},
		{"subject required", func(m *NewMessage) { m.Content.Subject = "" }, "content.subject", "required"},
		{"subject 9 chars", func(m *NewMessage) { m.Content.Subject = "123456789" }, "content.subject", "10..120"},
		{"subject 10 chars", func(m *NewMessage) { m.Content.Subject = "1234567890" }, "", ""},
		{"subject 120 chars", func(m *NewMessage) { m.Content.Subject = strings.Repeat("a", 120) }, "", ""},
		{"subject 121 chars", func(m *NewMessage) { m.Content.Subject = strings.Repeat("a", 121) }, "content.subject", "10..120"},
		{"subject counts runes not bytes", func(m *NewMessage) { m.Content.Subject = strings.Repeat("è", 120) }, "", ""},
		{"markdown required", func(m *NewMessage) { m.Content.Markdown = "" }, "content.markdown", "required"},
		{"markdown 79 chars", func(m *NewMessage) { m.Content.Markdown = strings.Repeat("m", 79) }, "content.markdown", "80..10000"},
		{"markdown 80 chars", func(m *NewMessage) { m.Content.Markdown = strings.Repeat("m", 80) }, "", ""},
		{"markdown 10000 chars", func(m *NewMessage) { m.Content.Markdown = strings.Repeat("m", 10000) }, "", ""},
		{"markdown 10001 chars", func(m *NewMessage) { m.Content.Markdown = strings.Repeat("m", 10001) }, "content.markdown", "80..10000"},
		{"due date zero", func(m *NewMessage) { m.Content.DueDate = &zero }, "content.due_date", "zero"},
		{"due date year 10000", func(m *NewMessage) { m.Content.DueDate = &y10k }, "content.due_date", "1970..9999"},
		{"amount 1 cent", func(m *NewMessage) { m.Content.PaymentData.Amount = 1 }, "", ""},
		{"amount max", func(m *NewMessage) { m.Content.PaymentData.Amount = 9999999999 }, "", ""},
		{"amount zero", func(m *NewMessage) { m.Content.PaymentData.Amount = 0 }, "content.payment_data.amount", "1..9999999999"},
		{"amount over max", func(m *NewMessage) { m.Content.PaymentData.Amount = 10000000000 }, "content.payment_data.amount", "1..9999999999"},
		{"notice number required", func(m *NewMessage) { m.Content.PaymentData.NoticeNumber = "" }, "content.payment_data.notice_number", "required"},
		{"notice number aux 0", func(m *NewMessage) { m.Content.PaymentData.NoticeNumber = "012345678901234567" }, "", ""},
		{"notice number aux 4", func(m *NewMessage) { m.Content.PaymentData.NoticeNumber = "401000000000000144" }, "content.payment_data.notice_number", "^[0123][0-9]{17}$"},
		{"notice number 17 digits", func(m *NewMessage) { m.Content.PaymentData.NoticeNumber = "30100000000000014" }, "content.payment_data.notice_number", "^[0123]"},
		{"notice number letters", func(m *NewMessage) { m.Content.PaymentData.NoticeNumber = "30100000000000014X" }, "content.payment_data.notice_number", "^[0123]"},
		{"payee required", func(m *NewMessage) { m.Content.PaymentData.Payee = nil }, "content.payment_data.payee", "required"},
		{"payee fiscal code required", func(m *NewMessage) { m.Content.PaymentData.Payee.FiscalCode = "" }, "content.payment_data.payee.fiscal_code", "required"},
		{"payee fiscal code 10 digits", func(m *NewMessage) { m.Content.PaymentData.Payee.FiscalCode = "0123456789" }, "content.payment_data.payee.fiscal_code", "11 digits"},
		{"payee personal fiscal code", func(m *NewMessage) { m.Content.PaymentData.Payee.FiscalCode = fcAllowed }, "content.payment_data.payee.fiscal_code", "11 digits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := validMessage()
			tt.edit(&m)
			err := m.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate() = %v, want *ValidationError on %s", err, tt.field)
			}
			if ve.Field != tt.field {
				t.Errorf("Field = %q, want %q", ve.Field, tt.field)
			}
			if !strings.Contains(ve.Rule, tt.rule) {
				t.Errorf("Rule = %q, want it to contain %q", ve.Rule, tt.rule)
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Errorf("Error() = %q does not name the field", err.Error())
			}
		})
	}
}

func TestValidationErrorTruncatesValue(t *testing.T) {
	m := validMessage()
	m.Content.Subject = strings.Repeat("x", 500)
	var ve *ValidationError
	if !errors.As(m.Validate(), &ve) {
		t.Fatal("want a *ValidationError")
	}
	if got := len([]rune(ve.Value)); got != maxValueLen+1 {
		t.Errorf("len(Value) = %d runes, want %d (truncated plus ellipsis)", got, maxValueLen+1)
	}
	want := `appio: invalid content.subject: length must be 10..120 characters, is 500 (got "` + strings.Repeat("x", 32) + `…")`
	if ve.Error() != want {
		t.Errorf("Error() =\n%s\nwant\n%s", ve.Error(), want)
	}
}

// TestNewMessageJSON pins the wire form (json tags, due_date layout) to a
// golden file; run with UPDATE_GOLDEN=1 to rewrite it.
func TestNewMessageJSON(t *testing.T) {
	m := validMessage()
	local := time.Date(2026, 10, 1, 0, 0, 0, 0, time.FixedZone("CEST", 2*3600))
	m.Content.DueDate = &local
	got, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "newmessage.golden.json")
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(want)) != string(got) {
		t.Errorf("JSON =\n%s\nwant\n%s", got, want)
	}
	if !strings.Contains(string(got), `"due_date": "2026-09-30T22:00:00.000Z"`) {
		t.Errorf("due_date not converted to UTC with milliseconds:\n%s", got)
	}
}
