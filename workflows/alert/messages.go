package alert

import (
	"fmt"
	"strings"
	"time"

	"github.com/ponte-pa/ponte/connectors/appio"
	"github.com/ponte-pa/ponte/connectors/cap"
	"github.com/ponte-pa/ponte/connectors/channels"
	"github.com/ponte-pa/ponte/internal/rome"
)

// smsSegments is the length alert SMS are fitted to: three concatenated
// segments (459 GSM-7 characters, 201 UCS-2) arrive together on every
// phone, and a gateway's usual maximum is four.
const smsSegments = 3

// InfoFor is the alert's info block in lang ("it", "en"): the one whose
// language starts with it, else the Italian one, else the first.
func InfoFor(a *cap.Alert, lang string) cap.Info {
	if len(a.Info) == 0 {
		return cap.Info{}
	}
	for _, want := range []string{lang, "it"} {
		for _, in := range a.Info {
			l := strings.ToLower(in.Language)
			if want != "" && (l == want || strings.HasPrefix(l, want+"-")) {
				return in
			}
		}
	}
	return a.Info[0]
}

// words are the fixed texts of alert messages.
var words = map[string]map[string]string{
	"it": {
		"Update": "AGGIORNAMENTO", "Cancel": "REVOCA", "what": "Cosa fare", "from": "Dal", "to": "al",
		"web": "Aggiornamenti", "contact": "Contatti", "cancelled": "L'allerta è revocata: non è più necessario seguire le indicazioni precedenti.",
		"footer": "Messaggio di protezione civile inviato dal comune a chi risiede o è iscritto al servizio di allerta.",
	},
	"en": {
		"Update": "UPDATE", "Cancel": "CANCELLED", "what": "What to do", "from": "From", "to": "to",
		"web": "Updates", "contact": "Contact", "cancelled": "The alert is cancelled: the earlier instructions no longer apply.",
		"footer": "Civil protection message sent by the comune to its residents and to those who subscribed to its alerts.",
	},
}

// Content is what one alert message says in one language, before it is
// fitted to a channel.
type Content struct {
	Lang     string
	MsgType  string
	Title    string // "ALLERTA ARANCIONE - rischio idraulico (piene dei fiumi, allagamenti)"
	Headline string
	Body     string // description, instruction, validity, links
	Sender   string
}

// ContentOf is the message of alert a in lang.
func ContentOf(a *cap.Alert, lang string) Content {
	if lang != "en" {
		lang = "it"
	}
	in := InfoFor(a, lang)
	w := words[lang]
	it := cap.ItalianOf(in)
	title := in.Event
	if it.Colour != "" {
		title = strings.ToUpper(it.Colour.Label(lang))
		if it.Risk != "" {
			title += " - " + it.Risk.Label(lang)
		}
		if it.Phase != "" {
			title += ", " + it.Phase.Label(lang)
		}
	}
	if p := w[a.MsgType]; p != "" {
		title = p + ": " + title
	}
	var b strings.Builder
	para := func(s string) {
		if s = strings.TrimSpace(s); s != "" {
			if b.Len() > 0 {
				b.WriteString("\n\n")
			}
			b.WriteString(s)
		}
	}
	if a.MsgType == "Cancel" {
		para(w["cancelled"])
	}
	para(in.Description)
	if in.Instruction != "" {
		para(w["what"] + ": " + in.Instruction)
	}
	if in.Onset != nil && in.Expires != nil && a.MsgType != "Cancel" {
		para(fmt.Sprintf("%s %s %s %s.", w["from"], when(in.Onset.Time), w["to"], when(in.Expires.Time)))
	}
	if in.Web != "" {
		para(w["web"] + ": " + in.Web)
	}
	if in.Contact != "" {
		para(w["contact"] + ": " + in.Contact)
	}
	para(w["footer"])
	return Content{Lang: lang, MsgType: a.MsgType, Title: title, Headline: strings.TrimSpace(in.Headline), Body: b.String(), Sender: in.SenderName}
}

func when(t time.Time) string { return t.In(rome.Location).Format("02/01/2006 15:04") }

// Message is the content fitted to a channel kind: App IO gets a subject
// within 10-120 characters and Markdown, SMS a text within smsSegments
// segments, e-mail and webhooks the whole text.
func (c Content) Message(kind string) channels.Message {
	subject := c.Title
	if c.Headline != "" {
		subject += ": " + c.Headline
	}
	text := c.Headline + "\n\n" + c.Body
	if c.Sender != "" {
		text = c.Sender + "\n" + c.Title + "\n\n" + text
	}
	m := channels.Message{Subject: subject, Text: text}
	switch kind {
	case appio.KindAppIO:
		m.Subject = appio.Clip(appio.SubjectMaxLen, subject)
		m.Markdown = "**" + c.Title + "**\n\n" + c.Headline + "\n\n" + c.Body
	case channels.KindSMS:
		m.Text = c.sms()
	}
	return m
}

// sms is the alert in at most smsSegments segments: sender, title,
// headline, then as much of the instructions and links as fits.
func (c Content) sms() string {
	head := strings.TrimSpace(c.Sender + ": " + c.Title + ". " + c.Headline)
	full := head + " " + strings.ReplaceAll(c.Body, "\n\n", " ")
	if channels.SMSSegments(full) <= smsSegments {
		return full
	}
	// Cut word by word from the end.
	words := strings.Fields(full)
	for n := len(words) - 1; n > 0; n-- {
		s := strings.Join(words[:n], " ") + "…"
		if channels.SMSSegments(s) <= smsSegments {
			return s
		}
	}
	return head
}
