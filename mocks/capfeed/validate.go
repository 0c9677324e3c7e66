package capfeedmock

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// The mock's checks of a CAP document POSTed for publication, written
// from CAP 1.2 (OASIS Standard, 1 July 2010) and its schema, not from
// Ponte's client: a regional system refuses what the standard refuses.
// Where the schema is stricter than a lenient XML reader — the order of
// the elements (xs:sequence), an element appearing twice — the mock is
// too.

// sequences are the schema's xs:sequence of each CAP element with
// children.
var sequences = map[string][]string{
	"alert":     {"identifier", "sender", "sent", "status", "msgType", "source", "scope", "restriction", "addresses", "code", "note", "references", "incidents", "info"},
	"info":      {"language", "category", "event", "responseType", "urgency", "severity", "certainty", "audience", "eventCode", "effective", "onset", "expires", "senderName", "headline", "description", "instruction", "web", "contact", "parameter", "resource", "area"},
	"resource":  {"resourceDesc", "mimeType", "size", "uri", "derefUri", "digest"},
	"area":      {"areaDesc", "polygon", "circle", "geocode", "altitude", "ceiling"},
	"eventCode": {"valueName", "value"},
	"parameter": {"valueName", "value"},
	"geocode":   {"valueName", "value"},
}

// repeatable are the elements with maxOccurs="unbounded", by parent.
var repeatable = map[string]bool{
	"alert/code": true, "alert/info": true,
	"info/category": true, "info/responseType": true, "info/eventCode": true, "info/parameter": true, "info/resource": true, "info/area": true,
	"area/polygon": true, "area/circle": true, "area/geocode": true,
}

// The enumerations of §3.2.1 and §3.2.2.
var (
	statuses   = []string{"Actual", "Exercise", "System", "Test", "Draft"}
	msgTypes   = []string{"Alert", "Update", "Cancel", "Ack", "Error"}
	scopes     = []string{"Public", "Restricted", "Private"}
	categories = []string{"Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env", "Transport", "Infra", "CBRNE", "Other"}
	responses  = []string{"Shelter", "Evacuate", "Prepare", "Execute", "Avoid", "Monitor", "Assess", "AllClear", "None"}
	urgencies  = []string{"Immediate", "Expected", "Future", "Past", "Unknown"}
	severities = []string{"Extreme", "Severe", "Moderate", "Minor", "Unknown"}
	certainty  = []string{"Observed", "Likely", "Possible", "Unlikely", "Unknown"}
)

