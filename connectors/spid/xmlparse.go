package spid

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/beevik/etree"
)

// A strict XML 1.0 parser for the documents SPID exchanges (responses,
// metadata, logout messages), building the same etree tree that etree's
// own reader builds over encoding/xml, in under a third of the time: the
// document is copied once into a string and names and most values are
// slices of it, where encoding/xml reads byte by byte and copies every
// token twice. Parsing was the largest cost of a login after the RSA
// checks.
//
// It is stricter than encoding/xml, never looser; FuzzParseXML checks that
// whatever it accepts, etree accepts and reads into the same tree:
//   - a DTD, an entity declaration or any other <!...> directive is refused
//     (errDTD), not only at the top;
//   - an attribute given twice, a second root element, text outside the
//     root, an XML declaration other than at the start, "]]>" in text,
//     attributes not separated by white space, "&#X" are errors;
//   - names are ASCII (every SAML, metadata and signature name is), with at
//     most one prefix;
//   - comments must hold valid characters, as text and attribute values do;
//   - the declared encoding, if any, is UTF-8 or US-ASCII: the bytes are
//     read as UTF-8 whatever the declaration says, so another one is a
//     lie rather than something to convert;
//   - elements nest at most maxXMLDepth deep.
//
// Where encoding/xml departs from the recommendation and a signature
// depends on it, it keeps encoding/xml's reading, so that what verified
// before verifies now: line ends are normalized in text and attribute
// values (not in comments and processing instructions), and white space
// in attribute values is kept as written.

// maxXMLDepth bounds element nesting: a SAML response is about 8 deep;
// the tree walks that follow parsing recurse.
const maxXMLDepth = 128

// xmlSyntaxError is a document that is not well-formed, or not one this
// parser reads.
type xmlSyntaxError struct {
	line int
	msg  string
}

func (e *xmlSyntaxError) Error() string { return fmt.Sprintf("xml: line %d: %s", e.line, e.msg) }

type xmlParser struct {
	s   string
	i   int
	buf []byte // values with references or carriage returns
}

// parseXML parses a whole document.
func parseXML(b []byte) (*etree.Document, error) {
	p := &xmlParser{s: string(b)}
	doc := etree.NewDocument()
	if err := p.document(&doc.Element); err != nil {
		return nil, err
	}
	return doc, nil
}

func (p *xmlParser) fail(format string, a ...any) error {
	return &xmlSyntaxError{line: 1 + strings.Count(p.s[:min(p.i, len(p.s))], "\n"), msg: fmt.Sprintf(format, a...)}
}

func (p *xmlParser) rest() string { return p.s[p.i:] }

// document reads [BOM] [XMLDecl] Misc* element Misc*.
func (p *xmlParser) document(doc *etree.Element) error {
	if strings.HasPrefix(p.s, "\uFEFF") {
		p.i = len("\uFEFF")
	}
	if r := p.rest(); strings.HasPrefix(r, "<?xml") && len(r) > 5 && isXMLSpace(r[5]) {
		if err := p.procInst(doc, true); err != nil {
			return err
		}
	}
	root := false
	for {
		p.skipSpace()
		r := p.rest()
		if ok, err := p.misc(doc, r, false); err != nil {
			return err
		} else if ok {
			continue
		}
		switch {
		case r == "":
			if !root {
				return p.fail("empty document")
			}
			return nil
		case r[0] != '<':
			return p.fail("text outside the root element")
		case strings.HasPrefix(r, "</"):
			return p.fail("end tag without a start tag")
		case root:
			return p.fail("a second root element")
		default:
			if err := p.element(doc); err != nil {
				return err
			}
			root = true
		}
	}
}

