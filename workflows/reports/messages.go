package reports

import (
	"fmt"

	"github.com/ponte-pa/ponte/connectors/channels"
	"github.com/ponte-pa/ponte/internal/tenant"
)

var stateText = map[string]map[State]string{
	"it": {
		StateReceived:  "è stata ricevuta",
		StateForwarded: "è stata inoltrata all'ufficio competente",
		StateInCharge:  "è stata presa in carico",
		StateResolved:  "è stata risolta",
		StateRejected:  "è stata respinta",
		StateDuplicate: "è stata riunita a un'altra segnalazione dello stesso problema",
	},
	"en": {
		StateReceived:  "has been received",
		StateForwarded: "has been forwarded to the office in charge",
		StateInCharge:  "has been taken in charge",
		StateResolved:  "has been resolved",
		StateRejected:  "has been rejected",
		StateDuplicate: "has been merged into another report of the same problem",
	},
}

// stateMessage tells the citizen that report r is now in state, in lang
// (it or en). The closing line keeps the text above App IO's 80-character
// minimum for a message's Markdown.
func stateMessage(t *tenant.Tenant, r *Report, state State, note, lang string) channels.Message {
	if lang != "en" {
		lang = "it"
	}
	what := r.ServiceName
	if s, ok := t.Reports.Service(r.ServiceCode); ok {
		what = s.Name.In(lang)
	}
	var subject, text string
	if lang == "en" {
		subject = fmt.Sprintf("Your report %s %s", r.ID, stateText[lang][state])
		text = fmt.Sprintf("Your report \"%s\" (%s) %s.", what, r.ID, stateText[lang][state])
		if note != "" {
			text += "\n\nNote from the office: " + note
		}
		text += "\n\nYou will get a message at every change of state. This message is sent automatically: please do not reply."
	} else {
		subject = fmt.Sprintf("La tua segnalazione %s %s", r.ID, stateText[lang][state])
		text = fmt.Sprintf("La tua segnalazione \"%s\" (%s) %s.", what, r.ID, stateText[lang][state])
		if note != "" {
			text += "\n\nNota dell'ufficio: " + note
		}
		text += "\n\nRiceverai un messaggio a ogni cambio di stato. Questo messaggio è inviato automaticamente: non rispondere."
	}
	return channels.Message{Subject: subject, Text: text}
}
