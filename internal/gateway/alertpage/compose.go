package alertpage

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/ponte-pa/ponte/connectors/appio"
	"github.com/ponte-pa/ponte/connectors/cap"
	"github.com/ponte-pa/ponte/connectors/channels"
	"github.com/ponte-pa/ponte/internal/rome"
	"github.com/ponte-pa/ponte/internal/tenant"
	"github.com/ponte-pa/ponte/workflows/alert"
)

// Preset is a template of the compose form: colour, risk and phase with
// texts an operator adapts.
type Preset struct {
	ID                                 string
	Colour                             cap.Colour
	Risk                               cap.Risk
	Phase                              cap.Phase
	Headline, Description, Instruction tenant.Localized
}

// Label is "Allerta arancione idraulico – preallarme".
func (p Preset) Label() string {
	s := "Allerta " + p.Colour.Label("it") + " " + string(p.Risk)
	if p.Phase != "" {
		s += " – " + string(p.Phase)
	}
	return s
}

// Presets are the templates offered on the compose form.
var Presets = []Preset{
	{ID: "giallo-idrogeologico-attenzione", Colour: cap.Giallo, Risk: cap.Idrogeologico, Phase: cap.Attenzione,
		Headline:    tenant.Localized{IT: "Allerta gialla per rischio idrogeologico", EN: "Yellow alert for landslides and floods"},
		Description: tenant.Localized{IT: "Sono previste piogge intense che possono causare frane e allagamenti locali.", EN: "Heavy rain may cause landslides and local flooding."},
		Instruction: tenant.Localized{IT: "Evita sottopassi e zone vicine ai corsi d'acqua. Segui gli aggiornamenti del comune.", EN: "Avoid underpasses and areas near streams. Follow the comune's updates."}},
	{ID: "arancione-idraulico-preallarme", Colour: cap.Arancione, Risk: cap.Idraulico, Phase: cap.Preallarme,
		Headline:    tenant.Localized{IT: "Piena del fiume attesa nelle prossime ore", EN: "River flood expected in the next hours"},
		Description: tenant.Localized{IT: "Il livello del fiume sta salendo: sono possibili esondazioni nelle zone vicine agli argini.", EN: "The river is rising: flooding is possible near the banks."},
		Instruction: tenant.Localized{IT: "Non sostare vicino agli argini, sposta le auto dalle zone basse, non scendere in cantine e garage.", EN: "Keep away from the banks, move cars from low ground, do not go into cellars or garages."}},
	{ID: "rosso-idraulico-allarme", Colour: cap.Rosso, Risk: cap.Idraulico, Phase: cap.Allarme,
		Headline:    tenant.Localized{IT: "Esondazione in corso: raggiungi subito i piani alti", EN: "Flooding under way: go upstairs now"},
		Description: tenant.Localized{IT: "Il fiume è esondato. L'acqua sta raggiungendo le abitazioni delle zone basse.", EN: "The river has flooded. Water is reaching homes in low areas."},
		Instruction: tenant.Localized{IT: "Sali ai piani alti, non uscire in auto, chiama il 112 solo per emergenze.", EN: "Go to upper floors, do not drive, call 112 only in an emergency."}},
	{ID: "arancione-temporali-preallarme", Colour: cap.Arancione, Risk: cap.Temporali, Phase: cap.Preallarme,
		Headline:    tenant.Localized{IT: "Forti temporali attesi stanotte", EN: "Severe thunderstorms expected tonight"},
		Description: tenant.Localized{IT: "Sono attesi temporali forti con grandine e raffiche di vento.", EN: "Severe thunderstorms with hail and strong gusts are expected."},
		Instruction: tenant.Localized{IT: "Resta in casa, fissa gli oggetti sui balconi, evita sottopassi.", EN: "Stay indoors, secure objects on balconies, avoid underpasses."}},
	{ID: "giallo-neve-attenzione", Colour: cap.Giallo, Risk: cap.Neve, Phase: cap.Attenzione,
		Headline:    tenant.Localized{IT: "Nevicate previste", EN: "Snowfall expected"},
		Description: tenant.Localized{IT: "Sono previste nevicate anche a bassa quota.", EN: "Snow is expected, also at low altitude."},
		Instruction: tenant.Localized{IT: "Usa l'auto solo se necessario e con pneumatici invernali o catene.", EN: "Drive only if you must, with winter tyres or chains."}},
}

func presetByID(id string) (Preset, bool) {
	for _, p := range Presets {
		if p.ID == id {
			return p, true
		}
	}
	return Preset{}, false
}

