package cap

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/encoding/charmap"
)

// Problem is one rule of CAP 1.2 an alert breaks.
type Problem struct {
	// Path locates the element, e.g. "info[0].area[1].polygon[0]".
	Path string
	// Rule is the rule, e.g. "required", "enumeration", "polygon".
	Rule    string
	Message string
}

func (p Problem) String() string { return p.Path + ": " + p.Rule + ": " + p.Message }

// Error is an alert that breaks CAP 1.2, with every problem found.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.String()
	}
	return "cap: not a valid CAP 1.2 alert: " + strings.Join(msgs, "; ")
}

// Enumerations of CAP 1.2 (§3.2.1, §3.2.2).
var (
	Statuses   = []string{"Actual", "Exercise", "System", "Test", "Draft"}
	MsgTypes   = []string{"Alert", "Update", "Cancel", "Ack", "Error"}
	Scopes     = []string{"Public", "Restricted", "Private"}
	Categories = []string{"Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env", "Transport", "Infra", "CBRNE", "Other"}
	Responses  = []string{"Shelter", "Evacuate", "Prepare", "Execute", "Avoid", "Monitor", "Assess", "AllClear", "None"}
	Urgencies  = []string{"Immediate", "Expected", "Future", "Past", "Unknown"}
	Severities = []string{"Extreme", "Severe", "Moderate", "Minor", "Unknown"}
	Certainty  = []string{"Observed", "Likely", "Possible", "Unlikely", "Unknown"}
)

