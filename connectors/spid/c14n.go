package spid

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/beevik/etree"
)

// Exclusive XML Canonicalization 1.0 (https://www.w3.org/TR/xml-exc-c14n/)
// of an element subtree, written straight to an io.Writer (a hash when a
// signature is checked): no copy of the tree is made, which is where most
// of a login's CPU went when goxmldsig canonicalized (it copies the tree
// three to four times per signature).
//
// The input is what parseStrict produced: no DTD, so no entity or default
// attribute to expand; encoding/xml has already normalized line ends. The
// output follows the W3C recommendation, including two points where
// goxmldsig differs: CDATA sections are written as escaped text, and
// prefixed attributes are sorted by namespace URI, then local name.

const (
	nsXML   = "http://www.w3.org/XML/1998/namespace"
	nsXMLNS = "http://www.w3.org/2000/xmlns/"

	AlgExcC14NComments = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments"
)

// binding is one namespace prefix bound to a URI ("" prefix: the default
// namespace; "" URI for it: no default namespace).
type binding struct{ prefix, uri string }

// excC14N canonicalizes one subtree.
type excC14N struct {
	w io.Writer
	// skip is left out with its descendants: the enveloped Signature.
	skip *etree.Element
	// inclusive are the InclusiveNamespaces PrefixList prefixes ("" for
	// #default), treated as in inclusive canonicalization.
	inclusive map[string]bool
	comments  bool

	inScope  []binding // the input's declarations in scope, innermost last
	rendered []binding // what output ancestors declared, innermost last
	buf      []byte
	err      error

	// Scratch space of the element being written, reused by the next.
	decls []binding
	attrs []attrNS
}

// c14ns recycles canonicalizers with their buffers: a response's four
// canonicalizations otherwise grew about 30 KB of buffers a login.
var c14ns = sync.Pool{New: func() any { return &excC14N{buf: make([]byte, 0, 8192)} }}

// canonicalize writes the exclusive canonical form of el (without its
// descendant skip, which may be nil) to w. The namespace declarations of
// el's ancestors are in scope, as the recommendation requires of a subtree.
func canonicalize(w io.Writer, el, skip *etree.Element, prefixList string, comments bool) error {
	c := c14ns.Get().(*excC14N)
	c.w, c.skip, c.comments = w, skip, comments
	defer c.release()
	for _, p := range strings.Fields(prefixList) {
		if c.inclusive == nil {
			c.inclusive = map[string]bool{}
		}
		if p == "#default" {
			p = ""
		}
		c.inclusive[p] = true
	}
	var chain []*etree.Element
	for p := el.Parent(); p != nil; p = p.Parent() {
		chain = append(chain, p)
	}
	for i := len(chain) - 1; i >= 0; i-- {
		if err := c.declare(chain[i]); err != nil {
			return err
		}
	}
	c.element(el)
	if c.err == nil && len(c.buf) > 0 {
		_, c.err = c.w.Write(c.buf)
	}
	return c.err
}

// release empties c, dropping its references into the document, and
// returns it to the pool unless a huge element grew its buffer.
func (c *excC14N) release() {
	if cap(c.buf) > 1<<16 {
		return
	}
	clear(c.inScope[:cap(c.inScope)])
	clear(c.rendered[:cap(c.rendered)])
	clear(c.decls[:cap(c.decls)])
	clear(c.attrs[:cap(c.attrs)])
	*c = excC14N{buf: c.buf[:0], inScope: c.inScope[:0], rendered: c.rendered[:0], decls: c.decls[:0], attrs: c.attrs[:0]}
	c14ns.Put(c)
}

// declare pushes el's namespace declarations onto the in-scope stack.
func (c *excC14N) declare(el *etree.Element) error {
	for _, a := range el.Attr {
		switch {
		case a.Space == "xmlns":
			if a.Key == "xmlns" || (a.Key == "xml" && a.Value != nsXML) || a.Value == nsXML && a.Key != "xml" || a.Value == nsXMLNS {
				return fmt.Errorf("c14n: reserved namespace declaration xmlns:%s=%q", a.Key, a.Value)
			}
			if a.Value == "" {
				return fmt.Errorf("c14n: empty namespace declaration for prefix %q", a.Key)
			}
			c.inScope = append(c.inScope, binding{a.Key, a.Value})
		case a.Space == "" && a.Key == "xmlns":
			if a.Value == nsXML || a.Value == nsXMLNS {
				return fmt.Errorf("c14n: reserved namespace %q as the default", a.Value)
			}
			c.inScope = append(c.inScope, binding{"", a.Value})
		}
	}
	return nil
}

func lookup(stack []binding, prefix string) (string, bool) {
	for i := len(stack) - 1; i >= 0; i-- {
		if stack[i].prefix == prefix {
			return stack[i].uri, true
		}
	}
	return "", false
}

// attrNS is a sortable attribute: its namespace URI and the attribute.
type attrNS struct {
	uri string
	a   etree.Attr
}

func (c *excC14N) fail(err error) {
	if c.err == nil {
		c.err = err
	}
}

// flush hands the buffered output to the writer when it has grown.
func (c *excC14N) flush() {
	if len(c.buf) >= 4096 && c.err == nil {
		_, c.err = c.w.Write(c.buf)
		c.buf = c.buf[:0]
	}
}

