package tenant

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ponte-pa/ponte/connectors/cap"

	"github.com/ponte-pa/ponte/schemas"
)

// Alerts configures Protezione Civile alerts (workflows/alert): who
// receives them, on which channels in which order, the alert zones the
// tenant lies in, who may send them and the CAP feeds it follows.
type Alerts struct {
	IOPurpose     string      `json:"ioPurpose,omitempty"`     // default alerts
	Recipients    []string    `json:"recipients"`              // people source names
	ISTAT         []string    `json:"istat,omitempty"`         // comuni the tenant covers
	Zones         []AlertZone `json:"zones,omitempty"`         // regional alert zones
	Order         []string    `json:"order,omitempty"`         // default appio, sms, email
	EscalateAfter string      `json:"escalateAfter,omitempty"` // default 10m
	Operators     []string    `json:"operators,omitempty"`     // fiscal codes
	// PushToken is the bearer token of the push endpoint (CAP alerts sent
	// by another system, confirmed by an operator); none: endpoint off.
	PushToken *Secret     `json:"pushToken,omitempty"`
	Feeds     []AlertFeed `json:"feeds,omitempty"`
}

// AlertZone is a regional alert zone and the tenant's comuni in it.
type AlertZone struct {
	ID    string   `json:"id"`
	Name  string   `json:"name,omitempty"`
	ISTAT []string `json:"istat,omitempty"` // default: all of Alerts.ISTAT
	// Polygon, for a zone smaller than a comune, is a CAP polygon.
	Polygon string `json:"polygon,omitempty"`
}

// Zone returns the zone id, or false.
func (a *Alerts) Zone(id string) (AlertZone, bool) {
	if a != nil {
		for _, z := range a.Zones {
			if z.ID == id {
				return z, true
			}
		}
	}
	return AlertZone{}, false
}

// AlertFeed is a CAP feed the tenant follows.
type AlertFeed struct {
	URL         string `json:"url"`
	Interval    string `json:"interval,omitempty"` // default 2m
	Confirm     *bool  `json:"confirm,omitempty"`  // default true
	MinSeverity string `json:"minSeverity,omitempty"`
}

// Default alert settings.
const (
	DefaultAlertEscalation = 10 * time.Minute
	DefaultFeedInterval    = 2 * time.Minute
)

// DefaultAlertOrder is the channel order for a person without preferences.
var DefaultAlertOrder = []string{"appio", "sms", "email"}

// Purpose is the App IO service purpose of alerts.
func (a *Alerts) Purpose() string {
	if a == nil || a.IOPurpose == "" {
		return "alerts"
	}
	return a.IOPurpose
}

// ChannelOrder is the configured order, or DefaultAlertOrder.
func (a *Alerts) ChannelOrder() []string {
	if a == nil || len(a.Order) == 0 {
		return slices.Clone(DefaultAlertOrder)
	}
	return slices.Clone(a.Order)
}

// Escalation is EscalateAfter (checked by the schema), or the default.
func (a *Alerts) Escalation() time.Duration {
	if a == nil {
		return DefaultAlertEscalation
	}
	return durationOr(a.EscalateAfter, DefaultAlertEscalation)
}

// Every is the feed's polling interval.
func (f AlertFeed) Every() time.Duration { return durationOr(f.Interval, DefaultFeedInterval) }

// NeedsConfirm says whether a bulletin waits for an operator (the default).
func (f AlertFeed) NeedsConfirm() bool { return f.Confirm == nil || *f.Confirm }

// ZoneIDs lists the ids of the tenant's alert zones.
func (a *Alerts) ZoneIDs() []string {
	if a == nil {
		return nil
	}
	out := make([]string, 0, len(a.Zones))
	for _, z := range a.Zones {
		out = append(out, z.ID)
	}
	return out
}

// ZoneISTAT is the comuni of zone id (all of the tenant's when the zone
// lists none); nil for an unknown zone.
func (a *Alerts) ZoneISTAT(id string) []string {
	if a == nil {
		return nil
	}
	for _, z := range a.Zones {
		if z.ID == id {
			if len(z.ISTAT) > 0 {
				return z.ISTAT
			}
			return a.ISTAT
		}
	}
	return nil
}

// IsOperator says whether fiscal code fc may send alerts.
func (a *Alerts) IsOperator(fc string) bool { return a != nil && slices.Contains(a.Operators, fc) }

func durationOr(s string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return d
	}
	return def
}

// In is the text in lang ("it", "en"), the Italian one when there is none.
func (l Localized) In(lang string) string {
	if lang == "en" && l.EN != "" {
		return l.EN
	}
	return l.IT
}

// checkAlerts finds what the schema cannot in the alerts section: people
// sources that do not exist, zones of comuni the tenant does not cover.
func checkAlerts(root map[string]any) []schemas.Problem {
	al, _ := root["alerts"].(map[string]any)
	if al == nil {
		return nil
	}
	var probs []schemas.Problem
	people, _ := root["people"].(map[string]any)
	recips, _ := al["recipients"].([]any)
	for i, r := range recips {
		name, _ := r.(string)
		if _, ok := people[name]; !ok {
			known := make([]string, 0, len(people))
			for k := range people {
				known = append(known, k)
			}
			slices.Sort(known)
			probs = append(probs, schemas.Problem{Pointer: "/alerts/recipients/" + strconv.Itoa(i), Rule: "reference",
				Message: fmt.Sprintf("no people source %q (people: %s)", name, strings.Join(known, ", ")),
				Hint:    "name a source under people:, or add one (a residents export, a subscription list)"})
		}
	}
	covered := map[string]bool{}
	codes, _ := al["istat"].([]any)
	for _, c := range codes {
		covered[fmt.Sprint(c)] = true
	}
	zones, _ := al["zones"].([]any)
	for i, z := range zones {
		zm, _ := z.(map[string]any)
		if poly, ok := zm["polygon"].(string); ok {
			if _, err := cap.ParsePolygon(poly); err != nil {
				probs = append(probs, schemas.Problem{Pointer: fmt.Sprintf("/alerts/zones/%d/polygon", i), Rule: "polygon", Message: err.Error(),
					Hint: "write at least four lat,lon points separated by spaces, the last equal to the first (WGS 84)"})
			}
		}
		zc, _ := zm["istat"].([]any)
		for j, c := range zc {
			if len(covered) > 0 && !covered[fmt.Sprint(c)] {
				probs = append(probs, schemas.Problem{Pointer: fmt.Sprintf("/alerts/zones/%d/istat/%d", i, j), Rule: "reference",
					Message: fmt.Sprintf("comune %v is not among the tenant's (alerts.istat)", c),
					Hint:    "list the comune in alerts.istat, or drop it from the zone"})
			}
		}
	}
	return probs
}
