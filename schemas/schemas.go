// Package schemas holds the embedded JSON Schemas (draft 2020-12) that describe tenant
// configuration and connector configuration, and validates decoded documents against them
// with errors that name the JSON pointer, the failing keyword and what to do about it.
package schemas

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

//go:embed *.json
var files embed.FS

// baseURL is where the schemas claim to live ($id); nothing is ever fetched from it.
const baseURL = "https://github.com/ponte-pa/ponte/schemas/"

// ErrUnknownSchema is returned (wrapped) by Validate for a name that is not embedded.
var ErrUnknownSchema = errors.New("schemas: unknown schema")

// Problem is one leaf violation of a schema.
type Problem struct {
	// Pointer is the JSON pointer of the offending value ("" is the whole document),
	// e.g. /pagopa/segregationCode. For a missing or unknown property it points at the
	// property itself, not at its parent object.
	Pointer string
	// Rule is the JSON Schema keyword that failed: required, pattern, type, enum, ...
	Rule string
	// Message says what is wrong, in English.
	Message string
	// Hint says what to do about it; taken from the schema ("x-hint", "description").
	Hint string
}

// ValidationError is returned by Validate when a document does not match its schema.
type ValidationError struct {
	Schema   string
	Problems []Problem
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "schema %s: %d problem(s)", e.Schema, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("; ")
		b.WriteString(p.String())
	}
	return b.String()
}

// String renders a problem as "pointer: rule: message; hint".
func (p Problem) String() string {
	ptr := p.Pointer
	if ptr == "" {
		ptr = "(root)"
	}
	s := ptr + ": " + p.Rule + ": " + p.Message
	if p.Hint != "" {
		s += "; " + p.Hint
	}
	return s
}

type compiled struct {
	schema *jsonschema.Schema
	raw    any   // the schema document, for descriptions and hints
	err    error // why it did not compile (a $ref to a schema not registered)
}

var (
	loadOnce sync.Once
	loaded   map[string]*compiled
	loadErr  error
	// raws are the schema documents by URL, for problems found in a schema
	// that another one refers to ($ref across documents).
	raws = map[string]any{}

	// registered are schemas kept beside the code they describe (a
	// connector kind's config), added with Register.
	regMu      sync.Mutex
	registered = map[string][]byte{}
	sealed     bool
)

// Register adds a schema that lives beside the code it describes, such as a
// connector kind's config schema embedded in the connector's package. Call
// it from an init function: schemas are compiled together on first use, so
// a schema may $ref another one by name (e.g. "tenant.schema.json#/$defs/secret").
// It panics on a duplicate name or a registration after first use, both
// programming errors.
func Register(name string, data []byte) {
	regMu.Lock()
	defer regMu.Unlock()
	if sealed {
		panic("schemas: Register(" + name + ") after schemas were first used; register from an init function")
	}
	if _, dup := registered[name]; dup {
		panic("schemas: schema registered twice: " + name)
	}
	if _, err := files.Open(name); err == nil {
		panic("schemas: schema name already embedded here: " + name)
	}
	registered[name] = data
}

func load() (map[string]*compiled, error) {
	loadOnce.Do(func() {
		loaded = map[string]*compiled{}
		c := jsonschema.NewCompiler()
		c.Draft = jsonschema.Draft2020
		c.AssertFormat = true
		names, err := fs.Glob(files, "*.json")
		if err != nil {
			loadErr = err
			return
		}
		regMu.Lock()
		sealed = true
		for n := range registered {
			names = append(names, n)
		}
		regMu.Unlock()
		sort.Strings(names)
		for _, n := range names {
			data, ok := Raw(n)
			if !ok {
				loadErr = fmt.Errorf("schemas: %s: not found", n)
				return
			}
			var raw any
			if err := json.Unmarshal(data, &raw); err != nil {
				loadErr = fmt.Errorf("schemas: %s: %w", n, err)
				return
			}
			raws[baseURL+n] = raw
			if err := c.AddResource(baseURL+n, bytes.NewReader(data)); err != nil {
				loadErr = fmt.Errorf("schemas: %s: %w", n, err)
				return
			}
		}
		// One schema that does not compile (it refers to a schema whose
		// package is not linked in) breaks only itself.
		for _, n := range names {
			s, err := c.Compile(baseURL + n)
			if err != nil {
				err = fmt.Errorf("schemas: %s: %w (is the package that registers the schema it refers to linked in?)", n, err)
			}
			loaded[n] = &compiled{schema: s, raw: raws[baseURL+n], err: err}
		}
	})
	return loaded, loadErr
}