func (c *excC14N) element(el *etree.Element) {
	if c.err != nil {
		return
	}
	scopeMark, renderMark := len(c.inScope), len(c.rendered)
	defer func() { c.inScope, c.rendered = c.inScope[:scopeMark], c.rendered[:renderMark] }()
	if err := c.declare(el); err != nil {
		c.fail(err)
		return
	}
	// The namespaces this element renders: those visibly utilized (its own
	// prefix, its attributes' prefixes) and, as in inclusive
	// canonicalization, the in-scope prefixes of the InclusiveNamespaces
	// list, each unless the nearest output ancestor rendered the same.
	decls := c.decls[:0]
	want := func(prefix string) {
		if prefix == "xml" || slices.ContainsFunc(decls, func(b binding) bool { return b.prefix == prefix }) {
			return
		}
		uri, ok := lookup(c.inScope, prefix)
		if !ok && prefix != "" {
			c.fail(fmt.Errorf("c14n: undeclared namespace prefix %q on <%s>", prefix, el.FullTag()))
			return
		}
		have, _ := lookup(c.rendered, prefix)
		if have == uri {
			return // includes "no default namespace" never rendered: no xmlns=""
		}
		decls = append(decls, binding{prefix, uri})
	}
	want(el.Space)
	attrs := c.attrs[:0]
	for _, a := range el.Attr {
		if a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns") {
			continue
		}
		uri := ""
		switch a.Space {
		case "":
		case "xml":
			uri = nsXML
		default:
			want(a.Space)
			uri, _ = lookup(c.inScope, a.Space)
		}
		attrs = append(attrs, attrNS{uri, a})
	}
	for p := range c.inclusive {
		if _, ok := lookup(c.inScope, p); ok {
			want(p)
		}
	}
	if c.err != nil {
		return
	}
	slices.SortFunc(decls, func(x, y binding) int { return strings.Compare(x.prefix, y.prefix) })
	slices.SortFunc(attrs, func(x, y attrNS) int {
		if n := strings.Compare(x.uri, y.uri); n != 0 {
			return n
		}
		return strings.Compare(x.a.Key, y.a.Key)
	})
	c.rendered = append(c.rendered, decls...)

	c.buf = append(c.buf, '<')
	c.buf = appendQName(c.buf, el.Space, el.Tag)
	for _, d := range decls {
		c.buf = append(c.buf, " xmlns"...)
		if d.prefix != "" {
			c.buf = append(c.buf, ':')
			c.buf = append(c.buf, d.prefix...)
		}
		c.buf = append(c.buf, `="`...)
		c.buf = appendEscaped(c.buf, d.uri, true)
		c.buf = append(c.buf, '"')
	}
	for _, a := range attrs {
		c.buf = append(c.buf, ' ')
		c.buf = appendQName(c.buf, a.a.Space, a.a.Key)
		c.buf = append(c.buf, `="`...)
		c.buf = appendEscaped(c.buf, a.a.Value, true)
		c.buf = append(c.buf, '"')
	}
	c.buf = append(c.buf, '>')
	// The children reuse the scratch space (with whatever it grew to).
	c.decls, c.attrs = decls[:0], attrs[:0]
	for _, t := range el.Child {
		switch t := t.(type) {
		case *etree.Element:
			if t != c.skip {
				c.element(t)
			}
		case *etree.CharData:
			c.buf = appendEscaped(c.buf, t.Data, false)
		case *etree.Comment:
			if c.comments {
				c.buf = append(c.buf, "<!--"...)
				c.buf = append(c.buf, t.Data...)
				c.buf = append(c.buf, "-->"...)
			}
		case *etree.ProcInst:
			c.buf = append(c.buf, "<?"...)
			c.buf = append(c.buf, t.Target...)
			if t.Inst != "" {
				c.buf = append(c.buf, ' ')
				c.buf = append(c.buf, t.Inst...)
			}
			c.buf = append(c.buf, "?>"...)
		default:
			c.fail(errors.New("c14n: a directive inside the signed element"))
		}
		if c.err != nil {
			return
		}
		c.flush()
	}
	c.buf = append(c.buf, "</"...)
	c.buf = appendQName(c.buf, el.Space, el.Tag)
	c.buf = append(c.buf, '>')
}

func appendQName(b []byte, prefix, local string) []byte {
	if prefix != "" {
		b = append(b, prefix...)
		b = append(b, ':')
	}
	return append(b, local...)
}

// appendEscaped escapes s as C14N requires of text (&, <, >, CR) or of an
// attribute value (&, <, ", TAB, LF, CR).
func appendEscaped(b []byte, s string, attr bool) []byte {
	last := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			if attr {
				continue
			}
			esc = "&gt;"
		case '"':
			if !attr {
				continue
			}
			esc = "&quot;"
		case '\t':
			if !attr {
				continue
			}
			esc = "&#x9;"
		case '\n':
			if !attr {
				continue
			}
			esc = "&#xA;"
		case '\r':
			esc = "&#xD;"
		default:
			continue
		}
		b = append(b, s[last:i]...)
		b = append(b, esc...)
		last = i + 1
	}
	return append(b, s[last:]...)
}
