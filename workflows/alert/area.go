package alert

import (
	"math"
	"slices"
	"strings"

	"github.com/ponte-pa/ponte/connectors/cap"
	"github.com/ponte-pa/ponte/internal/tenant"
)

// Place is where a person lives, as far as the source knows.
type Place struct {
	ISTAT    string
	Zone     string
	Lat, Lon float64
	HasPoint bool
}

// Area is the part of a tenant's territory an alert concerns.
type Area struct {
	istat   map[string]bool // comuni named (by ISTAT code or through a zone)
	zones   map[string]bool // tenant zones named
	polys   [][]cap.Point
	circles []circle
	// whole: the alert names every comune of the tenant, or names no
	// place at all: everyone is concerned.
	whole bool
}

type circle struct {
	c  cap.Point
	km float64
}

// AreaOf reads the areas of every info block of a for tenant t: ISTAT
// geocodes, the tenant's zones (by geocode value or areaDesc), polygons
// and circles. Shapes that do not parse were refused by cap.Parse.
func AreaOf(t *tenant.Tenant, a *cap.Alert) Area {
	ar := Area{istat: map[string]bool{}, zones: map[string]bool{}}
	var zones []string
	if t.Alerts != nil {
		zones = t.Alerts.ZoneIDs()
	}
	named := false
	for _, in := range a.Info {
		for _, x := range in.Area {
			for _, g := range x.Geocode {
				v := strings.TrimSpace(g.Value)
				switch {
				case strings.HasPrefix(strings.ToUpper(g.ValueName), "ISTAT"):
					ar.istat[v], named = true, true
				case slices.Contains(zones, v):
					ar.zones[v], named = true, true
				}
			}
			if d := strings.TrimSpace(x.AreaDesc); slices.Contains(zones, d) {
				ar.zones[d], named = true, true
			}
			for _, p := range x.Polygon {
				if poly, err := cap.ParsePolygon(p); err == nil {
					ar.polys, named = append(ar.polys, poly), true
				}
			}
			for _, c := range x.Circle {
				if pt, km, err := cap.ParseCircle(c); err == nil {
					ar.circles, named = append(ar.circles, circle{pt, km}), true
				}
			}
		}
	}
	for z := range ar.zones {
		for _, c := range t.Alerts.ZoneISTAT(z) {
			ar.istat[c] = true
		}
		// A zone smaller than a comune is drawn: people with coordinates
		// are in it when inside.
		if zone, _ := t.Alerts.Zone(z); zone.Polygon != "" {
			if poly, err := cap.ParsePolygon(zone.Polygon); err == nil {
				ar.polys = append(ar.polys, poly)
			}
		}
	}
	ar.whole = !named
	if t.Alerts != nil && len(t.Alerts.ISTAT) > 0 && len(ar.polys) == 0 && len(ar.circles) == 0 {
		all := true
		for _, c := range t.Alerts.ISTAT {
			all = all && ar.istat[c]
		}
		ar.whole = ar.whole || all
	}
	return ar
}

// Concerns reports whether a tenant's area names any of its comuni or
// zones, or a shape, or nothing (the whole territory): whether the alert
// is the tenant's at all.
func (ar Area) Concerns(t *tenant.Tenant) bool {
	if ar.whole || len(ar.polys) > 0 || len(ar.circles) > 0 || len(ar.zones) > 0 {
		return true
	}
	if t.Alerts != nil {
		for _, c := range t.Alerts.ISTAT {
			if ar.istat[c] {
				return true
			}
		}
	}
	return false
}

// Includes decides whether a person at p is in the area. A point is
// checked against the shapes when there are shapes; otherwise the comune
// (a resident of another comune is never in the tenant's territory), then
// the zone decide; a person the source locates nowhere is included
// when the alert covers the whole territory or is drawn as shapes (one
// message too many is better than one missing).
func (ar Area) Includes(p Place) bool {
	shapes := len(ar.polys) > 0 || len(ar.circles) > 0
	if shapes && p.HasPoint {
		pt := cap.Point{Lat: p.Lat, Lon: p.Lon}
		for _, poly := range ar.polys {
			if cap.Contains(poly, pt) {
				return true
			}
		}
		for _, c := range ar.circles {
			if distanceKm(c.c, pt) <= c.km {
				return true
			}
		}
		return false
	}
	if p.ISTAT != "" && len(ar.istat) > 0 {
		return ar.istat[p.ISTAT]
	}
	if ar.whole {
		return true
	}
	if p.Zone != "" && len(ar.zones) > 0 {
		return ar.zones[p.Zone]
	}
	return shapes || p.ISTAT == "" && p.Zone == "" && len(ar.istat) > 0
}

// distanceKm is the great-circle distance (haversine, mean Earth radius).
func distanceKm(a, b cap.Point) float64 {
	const r = 6371.0088
	rad := math.Pi / 180
	dLat, dLon := (b.Lat-a.Lat)*rad, (b.Lon-a.Lon)*rad
	h := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(a.Lat*rad)*math.Cos(b.Lat*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * r * math.Asin(math.Min(1, math.Sqrt(h)))
}