// element reads one element and its content, the parser at its "<".
// Nesting is kept on a stack of its own rather than Go's.
func (p *xmlParser) element(parent *etree.Element) error {
	type open struct {
		el    *etree.Element
		qname string
	}
	stack := make([]open, 0, 16)
	cur := parent
	for {
		// p.rest() starts with the "<" of a start tag.
		el, qname, empty, err := p.startTag(cur)
		if err != nil {
			return err
		}
		if !empty {
			if len(stack) == maxXMLDepth {
				return p.fail("elements nested deeper than %d", maxXMLDepth)
			}
			stack = append(stack, open{el, qname})
			cur = el
		}
	content:
		for len(stack) > 0 {
			if err := p.text(cur); err != nil {
				return err
			}
			r := p.rest()
			if ok, err := p.misc(cur, r, true); err != nil {
				return err
			} else if ok {
				continue
			}
			switch {
			case r == "":
				return p.fail("unexpected end of document: <%s> is not closed", stack[len(stack)-1].qname)
			case strings.HasPrefix(r, "</"):
				top := stack[len(stack)-1]
				p.i += 2
				name, err := p.name()
				if err != nil {
					return err
				}
				if name != top.qname {
					return p.fail("</%s> closes <%s>", name, top.qname)
				}
				p.skipSpace()
				if !strings.HasPrefix(p.rest(), ">") {
					return p.fail("expected > after </%s", name)
				}
				p.i++
				stack = stack[:len(stack)-1]
				if len(stack) > 0 {
					cur = stack[len(stack)-1].el
				}
			default:
				break content
			}
		}
		if len(stack) == 0 {
			return nil
		}
	}
}

// misc reads what may stand between elements, at r (the parser's rest):
// a comment or a processing instruction, and inside an element a CDATA
// section, into a new child of el. It reports false when r starts none of
// them. Any other "<!" is a declaration: errDTD.
func (p *xmlParser) misc(el *etree.Element, r string, inElement bool) (bool, error) {
	switch {
	case strings.HasPrefix(r, "<?"):
		return true, p.procInst(el, false)
	case strings.HasPrefix(r, "<!--"):
		return true, p.comment(el)
	case inElement && strings.HasPrefix(r, "<![CDATA["):
		return true, p.cdata(el)
	case strings.HasPrefix(r, "<!"):
		return true, errDTD
	}
	return false, nil
}

// startTag reads "<name attrs>" or "<name attrs/>" into a new child of
// parent.
func (p *xmlParser) startTag(parent *etree.Element) (el *etree.Element, qname string, empty bool, err error) {
	p.i++ // "<"
	if qname, err = p.name(); err != nil {
		return nil, "", false, err
	}
	el = parent.CreateElement(qname)
	for {
		spaced := p.skipSpace()
		r := p.rest()
		switch {
		case r == "":
			return nil, "", false, p.fail("unexpected end of document in <%s>", qname)
		case r[0] == '>':
			p.i++
			return el, qname, false, nil
		case strings.HasPrefix(r, "/>"):
			p.i += 2
			return el, qname, true, nil
		case !spaced:
			return nil, "", false, p.fail("expected white space, > or /> after <%s ...", qname)
		}
		aname, err := p.name()
		if err != nil {
			return nil, "", false, err
		}
		p.skipSpace()
		if !strings.HasPrefix(p.rest(), "=") {
			return nil, "", false, p.fail("attribute %s of <%s> has no value", aname, qname)
		}
		p.i++
		p.skipSpace()
		r = p.rest()
		if r == "" || (r[0] != '"' && r[0] != '\'') {
			return nil, "", false, p.fail("the value of attribute %s of <%s> is not quoted", aname, qname)
		}
		p.i++
		value, err := p.chars(r[0])
		if err != nil {
			return nil, "", false, err
		}
		space, key := splitQName(aname)
		for _, a := range el.Attr {
			if a.Space == space && a.Key == key {
				return nil, "", false, p.fail("attribute %s repeated in <%s>", aname, qname)
			}
		}
		el.CreateAttr(aname, value)
	}
}

// text reads character data up to the next "<" (or the end) into a new
// child of el, unless there is none.
func (p *xmlParser) text(el *etree.Element) error {
	s, err := p.chars(0)
	if err != nil || s == "" {
		return err
	}
	addText(el, s)
	return nil
}

// addText adds character data as etree's reader does: white space alone is
// flagged as such.
func addText(el *etree.Element, s string) {
	cd := el.CreateText(s)
	if isAllXMLSpace(s) {
		cd.SetData(s)
	}
}