// Names lists the embedded schemas, sorted.
func Names() []string {
	m, err := load()
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Raw returns the text of a schema, for documentation and editor tooling.
func Raw(name string) ([]byte, bool) {
	if data, err := files.ReadFile(name); err == nil {
		return data, true
	}
	regMu.Lock()
	defer regMu.Unlock()
	data, ok := registered[name]
	return data, ok
}

// Validate checks doc, a decoded JSON value (map[string]any, []any, string, float64,
// json.Number, bool, nil, and Go integer types), against the named schema. It returns
// nil, a *ValidationError listing every leaf problem, or another error when the schema
// is unknown or doc holds a value that is not JSON.
func Validate(schemaName string, doc any) (err error) {
	m, lerr := load()
	if lerr != nil {
		return lerr
	}
	c, ok := m[schemaName]
	if !ok {
		return fmt.Errorf("%w %q (known: %s)", ErrUnknownSchema, schemaName, strings.Join(Names(), ", "))
	}
	if c.err != nil {
		return c.err
	}
	defer func() {
		// The validator panics on Go values that are not JSON; report it instead.
		if r := recover(); r != nil {
			err = fmt.Errorf("schemas: %s: document is not a JSON value: %v", schemaName, r)
		}
	}()
	verr := c.schema.Validate(doc)
	if verr == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(verr, &ve) {
		return fmt.Errorf("schemas: %s: %w", schemaName, verr)
	}
	var leaves []*jsonschema.ValidationError
	collectLeaves(ve, &leaves)
	seen := map[string]bool{}
	var probs []Problem
	for _, l := range leaves {
		for _, p := range describe(c.raw, doc, l) {
			key := p.Pointer + "\x00" + p.Rule + "\x00" + p.Message
			if seen[key] {
				continue
			}
			seen[key] = true
			probs = append(probs, p)
		}
	}
	SortProblems(probs)
	return &ValidationError{Schema: schemaName, Problems: probs}
}

// SortProblems orders problems most specific first (deeper pointers first), then by
// pointer, rule and message, so that output is deterministic.
func SortProblems(probs []Problem) {
	sort.SliceStable(probs, func(i, j int) bool {
		a, b := probs[i], probs[j]
		da, db := strings.Count(a.Pointer, "/"), strings.Count(b.Pointer, "/")
		if da != db {
			return da > db
		}
		if a.Pointer != b.Pointer {
			return a.Pointer < b.Pointer
		}
		if a.Rule != b.Rule {
			return a.Rule < b.Rule
		}
		return a.Message < b.Message
	})
}

func collectLeaves(ve *jsonschema.ValidationError, out *[]*jsonschema.ValidationError) {
	if len(ve.Causes) == 0 {
		*out = append(*out, ve)
		return
	}
	for _, c := range ve.Causes {
		collectLeaves(c, out)
	}
}

var keywords = map[string]bool{
	"required": true, "additionalProperties": true, "type": true, "pattern": true,
	"enum": true, "const": true, "format": true, "minLength": true, "maxLength": true,
	"minimum": true, "maximum": true, "exclusiveMinimum": true, "exclusiveMaximum": true,
	"minItems": true, "maxItems": true, "uniqueItems": true, "minProperties": true,
	"maxProperties": true, "multipleOf": true, "dependentRequired": true,
	"propertyNames": true, "not": true, "contains": true, "minContains": true,
	"maxContains": true, "unevaluatedProperties": true, "additionalItems": true,
}

// splitPtr splits a JSON pointer into unescaped tokens.
func splitPtr(p string) []string {
	p = strings.TrimPrefix(p, "/")
	if p == "" {
		return nil
	}
	toks := strings.Split(p, "/")
	for i, t := range toks {
		toks[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
	}
	return toks
}

// JoinPointer appends one unescaped token to a JSON pointer.
func JoinPointer(base, tok string) string {
	return base + "/" + strings.ReplaceAll(strings.ReplaceAll(tok, "~", "~0"), "/", "~1")
}

// Walk follows toks through a decoded JSON value: object keys, and array
// indexes written in decimal. It reports false when a step is missing.
func Walk(v any, toks []string) (any, bool) {
	for _, t := range toks {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[t]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(t)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// describe turns one leaf error of the validator into problems with our messages.
func describe(raw, doc any, l *jsonschema.ValidationError) []Problem {
	frag := l.AbsoluteKeywordLocation
	if i := strings.IndexByte(frag, '#'); i >= 0 {
		if r, ok := raws[frag[:i]]; ok {
			raw = r // the keyword is in a document this one refers to
		}
		frag = frag[i+1:]
	}
	toks := splitPtr(frag)
	rule := ""
	nodeToks := toks
	for i := len(toks) - 1; i >= 0; i-- {
		if keywords[toks[i]] && (i == 0 || toks[i-1] != "properties") {
			rule = toks[i]
			nodeToks = toks[:i]
			break
		}
	}
	node, _ := Walk(raw, nodeToks)
	nm, _ := node.(map[string]any)
	inst, _ := Walk(doc, splitPtr(l.InstanceLocation))
	ptr := l.InstanceLocation

	if rule == "" {
		return []Problem{{Pointer: ptr, Rule: "schema", Message: l.Message, Hint: hintOf(nm)}}
	}
	switch rule {
	case "required":
		obj, _ := inst.(map[string]any)
		var out []Problem
		req, _ := nm["required"].([]any)
		for _, r := range req {
			name, _ := r.(string)
			if _, ok := obj[name]; ok {
				continue
			}
			prop := propertySchema(raw, nodeToks, name)
			msg := fmt.Sprintf("missing required field %q", name)
			if d, _ := prop["description"].(string); d != "" {
				msg += " (" + strings.TrimSuffix(d, ".") + ")"
			}
			out = append(out, Problem{Pointer: JoinPointer(ptr, name), Rule: rule, Message: msg, Hint: hintOf(prop)})
		}
		if len(out) == 0 {
			out = append(out, Problem{Pointer: ptr, Rule: rule, Message: l.Message})
		}
		return out
	case "additionalProperties":
		obj, _ := inst.(map[string]any)
		allowed := allowedProps(nm)
		var out []Problem
		var keys []string
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if isAllowed(nm, k) {
				continue
			}
			hint := "remove it"
			if s := closest(k, allowed); s != "" {
				hint = fmt.Sprintf("did you mean %q?", s)
			}
			if len(allowed) > 0 {
				hint += "; allowed fields here: " + strings.Join(allowed, ", ")
			}
			out = append(out, Problem{Pointer: JoinPointer(ptr, k), Rule: rule, Message: fmt.Sprintf("unknown field %q", k), Hint: hint})
		}
		if len(out) == 0 {
			out = append(out, Problem{Pointer: ptr, Rule: rule, Message: l.Message})
		}
		return out
	}
	secret, _ := nm["x-secret"].(bool)
	got := ""
	if !secret {
		got = ", got " + show(inst)
	}
	var msg string
	switch rule {
	case "type":
		want := fmt.Sprint(nm["type"])
		if ts, ok := nm["type"].([]any); ok {
			var parts []string
			for _, t := range ts {
				parts = append(parts, fmt.Sprint(t))
			}
			want = strings.Join(parts, " or ")
		}
		msg = fmt.Sprintf("must be %s %s, got %s", article(want), want, typeName(inst))
		switch inst.(type) {
		case map[string]any, []any: // "got object" says it all
		default:
			if !secret {
				msg += " " + show(inst)
			}
		}
		if want == "string" && (typeName(inst) == "number" || typeName(inst) == "boolean") {
			h := "put the value in quotes"
			if x := hintOf(nm); x != "" {
				h += "; " + x
			}
			return []Problem{{Pointer: ptr, Rule: rule, Message: msg, Hint: h}}
		}
	case "pattern":
		if t, _ := nm["x-pattern"].(string); t != "" {
			msg = t + got
		} else {
			msg = fmt.Sprintf("must match %s%s", nm["pattern"], got)
		}
	case "enum":
		vals, _ := nm["enum"].([]any)
		var parts []string
		for _, v := range vals {
			parts = append(parts, show(v))
		}
		msg = "must be one of " + strings.Join(parts, ", ") + got
	case "const":
		msg = "must be " + show(nm["const"]) + got
	case "format":
		msg = fmt.Sprintf("must be a valid %v%s", nm["format"], got)
	case "minLength":
		if n := num(nm["minLength"]); n == 1 {
			msg = "must not be empty"
		} else {
			msg = fmt.Sprintf("must be at least %v characters%s", n, got)
		}
	case "maxLength":
		msg = fmt.Sprintf("must be at most %v characters%s", num(nm["maxLength"]), got)
	case "minimum":
		msg = fmt.Sprintf("must be >= %v%s", num(nm["minimum"]), got)
	case "maximum":
		msg = fmt.Sprintf("must be <= %v%s", num(nm["maximum"]), got)
	case "minItems":
		msg = fmt.Sprintf("must have at least %v item(s)", num(nm["minItems"]))
	case "maxItems":
		msg = fmt.Sprintf("must have at most %v item(s)", num(nm["maxItems"]))
	case "uniqueItems":
		msg = "must not repeat items (" + l.Message + ")"
	default:
		msg = l.Message
	}
	return []Problem{{Pointer: ptr, Rule: rule, Message: msg, Hint: hintOf(nm)}}
}

// propertySchema finds the subschema of a property named in "required", looking in the
// node itself and then in enclosing nodes (a "then" branch usually lists only required).
func propertySchema(raw any, nodeToks []string, name string) map[string]any {
	for cut := 0; cut <= 3 && cut <= len(nodeToks); cut++ {
		n, _ := Walk(raw, nodeToks[:len(nodeToks)-cut])
		nm, _ := n.(map[string]any)
		props, _ := nm["properties"].(map[string]any)
		if p, ok := props[name].(map[string]any); ok {
			return p
		}
	}
	return nil
}

func allowedProps(nm map[string]any) []string {
	props, _ := nm["properties"].(map[string]any)
	out := make([]string, 0, len(props))
	for k := range props {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func isAllowed(nm map[string]any, k string) bool {
	props, _ := nm["properties"].(map[string]any)
	if _, ok := props[k]; ok {
		return true
	}
	pp, _ := nm["patternProperties"].(map[string]any)
	for p := range pp {
		if re, err := regexp.Compile(p); err == nil && re.MatchString(k) {
			return true
		}
	}
	return false
}

func hintOf(nm map[string]any) string {
	if h, _ := nm["x-hint"].(string); h != "" {
		return h
	}
	return ""
}

func num(v any) any {
	if f, ok := v.(float64); ok && f == float64(int64(f)) {
		return int64(f)
	}
	return v
}

func article(t string) string {
	switch t {
	case "object", "array", "integer":
		return "an"
	}
	return "a"
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "number"
}

// show renders a value briefly for a message.
func show(v any) string {
	switch x := v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		r := []rune(x)
		if len(r) > 40 {
			x = string(r[:40]) + "…"
		}
		return strconv.Quote(x)
	case float64:
		return fmt.Sprint(num(x))
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// closest returns the allowed name nearest to k (case-insensitive edit distance at most
// a third of its length), or "".
func closest(k string, allowed []string) string {
	best, bestD := "", 1<<30
	for _, a := range allowed {
		d := levenshtein(strings.ToLower(k), strings.ToLower(a))
		if d < bestD {
			best, bestD = a, d
		}
	}
	if best == "" || bestD > max(2, len(best)/3) {
		return ""
	}
	return best
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
