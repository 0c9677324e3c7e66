package alert

import (
	"testing"

	"github.com/ponte-pa/ponte/connectors/cap"
)

func alertWithArea(areas ...cap.Area) *cap.Alert {
	return &cap.Alert{Info: []cap.Info{{Language: "it-IT", Area: areas}}}
}

// TestAreaIncludes: who an alert concerns, by point, comune, zone, or —
// for people the source locates nowhere — by whether it covers the whole
// territory.
func TestAreaIncludes(t *testing.T) {
	tn := sampleTenant() // comuni 099001, 099002; zone EMR-B1 = 099001, EMR-B2 = both
	square := "44.0,10.0 44.0,10.2 44.2,10.2 44.2,10.0 44.0,10.0"
	inside := Place{Lat: 44.1, Lon: 10.1, HasPoint: true}
	outside := Place{Lat: 45.1, Lon: 10.1, HasPoint: true, ISTAT: "099001"}
	for _, c := range []struct {
		name     string
		area     cap.Area
		p        Place
		want     bool
		concerns bool
	}{
		{"no area: everyone", cap.Area{AreaDesc: "Comune"}, Place{}, true, true},
		{"polygon, point inside", cap.Area{Polygon: []string{square}}, inside, true, true},
		{"polygon, point outside, though in a named comune", cap.Area{Polygon: []string{square}}, outside, false, true},
		{"polygon, no point: included", cap.Area{Polygon: []string{square}}, Place{ISTAT: "099002"}, true, true},
		{"circle, 5 km away", cap.Area{Circle: []string{"44.1,10.1 3"}}, Place{Lat: 44.145, Lon: 10.1, HasPoint: true}, false, true},
		{"circle, 2 km away", cap.Area{Circle: []string{"44.1,10.1 3"}}, Place{Lat: 44.118, Lon: 10.1, HasPoint: true}, true, true},
		{"ISTAT of one comune, resident there", cap.Area{Geocode: []cap.ValuePair{{ValueName: "ISTAT", Value: "099001"}}}, Place{ISTAT: "099001"}, true, true},
		{"ISTAT of one comune, resident of the other", cap.Area{Geocode: []cap.ValuePair{{ValueName: "ISTAT", Value: "099001"}}}, Place{ISTAT: "099002"}, false, true},
		{"ISTAT of both: whole territory", cap.Area{Geocode: []cap.ValuePair{{ValueName: "ISTAT", Value: "099001"}, {ValueName: "ISTAT", Value: "099002"}}}, Place{ISTAT: "099002"}, true, true},
		{"zone by geocode: its comuni", cap.Area{Geocode: []cap.ValuePair{{ValueName: "ZONA_ALLERTA", Value: "EMR-B1"}}}, Place{ISTAT: "099002"}, false, true},
		{"zone by areaDesc, person by zone", cap.Area{AreaDesc: "EMR-B1"}, Place{Zone: "EMR-B1"}, true, true},
		{"zone covering everything", cap.Area{AreaDesc: "EMR-B2"}, Place{ISTAT: "099002"}, true, true},
		{"whole territory, resident of another comune", cap.Area{Geocode: []cap.ValuePair{{ValueName: "ISTAT", Value: "099001"}, {ValueName: "ISTAT", Value: "099002"}}}, Place{ISTAT: "037006"}, false, true},
		{"own zone drawn as a polygon, point inside", cap.Area{Geocode: []cap.ValuePair{{ValueName: "ZONA_ALLERTA", Value: "FIUME"}}}, Place{Lat: 44.1, Lon: 10.1, HasPoint: true, ISTAT: "099001"}, true, true},
		{"own zone drawn as a polygon, point outside", cap.Area{Geocode: []cap.ValuePair{{ValueName: "ZONA_ALLERTA", Value: "FIUME"}}}, Place{Lat: 44.3, Lon: 10.1, HasPoint: true, ISTAT: "099001"}, false, true},
		{"another comune entirely", cap.Area{Geocode: []cap.ValuePair{{ValueName: "ISTAT", Value: "037006"}}}, Place{ISTAT: "099001"}, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			ar := AreaOf(tn, alertWithArea(c.area))
			if got := ar.Includes(c.p); got != c.want {
				t.Errorf("Includes(%+v) = %v, want %v", c.p, got, c.want)
			}
			if got := ar.Concerns(tn); got != c.concerns {
				t.Errorf("Concerns = %v, want %v", got, c.concerns)
			}
		})
	}
}