// chars reads an attribute value up to its closing quote (consumed), or
// with quote 0 character data up to the next "<" (not consumed) or the
// end, resolving references and normalizing line ends. Most values hold
// neither and are slices of the document.
func (p *xmlParser) chars(quote byte) (string, error) {
	start := p.i
	copied := false
	copyUpTo := func() {
		if !copied {
			p.buf = append(p.buf[:0], p.s[start:p.i]...)
			copied = true
		}
	}
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == quote && quote != 0:
			v := p.s[start:p.i]
			if copied {
				v = string(p.buf)
			}
			p.i++
			return v, nil
		case c == '<':
			if quote != 0 {
				return "", p.fail("< in an attribute value")
			}
			if copied {
				return string(p.buf), nil
			}
			return p.s[start:p.i], nil
		case c == '&':
			copyUpTo()
			r, err := p.reference()
			if err != nil {
				return "", err
			}
			p.buf = utf8.AppendRune(p.buf, r)
			continue
		case c == '\r':
			copyUpTo()
			p.buf = append(p.buf, '\n')
			p.i++
			if p.i < len(p.s) && p.s[p.i] == '\n' {
				p.i++
			}
			continue
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(p.rest())
			if r == utf8.RuneError && size == 1 {
				return "", p.fail("invalid UTF-8")
			}
			if !isXMLChar(r) {
				return "", p.fail("character %U is not allowed in XML", r)
			}
			if copied {
				p.buf = append(p.buf, p.s[p.i:p.i+size]...)
			}
			p.i += size
			continue
		case c < 0x20 && c != '\t' && c != '\n':
			return "", p.fail("character %U is not allowed in XML", rune(c))
		case c == ']' && quote == 0 && strings.HasPrefix(p.rest(), "]]>"):
			return "", p.fail("]]> in text")
		}
		if copied {
			p.buf = append(p.buf, c)
		}
		p.i++
	}
	if quote != 0 {
		return "", p.fail("unexpected end of document in an attribute value")
	}
	if copied {
		return string(p.buf), nil
	}
	return p.s[start:], nil
}

// reference reads "&name;" or "&#N;" or "&#xH;", the parser at its "&".
// Only the five predefined entities exist: there is no DTD.
func (p *xmlParser) reference() (rune, error) {
	end := strings.IndexByte(p.rest(), ';')
	if end < 0 || end > 12 {
		return 0, p.fail("& not followed by a reference (write &amp;)")
	}
	name := p.s[p.i+1 : p.i+end]
	var r rune
	switch {
	case name == "lt":
		r = '<'
	case name == "gt":
		r = '>'
	case name == "amp":
		r = '&'
	case name == "apos":
		r = '\''
	case name == "quot":
		r = '"'
	case strings.HasPrefix(name, "#x"):
		n, err := strconv.ParseUint(name[2:], 16, 32)
		if err != nil || !isHexDigits(name[2:]) || !isXMLChar(rune(n)) {
			return 0, p.fail("invalid character reference &%s;", name)
		}
		r = rune(n)
	case strings.HasPrefix(name, "#"):
		n, err := strconv.ParseUint(name[1:], 10, 32)
		if err != nil || !isDecDigits(name[1:]) || !isXMLChar(rune(n)) {
			return 0, p.fail("invalid character reference &%s;", name)
		}
		r = rune(n)
	default:
		return 0, p.fail("undefined entity &%s; (only &lt; &gt; &amp; &apos; &quot; exist)", name)
	}
	p.i += end + 1
	return r, nil
}

// comment reads "<!--...-->" into a new child of el.
func (p *xmlParser) comment(el *etree.Element) error {
	p.i += len("<!--")
	end := strings.Index(p.rest(), "--")
	if end < 0 {
		return p.fail("comment not closed")
	}
	if !strings.HasPrefix(p.s[p.i+end:], "-->") {
		return p.fail("-- inside a comment")
	}
	data := p.s[p.i : p.i+end]
	if err := p.validChars(data); err != nil {
		return err
	}
	p.i += end + len("-->")
	el.CreateComment(data)
	return nil
}

// cdata reads "<![CDATA[...]]>" into a new character-data child of el.
func (p *xmlParser) cdata(el *etree.Element) error {
	p.i += len("<![CDATA[")
	end := strings.Index(p.rest(), "]]>")
	if end < 0 {
		return p.fail("CDATA section not closed")
	}
	data := p.s[p.i : p.i+end]
	if err := p.validChars(data); err != nil {
		return err
	}
	if strings.IndexByte(data, '\r') >= 0 {
		data = strings.ReplaceAll(strings.ReplaceAll(data, "\r\n", "\n"), "\r", "\n")
	}
	p.i += end + len("]]>")
	addText(el, data) // even empty, as etree's reader does
	return nil
}

