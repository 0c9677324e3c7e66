package pafornode

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Violation is one rule a message breaks: where (a path of element names
// from the Body element) and which rule, naming the schema type it comes
// from.
type Violation struct {
	Path string
	Rule string
}

func (v Violation) String() string { return v.Path + ": " + v.Rule }

// Invalid is a message that breaks the schema's rules.
type Invalid struct {
	Element    string // the Body element, e.g. paVerifyPaymentNoticeRes
	Violations []Violation
}

func (e *Invalid) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "paForNode.xsd: %s breaks %d rule(s): ", e.Element, len(e.Violations))
	for i, v := range e.Violations {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(v.String())
	}
	return b.String()
}

// UnknownElementError is a Body element the schema does not declare: an
// operation the contract does not have.
type UnknownElementError struct{ Name xml.Name }

func (e *UnknownElementError) Error() string {
	return fmt.Sprintf("paForNode.xsd declares no element {%s}%s", e.Name.Space, e.Name.Local)
}

// VersionError is an envelope that is not SOAP 1.1 (Namespace is its
// envelope namespace, NSSOAP12 for SOAP 1.2).
type VersionError struct{ Namespace string }

func (e *VersionError) Error() string {
	return fmt.Sprintf("envelope namespace %q is not SOAP 1.1 (%s)", e.Namespace, NSSOAP11)
}

// MustUnderstandError is a Header entry addressed to this node and marked
// mustUnderstand="1" (SOAP 1.1 §4.2.3). paForNode carries everything in
// the Body and defines no header entries, so none is understood: the
// message must fail with a MustUnderstand fault (§4.4.1) rather than be
// processed as if the entry were not there.
type MustUnderstandError struct{ Header xml.Name }

func (e *MustUnderstandError) Error() string {
	return fmt.Sprintf("header entry {%s}%s is marked mustUnderstand, and paForNode defines no header entries", e.Header.Space, e.Header.Local)
}

// actorNext is the SOAP 1.1 actor URI of the first node that receives the
// message (§4.2.2): this one.
const actorNext = "http://schemas.xmlsoap.org/soap/actor/next"

// mustUnderstand reports whether a Header entry is for this node (no actor,
// which means the ultimate recipient, or the "next" actor) and must be
// understood. SOAP 1.1 allows "0" and "1"; "true", SOAP 1.2's spelling, is
// taken as "1": refusing is the safe reading.
func mustUnderstand(h *node) bool {
	mu, actor := "", ""
	for _, a := range h.attrs {
		switch a.Name {
		case xml.Name{Space: NSSOAP11, Local: "mustUnderstand"}:
			mu = strings.TrimSpace(a.Value)
		case xml.Name{Space: NSSOAP11, Local: "actor"}:
			actor = strings.TrimSpace(a.Value)
		}
	}
	return (mu == "1" || mu == "true") && (actor == "" || actor == actorNext)
}

// node is an element of the document: its name, attributes, element
// children and the text directly inside it.
type node struct {
	name     xml.Name
	attrs    []xml.Attr
	children []*node
	text     strings.Builder
}

// maxDepth bounds nesting: the schema's deepest path is about 8 levels
// below the Body; anything far deeper is refused before it costs stack.
const maxDepth = 64

// parse reads a whole document into a tree. DTDs and other directives are
// refused: the schema has no use for them and they can expand entities.
func parse(data []byte) (*node, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	var root *node
	var stack []*node
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			n := &node{name: t.Name, attrs: t.Attr}
			switch {
			case len(stack) > 0:
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			case root != nil:
				return nil, errors.New("more than one root element")
			default:
				root = n
			}
			if stack = append(stack, n); len(stack) > maxDepth {
				return nil, fmt.Errorf("elements nested over %d deep", maxDepth)
			}
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			} else if len(bytes.TrimSpace(t)) > 0 {
				return nil, errors.New("text outside the root element")
			}
		case xml.Directive:
			return nil, errors.New("directives (DTD, entity declarations) are not allowed")
		}
	}
	if root == nil {
		return nil, errors.New("no root element")
	}
	return root, nil
}

