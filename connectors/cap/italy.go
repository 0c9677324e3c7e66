package cap

import (
	"fmt"
	"strings"
)

// The Italian civil-protection conventions, first-class beside CAP's own
// fields: the colour code of the regional bulletins (verde, giallo,
// arancione, rosso), the risk, and the operational phase of the comune's
// emergency plan. They travel in CAP as MeteoAlarm's parameters
// (awareness_level "3; orange; Severe", awareness_type "12; flooding"),
// the convention of the European feeds the Dipartimento della Protezione
// Civile publishes to, and in Ponte's own "phase" parameter.

// Colour is an alert colour code.
type Colour string

// The colour codes, from the least to the most severe.
const (
	Verde     Colour = "verde"
	Giallo    Colour = "giallo"
	Arancione Colour = "arancione"
	Rosso     Colour = "rosso"
)

// colours maps each colour to MeteoAlarm's awareness level and CAP's
// severity: green "no particular awareness" (Minor), yellow (Moderate),
// orange (Severe), red (Extreme).
var colours = map[Colour]struct {
	level    int
	english  string
	severity string
}{
	Verde: {1, "green", "Minor"}, Giallo: {2, "yellow", "Moderate"},
	Arancione: {3, "orange", "Severe"}, Rosso: {4, "red", "Extreme"},
}

// Severity is the CAP severity of the colour.
func (c Colour) Severity() string { return colours[c].severity }

// Label is the colour as shown to citizens.
func (c Colour) Label(lang string) string {
	if lang == "en" {
		return map[Colour]string{Verde: "green", Giallo: "yellow", Arancione: "orange", Rosso: "red"}[c] + " alert"
	}
	// The adjective agrees with "allerta", which is feminine.
	return "allerta " + map[Colour]string{Verde: "verde", Giallo: "gialla", Arancione: "arancione", Rosso: "rossa"}[c]
}

// Risk is the phenomenon an alert is about.
type Risk string

// The risks of the Italian bulletins.
const (
	Idraulico     Risk = "idraulico"
	Idrogeologico Risk = "idrogeologico"
	Temporali     Risk = "temporali"
	Vento         Risk = "vento"
	Neve          Risk = "neve"
	Ghiaccio      Risk = "ghiaccio"
	Temperature   Risk = "temperature"
	Mareggiate    Risk = "mareggiate"
	Valanghe      Risk = "valanghe"
)

// risks maps each risk to MeteoAlarm's awareness type, the CAP category
// and its plain words in Italian and English. Landslides and avalanches
// are geophysical (Geo); the rest meteorological (Met), as MeteoAlarm
// files them.
var risks = map[Risk]struct {
	awareness string
	category  string
	it, en    string
}{
	Idraulico:     {"12; flooding", "Met", "rischio idraulico (piene dei fiumi, allagamenti)", "river flooding"},
	Idrogeologico: {"13; rain-flood", "Geo", "rischio idrogeologico (frane, smottamenti, allagamenti)", "landslides and flash floods"},
	Temporali:     {"3; thunderstorm", "Met", "temporali", "thunderstorms"},
	Vento:         {"1; wind", "Met", "vento forte", "strong wind"},
	Neve:          {"2; snow-ice", "Met", "neve", "snow"},
	Ghiaccio:      {"2; snow-ice", "Met", "ghiaccio", "ice"},
	Temperature:   {"5; high-temperature", "Met", "temperature estreme", "extreme temperatures"},
	Mareggiate:    {"7; coastalevent", "Met", "mareggiate", "storm surge"},
	Valanghe:      {"9; avalanches", "Geo", "valanghe", "avalanches"},
}

// riskOrder lists the risks in a fixed order.
var riskOrder = []Risk{Idraulico, Idrogeologico, Temporali, Vento, Neve, Ghiaccio, Temperature, Mareggiate, Valanghe}

// Category is the CAP category of the risk.
func (r Risk) Category() string { return risks[r].category }

// Label is the risk in plain words.
func (r Risk) Label(lang string) string {
	if lang == "en" {
		return risks[r].en
	}
	return risks[r].it
}

// Phase is the operational phase of the comune's emergency plan.
type Phase string

