package spid

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"strings"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

// XML namespaces and fixed URIs used by SPID.
const (
	NSMetadata  = "urn:oasis:names:tc:SAML:2.0:metadata"
	NSAssertion = "urn:oasis:names:tc:SAML:2.0:assertion"
	NSProtocol  = "urn:oasis:names:tc:SAML:2.0:protocol"
	NSDSig      = "http://www.w3.org/2000/09/xmldsig#"
	NSSPID      = "https://spid.gov.it/saml-extensions"

	NameIDTransient = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
	NameIDEntity    = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity"
	BindingPOST     = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
	BindingRedirect = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
	AttrNameBasic   = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"
	CMBearer        = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
	StatusSuccess   = "urn:oasis:names:tc:SAML:2.0:status:Success"

	AlgRSASHA256  = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
	AlgSHA256     = "http://www.w3.org/2001/04/xmlenc#sha256"
	AlgExcC14N    = "http://www.w3.org/2001/10/xml-exc-c14n#"
	AlgEnveloped  = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
	LevelURIPrefx = "https://www.spid.gov.it/SpidL"
)

// signEnveloped returns a copy of el with an enveloped RSA-SHA256 / SHA-256 /
// exclusive-C14N signature placed after the Issuer child (or first when there
// is no Issuer), with cert in KeyInfo.
func signEnveloped(el *etree.Element, key *rsa.PrivateKey, cert *x509.Certificate) (*etree.Element, error) {
	ctx, err := dsig.NewSigningContext(key, [][]byte{cert.Raw})
	if err != nil {
		return nil, err
	}
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	if err := ctx.SetSignatureMethod(dsig.RSASHA256SignatureMethod); err != nil {
		return nil, err
	}
	signed, err := ctx.SignEnveloped(el)
	if err != nil {
		return nil, err
	}
	sig := signed.Child[len(signed.Child)-1].(*etree.Element)
	signed.RemoveChildAt(len(signed.Child) - 1)
	pos := 0
	for i, c := range signed.Child {
		if e, ok := c.(*etree.Element); ok && e.Tag == "Issuer" {
			pos = i + 1
			break
		}
	}
	signed.InsertChildAt(pos, sig)
	return signed, nil
}

// docBytes serializes el as a standalone document.
func docBytes(el *etree.Element) ([]byte, error) {
	doc := etree.NewDocument()
	doc.SetRoot(el)
	doc.WriteSettings.CanonicalEndTags = false
	return doc.WriteToBytes()
}

// errDTD is returned for documents carrying a DTD or entity declarations.
var errDTD = errors.New("document contains a DTD or entity declaration")

// parseStrict parses outside XML, refusing DTDs and entity declarations
// before the parser sees them.
func parseStrict(b []byte) (*etree.Document, error) {
	up := bytes.ToUpper(b)
	if bytes.Contains(up, []byte("<!DOCTYPE")) || bytes.Contains(up, []byte("<!ENTITY")) {
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

// child returns the first direct child of el in namespace ns with local name tag.
func child(el *etree.Element, ns, tag string) *etree.Element {
	if el == nil {
		return nil
	}
	for _, c := range el.ChildElements() {
		if c.Tag == tag && c.NamespaceURI() == ns {
			return c
		}
	}
	return nil
}

// children returns the direct children of el in namespace ns with local name tag.
func children(el *etree.Element, ns, tag string) []*etree.Element {
	var out []*etree.Element
	if el == nil {
		return nil
	}
	for _, c := range el.ChildElements() {
		if c.Tag == tag && c.NamespaceURI() == ns {
			out = append(out, c)
		}
	}
	return out
}

// textOf concatenates every character-data child of el, so that a comment
// inside a value ("AB<!---->CD") cannot truncate it.
func textOf(el *etree.Element) string {
	if el == nil {
		return ""
	}
	var b strings.Builder
	for _, t := range el.Child {
		if cd, ok := t.(*etree.CharData); ok {
			b.WriteString(cd.Data)
		}
	}
	return strings.TrimSpace(b.String())
}

// attr returns the value of an unqualified attribute and whether it exists.
func attr(el *etree.Element, name string) (string, bool) {
	if el == nil {
		return "", false
	}
	for _, a := range el.Attr {
		if a.Key == name && a.Space == "" {
			return a.Value, true
		}
	}
	return "", false
}

// countDescendants counts elements with local name tag anywhere under el
// (el included).
func countDescendants(el *etree.Element, tag string) int {
	n := 0
	if el.Tag == tag {
		n++
	}
	for _, c := range el.ChildElements() {
		n += countDescendants(c, tag)
	}
	return n
}

// verifySigned checks the enveloped signature that is a direct child of el
// against the trusted certificates only: any KeyInfo in the signature is
// ignored. It refuses SHA-1, signatures not referencing el's ID, and returns
// the signed content as goxmldsig verified it, which is the only copy the
// caller may read.
func verifySigned(el *etree.Element, certs []*x509.Certificate) (*etree.Element, error) {
	sigs := children(el, NSDSig, "Signature")
	if len(sigs) == 0 {
		return nil, errUnsigned
	}
	if len(sigs) > 1 {
		return nil, errors.New("more than one signature")
	}
	sig := sigs[0]
	si := child(sig, NSDSig, "SignedInfo")
	if si == nil {
		return nil, errors.New("signature without SignedInfo")
	}
	sm, _ := attr(child(si, NSDSig, "SignatureMethod"), "Algorithm")
	if !strongSigAlg(sm) {
		return nil, errWeakAlg
	}
	refs := children(si, NSDSig, "Reference")
	if len(refs) != 1 {
		return nil, errors.New("signature must have exactly one Reference")
	}
	id, _ := attr(el, "ID")
	uri, _ := attr(refs[0], "URI")
	if id == "" || uri != "#"+id {
		return nil, errors.New("signature does not reference the signed element")
	}
	dm, _ := attr(child(refs[0], NSDSig, "DigestMethod"), "Algorithm")
	if !strongDigest(dm) {
		return nil, errWeakAlg
	}
	// Work on a detached copy carrying the in-scope namespace declarations,
	// without KeyInfo (it is outside SignedInfo, so removing it is safe).
	cp := el.Copy()
	declared := map[string]bool{}
	for _, a := range cp.Attr {
		if a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns") {
			declared[a.FullKey()] = true
		}
	}
	for p := el.Parent(); p != nil; p = p.Parent() {
		for _, a := range p.Attr {
			if (a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns")) && !declared[a.FullKey()] {
				declared[a.FullKey()] = true
				cp.CreateAttr(a.FullKey(), a.Value)
			}
		}
	}
	if s := child(cp, NSDSig, "Signature"); s != nil {
		for _, ki := range children(s, NSDSig, "KeyInfo") {
			s.RemoveChild(ki)
		}
	}
	var lastErr error = errors.New("no trusted certificate")
	for _, c := range certs {
		vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{c}})
		out, err := vc.Validate(cp)
		if err == nil {
			return out, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

var (
	errUnsigned = errors.New("element is not signed")
	errWeakAlg  = errors.New("signature or digest algorithm not allowed (SHA-1 is refused)")
)

func certB64(c *x509.Certificate) string { return base64.StdEncoding.EncodeToString(c.Raw) }

func newElement(tag string) *etree.Element { return etree.NewElement(tag) }