// Body is the content of a SOAP 1.1 Body: one paForNode element, or a SOAP
// Fault.
type Body struct {
	Name  xml.Name // the Body's element
	Fault bool     // a SOAP 1.1 Fault
	root  *node
}

// ReadEnvelope parses a SOAP 1.1 envelope (an optional Header, then a Body
// with exactly one element) and returns the Body's element, unchecked. An
// envelope of another SOAP version is a *VersionError.
func ReadEnvelope(data []byte) (*Body, error) {
	root, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("not well-formed XML: %w", err)
	}
	if root.name.Local == "Envelope" && root.name.Space != NSSOAP11 {
		return nil, &VersionError{Namespace: root.name.Space}
	}
	if root.name.Space != NSSOAP11 || root.name.Local != "Envelope" {
		return nil, fmt.Errorf("root element {%s}%s is not a SOAP 1.1 Envelope", root.name.Space, root.name.Local)
	}
	if strings.TrimSpace(root.text.String()) != "" {
		return nil, errors.New("text inside the Envelope")
	}
	kids := root.children
	var header *node
	if len(kids) > 0 && kids[0].name == (xml.Name{Space: NSSOAP11, Local: "Header"}) {
		header, kids = kids[0], kids[1:]
	}
	if len(kids) != 1 || kids[0].name != (xml.Name{Space: NSSOAP11, Local: "Body"}) {
		return nil, errors.New("the Envelope must hold an optional Header and then one Body")
	}
	if header != nil {
		for _, h := range header.children {
			if mustUnderstand(h) {
				return nil, &MustUnderstandError{Header: h.name}
			}
		}
	}
	body := kids[0]
	if strings.TrimSpace(body.text.String()) != "" {
		return nil, errors.New("text inside the Body")
	}
	if len(body.children) != 1 {
		return nil, fmt.Errorf("the Body holds %d elements, want 1", len(body.children))
	}
	in := body.children[0]
	return &Body{Name: in.name, Fault: in.name == xml.Name{Space: NSSOAP11, Local: "Fault"}, root: in}, nil
}

// Check checks the Body's element against the schema (a SOAP Fault against
// SOAP 1.1 §4.4). It returns an *UnknownElementError for an element the
// schema does not declare and an *Invalid listing every rule broken.
func (b *Body) Check() error {
	if b.Fault {
		return checkSOAPFault(b.root)
	}
	typ, ok := elements[b.Name.Local]
	if b.Name.Space != NS || !ok {
		return &UnknownElementError{Name: b.Name}
	}
	v := &validator{}
	v.complex(b.Name.Local, b.root, typ)
	if len(v.errs) > 0 {
		return &Invalid{Element: b.Name.Local, Violations: v.errs}
	}
	return nil
}

// CheckEnvelope reads a SOAP 1.1 envelope and checks its Body element; it
// returns the element's name and the first of ReadEnvelope's or Check's
// errors.
func CheckEnvelope(data []byte) (xml.Name, error) {
	b, err := ReadEnvelope(data)
	if err != nil {
		return xml.Name{}, err
	}
	return b.Name, b.Check()
}

