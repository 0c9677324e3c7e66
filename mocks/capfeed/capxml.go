package capfeedmock

import (
	"cmp"
	"encoding/xml"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// The mock's own model of a CAP 1.2 alert (OASIS Standard, 1 July 2010):
// a mock never imports the client it stands in for (connectors/cap), so
// it writes and checks CAP with its own code, from the standard. Fields
// are in the order of the schema's sequences, which is how they are
// written; times stay text, so that the checks can say what is wrong
// with them.

// Namespace is CAP 1.2's XML namespace.
const Namespace = "urn:oasis:names:tc:emergency:cap:1.2"

// MediaType is the media type the mock serves CAP documents with.
const MediaType = "application/cap+xml"

type alertXML struct {
	XMLName     xml.Name  `xml:"urn:oasis:names:tc:emergency:cap:1.2 alert"`
	Identifier  string    `xml:"identifier"`
	Sender      string    `xml:"sender"`
	Sent        string    `xml:"sent"`
	Status      string    `xml:"status"`
	MsgType     string    `xml:"msgType"`
	Source      string    `xml:"source,omitempty"`
	Scope       string    `xml:"scope"`
	Restriction string    `xml:"restriction,omitempty"`
	Addresses   string    `xml:"addresses,omitempty"`
	Code        []string  `xml:"code,omitempty"`
	Note        string    `xml:"note,omitempty"`
	References  string    `xml:"references,omitempty"`
	Incidents   string    `xml:"incidents,omitempty"`
	Info        []infoXML `xml:"info"`
}

type infoXML struct {
	Language     string        `xml:"language,omitempty"`
	Category     []string      `xml:"category"`
	Event        string        `xml:"event"`
	ResponseType []string      `xml:"responseType,omitempty"`
	Urgency      string        `xml:"urgency"`
	Severity     string        `xml:"severity"`
	Certainty    string        `xml:"certainty"`
	Audience     string        `xml:"audience,omitempty"`
	EventCode    []pairXML     `xml:"eventCode,omitempty"`
	Effective    string        `xml:"effective,omitempty"`
	Onset        string        `xml:"onset,omitempty"`
	Expires      string        `xml:"expires,omitempty"`
	SenderName   string        `xml:"senderName,omitempty"`
	Headline     string        `xml:"headline,omitempty"`
	Description  string        `xml:"description,omitempty"`
	Instruction  string        `xml:"instruction,omitempty"`
	Web          string        `xml:"web,omitempty"`
	Contact      string        `xml:"contact,omitempty"`
	Parameter    []pairXML     `xml:"parameter,omitempty"`
	Resource     []resourceXML `xml:"resource,omitempty"`
	Area         []areaXML     `xml:"area,omitempty"`
}

type pairXML struct {
	ValueName string `xml:"valueName"`
	Value     string `xml:"value"`
}

type resourceXML struct {
	ResourceDesc string `xml:"resourceDesc"`
	MimeType     string `xml:"mimeType"`
	Size         string `xml:"size,omitempty"`
	URI          string `xml:"uri,omitempty"`
	DerefURI     string `xml:"derefUri,omitempty"`
	Digest       string `xml:"digest,omitempty"`
}

type areaXML struct {
	AreaDesc string    `xml:"areaDesc"`
	Polygon  []string  `xml:"polygon,omitempty"`
	Circle   []string  `xml:"circle,omitempty"`
	Geocode  []pairXML `xml:"geocode,omitempty"`
	Altitude string    `xml:"altitude,omitempty"`
	Ceiling  string    `xml:"ceiling,omitempty"`
}

// capTime writes t as CAP's dateTime (§3.3.2): an explicit offset, with
// UTC written "-00:00", never "Z".
func capTime(t time.Time) string {
	s := t.Format("2006-01-02T15:04:05-07:00")
	if _, off := t.Zone(); off == 0 {
		s = s[:len(s)-6] + "-00:00"
	}
	return s
}

// Geocode value names the mock writes. ISTAT is the comune's code, the
// name found in Italian CAP in practice; ZONA_ALLERTA is the regional
// alert zone (no published Italian profile naming it was found: a reader
// should match zone ids on any geocode).
const (
	GeocodeISTAT = "ISTAT"
	GeocodeZone  = "ZONA_ALLERTA"
)

// colours are the Italian colour codes as MeteoAlarm's awareness levels
// (1 green … 4 red) and CAP severities.
// The Italian word agrees with "allerta", which is feminine: allerta
// gialla, allerta rossa.
var colours = map[string]struct {
	level                 int
	english, severity, it string
}{
	"verde": {1, "green", "Minor", "verde"}, "giallo": {2, "yellow", "Moderate", "gialla"},
	"arancione": {3, "orange", "Severe", "arancione"}, "rosso": {4, "red", "Extreme", "rossa"},
}

// risks are the phenomena of the Italian bulletins as MeteoAlarm's
// awareness types and CAP categories (landslides and avalanches are
// geophysical), with their words in Italian and English.
var risks = map[string]struct {
	awareness, category, it, en string
}{
	"idraulico":     {"12; flooding", "Met", "rischio idraulico", "river flooding"},
	"idrogeologico": {"13; rain-flood", "Geo", "rischio idrogeologico", "landslides and flash floods"},
	"temporali":     {"3; thunderstorm", "Met", "temporali", "thunderstorms"},
	"vento":         {"1; wind", "Met", "vento", "wind"},
	"neve":          {"2; snow-ice", "Met", "neve", "snow"},
	"ghiaccio":      {"2; snow-ice", "Met", "ghiaccio", "ice"},
	"temperature":   {"5; high-temperature", "Met", "temperature estreme", "extreme temperatures"},
	"mareggiate":    {"7; coastalevent", "Met", "mareggiate", "storm surge"},
	"valanghe":      {"9; avalanches", "Geo", "valanghe", "avalanches"},
}

// phases are the operational phases of a comune's emergency plan, as CAP
// urgencies: attention is about what may come, pre-alarm about what is
// expected, alarm about what is happening.
var phases = map[string]string{"attenzione": "Future", "preallarme": "Expected", "allarme": "Immediate"}

func keys[V any](m map[string]V) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return strings.Join(ks, ", ")
}

