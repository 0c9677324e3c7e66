package alert

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ponte-pa/ponte/connectors/cap"
	"github.com/ponte-pa/ponte/internal/rome"
	"github.com/ponte-pa/ponte/internal/tenant"
)

// DefinitionSchema validates alert definition files.
const DefinitionSchema = "alert.schema.json"

// Definition is an alert as an operator writes it (alert.yaml): the
// Italian colour, risk and phase, texts in Italian and English, validity
// and area. ToCAP turns it into a CAP 1.2 alert.
type Definition struct {
	Colour         cap.Colour       `json:"colour"`
	Risk           cap.Risk         `json:"risk"`
	Phase          cap.Phase        `json:"phase,omitempty"`
	Status         string           `json:"status,omitempty"`
	Headline       tenant.Localized `json:"headline"`
	Description    tenant.Localized `json:"description"`
	Instruction    tenant.Localized `json:"instruction"`
	Web            string           `json:"web,omitempty"`
	Contact        string           `json:"contact,omitempty"`
	Onset          *time.Time       `json:"onset,omitempty"`
	Expires        *time.Time       `json:"expires,omitempty"`
	ExpiresInHours int              `json:"expiresInHours,omitempty"`
	Area           *AreaDef         `json:"area,omitempty"`

	doc *tenant.Document // where it was read, for the lines of problems
}

// AreaDef is where a defined alert applies.
type AreaDef struct {
	Desc    string   `json:"desc,omitempty"`
	Zones   []string `json:"zones,omitempty"`
	ISTAT   []string `json:"istat,omitempty"`
	Polygon string   `json:"polygon,omitempty"`
	Circle  string   `json:"circle,omitempty"`
}

// LoadDefinition reads and validates an alert definition (.yaml, .yml or
// .json); problems name the file, line, field and what to do.
func LoadDefinition(path string) (*Definition, error) {
	var d Definition
	doc, err := tenant.ReadDocument(path, DefinitionSchema, 64<<10, &d)
	if err != nil {
		return nil, err
	}
	d.doc = doc
	return &d, d.check(doc)
}

// ParseDefinition is LoadDefinition of data read from path (the name
// says YAML or JSON).
func ParseDefinition(path string, data []byte) (*Definition, error) {
	var d Definition
	doc, err := tenant.DecodeDocument(path, data, DefinitionSchema, 64<<10, &d)
	if err != nil {
		return nil, err
	}
	d.doc = doc
	return &d, d.check(doc)
}

// check finds what the schema cannot: area shapes, times in order.
func (d *Definition) check(doc *tenant.Document) error {
	var probs []tenant.Problem
	if a := d.Area; a != nil {
		if a.Polygon != "" {
			if _, err := cap.ParsePolygon(a.Polygon); err != nil {
				probs = append(probs, tenant.Problem{Pointer: "/area/polygon", Rule: "polygon", Message: err.Error(),
					Hint: "write at least four lat,lon points separated by spaces, the last equal to the first"})
			}
		}
		if a.Circle != "" {
			if _, _, err := cap.ParseCircle(a.Circle); err != nil {
				probs = append(probs, tenant.Problem{Pointer: "/area/circle", Rule: "circle", Message: err.Error(),
					Hint: "write lat,lon and the radius in km, e.g. 44.70,10.63 3"})
			}
		}
	}
	if d.Onset != nil && d.Expires != nil && !d.Expires.After(*d.Onset) {
		probs = append(probs, tenant.Problem{Pointer: "/expires", Rule: "order", Message: "expires is not after onset", Hint: "give an end after the start"})
	}
	if len(probs) > 0 {
		return doc.Error(probs...)
	}
	return nil
}

// CheckTenant checks the definition against tenant t, as read from file:
// t sends alerts at all, and the zones and comuni of its area are t's.
func (d *Definition) CheckTenant(t *tenant.Tenant, file string) error {
	doc := d.doc
	if doc == nil {
		doc = &tenant.Document{File: file}
	}
	if t.Alerts == nil {
		return doc.Error(tenant.Problem{Rule: "tenant", Message: fmt.Sprintf("tenant %q has no alerts section", t.ID),
			Hint: "add alerts (recipients, istat, zones) to the tenant config"})
	}
	var probs []tenant.Problem
	if d.Area != nil {
		for i, z := range d.Area.Zones {
			if _, ok := t.Alerts.Zone(z); !ok {
				probs = append(probs, tenant.Problem{Pointer: fmt.Sprintf("/area/zones/%d", i), Rule: "reference",
					Message: fmt.Sprintf("tenant %q has no alert zone %q (zones: %s)", t.ID, z, strings.Join(t.Alerts.ZoneIDs(), ", ")),
					Hint:    "use a zone id of alerts.zones in the tenant config"})
			}
		}
		for i, c := range d.Area.ISTAT {
			if !slices.Contains(t.Alerts.ISTAT, c) {
				probs = append(probs, tenant.Problem{Pointer: fmt.Sprintf("/area/istat/%d", i), Rule: "reference",
					Message: fmt.Sprintf("comune %s is not one of tenant %q's (alerts.istat: %s)", c, t.ID, strings.Join(t.Alerts.ISTAT, ", ")),
					Hint:    "name a comune of the tenant"})
			}
		}
	}
	if len(probs) > 0 {
		return doc.Error(probs...)
	}
	return nil
}