// timeRE is the CAP dateTime (§3.3.2): offset required, no "Z", no
// fractional seconds.
var timeRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$`)

func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if !timeRE.MatchString(s) {
		return time.Time{}, fmt.Errorf("%q is not a CAP dateTime: write it as 2026-10-12T14:30:00+02:00 (an offset, \"-00:00\" for UTC; no \"Z\", no fractions)", s)
	}
	return time.Parse(TimeLayout, s)
}

// errDTD refuses a document with a DTD: CAP needs none, and a DTD is how
// entity-expansion attacks start.
var errDTD = errors.New("cap: the message carries a DTD or declaration (<!DOCTYPE/<!ENTITY): CAP needs none, so it is refused")

// Parse reads one CAP 1.2 alert from r and checks it against the
// standard's rules (see Validate). It reads at most MaxSize bytes and
// refuses a document with a DTD.
func Parse(r io.Reader) (*Alert, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("cap: reading: %w", err)
	}
	if len(data) > MaxSize {
		return nil, fmt.Errorf("cap: the message is over %d MiB: not an alert to relay", MaxSize>>20)
	}
	// A DTD is never needed by CAP and is how entity-expansion attacks
	// start; refuse it before decoding.
	if i := bytes.Index(data, []byte("<!")); i >= 0 && !bytes.HasPrefix(data[i:], []byte("<!--")) && !bytes.HasPrefix(data[i:], []byte("<![CDATA[")) {
		return nil, errDTD
	}
	dec := newDecoder(data)
	// Find the root first, to name a wrong namespace plainly.
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("cap: no <alert> element: %w", err)
		}
		// The byte check above sees the first "<!" only: a DOCTYPE after
		// a leading comment reaches here as a directive.
		if _, ok := tok.(xml.Directive); ok {
			return nil, errDTD
		}
		if se, ok := tok.(xml.StartElement); ok {
			if se.Name.Local != "alert" || se.Name.Space != Namespace {
				return nil, fmt.Errorf("cap: the root is <%s> in namespace %q; a CAP 1.2 alert is <alert xmlns=%q>", se.Name.Local, se.Name.Space, Namespace)
			}
			var a Alert
			if err := dec.DecodeElement(&a, &se); err != nil {
				return nil, fmt.Errorf("cap: %w", err)
			}
			if err := a.Validate(); err != nil {
				return nil, err
			}
			return &a, nil
		}
	}
}

// newDecoder is the strict decoder of CAP documents and feeds.
func newDecoder(data []byte) *xml.Decoder {
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	dec.CharsetReader = charsetReader
	return dec
}

// charsetReader reads the 8-bit charsets that Italian public sites still
// declare in their XML (ISO-8859-1, ISO-8859-15, windows-1252); UTF-8
// needs none, and any other charset is refused by name.
func charsetReader(label string, r io.Reader) (io.Reader, error) {
	switch strings.ToLower(strings.TrimSpace(label)) {
	case "iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "latin-1", "l1":
		return charmap.ISO8859_1.NewDecoder().Reader(r), nil
	case "iso-8859-15", "iso8859-15", "iso_8859-15", "latin9", "latin-9":
		return charmap.ISO8859_15.NewDecoder().Reader(r), nil
	case "windows-1252", "cp1252":
		return charmap.Windows1252.NewDecoder().Reader(r), nil
	case "us-ascii", "ascii":
		return r, nil
	}
	return nil, fmt.Errorf("charset %q is not read: write UTF-8 (ISO-8859-1, ISO-8859-15 and windows-1252 are read too)", label)
}

// Marshal writes a as a CAP 1.2 document, after checking it.
func Marshal(a *Alert) ([]byte, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	b, err := xml.MarshalIndent(a, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("cap: %w", err)
	}
	return append([]byte(xml.Header), append(b, '\n')...), nil
}

// forbidden are the characters CAP excludes from identifier and sender
// (§3.2.1: "MUST NOT include spaces, commas or restricted characters (< and &)").
const forbidden = " ,<&"

// Validate checks a against CAP 1.2's rules and returns an *Error listing
// every problem, or nil.
func (a *Alert) Validate() error {
	var ps []Problem
	add := func(path, rule, format string, args ...any) {
		ps = append(ps, Problem{Path: path, Rule: rule, Message: fmt.Sprintf(format, args...)})
	}
	need := func(path, v string) bool {
		if strings.TrimSpace(v) == "" {
			add(path, "required", "missing")
			return false
		}
		return true
	}
	oneOf := func(path, v string, allowed []string) {
		if need(path, v) && !slices.Contains(allowed, v) {
			add(path, "enumeration", "%q is not one of %s", v, strings.Join(allowed, ", "))
		}
	}
	if need("identifier", a.Identifier) && strings.ContainsAny(a.Identifier, forbidden) {
		add("identifier", "characters", "must not contain spaces, commas, < or &")
	}
	if need("sender", a.Sender) && strings.ContainsAny(a.Sender, forbidden) {
		add("sender", "characters", "must not contain spaces, commas, < or &")
	}
	if a.Sent.IsZero() {
		add("sent", "required", "missing")
	}
	oneOf("status", a.Status, Statuses)
	oneOf("msgType", a.MsgType, MsgTypes)
	oneOf("scope", a.Scope, Scopes)
	switch a.Scope {
	case "Restricted":
		need("restriction", a.Restriction)
	case "Private":
		need("addresses", a.Addresses)
	}
	if a.MsgType == "Update" || a.MsgType == "Cancel" || a.MsgType == "Ack" || a.MsgType == "Error" {
		if need("references", a.References) {
			for i, ref := range strings.Fields(a.References) {
				if parts := strings.Split(ref, ","); len(parts) != 3 || parts[0] == "" || parts[1] == "" || !timeRE.MatchString(parts[2]) {
					add(fmt.Sprintf("references[%d]", i), "reference", "%q is not sender,identifier,sent", ref)
				}
			}
		}
	}
	for i, in := range a.Info {
		p := fmt.Sprintf("info[%d]", i)
		if len(in.Category) == 0 {
			add(p+".category", "required", "at least one category")
		}
		for j, c := range in.Category {
			oneOf(fmt.Sprintf("%s.category[%d]", p, j), c, Categories)
		}
		need(p+".event", in.Event)
		for j, r := range in.ResponseType {
			oneOf(fmt.Sprintf("%s.responseType[%d]", p, j), r, Responses)
		}
		oneOf(p+".urgency", in.Urgency, Urgencies)
		oneOf(p+".severity", in.Severity, Severities)
		oneOf(p+".certainty", in.Certainty, Certainty)
		for j, r := range in.Resource {
			rp := fmt.Sprintf("%s.resource[%d]", p, j)
			need(rp+".resourceDesc", r.ResourceDesc)
			need(rp+".mimeType", r.MimeType)
		}
		for j, ar := range in.Area {
			ap := fmt.Sprintf("%s.area[%d]", p, j)
			need(ap+".areaDesc", ar.AreaDesc)
			for k, poly := range ar.Polygon {
				if err := checkPolygon(poly); err != nil {
					add(fmt.Sprintf("%s.polygon[%d]", ap, k), "polygon", "%v", err)
				}
			}
			for k, c := range ar.Circle {
				if _, _, err := ParseCircle(c); err != nil {
					add(fmt.Sprintf("%s.circle[%d]", ap, k), "circle", "%v", err)
				}
			}
			if ar.Ceiling != "" && ar.Altitude == "" {
				add(ap+".ceiling", "altitude", "ceiling needs altitude")
			}
		}
	}
	if len(ps) > 0 {
		return &Error{Problems: ps}
	}
	return nil
}

// Point is a WGS 84 position.
type Point struct{ Lat, Lon float64 }

func parsePoint(s string) (Point, error) {
	la, lo, ok := strings.Cut(s, ",")
	if !ok {
		return Point{}, fmt.Errorf("%q is not latitude,longitude", s)
	}
	lat, err1 := strconv.ParseFloat(la, 64)
	lon, err2 := strconv.ParseFloat(lo, 64)
	if err1 != nil || err2 != nil || math.IsNaN(lat) || math.IsNaN(lon) {
		return Point{}, fmt.Errorf("%q is not latitude,longitude in decimal degrees", s)
	}
	if lat < -90 || lat > 90 || lon < -180 || lon > 180 {
		return Point{}, fmt.Errorf("%q is outside -90..90, -180..180", s)
	}
	return Point{lat, lon}, nil
}

// ParsePolygon reads a CAP polygon: space-separated "lat,lon" pairs, at
// least four, the first and last the same (§3.2.4).
func ParsePolygon(s string) ([]Point, error) {
	fields := strings.Fields(s)
	if len(fields) < 4 {
		return nil, fmt.Errorf("%d points: a polygon needs at least 4, the last equal to the first", len(fields))
	}
	pts := make([]Point, len(fields))
	for i, f := range fields {
		p, err := parsePoint(f)
		if err != nil {
			return nil, fmt.Errorf("point %d: %v", i+1, err)
		}
		pts[i] = p
	}
	if pts[0] != pts[len(pts)-1] {
		return nil, errors.New("the last point must equal the first (a closed ring)")
	}
	return pts, nil
}

func checkPolygon(s string) error {
	_, err := ParsePolygon(s)
	return err
}

// ParseCircle reads a CAP circle: "lat,lon radius" with the radius in
// kilometres (§3.2.4).
func ParseCircle(s string) (Point, float64, error) {
	c, r, ok := strings.Cut(strings.TrimSpace(s), " ")
	if !ok {
		return Point{}, 0, fmt.Errorf("%q is not \"lat,lon radius-km\"", s)
	}
	p, err := parsePoint(c)
	if err != nil {
		return Point{}, 0, err
	}
	km, err := strconv.ParseFloat(strings.TrimSpace(r), 64)
	if err != nil || km < 0 || math.IsNaN(km) || math.IsInf(km, 0) {
		return Point{}, 0, fmt.Errorf("radius %q is not a non-negative number of kilometres", r)
	}
	return p, km, nil
}

// Contains reports whether p lies inside the polygon (ray casting; a point
// on an edge may fall either way).
func Contains(poly []Point, p Point) bool {
	in := false
	for i, j := 0, len(poly)-1; i < len(poly); j, i = i, i+1 {
		a, b := poly[i], poly[j]
		if (a.Lat > p.Lat) != (b.Lat > p.Lat) &&
			p.Lon < (b.Lon-a.Lon)*(p.Lat-a.Lat)/(b.Lat-a.Lat)+a.Lon {
			in = !in
		}
	}
	return in
}