// The phases, from the least to the most urgent.
const (
	Attenzione Phase = "attenzione"
	Preallarme Phase = "preallarme"
	Allarme    Phase = "allarme"
)

// phases maps each phase to CAP's urgency: attention is about what may
// come (Future), pre-alarm about what is expected (Expected), alarm about
// what is happening (Immediate).
var phases = map[Phase]struct{ urgency, it, en string }{
	Attenzione: {"Future", "fase di attenzione", "attention phase"},
	Preallarme: {"Expected", "fase di preallarme", "pre-alarm phase"},
	Allarme:    {"Immediate", "fase di allarme", "alarm phase"},
}

// Urgency is the CAP urgency of the phase.
func (p Phase) Urgency() string { return phases[p].urgency }

// Label is the phase in plain words.
func (p Phase) Label(lang string) string {
	if lang == "en" {
		return phases[p].en
	}
	return phases[p].it
}

// Parameter names Ponte writes and reads.
const (
	ParamAwarenessLevel = "awareness_level" // MeteoAlarm: "3; orange; Severe"
	ParamAwarenessType  = "awareness_type"  // MeteoAlarm: "12; flooding"
	ParamPhase          = "phase"           // Ponte: attenzione, preallarme, allarme
	// ParamRisk is the Italian risk by name: MeteoAlarm's types do not
	// tell neve from ghiaccio.
	ParamRisk = "risk"
)

// Italian is the Italian reading of an info block.
type Italian struct {
	Colour Colour
	Risk   Risk
	Phase  Phase
}

// Apply sets in's severity, urgency, category and parameters from the
// Italian conventions; it refuses unknown values, naming the known ones.
func (it Italian) Apply(in *Info) error {
	c, ok := colours[it.Colour]
	if !ok {
		return fmt.Errorf("colour %q: use verde, giallo, arancione or rosso", it.Colour)
	}
	r, ok := risks[it.Risk]
	if !ok {
		return fmt.Errorf("risk %q: use idraulico, idrogeologico, temporali, vento, neve, ghiaccio, temperature, mareggiate or valanghe", it.Risk)
	}
	ph, ok := phases[it.Phase]
	if it.Phase != "" && !ok {
		return fmt.Errorf("phase %q: use attenzione, preallarme or allarme", it.Phase)
	}
	in.Severity = c.severity
	in.Category = []string{r.category}
	if it.Phase != "" {
		in.Urgency = ph.urgency
	}
	set := func(name, value string) {
		for i := range in.Parameter {
			if in.Parameter[i].ValueName == name {
				in.Parameter[i].Value = value
				return
			}
		}
		in.Parameter = append(in.Parameter, ValuePair{ValueName: name, Value: value})
	}
	set(ParamAwarenessLevel, fmt.Sprintf("%d; %s; %s", c.level, c.english, c.severity))
	set(ParamAwarenessType, r.awareness)
	set(ParamRisk, string(it.Risk))
	if it.Phase != "" {
		set(ParamPhase, string(it.Phase))
	}
	return nil
}

// ItalianOf reads the Italian conventions back from an info block: the
// colour from awareness_level (or, failing that, the severity), the risk
// from awareness_type, the phase from Ponte's parameter. What is not there
// stays empty.
func ItalianOf(in Info) Italian {
	var it Italian
	for _, p := range in.Parameter {
		switch p.ValueName {
		case ParamAwarenessLevel:
			for col, c := range colours {
				if strings.HasPrefix(strings.TrimSpace(p.Value), fmt.Sprintf("%d;", c.level)) {
					it.Colour = col
				}
			}
		case ParamAwarenessType:
			// In order: neve and ghiaccio share "snow-ice"; neve comes first.
			for _, r := range riskOrder {
				if strings.EqualFold(strings.TrimSpace(p.Value), risks[r].awareness) && it.Risk == "" {
					it.Risk = r
				}
			}
		case ParamRisk:
			if _, ok := risks[Risk(p.Value)]; ok {
				it.Risk = Risk(p.Value)
			}
		case ParamPhase:
			if _, ok := phases[Phase(p.Value)]; ok {
				it.Phase = Phase(p.Value)
			}
		}
	}
	if it.Colour == "" {
		for col, c := range colours {
			if c.severity == in.Severity {
				it.Colour = col
			}
		}
	}
	return it
}
