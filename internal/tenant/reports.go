package tenant

import (
	"encoding/json"
	"fmt"

	"github.com/ponte-pa/ponte/schemas"
)

// Reports configures citizen reports (segnalazioni, workflows/reports)
// taken through the Open311 GeoReport v2 API: the category taxonomy, the
// client apps and their API keys, the area reports may come from and the
// photo limits.
type Reports struct {
	Services []ReportService `json:"services"`
	Clients  []ReportClient  `json:"clients"`
	// Area, when set, is the bounding box a report's lat/long must lie in.
	Area           *BBox        `json:"area,omitempty"`
	Photos         ReportPhotos `json:"photos"`
	DescriptionMax int          `json:"descriptionMax,omitempty"` // default 4000
	// Agency is Open311's agency_responsible (default: the tenant's name).
	Agency  *Localized `json:"agency,omitempty"`
	Contact string     `json:"contact,omitempty"`
}

// ReportService is one category of report: an Open311 service.
type ReportService struct {
	Code        string            `json:"code"`
	Name        Localized         `json:"name"`
	Description Localized         `json:"description"`
	Group       Localized         `json:"group"`
	Keywords    []string          `json:"keywords,omitempty"`
	Attributes  []ReportAttribute `json:"attributes,omitempty"`
}

// ReportAttribute is a question of a category: an attribute of its Open311
// service definition.
type ReportAttribute struct {
	Code                string        `json:"code"`
	Datatype            string        `json:"datatype"` // string number datetime text singlevaluelist multivaluelist
	Required            bool          `json:"required,omitempty"`
	Variable            *bool         `json:"variable,omitempty"` // default true
	Order               int           `json:"order,omitempty"`
	Description         Localized     `json:"description"`
	DatatypeDescription Localized     `json:"datatypeDescription"`
	Values              []ReportValue `json:"values,omitempty"`
}

// IsVariable says whether the attribute takes input (Open311 "variable").
func (a ReportAttribute) IsVariable() bool { return a.Variable == nil || *a.Variable }

// ReportValue is a choice of a list attribute.
type ReportValue struct {
	Key  string    `json:"key"`
	Name Localized `json:"name"`
}

// ReportClient is a client app allowed to file reports with its api_key.
type ReportClient struct {
	Name   string `json:"name"`
	APIKey Secret `json:"apiKey"`
}

// BBox is a WGS 84 bounding box.
type BBox struct {
	South float64 `json:"south"`
	West  float64 `json:"west"`
	North float64 `json:"north"`
	East  float64 `json:"east"`
}

// Contains says whether lat/lon lies in the box.
func (b BBox) Contains(lat, lon float64) bool {
	return lat >= b.South && lat <= b.North && lon >= b.West && lon <= b.East
}

// ReportPhotos limits a photo uploaded with a report.
type ReportPhotos struct {
	MaxBytes  int64 `json:"maxBytes,omitempty"`  // default DefaultPhotoBytes
	MaxPixels int64 `json:"maxPixels,omitempty"` // default DefaultPhotoPixels
}

// Default report limits.
const (
	DefaultPhotoBytes     = 8 << 20
	DefaultPhotoPixels    = 40_000_000
	DefaultDescriptionMax = 4000
)

// Service returns the category with code, or false.
func (r *Reports) Service(code string) (ReportService, bool) {
	if r != nil {
		for _, s := range r.Services {
			if s.Code == code {
				return s, true
			}
		}
	}
	return ReportService{}, false
}

// PhotoBytes is the largest photo upload.
func (r *Reports) PhotoBytes() int64 {
	if r == nil || r.Photos.MaxBytes <= 0 {
		return DefaultPhotoBytes
	}
	return r.Photos.MaxBytes
}

// PhotoPixels is the largest photo in pixels.
func (r *Reports) PhotoPixels() int64 {
	if r == nil || r.Photos.MaxPixels <= 0 {
		return DefaultPhotoPixels
	}
	return r.Photos.MaxPixels
}