// ToCAP writes the definition as a CAP 1.2 alert of tenant t, sent at
// now, with identifier id: an info block in Italian and one in English,
// the area as defined (or the tenant's whole territory), the Italian
// conventions as parameters.
func (d *Definition) ToCAP(t *tenant.Tenant, id string, now time.Time) (*cap.Alert, error) {
	now = now.In(rome.Location).Truncate(time.Second)
	onset := now
	if d.Onset != nil {
		onset = d.Onset.In(rome.Location)
	}
	expires := onset.Add(time.Duration(max(d.ExpiresInHours, 24*boolInt(d.ExpiresInHours == 0))) * time.Hour)
	if d.Expires != nil {
		expires = d.Expires.In(rome.Location)
	}
	a := &cap.Alert{
		Identifier: id,
		Sender:     Sender(t),
		Sent:       cap.Time{Time: now},
		Status:     cmpOr(d.Status, "Actual"),
		MsgType:    "Alert",
		Scope:      "Public",
	}
	area := tenantArea(t, d.Area)
	for _, lang := range []string{"it", "en"} {
		in := cap.Info{
			Language:     map[string]string{"it": "it-IT", "en": "en-US"}[lang],
			Event:        eventName(d.Colour, d.Risk, lang),
			ResponseType: []string{"Prepare"},
			Urgency:      "Expected",
			Certainty:    "Likely",
			Effective:    &cap.Time{Time: now},
			Onset:        &cap.Time{Time: onset},
			Expires:      &cap.Time{Time: expires},
			SenderName:   t.Name.In(lang) + " - Protezione Civile",
			Headline:     d.Headline.In(lang),
			Description:  d.Description.In(lang),
			Instruction:  d.Instruction.In(lang),
			Web:          d.Web,
			Contact:      d.Contact,
			Area:         []cap.Area{area},
		}
		if d.Phase == cap.Allarme {
			in.ResponseType = []string{"Evacuate"}
		}
		if err := (cap.Italian{Colour: d.Colour, Risk: d.Risk, Phase: d.Phase}).Apply(&in); err != nil {
			return nil, err
		}
		a.Info = append(a.Info, in)
	}
	if err := a.Validate(); err != nil {
		return nil, err
	}
	return a, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func cmpOr(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

// Sender is the CAP sender of tenant t's alerts.
func Sender(t *tenant.Tenant) string { return "protezionecivile@" + t.IPACode + ".ipa.gov.it" }

// eventName is the CAP event: "Allerta arancione per rischio idraulico".
func eventName(c cap.Colour, r cap.Risk, lang string) string {
	return fmt.Sprintf("%s: %s", titleCase(c.Label(lang)), r.Label(lang))
}

func titleCase(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// tenantArea is the CAP area of a definition: its shapes and the ISTAT
// codes of the comuni it names (its zones' or its own), all of the
// tenant's when it names none.
func tenantArea(t *tenant.Tenant, def *AreaDef) cap.Area {
	a := cap.Area{AreaDesc: t.Name.IT}
	var codes []string
	if def != nil {
		if def.Desc != "" {
			a.AreaDesc = def.Desc
		}
		if def.Polygon != "" {
			a.Polygon = []string{def.Polygon}
		}
		if def.Circle != "" {
			a.Circle = []string{def.Circle}
		}
		for _, z := range def.Zones {
			a.Geocode = append(a.Geocode, cap.ValuePair{ValueName: GeocodeZone, Value: z})
			codes = append(codes, t.Alerts.ZoneISTAT(z)...)
			if zone, _ := t.Alerts.Zone(z); zone.Polygon != "" {
				a.Polygon = append(a.Polygon, zone.Polygon)
			}
		}
		codes = append(codes, def.ISTAT...)
	}
	if len(codes) == 0 && (def == nil || def.Polygon == "" && def.Circle == "") && t.Alerts != nil {
		codes = t.Alerts.ISTAT
	}
	seen := map[string]bool{}
	for _, c := range codes {
		if !seen[c] {
			seen[c] = true
			a.Geocode = append(a.Geocode, cap.ValuePair{ValueName: GeocodeISTAT, Value: c})
		}
	}
	return a
}

// Geocode value names Ponte writes.
const (
	GeocodeISTAT = "ISTAT"
	GeocodeZone  = "ZONA_ALLERTA"
)