// form is the compose or update form as submitted: every field as text,
// so that a bad value is shown back as the operator typed it.
type form struct {
	Template    string
	Source      string // "form" or "cap"
	CAP         string
	Colour      string
	Risk        string
	Phase       string
	Status      string
	AreaMode    string // "all", "zones", "istat"
	Zones       []string
	ISTAT       string // codes separated by spaces or commas
	AreaDesc    string
	Headline    tenant.Localized
	Description tenant.Localized
	Instruction tenant.Localized
	Expires     string // hours
	Confirm     bool
	Retype      string
	// Errors by field name (the input's name; "general" for the rest).
	Errors map[string]string
}

func (f *form) fail(field, format string, args ...any) {
	if f.Errors == nil {
		f.Errors = map[string]string{}
	}
	if f.Errors[field] == "" {
		f.Errors[field] = fmt.Sprintf(format, args...)
	}
}

func formFrom(v url.Values) *form {
	tr := func(k string) string { return strings.TrimSpace(v.Get(k)) }
	f := &form{Template: tr("template"), Source: tr("source"), CAP: tr("cap"), Colour: tr("colour"), Risk: tr("risk"), Phase: tr("phase"),
		Status: tr("status"), AreaMode: tr("area"), Zones: v["zones"], ISTAT: tr("istat"), AreaDesc: tr("area_desc"),
		Headline:    tenant.Localized{IT: tr("headline_it"), EN: tr("headline_en")},
		Description: tenant.Localized{IT: tr("description_it"), EN: tr("description_en")},
		Instruction: tenant.Localized{IT: tr("instruction_it"), EN: tr("instruction_en")},
		Expires:     tr("expires"), Confirm: v.Get("confirm") == "confermo", Retype: tr("retype")}
	if f.Source != "cap" {
		f.Source = "form"
	}
	if f.AreaMode == "" {
		f.AreaMode = "all"
	}
	return f
}

func (f *form) apply(p Preset) {
	f.Template, f.Colour, f.Risk, f.Phase = p.ID, string(p.Colour), string(p.Risk), string(p.Phase)
	f.Headline, f.Description, f.Instruction = p.Headline, p.Description, p.Instruction
}

// pointerField maps the definition schema's pointers to the form's fields.
func pointerField(ptr string) string {
	parts := strings.Split(strings.TrimPrefix(ptr, "/"), "/")
	switch parts[0] {
	case "colour", "risk", "phase", "status":
		return parts[0]
	case "headline", "description", "instruction":
		if len(parts) > 1 && parts[1] == "en" {
			return parts[0] + "_en"
		}
		return parts[0] + "_it"
	case "expiresInHours", "expires", "onset":
		return "expires"
	case "area":
		if len(parts) > 1 {
			switch parts[1] {
			case "zones":
				return "zones"
			case "istat":
				return "istat"
			case "desc":
				return "area_desc"
			}
		}
		return "area"
	}
	return "general"
}

func splitCodes(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}

// definition checks the form's fields against the alert definition schema
// and the tenant's zones and comuni; problems go to f.Errors.
func (f *form) definition(t *tenant.Tenant) *alert.Definition {
	d := map[string]any{"colour": f.Colour, "risk": f.Risk}
	if f.Phase != "" {
		d["phase"] = f.Phase
	}
	if f.Status != "" && f.Status != "Actual" {
		d["status"] = f.Status
	}
	text := func(l tenant.Localized) map[string]any {
		m := map[string]any{"it": l.IT}
		if l.EN != "" {
			m["en"] = l.EN
		}
		return m
	}
	d["headline"] = text(f.Headline)
	if f.Description.IT != "" || f.Description.EN != "" {
		d["description"] = text(f.Description)
	}
	if f.Instruction.IT != "" || f.Instruction.EN != "" {
		d["instruction"] = text(f.Instruction)
	}
	if f.Expires != "" {
		h, err := strconv.Atoi(f.Expires)
		if err != nil {
			f.fail("expires", "Scrivi un numero di ore (1-168). / Give a number of hours (1-168).")
		} else {
			d["expiresInHours"] = h
		}
	}
	area := map[string]any{}
	switch f.AreaMode {
	case "zones":
		if len(f.Zones) == 0 {
			f.fail("zones", "Scegli almeno una zona. / Choose at least one zone.")
		}
		for _, z := range f.Zones {
			if !slices.Contains(t.Alerts.ZoneIDs(), z) {
				f.fail("zones", "La zona %q non è del comune. / Zone %q is not the comune's.", z, z)
			}
		}
		area["zones"] = f.Zones
	case "istat":
		codes := splitCodes(f.ISTAT)
		if len(codes) == 0 {
			f.fail("istat", "Scrivi almeno un codice ISTAT. / Give at least one ISTAT code.")
		}
		for _, c := range codes {
			if len(t.Alerts.ISTAT) > 0 && !slices.Contains(t.Alerts.ISTAT, c) {
				f.fail("istat", "Il comune %s non è tra quelli serviti (%s). / Comune %s is not served.", c, strings.Join(t.Alerts.ISTAT, ", "), c)
			}
		}
		area["istat"] = codes
	}
	if f.AreaDesc != "" {
		area["desc"] = f.AreaDesc
	}
	if len(area) > 0 {
		d["area"] = area
	}
	b, err := json.Marshal(d)
	if err != nil {
		f.fail("general", "%v", err)
		return nil
	}
	def, err := alert.ParseDefinition("modulo.json", b)
	var ce *tenant.ConfigError
	if errors.As(err, &ce) {
		for _, p := range ce.Problems {
			m := p.Message
			if p.Hint != "" {
				m += " (" + p.Hint + ")"
			}
			f.fail(pointerField(p.Pointer), "%s", m)
		}
		return nil
	}
	if err != nil {
		f.fail("general", "%v", err)
		return nil
	}
	if len(f.Errors) > 0 {
		return nil
	}
	return def
}