var istatRE = regexp.MustCompile(`^[0-9]{6}$`)

// Publication is a bulletin to publish: the JSON body of POST
// /__mock/publish, or the argument of Publish. The mock writes a CAP 1.2
// alert from it, with an it-IT and an en-US info block.
type Publication struct {
	// Identifier of the alert; "" numbers it (IT-MOCK-<date>-<n>).
	Identifier string `json:"identifier,omitempty"`
	// Status is Actual (the default), Exercise or Test.
	Status string `json:"status,omitempty"`
	// MsgType is Alert (the default), Update or Cancel.
	MsgType string `json:"msgType,omitempty"`
	// References, for an Update or a Cancel: "sender,identifier,sent"
	// triples, or identifiers of bulletins published here, separated by
	// spaces.
	References string `json:"references,omitempty"`
	// Zones are alert-zone ids ("EMR-B1"), written as ZONA_ALLERTA
	// geocodes, one area each; ISTAT are comuni codes ("037006"), written
	// as ISTAT geocodes. At least one of the two.
	Zones []string `json:"zones,omitempty"`
	ISTAT []string `json:"istat,omitempty"`
	// Colour (verde, giallo, arancione, rosso) and Risk (idraulico,
	// idrogeologico, temporali, vento, neve, ghiaccio, temperature,
	// mareggiate, valanghe) are required but for a Cancel. Phase
	// (attenzione, preallarme, allarme) is optional.
	Colour string `json:"colour,omitempty"`
	Risk   string `json:"risk,omitempty"`
	Phase  string `json:"phase,omitempty"`
	// Headline, Description and Instruction by language, "it" and "en";
	// a headline is made up when absent.
	Headline    map[string]string `json:"headline,omitempty"`
	Description map[string]string `json:"description,omitempty"`
	Instruction map[string]string `json:"instruction,omitempty"`
	// ExpiresInHours after sent (default 24, at most 720).
	ExpiresInHours int `json:"expiresInHours,omitempty"`
}