// procInst reads "<?target data?>" into a new child of el; decl says it
// is the document's first bytes, where (only) the XML declaration may be.
func (p *xmlParser) procInst(el *etree.Element, decl bool) error {
	p.i += len("<?")
	target, err := p.name()
	if err != nil {
		return err
	}
	if strings.ContainsRune(target, ':') {
		return p.fail("processing instruction target %s has a colon", target)
	}
	spaced := p.skipSpace()
	end := strings.Index(p.rest(), "?>")
	if end < 0 {
		return p.fail("processing instruction <?%s not closed", target)
	}
	if !spaced && end > 0 {
		return p.fail("expected white space after <?%s", target)
	}
	data := p.s[p.i : p.i+end]
	if err := p.validChars(data); err != nil {
		return err
	}
	if strings.EqualFold(target, "xml") {
		if !decl || target != "xml" {
			return p.fail("an XML declaration is allowed only at the start of the document")
		}
		if v := declParam(data, "version"); v != "1.0" {
			return p.fail("XML version %q: only 1.0 is supported", v)
		}
		switch enc := declParam(data, "encoding"); {
		case enc == "", strings.EqualFold(enc, "UTF-8"), strings.EqualFold(enc, "US-ASCII"):
		default:
			return p.fail("encoding %q: send the document in UTF-8", enc)
		}
	}
	p.i += end + len("?>")
	el.CreateProcInst(target, data)
	return nil
}

// declParam returns the value of name="value" (or 'value') in an XML
// declaration's data, "" when absent.
func declParam(data, name string) string {
	for data != "" {
		data = strings.TrimLeft(data, " \t\r\n")
		eq := strings.IndexByte(data, '=')
		if eq < 0 {
			return ""
		}
		key := strings.TrimRight(data[:eq], " \t\r\n")
		data = strings.TrimLeft(data[eq+1:], " \t\r\n")
		if data == "" || (data[0] != '"' && data[0] != '\'') {
			return ""
		}
		end := strings.IndexByte(data[1:], data[0])
		if end < 0 {
			return ""
		}
		if key == name {
			return data[1 : 1+end]
		}
		data = data[end+2:]
	}
	return ""
}

// name reads an ASCII QName: NCName or NCName:NCName.
func (p *xmlParser) name() (string, error) {
	start, colon := p.i, -1
	for ; p.i < len(p.s); p.i++ {
		c := p.s[p.i]
		first := p.i == start || p.i == colon+1 && colon >= 0
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', c == '_':
		case '0' <= c && c <= '9', c == '-', c == '.':
			if first {
				return "", p.fail("a name cannot start with %q", c)
			}
		case c == ':':
			if first || colon >= 0 {
				return "", p.fail("misplaced : in a name")
			}
			colon = p.i
		case c >= utf8.RuneSelf:
			return "", p.fail("names must be ASCII")
		default:
			if first {
				return "", p.fail("expected a name")
			}
			return p.s[start:p.i], nil
		}
	}
	return "", p.fail("unexpected end of document in a name")
}

// skipSpace skips white space and reports whether there was any.
func (p *xmlParser) skipSpace() bool {
	start := p.i
	for p.i < len(p.s) && isXMLSpace(p.s[p.i]) {
		p.i++
	}
	return p.i > start
}

// validChars checks that s holds only characters XML allows.
func (p *xmlParser) validChars(s string) error {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				return p.fail("character %U is not allowed in XML", rune(c))
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return p.fail("invalid UTF-8")
		}
		if !isXMLChar(r) {
			return p.fail("character %U is not allowed in XML", r)
		}
		i += size
	}
	return nil
}

func splitQName(q string) (space, local string) {
	if i := strings.IndexByte(q, ':'); i >= 0 {
		return q[:i], q[i+1:]
	}
	return "", q
}

func isXMLSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isAllXMLSpace(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isXMLSpace(s[i]) {
			return false
		}
	}
	return true
}

// isXMLChar is the Char production of XML 1.0.
func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

func isDecDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func isHexDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return s != ""
}