// build makes the alert the form describes, as CAP with identifier id;
// nil with f.Errors set when the input is bad.
func (f *form) build(t *tenant.Tenant, id string, now time.Time) (*alert.Definition, *cap.Alert) {
	if f.Source == "cap" {
		if f.CAP == "" {
			f.fail("cap", "Incolla un messaggio CAP 1.2. / Paste a CAP 1.2 message.")
			return nil, nil
		}
		al, err := cap.Parse(strings.NewReader(f.CAP))
		if err != nil {
			f.fail("cap", "%v", err)
			return nil, nil
		}
		if al.MsgType != "Alert" {
			f.fail("cap", "Il messaggio è di tipo %s: un'allerta nuova è di tipo Alert. / The message is an %s: a new alert is msgType Alert.", al.MsgType, al.MsgType)
			return nil, nil
		}
		if !alert.AreaOf(t, al).Concerns(t) {
			f.fail("cap", "L'area del messaggio non riguarda il comune. / The message's area does not concern the comune.")
			return nil, nil
		}
		return nil, al
	}
	def := f.definition(t)
	if def == nil {
		return nil, nil
	}
	al, err := def.ToCAP(t, id, now)
	if err != nil {
		f.fail("general", "%v", err)
		return nil, nil
	}
	return def, al
}

// channelPreview is what one channel carries in one language.
type channelPreview struct {
	Kind, Label string
	Subject     string
	Body        string
	// SubjectUnits is the App IO subject's length in UTF-16 units (App IO
	// accepts 10-120), Chars the body's characters, Segments the SMS's.
	SubjectUnits, SubjectMax, Chars, Segments, SegmentsMax int
}

type langPreview struct {
	Lang, Label string
	Channels    []channelPreview
}

func utf16Len(s string) int { return len(utf16.Encode([]rune(s))) }

// preview is what citizens read, per language and channel, exactly as the
// alert's messages are written (alert.ContentOf).
func preview(al *cap.Alert) []langPreview {
	var out []langPreview
	for _, lang := range []struct{ code, label string }{{"it", "Italiano"}, {"en", "English"}} {
		c := alert.ContentOf(al, lang.code)
		lp := langPreview{Lang: lang.code, Label: lang.label}
		io := c.Message(appio.KindAppIO)
		lp.Channels = append(lp.Channels, channelPreview{Kind: appio.KindAppIO, Label: "App IO", Subject: io.Subject, Body: io.Markdown,
			SubjectUnits: utf16Len(io.Subject), SubjectMax: appio.SubjectMaxLen, Chars: len([]rune(io.Markdown))})
		sms := c.Message(channels.KindSMS)
		lp.Channels = append(lp.Channels, channelPreview{Kind: channels.KindSMS, Label: "SMS", Body: sms.Text,
			Chars: len([]rune(sms.Text)), Segments: channels.SMSSegments(sms.Text), SegmentsMax: 3})
		em := c.Message(channels.KindEmail)
		lp.Channels = append(lp.Channels, channelPreview{Kind: channels.KindEmail, Label: "E-mail", Subject: em.Subject, Body: em.Text,
			Chars: len([]rune(em.Text))})
		out = append(out, lp)
	}
	return out
}

// newAlertID is the id of an alert written on the page: the time in Rome
// and a few random characters (two operators may send in one second).
func newAlertID(now time.Time) string {
	return now.In(rome.Location).Format("20060102-150405") + "-" + strings.ToLower(randomToken()[:4])
}

func (st *site) composeData(r *http.Request, f *form) map[string]any {
	return st.page(r, "Nuova allerta", map[string]any{"Form": f, "Presets": Presets, "Zones": st.t.Alerts.Zones,
		"TenantISTAT": strings.Join(st.t.Alerts.ISTAT, ", "), "Choices": choices()})
}

