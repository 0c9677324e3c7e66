package spid

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/beevik/etree"
)

// parseEtree is how parseStrict parsed before parseXML: etree's reader
// over encoding/xml. It is the reference parseXML is checked against.
func parseEtree(b []byte) (*etree.Document, error) {
	if hasDeclaration(b) {
		return nil, errDTD
	}
	doc := etree.NewDocument()
	doc.ReadSettings.Permissive = false
	if err := doc.ReadFromBytes(b); err != nil {
		return nil, err
	}
	if doc.Root() == nil {
		return nil, errors.New("empty document")
	}
	for _, t := range doc.Child {
		if _, ok := t.(*etree.Directive); ok {
			return nil, errDTD
		}
	}
	return doc, nil
}

// dumpTree writes every token of el's subtree with its exact content and
// kind, so that two trees compare equal only when they are the same.
func dumpTree(b *strings.Builder, t etree.Token) {
	switch t := t.(type) {
	case *etree.Element:
		b.WriteString("E[" + t.Space + "|" + t.Tag + "|" + t.NamespaceURI())
		for _, a := range t.Attr {
			b.WriteString(" A[" + a.Space + "|" + a.Key + "|" + a.NamespaceURI() + "=" + a.Value + "]")
		}
		b.WriteString("](")
		for _, c := range t.Child {
			dumpTree(b, c)
		}
		b.WriteString(")")
	case *etree.CharData:
		flags := "t"
		if t.IsWhitespace() {
			flags = "w"
		}
		if t.IsCData() {
			flags += "c"
		}
		b.WriteString("T" + flags + "[" + t.Data + "]")
	case *etree.Comment:
		b.WriteString("C[" + t.Data + "]")
	case *etree.ProcInst:
		b.WriteString("P[" + t.Target + "|" + t.Inst + "]")
	case *etree.Directive:
		b.WriteString("D[" + t.Data + "]")
	}
}

func rootDump(doc *etree.Document) string {
	var b strings.Builder
	dumpTree(&b, doc.Root())
	return b.String()
}

// xmlCorpus is every real document the tests have: signed responses,
// metadata, and the documents of the c14n tests.
func xmlCorpus(t testing.TB) [][]byte {
	var out [][]byte
	for _, glob := range []string{"testdata/*.xml", "testdata/*/*.xml"} {
		files, err := filepath.Glob(glob)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b)
		}
	}
	if len(out) == 0 {
		t.Fatal("no XML in testdata")
	}
	return out
}

// checkSameAsEtree fails if parseXML accepts what etree refuses, or reads
// a tree other than etree's.
func checkSameAsEtree(t *testing.T, in []byte) (accepted bool) {
	t.Helper()
	got, err := parseStrict(in)
	want, wantErr := parseEtree(in)
	if err != nil {
		var se *xmlSyntaxError
		if !errors.Is(err, errDTD) && !errors.As(err, &se) {
			t.Fatalf("untyped error %v", err)
		}
		return false
	}
	if wantErr != nil {
		t.Fatalf("parseXML accepts what etree refuses (%v):\n%q", wantErr, in)
	}
	if g, w := rootDump(got), rootDump(want); g != w {
		t.Fatalf("trees differ for %q:\nparseXML %s\netree    %s", in, g, w)
	}
	return true
}

func TestParseXMLSameTreeAsEtree(t *testing.T) {
	for _, in := range xmlCorpus(t) {
		if !checkSameAsEtree(t, in) {
			t.Fatalf("parseXML refuses a test document:\n%.300s", in)
		}
	}
}