// checkSOAPFault checks a SOAP 1.1 Fault (SOAP 1.1 §4.4): faultcode, a
// QName in the envelope namespace naming one of the four codes (possibly
// refined with dots), faultstring, then optional faultactor and detail,
// all unqualified.
func checkSOAPFault(f *node) error {
	v := &validator{}
	names := make([]string, len(f.children))
	for i, c := range f.children {
		names[i] = c.name.Local
		if c.name.Space != "" {
			v.bad("Fault/"+c.name.Local, "SOAP 1.1 §4.4: Fault children are unqualified")
		}
	}
	i := 0
	next := func(name string, required bool) *node {
		if i < len(names) && names[i] == name {
			i++
			return f.children[i-1]
		}
		if required {
			v.bad("Fault", "SOAP 1.1 §4.4: "+name+" is required here")
		}
		return nil
	}
	if c := next("faultcode", true); c != nil {
		code := strings.TrimSpace(c.text.String())
		prefix, local, _ := strings.Cut(code, ":")
		ok := false
		for _, k := range []string{"VersionMismatch", "MustUnderstand", "Client", "Server"} {
			if local == k || strings.HasPrefix(local, k+".") {
				ok = true
			}
		}
		if !ok || prefix == "" {
			v.bad("Fault/faultcode", fmt.Sprintf("SOAP 1.1 §4.4.1: %q is not a qualified VersionMismatch, MustUnderstand, Client or Server", code))
		}
	}
	next("faultstring", true)
	next("faultactor", false)
	next("detail", false)
	if i < len(names) {
		v.bad("Fault/"+names[i], "SOAP 1.1 §4.4: unexpected element")
	}
	if len(v.errs) > 0 {
		return &Invalid{Element: "Fault", Violations: v.errs}
	}
	return nil
}

type validator struct{ errs []Violation }

func (v *validator) bad(path, rule string) {
	v.errs = append(v.errs, Violation{Path: path, Rule: rule})
}

// sequence returns a complex type's particles, its base's first.
func sequence(typ string) []particle {
	ct := complexTypes[typ]
	if ct.base == "" {
		return ct.seq
	}
	return append(slices.Clone(sequence(ct.base)), ct.seq...)
}

// noAttrs: no type of the schema declares attributes, so only namespace
// declarations (and xsi:type/nil, which the schema gives no use) may appear;
// xsi ones are refused as well, as nothing here would honour them.
func (v *validator) noAttrs(path string, n *node) {
	for _, a := range n.attrs {
		if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
			continue
		}
		v.bad(path, fmt.Sprintf("attribute %s is not declared", a.Name.Local))
	}
}

// complex checks an element of complex type typ: attributes, no text, and
// its children against the sequence.
func (v *validator) complex(path string, n *node, typ string) {
	v.noAttrs(path, n)
	if strings.TrimSpace(n.text.String()) != "" {
		v.bad(path, typ+": element-only content, text is not allowed")
	}
	kids := n.children
	i := 0
	seq := sequence(typ)
	for _, p := range seq {
		alts := []particle{p}
		if p.choice != nil {
			alts = p.choice
		}
		count := 0
		for count < p.max || p.max < 0 {
			if i >= len(kids) {
				break
			}
			var match *particle
			for k := range alts {
				if kids[i].name.Local == alts[k].name {
					match = &alts[k]
				}
			}
			if match == nil {
				break
			}
			v.child(path, kids[i], *match)
			i++
			count++
		}
		if count < p.min {
			names := make([]string, len(alts))
			for k, a := range alts {
				names[k] = a.name
			}
			what := strings.Join(names, " or ")
			if count == 0 {
				v.bad(path, fmt.Sprintf("%s: required element %s is missing%s", typ, what, foundInstead(kids, i)))
			} else {
				v.bad(path, fmt.Sprintf("%s: %s occurs %d time(s), at least %d required", typ, what, count, p.min))
			}
		}
	}
	for ; i < len(kids); i++ {
		name := kids[i].name.Local
		declared := false
		for _, p := range seq {
			for _, a := range append([]particle{p}, p.choice...) {
				if a.name == name {
					declared = true
				}
			}
		}
		switch {
		case declared:
			v.bad(path+"/"+name, typ+": element out of order or over its maximum occurrences")
		default:
			v.bad(path+"/"+name, typ+": element not declared")
		}
	}
}

func foundInstead(kids []*node, i int) string {
	if i < len(kids) {
		return " (found " + kids[i].name.Local + ")"
	}
	return ""
}

