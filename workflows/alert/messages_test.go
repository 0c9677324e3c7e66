package alert

import (
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/ponte-pa/ponte/connectors/appio"
	"github.com/ponte-pa/ponte/connectors/cap"
	"github.com/ponte-pa/ponte/connectors/channels"
	"github.com/ponte-pa/ponte/internal/tenant"
)

func sampleAlert(t *testing.T) *cap.Alert {
	t.Helper()
	d, err := LoadDefinition("testdata/alert.yaml")
	if err != nil {
		t.Fatal(err)
	}
	al, err := d.ToCAP(sampleTenant(), "c_x000.test", time.Date(2026, 12, 2, 15, 30, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	return al
}

// TestMessagesPerChannel: each channel gets the alert in the person's
// language within its limits: App IO a subject of 10-120 UTF-16 units and
// Markdown of at least 80, SMS at most three segments, e-mail the whole
// text with validity and links.
func TestMessagesPerChannel(t *testing.T) {
	al := sampleAlert(t)
	for _, c := range []struct {
		lang, title, what string
	}{
		{"it", "ALLERTA ARANCIONE - rischio idraulico", "Cosa fare: Non sostare"},
		{"en", "ORANGE ALERT - river flooding", "What to do: Keep away"},
	} {
		ct := ContentOf(al, c.lang)
		io := ct.Message(appio.KindAppIO)
		if n := len(utf16.Encode([]rune(io.Subject))); n < appio.SubjectMinLen || n > appio.SubjectMaxLen {
			t.Errorf("%s: App IO subject of %d units: %q", c.lang, n, io.Subject)
		}
		if len(io.Markdown) < appio.MarkdownMinLen || !strings.Contains(io.Markdown, c.title) || !strings.Contains(io.Markdown, c.what) {
			t.Errorf("%s: App IO markdown %q", c.lang, io.Markdown)
		}
		sms := ct.Message(channels.KindSMS)
		if n := channels.SMSSegments(sms.Text); n > smsSegments {
			t.Errorf("%s: SMS of %d segments: %q", c.lang, n, sms.Text)
		}
		if !strings.Contains(sms.Text, c.title) {
			t.Errorf("%s: SMS without the title: %q", c.lang, sms.Text)
		}
		mail := ct.Message(channels.KindEmail)
		for _, want := range []string{c.title, c.what, "https://www.comune.esempio.it/allerta", "02/12/2026 22:00", "04/12/2026 10:00"} {
			if !strings.Contains(mail.Text, want) {
				t.Errorf("%s: e-mail text lacks %q:\n%s", c.lang, want, mail.Text)
			}
		}
	}
	// A language without its own info block reads the Italian one.
	if got := InfoFor(al, "de").Language; got != "it-IT" {
		t.Errorf("German reader gets %s", got)
	}
}

// TestCancelMessage: a Cancel says so first, without the old validity.
func TestCancelMessage(t *testing.T) {
	orig := sampleAlert(t)
	al := cancelOf(orig, "c_x000.test.v2", time.Now(), tenantText("Il torrente è rientrato negli argini.", "The stream is back within its banks."))
	al.References = orig.Sender + "," + orig.Identifier + "," + orig.Sent.Format(cap.TimeLayout)
	if err := al.Validate(); err != nil {
		t.Fatal(err)
	}
	it := ContentOf(al, "it").Message(channels.KindEmail).Text
	if !strings.Contains(it, "REVOCA: ALLERTA ARANCIONE") || !strings.Contains(it, "L'allerta è revocata") || strings.Contains(it, "Dal 02/12") || !strings.Contains(it, "rientrato") {
		t.Errorf("Italian cancel:\n%s", it)
	}
	en := ContentOf(al, "en").Message(channels.KindSMS).Text
	if !strings.Contains(en, "CANCELLED") || !strings.Contains(en, "back within its banks") {
		t.Errorf("English cancel SMS: %s", en)
	}
}

// TestLongSMSIsCut: a long text is cut on a word to three segments.
func TestLongSMSIsCut(t *testing.T) {
	c := Content{Lang: "it", Title: "ALLERTA ROSSA", Headline: "Evacuazione", Body: strings.Repeat("parola lunghissima ", 200), Sender: "Comune di Esempio"}
	s := c.Message(channels.KindSMS).Text
	if n := channels.SMSSegments(s); n > smsSegments || !strings.HasSuffix(s, "…") || !strings.HasPrefix(s, "Comune di Esempio: ALLERTA ROSSA. Evacuazione") {
		t.Errorf("%d segments: %q", n, s)
	}
}

func tenantText(it, en string) tenant.Localized { return tenant.Localized{IT: it, EN: en} }