// dateTimeRE is §3.3.2's form: an offset always, "-00:00" for UTC, no
// "Z", no fractions of a second.
var dateTimeRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$`)

// checkCAP reads doc as a CAP 1.2 alert and returns it, or the first rule
// it breaks.
func checkCAP(doc []byte) (*alertXML, error) {
	if err := checkStructure(doc); err != nil {
		return nil, err
	}
	var a alertXML
	if err := xml.Unmarshal(doc, &a); err != nil {
		return nil, fmt.Errorf("not a CAP alert: %v", err)
	}
	return &a, a.check()
}

// checkStructure walks the document: no DTD, an <alert> root in CAP
// 1.2's namespace, and each element's children known, in the schema's
// order, the non-repeatable ones once.
func checkStructure(doc []byte) error {
	dec := xml.NewDecoder(bytes.NewReader(doc))
	dec.Strict = true
	type frame struct {
		name    string // a CAP element with children; "" for one of text
		pos     int    // of the last child in the schema's sequence
		seen    map[string]bool
		foreign bool // an element of another namespace, or inside one
	}
	var stack []frame
	root := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			if !root {
				return errors.New("no <alert> element")
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("not well-formed XML: %v", err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return errors.New("a DTD (<!DOCTYPE/<!ENTITY) is not accepted: CAP needs none")
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.StartElement:
			if len(stack) == 0 {
				if root {
					return errors.New("more than one root element")
				}
				root = true
				if t.Name.Local != "alert" || t.Name.Space != Namespace {
					return fmt.Errorf("the root is <%s> in namespace %q; a CAP 1.2 alert is <alert xmlns=%q>", t.Name.Local, t.Name.Space, Namespace)
				}
				stack = append(stack, frame{name: "alert", pos: -1, seen: map[string]bool{}})
				continue
			}
			parent := &stack[len(stack)-1]
			name := t.Name.Local
			switch {
			case parent.foreign:
				stack = append(stack, frame{foreign: true})
				continue
			case parent.name == "alert" && t.Name.Space != Namespace:
				// The schema ends <alert> with elements of other
				// namespaces (xs:any): an XML signature, an encryption.
				parent.pos = len(sequences["alert"])
				stack = append(stack, frame{foreign: true})
				continue
			case parent.name == "":
				return fmt.Errorf("<%s> is inside an element that holds text only", name)
			case t.Name.Space != Namespace:
				return fmt.Errorf("<%s> in namespace %q is inside <%s>: CAP 1.2 has no such element", name, t.Name.Space, parent.name)
			}
			seq := sequences[parent.name]
			i := slices.Index(seq, name)
			switch {
			case i < 0:
				return fmt.Errorf("<%s> has no element <%s> in CAP 1.2", parent.name, name)
			case i < parent.pos && parent.pos == len(seq):
				return fmt.Errorf("<%s> comes after an element of another namespace: CAP 1.2's schema puts those (a signature) last in <alert>", name)
			case i < parent.pos:
				return fmt.Errorf("<%s> comes after <%s> in <%s>: CAP 1.2's schema orders them %s", seq[parent.pos], name, parent.name, strings.Join(seq, ", "))
			case parent.seen[name] && !repeatable[parent.name+"/"+name]:
				return fmt.Errorf("<%s> appears twice in <%s>: CAP 1.2 allows one", name, parent.name)
			}
			parent.pos, parent.seen[name] = i, true
			if _, ok := sequences[name]; ok {
				stack = append(stack, frame{name: name, pos: -1, seen: map[string]bool{}})
			} else {
				stack = append(stack, frame{})
			}
		}
	}
}

// check applies §3.2's rules to the decoded alert.
func (a *alertXML) check() error {
	need := func(path, v string) error {
		if strings.TrimSpace(v) == "" {
			return fmt.Errorf("%s: required", path)
		}
		return nil
	}
	oneOf := func(path, v string, allowed []string) error {
		if err := need(path, v); err != nil {
			return err
		}
		if !slices.Contains(allowed, v) {
			return fmt.Errorf("%s: %q is not one of %s", path, v, strings.Join(allowed, ", "))
		}
		return nil
	}
	when := func(path, v string) error {
		if err := need(path, v); err != nil {
			return err
		}
		if !dateTimeRE.MatchString(strings.TrimSpace(v)) {
			return fmt.Errorf("%s: %q is not a CAP dateTime (2026-10-12T14:30:00+02:00; no Z, no fractions: §3.3.2)", path, v)
		}
		return nil
	}
	optWhen := func(path, v string) error {
		if v == "" {
			return nil
		}
		return when(path, v)
	}
	errs := []error{
		need("identifier", a.Identifier), need("sender", a.Sender), when("sent", a.Sent),
		oneOf("status", a.Status, statuses), oneOf("msgType", a.MsgType, msgTypes), oneOf("scope", a.Scope, scopes),
	}
	for _, f := range []struct{ path, v string }{{"identifier", a.Identifier}, {"sender", a.Sender}} {
		if strings.ContainsAny(f.v, " ,<&") {
			errs = append(errs, fmt.Errorf("%s: spaces, commas, < and & are not allowed (§3.2.1)", f.path))
		}
	}
	switch a.Scope {
	case "Restricted":
		errs = append(errs, need("restriction", a.Restriction))
	case "Private":
		errs = append(errs, need("addresses", a.Addresses))
	}
	// Update, Cancel, Ack and Error are defined by the messages "identified
	// in <references>" (§3.2.1, msgType).
	if a.MsgType == "Update" || a.MsgType == "Cancel" || a.MsgType == "Ack" || a.MsgType == "Error" {
		errs = append(errs, need("references", a.References))
	}
	for i, ref := range strings.Fields(a.References) {
		if p := strings.Split(ref, ","); len(p) != 3 || p[0] == "" || p[1] == "" || !dateTimeRE.MatchString(p[2]) {
			errs = append(errs, fmt.Errorf("references[%d]: %q is not sender,identifier,sent", i, ref))
		}
	}
	for i, in := range a.Info {
		p := fmt.Sprintf("info[%d]", i)
		if len(in.Category) == 0 {
			errs = append(errs, fmt.Errorf("%s.category: required", p))
		}
		for j, c := range in.Category {
			errs = append(errs, oneOf(fmt.Sprintf("%s.category[%d]", p, j), c, categories))
		}
		errs = append(errs, need(p+".event", in.Event))
		for j, r := range in.ResponseType {
			errs = append(errs, oneOf(fmt.Sprintf("%s.responseType[%d]", p, j), r, responses))
		}
		errs = append(errs, oneOf(p+".urgency", in.Urgency, urgencies), oneOf(p+".severity", in.Severity, severities), oneOf(p+".certainty", in.Certainty, certainty),
			optWhen(p+".effective", in.Effective), optWhen(p+".onset", in.Onset), optWhen(p+".expires", in.Expires))
		for j, r := range in.Resource {
			rp := fmt.Sprintf("%s.resource[%d]", p, j)
			errs = append(errs, need(rp+".resourceDesc", r.ResourceDesc), need(rp+".mimeType", r.MimeType))
			if r.Size != "" {
				if n, err := strconv.ParseInt(r.Size, 10, 64); err != nil || n < 0 {
					errs = append(errs, fmt.Errorf("%s.size: %q is not a number of bytes", rp, r.Size))
				}
			}
		}
		for j, ar := range in.Area {
			ap := fmt.Sprintf("%s.area[%d]", p, j)
			errs = append(errs, need(ap+".areaDesc", ar.AreaDesc))
			for k, poly := range ar.Polygon {
				if err := checkPolygon(poly); err != nil {
					errs = append(errs, fmt.Errorf("%s.polygon[%d]: %v", ap, k, err))
				}
			}
			for k, c := range ar.Circle {
				if err := checkCircle(c); err != nil {
					errs = append(errs, fmt.Errorf("%s.circle[%d]: %v", ap, k, err))
				}
			}
			if ar.Ceiling != "" && ar.Altitude == "" {
				errs = append(errs, fmt.Errorf("%s.ceiling: needs altitude (§3.2.4)", ap))
			}
		}
	}
	var msgs []string
	for _, err := range errs {
		if err != nil {
			msgs = append(msgs, err.Error())
		}
	}
	if len(msgs) > 0 {
		return errors.New(strings.Join(msgs, "; "))
	}
	return nil
}

// checkPoint checks "lat,lon" in WGS 84 decimal degrees.
func checkPoint(s string) error {
	la, lo, ok := strings.Cut(s, ",")
	lat, err1 := strconv.ParseFloat(la, 64)
	lon, err2 := strconv.ParseFloat(lo, 64)
	if !ok || err1 != nil || err2 != nil || lat < -90 || lat > 90 || lon < -180 || lon > 180 {
		return fmt.Errorf("%q is not latitude,longitude in WGS 84 degrees", s)
	}
	return nil
}

// checkPolygon checks §3.2.4's polygon: four pairs or more, the first and
// the last the same.
func checkPolygon(s string) error {
	pts := strings.Fields(s)
	if len(pts) < 4 {
		return fmt.Errorf("%d points: a polygon has at least 4", len(pts))
	}
	for _, p := range pts {
		if err := checkPoint(p); err != nil {
			return err
		}
	}
	if pts[0] != pts[len(pts)-1] {
		return errors.New("the last point is not the first: a polygon is a closed ring")
	}
	return nil
}

// checkCircle checks §3.2.4's circle: "lat,lon radius" in kilometres.
func checkCircle(s string) error {
	c, r, ok := strings.Cut(strings.TrimSpace(s), " ")
	if !ok {
		return fmt.Errorf("%q is not \"lat,lon radius\"", s)
	}
	if err := checkPoint(c); err != nil {
		return err
	}
	if km, err := strconv.ParseFloat(strings.TrimSpace(r), 64); err != nil || km < 0 {
		return fmt.Errorf("radius %q is not kilometres", r)
	}
	return nil
}