// child checks one element matched by particle p: unqualified (the schema
// sets no elementFormDefault), then its type.
func (v *validator) child(parent string, n *node, p particle) {
	path := parent + "/" + n.name.Local
	if n.name.Space != "" {
		v.bad(path, fmt.Sprintf("local elements are unqualified (no elementFormDefault), found namespace %q", n.name.Space))
	}
	if _, ok := complexTypes[p.typ]; ok {
		v.complex(path, n, p.typ)
		return
	}
	v.noAttrs(path, n)
	if len(n.children) > 0 {
		v.bad(path, p.typ+": simple content, child elements are not allowed")
		return
	}
	if msg := checkSimple(p.typ, n.text.String()); msg != "" {
		v.bad(path, msg)
	}
}

var (
	reMu    sync.Mutex
	reCache = map[string]*regexp.Regexp{}
)

// xsdRegexp compiles an XSD pattern, which is implicitly anchored. The
// patterns of this schema use only syntax that means the same in RE2
// (classes, counted repetition, \d), except that XSD's \d also matches
// non-ASCII digits and its '.' excludes \r as well as \n: RE2 is stricter
// on the first, and the second is added below.
func xsdRegexp(p string) *regexp.Regexp {
	reMu.Lock()
	defer reMu.Unlock()
	if re, ok := reCache[p]; ok {
		return re
	}
	re := regexp.MustCompile(`^(?:` + strings.ReplaceAll(p, ".{", `[^\r\n]{`) + `)$`)
	reCache[p] = re
	return re
}

// collapse is XSD whitespace collapsing, which every built-in type but
// string applies before checking the value.
func collapse(s string) string { return strings.Join(strings.Fields(s), " ") }

var (
	reDecimal  = regexp.MustCompile(`^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$`)
	reInt      = regexp.MustCompile(`^[+-]?[0-9]+$`)
	reDate     = regexp.MustCompile(`^(-?[0-9]{4,})-([0-9]{2})-([0-9]{2})(Z|[+-][0-9]{2}:[0-9]{2})?$`)
	reDateTime = regexp.MustCompile(`^(-?[0-9]{4,})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})?$`)
)

// checkBuiltin checks the lexical space of a built-in type (XML Schema
// Part 2, §3.2 and §3.3) and returns the value facets apply to.
func checkBuiltin(b builtin, raw string) (string, string) {
	if b == xsString {
		return raw, "" // whitespace preserved: lengths count every character
	}
	s := collapse(raw)
	switch b {
	case xsDecimal:
		if !reDecimal.MatchString(s) {
			return s, "not an xsd:decimal"
		}
	case xsInt:
		if !reInt.MatchString(s) {
			return s, "not an xsd:int"
		}
		if n, err := strconv.ParseInt(s, 10, 64); err != nil || n < math.MinInt32 || n > math.MaxInt32 {
			return s, "xsd:int out of range"
		}
	case xsBoolean:
		if s != "true" && s != "false" && s != "1" && s != "0" {
			return s, "not an xsd:boolean (true, false, 1, 0)"
		}
	case xsDate:
		m := reDate.FindStringSubmatch(s)
		if m == nil || !validDate(m[1], m[2], m[3]) || !validZone(m[4]) {
			return s, "not an xsd:date (YYYY-MM-DD, optional zone)"
		}
	case xsDT:
		m := reDateTime.FindStringSubmatch(s)
		if m == nil || !validDate(m[1], m[2], m[3]) || !validTime(m[4], m[5], m[6], m[7]) || !validZone(m[8]) {
			return s, "not an xsd:dateTime (YYYY-MM-DDThh:mm:ss[.s], optional zone)"
		}
	case xsBase64:
		compact := strings.Join(strings.Fields(s), "")
		if _, err := base64.StdEncoding.Strict().DecodeString(compact); err != nil {
			return s, "not xsd:base64Binary"
		}
	}
	return s, ""
}

