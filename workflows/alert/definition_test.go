package alert

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ponte-pa/ponte/connectors/cap"
	"github.com/ponte-pa/ponte/internal/tenant"
)

func sampleTenant() *tenant.Tenant {
	return &tenant.Tenant{ID: "esempio", IPACode: "c_x000", Name: tenant.Localized{IT: "Comune di Esempio", EN: "Municipality of Esempio"},
		Alerts: &tenant.Alerts{Recipients: []string{"residenti"}, ISTAT: []string{"099001", "099002"},
			Zones: []tenant.AlertZone{{ID: "EMR-B1", ISTAT: []string{"099001"}}, {ID: "EMR-B2"},
				{ID: "FIUME", ISTAT: []string{"099001"}, Polygon: "44.0,10.0 44.0,10.2 44.2,10.2 44.2,10.0 44.0,10.0"}}}}
}

// TestDefinitionToCAP: the operator's few lines become a valid CAP 1.2
// alert in Italian and English that parses back with the same Italian
// colour, risk and phase, validity and area.
func TestDefinitionToCAP(t *testing.T) {
	d, err := LoadDefinition("testdata/alert.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tn := sampleTenant()
	now := time.Date(2026, 12, 2, 15, 30, 0, 0, time.UTC)
	al, err := d.ToCAP(tn, Identifier(tn, "20261202-1630", 1), now)
	if err != nil {
		t.Fatal(err)
	}
	b, err := cap.Marshal(al)
	if err != nil {
		t.Fatal(err)
	}
	back, err := cap.Parse(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("the written CAP does not parse: %v\n%s", err, b)
	}
	if back.Identifier != "c_x000.20261202-1630" || back.MsgType != "Alert" || back.Status != "Actual" || len(back.Info) != 2 {
		t.Fatalf("alert %+v", back)
	}
	for _, lang := range []string{"it", "en"} {
		in := InfoFor(back, lang)
		it := cap.ItalianOf(in)
		if it.Colour != cap.Arancione || it.Risk != cap.Idraulico || it.Phase != cap.Preallarme {
			t.Errorf("%s: Italian reading %+v", lang, it)
		}
		if in.Severity != "Severe" || in.Urgency != "Expected" || in.Headline != d.Headline.In(lang) {
			t.Errorf("%s: severity %s urgency %s headline %q", lang, in.Severity, in.Urgency, in.Headline)
		}
		if got := in.Expires.Sub(in.Onset.Time); got != 36*time.Hour {
			t.Errorf("%s: valid for %v, want 36h", lang, got)
		}
		// No area in the definition: the tenant's whole territory.
		if len(in.Area) != 1 || len(in.Area[0].Geocode) != 2 || in.Area[0].AreaDesc != "Comune di Esempio" {
			t.Errorf("%s: area %+v", lang, in.Area)
		}
	}
	if !strings.HasPrefix(InfoFor(back, "en").Language, "en") || !strings.HasPrefix(InfoFor(back, "it").Language, "it") {
		t.Error("info blocks are not it-IT and en-US")
	}
}

// TestDefinitionProblems: what the schema and the checks refuse, with the
// pointer and line of the field.
func TestDefinitionProblems(t *testing.T) {
	for _, c := range []struct{ name, yaml, want string }{
		{"unknown colour", "colour: viola\nrisk: vento\nheadline: {it: x}\n", "/colour: enum"},
		{"no headline", "colour: rosso\nrisk: vento\n", "headline"},
		{"bad polygon", "colour: rosso\nrisk: vento\nheadline: {it: x}\narea:\n  polygon: 44.1,10.1 44.2,10.2\n", "/area/polygon: polygon"},
		{"bad circle", "colour: rosso\nrisk: vento\nheadline: {it: x}\narea:\n  circle: 44.1 10.1\n", "/area/circle: circle"},
		{"ends before it starts", "colour: rosso\nrisk: vento\nheadline: {it: x}\nonset: 2026-12-02T22:00:00+01:00\nexpires: 2026-12-02T21:00:00+01:00\n", "/expires: order"},
		{"typo", "colour: rosso\nrisk: vento\nheadline: {it: x}\ninstructions: {it: y}\n", "instructions"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseDefinition("alert.yaml", []byte(c.yaml))
			var ce *tenant.ConfigError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "alert.yaml") {
				t.Fatalf("error %v, want a ConfigError naming the file and %q", err, c.want)
			}
		})
	}
}

// TestDefinitionArea: zones become their comuni's ISTAT codes and a
// ZONA_ALLERTA geocode; shapes pass through.
func TestDefinitionArea(t *testing.T) {
	tn := sampleTenant()
	d := &Definition{Colour: cap.Rosso, Risk: cap.Idrogeologico, Phase: cap.Allarme, Headline: tenant.Localized{IT: "Frana in località Monte"},
		Area: &AreaDef{Desc: "Località Monte", Zones: []string{"EMR-B1"}, Circle: "44.70,10.63 2"}}
	al, err := d.ToCAP(tn, "c_x000.x", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	a := al.Info[0].Area[0]
	if a.AreaDesc != "Località Monte" || len(a.Circle) != 1 {
		t.Errorf("area %+v", a)
	}
	var codes []string
	for _, g := range a.Geocode {
		codes = append(codes, g.ValueName+"="+g.Value)
	}
	if got := strings.Join(codes, " "); got != "ZONA_ALLERTA=EMR-B1 ISTAT=099001" {
		t.Errorf("geocodes %s", got)
	}
	if al.Info[0].ResponseType[0] != "Evacuate" || al.Info[0].Urgency != "Immediate" || al.Info[0].Severity != "Extreme" {
		t.Errorf("allarme rosso: %+v", al.Info[0])
	}
}