// check returns what is wrong with p, as the answer to a bad publication.
func (p *Publication) check() error {
	bad := func(format string, args ...any) error {
		return &publishError{status: 400, msg: fmt.Sprintf(format, args...)}
	}
	if p.Identifier != "" && (strings.ContainsAny(p.Identifier, " ,<&") || strings.ContainsFunc(p.Identifier, isControl)) {
		return bad("identifier: CAP forbids spaces, commas, < and & in it (§3.2.1)")
	}
	switch p.Status {
	case "", "Actual", "Exercise", "Test":
	default:
		return bad("status: %q: use Actual, Exercise or Test", p.Status)
	}
	switch p.MsgType {
	case "", "Alert":
	case "Update", "Cancel":
		if strings.TrimSpace(p.References) == "" {
			return bad("references: an %s names the bulletins it %s (CAP §3.2.1)", p.MsgType, map[string]string{"Update": "updates", "Cancel": "cancels"}[p.MsgType])
		}
	default:
		return bad("msgType: %q: use Alert, Update or Cancel", p.MsgType)
	}
	if len(p.Zones) == 0 && len(p.ISTAT) == 0 {
		return bad("zones, istat: a bulletin names at least one alert zone or comune")
	}
	for _, z := range p.Zones {
		if strings.TrimSpace(z) == "" || strings.ContainsFunc(z, isControl) {
			return bad("zones: %q is not a zone id", z)
		}
	}
	for _, c := range p.ISTAT {
		if !istatRE.MatchString(c) {
			return bad("istat: %q is not an ISTAT comune code (six digits, e.g. 037006)", c)
		}
	}
	if _, ok := colours[p.Colour]; !ok && (p.Colour != "" || p.MsgType != "Cancel") {
		return bad("colour: %q: use %s", p.Colour, keys(colours))
	}
	if _, ok := risks[p.Risk]; !ok && (p.Risk != "" || p.MsgType != "Cancel") {
		return bad("risk: %q: use %s", p.Risk, keys(risks))
	}
	if _, ok := phases[p.Phase]; !ok && p.Phase != "" {
		return bad("phase: %q: use %s", p.Phase, keys(phases))
	}
	for field, m := range map[string]map[string]string{"headline": p.Headline, "description": p.Description, "instruction": p.Instruction} {
		for lang := range m {
			if lang != "it" && lang != "en" {
				return bad("%s: language %q: use it and en", field, lang)
			}
		}
	}
	if p.ExpiresInHours < 0 || p.ExpiresInHours > 720 {
		return bad("expiresInHours: %d: use 1..720 (0 is 24)", p.ExpiresInHours)
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// alert writes p as a CAP 1.2 alert; references are already expanded.
func (p *Publication) alert(id, sender, senderName string, sent time.Time) *alertXML {
	a := &alertXML{
		Identifier: id, Sender: sender, Sent: capTime(sent), Status: cmp.Or(p.Status, "Actual"),
		MsgType: cmp.Or(p.MsgType, "Alert"), Scope: "Public", References: p.References,
	}
	hours := p.ExpiresInHours
	if hours == 0 {
		hours = 24
	}
	c, hasColour := colours[p.Colour]
	r, hasRisk := risks[p.Risk]
	for _, lang := range []string{"it", "en"} {
		in := infoXML{
			Language: map[string]string{"it": "it-IT", "en": "en-US"}[lang],
			Category: []string{cmp.Or(r.category, "Met")}, Urgency: cmp.Or(phases[p.Phase], "Unknown"),
			Severity: cmp.Or(c.severity, "Unknown"), Certainty: "Likely",
			Effective: capTime(sent), Expires: capTime(sent.Add(time.Duration(hours) * time.Hour)),
			SenderName: senderName, Description: p.Description[lang], Instruction: p.Instruction[lang],
		}
		switch {
		case a.MsgType == "Cancel":
			in.Certainty = "Unknown"
			in.Event = map[string]string{"it": "Revoca dell'allerta", "en": "Alert withdrawn"}[lang]
		case lang == "it":
			in.Event = "Allerta " + c.it + " per " + r.it
		default:
			in.Event = strings.ToUpper(c.english[:1]) + c.english[1:] + " alert for " + r.en
		}
		in.Headline = cmp.Or(p.Headline[lang], in.Event)
		if hasColour {
			in.Parameter = append(in.Parameter, pairXML{"awareness_level", fmt.Sprintf("%d; %s; %s", c.level, c.english, c.severity)})
		}
		if hasRisk {
			// awareness_type is MeteoAlarm's; "risk" and "phase" follow
			// Ponte's profile: no regional standard carries them.
			in.Parameter = append(in.Parameter, pairXML{"awareness_type", r.awareness}, pairXML{"risk", p.Risk})
		}
		if p.Phase != "" {
			in.Parameter = append(in.Parameter, pairXML{"phase", p.Phase})
		}
		for _, z := range p.Zones {
			desc := map[string]string{"it": "Zona di allerta ", "en": "Alert zone "}[lang] + z
			in.Area = append(in.Area, areaXML{AreaDesc: desc, Geocode: []pairXML{{GeocodeZone, z}}})
		}
		for _, code := range p.ISTAT {
			in.Area = append(in.Area, areaXML{AreaDesc: "Comune (ISTAT " + code + ")", Geocode: []pairXML{{GeocodeISTAT, code}}})
		}
		a.Info = append(a.Info, in)
	}
	return a
}

// marshal writes a as a document.
func marshal(a *alertXML) ([]byte, error) {
	b, err := xml.MarshalIndent(a, "", "  ")
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), append(b, '\n')...), nil
}