func validDate(y, m, d string) bool {
	year, err := strconv.Atoi(strings.TrimPrefix(y, "-"))
	if err != nil || year == 0 || (len(y) > 4 && y[0] == '0') {
		return false
	}
	if year > 9999 {
		year = 2000 + year%400 // same leap-year rule; time.Date needs a small year
	}
	mo, err1 := strconv.Atoi(m)
	day, err2 := strconv.Atoi(d)
	if err1 != nil || err2 != nil || mo < 1 || mo > 12 || day < 1 {
		return false
	}
	return time.Date(year, time.Month(mo), day, 0, 0, 0, 0, time.UTC).Day() == day
}

func validTime(h, m, s, frac string) bool {
	hh, _ := strconv.Atoi(h)
	mm, _ := strconv.Atoi(m)
	ss, _ := strconv.Atoi(s)
	if hh == 24 { // 24:00:00 is the end of the day, nothing else
		return mm == 0 && ss == 0 && strings.Trim(frac, ".0") == ""
	}
	return hh <= 23 && mm <= 59 && ss <= 59
}

func validZone(z string) bool {
	if z == "" || z == "Z" {
		return true
	}
	hh, _ := strconv.Atoi(z[1:3])
	mm, _ := strconv.Atoi(z[4:6])
	return mm <= 59 && (hh < 14 || (hh == 14 && mm == 0))
}

// checkSimple checks a value against a simple type (or a builtin) and
// returns the broken rule, "" when it holds.
func checkSimple(typ, raw string) string {
	st, ok := simpleTypes[typ]
	if !ok {
		st = simpleType{base: builtin(typ), minLen: -1, maxLen: -1}
	}
	s, msg := checkBuiltin(st.base, raw)
	if msg != "" {
		return fmt.Sprintf("%s: %q is %s", typ, clip(raw), msg)
	}
	// Lengths count characters (XML Schema Part 2 §4.3.1); for
	// base64Binary they would count octets, but no such facet is used.
	if n := utf8.RuneCountInString(s); (st.minLen >= 0 && n < st.minLen) || (st.maxLen >= 0 && n > st.maxLen) {
		switch {
		case st.minLen == st.maxLen:
			return fmt.Sprintf("%s: length %d, want exactly %d", typ, n, st.minLen)
		case st.minLen < 0:
			return fmt.Sprintf("%s: length %d, want at most %d", typ, n, st.maxLen)
		case st.maxLen < 0:
			return fmt.Sprintf("%s: length %d, want at least %d", typ, n, st.minLen)
		}
		return fmt.Sprintf("%s: length %d, want %d..%d", typ, n, st.minLen, st.maxLen)
	}
	if st.pattern != "" && !xsdRegexp(st.pattern).MatchString(s) {
		return fmt.Sprintf("%s: %q does not match pattern %s", typ, clip(s), st.pattern)
	}
	if st.enum != nil && !slices.Contains(st.enum, s) {
		return fmt.Sprintf("%s: %q is not one of %s", typ, clip(s), strings.Join(st.enum, ", "))
	}
	if st.minIncl != "" || st.maxIncl != "" {
		val, ok := new(big.Rat).SetString(s)
		if !ok {
			return fmt.Sprintf("%s: %q is not a decimal", typ, clip(s))
		}
		if st.minIncl != "" && val.Cmp(rat(st.minIncl)) < 0 {
			return fmt.Sprintf("%s: %s is below the minimum %s", typ, s, st.minIncl)
		}
		if st.maxIncl != "" && val.Cmp(rat(st.maxIncl)) > 0 {
			return fmt.Sprintf("%s: %s is above the maximum %s", typ, s, st.maxIncl)
		}
	}
	return ""
}

func rat(s string) *big.Rat {
	r, _ := new(big.Rat).SetString(s) // only the table's own constants
	return r
}

func clip(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}