// MaxDescription is the longest description in characters.
func (r *Reports) MaxDescription() int {
	if r == nil || r.DescriptionMax <= 0 {
		return DefaultDescriptionMax
	}
	return r.DescriptionMax
}

func (r *Reports) setBaseDir(dir string) {
	if r == nil {
		return
	}
	for i := range r.Clients {
		r.Clients[i].APIKey.baseDir = dir
	}
}

// checkReports finds what the schema cannot in the reports section: codes
// used twice, list attributes without values (or values on other types),
// an area whose corners are swapped.
func checkReports(root map[string]any) []schemas.Problem {
	rp, _ := root["reports"].(map[string]any)
	if rp == nil {
		return nil
	}
	var probs []schemas.Problem
	dup := func(ptr, what, v string) {
		probs = append(probs, schemas.Problem{Pointer: ptr, Rule: "unique", Message: fmt.Sprintf("%s %q is used twice", what, v),
			Hint: "give each one its own code"})
	}
	codes := map[string]bool{}
	svcs, _ := rp["services"].([]any)
	for i, s := range svcs {
		sm, _ := s.(map[string]any)
		base := fmt.Sprintf("/reports/services/%d", i)
		if c, ok := sm["code"].(string); ok {
			if codes[c] {
				dup(base+"/code", "service code", c)
			}
			codes[c] = true
		}
		attrs, _ := sm["attributes"].([]any)
		acodes := map[string]bool{}
		for j, a := range attrs {
			am, _ := a.(map[string]any)
			ab := fmt.Sprintf("%s/attributes/%d", base, j)
			if c, ok := am["code"].(string); ok {
				if acodes[c] {
					dup(ab+"/code", "attribute code", c)
				}
				acodes[c] = true
			}
			dt, _ := am["datatype"].(string)
			vals, hasVals := am["values"].([]any)
			list := dt == "singlevaluelist" || dt == "multivaluelist"
			switch {
			case list && !hasVals:
				probs = append(probs, schemas.Problem{Pointer: ab, Rule: "values", Message: "a " + dt + " attribute needs values",
					Hint: "list the choices under values: [{key, name: {it, en}}]"})
			case !list && hasVals && dt != "":
				probs = append(probs, schemas.Problem{Pointer: ab + "/values", Rule: "values", Message: "values are only for singlevaluelist and multivaluelist attributes, not " + dt,
					Hint: "drop values or change the datatype"})
			}
			keys := map[string]bool{}
			for k, v := range vals {
				vm, _ := v.(map[string]any)
				if key, ok := vm["key"].(string); ok {
					if keys[key] {
						dup(fmt.Sprintf("%s/values/%d/key", ab, k), "value key", key)
					}
					keys[key] = true
				}
			}
		}
	}
	names := map[string]bool{}
	clients, _ := rp["clients"].([]any)
	for i, c := range clients {
		cm, _ := c.(map[string]any)
		if n, ok := cm["name"].(string); ok {
			if names[n] {
				dup(fmt.Sprintf("/reports/clients/%d/name", i), "client", n)
			}
			names[n] = true
		}
	}
	if area, ok := rp["area"].(map[string]any); ok {
		num := func(k string) (float64, bool) {
			n, ok := area[k].(json.Number) // schemas.DecodeYAML and DecodeJSON keep numbers as json.Number
			if !ok {
				return 0, false
			}
			f, err := n.Float64()
			return f, err == nil
		}
		s, ok1 := num("south")
		n, ok2 := num("north")
		w, ok3 := num("west")
		e, ok4 := num("east")
		if ok1 && ok2 && s >= n {
			probs = append(probs, schemas.Problem{Pointer: "/reports/area/south", Rule: "area", Message: fmt.Sprintf("south (%g) must be less than north (%g)", s, n),
				Hint: "south is the smaller latitude; the two may be swapped"})
		}
		if ok3 && ok4 && w >= e {
			probs = append(probs, schemas.Problem{Pointer: "/reports/area/west", Rule: "area", Message: fmt.Sprintf("west (%g) must be less than east (%g)", w, e),
				Hint: "west is the smaller longitude; the two may be swapped"})
		}
	}
	return probs
}