func TestParseXML(t *testing.T) {
	for _, c := range []struct {
		name, in string
		err      string // "" accepted; "DTD" errDTD; else part of the message
	}{
		{"declaration and root", `<?xml version="1.0" encoding="UTF-8"?><a/>`, ""},
		{"lower-case encoding", `<?xml version="1.0" encoding="utf-8" standalone="no"?>` + "\n<a/>", ""},
		{"byte order mark", "\uFEFF<?xml version=\"1.0\"?><a/>", ""},
		{"references", `<a b="&lt;&amp;&#65;&#x42;&quot;&apos;">&gt;&#13;</a>`, ""},
		{"carriage returns", "<a b=\"1\r\n2\r3\">x\r\ny\rz</a>", ""},
		{"CDATA", `<a>x<![CDATA[<b>&amp;]]>y</a>`, ""},
		{"comments and PIs inside", `<a><!-- c --><?pi data?></a>`, ""},
		{"non-ASCII text", `<a n="Nicolò">Forlì ✓</a>`, ""},
		{"prefixes", `<p:a xmlns:p="urn:x" p:b="1" b="2"><p:c/></p:a>`, ""},
		{"empty", ``, "empty document"},
		{"only a declaration", `<?xml version="1.0"?>`, "empty document"},
		{"DOCTYPE", `<!DOCTYPE a><a/>`, "DTD"},
		{"directive inside", `<a><!FOO bar></a>`, "DTD"},
		{"repeated attribute", `<a ID="1" ID="2"/>`, "attribute ID repeated"},
		{"second root", `<a/><a/>`, "second root"},
		{"text after root", `<a/>x`, "text outside"},
		{"unclosed", `<a><b></b>`, "<a> is not closed"},
		{"mismatched end", `<a></b>`, "</b> closes <a>"},
		{"prefix mismatch", `<p:a xmlns:p="urn:x"></q:a>`, "</q:a> closes <p:a>"},
		{"< in value", `<a b="<"/>`, "< in an attribute value"},
		{"unquoted", `<a b=1/>`, "not quoted"},
		{"no space between attributes", `<a b="1"c="2"/>`, "expected white space"},
		{"undefined entity", `<a>&nbsp;</a>`, "undefined entity"},
		{"bare ampersand", `<a>fish & chips</a>`, "& not followed"},
		{"bad char reference", `<a>&#0;</a>`, "invalid character reference"},
		{"upper-case X reference", `<a>&#X41;</a>`, "invalid character reference"},
		{"control character", "<a>\x01</a>", "not allowed in XML"},
		{"invalid UTF-8", "<a>\xff</a>", "invalid UTF-8"},
		{"]]> in text", `<a>]]></a>`, "]]> in text"},
		{"-- in comment", `<a><!-- a -- b --></a>`, "-- inside a comment"},
		{"late declaration", `<a><?xml version="1.0"?></a>`, "only at the start"},
		{"other encoding", `<?xml version="1.0" encoding="ISO-8859-1"?><a/>`, "send the document in UTF-8"},
		{"version 1.1", `<?xml version="1.1"?><a/>`, "only 1.0"},
		{"two colons", `<a:b:c/>`, "misplaced :"},
		{"non-ASCII name", `<à/>`, "names must be ASCII"},
		{"digit first", `<1a/>`, "cannot start with"},
		{"too deep", strings.Repeat("<a>", maxXMLDepth+1) + strings.Repeat("</a>", maxXMLDepth+1), "nested deeper"},
	} {
		t.Run(c.name, func(t *testing.T) {
			doc, err := parseStrict([]byte(c.in))
			switch {
			case c.err == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.err == "":
				checkSameAsEtree(t, []byte(c.in))
				if doc.Root() == nil {
					t.Fatal("no root")
				}
			case c.err == "DTD":
				if !errors.Is(err, errDTD) {
					t.Fatalf("got %v, want the DTD error", err)
				}
			case err == nil || !strings.Contains(err.Error(), c.err):
				t.Fatalf("got %v, want an error with %q", err, c.err)
			}
		})
	}
}

// The error names the line.
func TestParseXMLErrorLine(t *testing.T) {
	_, err := parseStrict([]byte("<a>\n<b>\n</c></a>"))
	if err == nil || err.Error() != "xml: line 3: </c> closes <b>" {
		t.Fatalf("got %v", err)
	}
}

// FuzzParseXML checks parseXML against etree's reader: whatever parseXML
// accepts, etree accepts and reads into the same tree, and parseXML never
// panics. Where parseXML is stricter (see xmlparse.go) it may refuse what
// etree accepts.
func FuzzParseXML(f *testing.F) {
	for _, in := range xmlCorpus(f) {
		f.Add(in)
	}
	for _, s := range []string{
		`<a b="&lt;&amp;&#65;&#x42;">&gt;&#13;</a>`, "<a b=\"1\r\n2\">x\r\ny\rz</a>",
		`<a>x<![CDATA[<b>]]>y<!-- c --><?pi d?></a>`, `<p:a xmlns:p="u" p:b='1'/>`,
		"\uFEFF<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<a>\n</a>\n<!-- end -->\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		checkSameAsEtree(t, in)
	})
}

func BenchmarkParseXML(b *testing.B) {
	raw, err := os.ReadFile("testdata/xmlsec/response.signed.xml")
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		parse func([]byte) (*etree.Document, error)
	}{{"parseXML", parseStrict}, {"etree", parseEtree}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.parse(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