func (st *site) handleCompose(w http.ResponseWriter, r *http.Request) {
	f := &form{Source: "form", AreaMode: "all", Expires: "24"}
	if p, ok := presetByID(r.URL.Query().Get("template")); ok {
		f.apply(p)
	} else {
		f.apply(Presets[1])
		f.Template = ""
	}
	data := st.composeData(r, f)
	recent, err := st.opts.Store.List(r.Context(), st.t.ID, 20)
	if err != nil {
		st.opts.Logger.Error("alertpage: alert store", "tenant", st.t.ID, "err", err)
	}
	data["Recent"] = recent
	st.render(w, http.StatusOK, "compose", data)
}

// handleComposePost previews the form (action=preview) or, once the
// operator confirmed, starts the alert (action=send). A bad input is
// shown back with its errors and starts nothing.
func (st *site) handleComposePost(w http.ResponseWriter, r *http.Request) {
	f := formFrom(r.PostForm)
	se := sessionOf(r)
	now := st.opts.Now()
	id := newAlertID(now)
	action := r.PostForm.Get("action")
	if action == "template" {
		if p, ok := presetByID(f.Template); ok {
			f.apply(p)
		}
		st.render(w, http.StatusOK, "compose", st.composeData(r, f))
		return
	}
	def, al := f.build(st.t, alert.Identifier(st.t, id, 1), now)
	data := st.composeData(r, f)
	if al == nil {
		st.render(w, http.StatusUnprocessableEntity, "compose", data)
		return
	}
	data["Preview"] = preview(al)
	it := cap.ItalianOf(alert.InfoFor(al, "it"))
	colour := string(it.Colour)
	data["ConfirmWord"] = colour
	if action != "send" {
		st.render(w, http.StatusOK, "compose", data)
		return
	}
	if !f.Confirm || (colour != "" && !strings.EqualFold(f.Retype, colour)) {
		if colour != "" {
			f.fail("confirm", "Per inviare spunta «confermo» e scrivi il colore dell'allerta (%s). / To send, tick «confermo» and type the alert's colour.", colour)
		} else {
			f.fail("confirm", "Per inviare spunta «confermo». / To send, tick «confermo».")
		}
		st.render(w, http.StatusUnprocessableEntity, "compose", data)
		return
	}
	in := alert.Input{AlertID: id, TenantID: st.t.ID, Definition: def, Origin: opLabel(se)}
	if def == nil {
		b, err := cap.Marshal(al)
		if err != nil {
			f.fail("cap", "%v", err)
			st.render(w, http.StatusUnprocessableEntity, "compose", data)
			return
		}
		in.AlertID, in.CAP = alert.AlertID(st.t.ID, al.Identifier), string(b)
	}
	started, err := st.startAlert(r.Context(), in)
	if err != nil {
		st.opts.Logger.Error("alertpage: starting alert", "tenant", st.t.ID, "alert", in.AlertID, "err", err)
		f.fail("general", "L'allerta non è partita: %v. Riprova. / The alert did not start: try again.", err)
		st.render(w, http.StatusBadGateway, "compose", data)
		return
	}
	if !started {
		f.fail("cap", "Un'allerta con identificativo %s esiste già: apri %s/a/%s. / An alert with this identifier exists already.", al.Identifier, st.base, in.AlertID)
		st.render(w, http.StatusConflict, "compose", data)
		return
	}
	st.opts.Logger.Info("alertpage: alert started", "tenant", st.t.ID, "alert", in.AlertID, "origin", in.Origin)
	http.Redirect(w, r, st.base+"/a/"+url.PathEscape(in.AlertID), http.StatusSeeOther)
}

// choice is an option of a select.
type choice struct{ Value, IT, EN string }

func choices() map[string][]choice {
	c := map[string][]choice{}
	for _, v := range []cap.Colour{cap.Verde, cap.Giallo, cap.Arancione, cap.Rosso} {
		c["colour"] = append(c["colour"], choice{string(v), v.Label("it"), v.Label("en")})
	}
	for _, v := range []cap.Risk{cap.Idraulico, cap.Idrogeologico, cap.Temporali, cap.Vento, cap.Neve, cap.Ghiaccio, cap.Temperature, cap.Mareggiate, cap.Valanghe} {
		c["risk"] = append(c["risk"], choice{string(v), v.Label("it"), v.Label("en")})
	}
	c["phase"] = []choice{{"", "nessuna", "none"}}
	for _, v := range []cap.Phase{cap.Attenzione, cap.Preallarme, cap.Allarme} {
		c["phase"] = append(c["phase"], choice{string(v), v.Label("it"), v.Label("en")})
	}
	c["status"] = []choice{{"Actual", "reale", "real"}, {"Exercise", "esercitazione", "drill"}, {"Test", "prova tecnica", "test"}}
	return c
}
