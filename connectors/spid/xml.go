package spid

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	_ "crypto/sha256" // SHA-256 for crypto.Hash
	_ "crypto/sha512" // SHA-384 and SHA-512 for crypto.Hash
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

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
// before the parser sees them (parseXML refuses them too, and much else).
func parseStrict(b []byte) (*etree.Document, error) {
	if hasDeclaration(b) {
		return nil, errDTD
	}
	return parseXML(b)
}

// hasDeclaration reports whether b contains "<!DOCTYPE" or "<!ENTITY" in
// any letter case, without copying b.
func hasDeclaration(b []byte) bool {
	for i := bytes.Index(b, []byte("<!")); i >= 0; {
		rest := b[i+2:]
		for _, w := range []string{"DOCTYPE", "ENTITY"} {
			if len(rest) >= len(w) && bytes.EqualFold(rest[:len(w)], []byte(w)) {
				return true
			}
		}
		j := bytes.Index(rest, []byte("<!"))
		if j < 0 {
			break
		}
		i += 2 + j
	}
	return false
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
// ignored. The profile is SAML's (and SPID's): one Reference to el's ID,
// the enveloped-signature and exclusive C14N transforms and nothing else,
// exclusive C14N for SignedInfo, RSA with SHA-256 or stronger (SHA-1 is
// refused). It returns el: what was digested is el's subtree without the
// Signature, so the caller reads only signed content as long as it reads
// el's children other than the Signature.
func verifySigned(el *etree.Element, certs []*x509.Certificate) (*etree.Element, error) {
	sigs := children(el, NSDSig, "Signature")
	if len(sigs) == 0 {
		return nil, errUnsigned
	}
	if len(sigs) > 1 {
		return nil, errors.New("more than one signature")
	}
	sig := sigs[0]
	var si, sv *etree.Element
	for _, c := range sig.ChildElements() {
		switch {
		case c.NamespaceURI() != NSDSig:
			return nil, fmt.Errorf("unexpected <%s> in the signature", c.FullTag())
		case c.Tag == "SignedInfo" && si == nil:
			si = c
		case c.Tag == "SignatureValue" && sv == nil:
			sv = c
		case c.Tag == "KeyInfo" || c.Tag == "Object":
		default:
			return nil, fmt.Errorf("unexpected or repeated <%s> in the signature", c.FullTag())
		}
	}
	if si == nil || sv == nil {
		return nil, errors.New("signature without SignedInfo or SignatureValue")
	}
	cm := children(si, NSDSig, "CanonicalizationMethod")
	if len(cm) != 1 {
		return nil, errors.New("SignedInfo needs one CanonicalizationMethod")
	}
	siComments, siPrefixes, err := excC14NAlg(cm[0])
	if err != nil {
		return nil, err
	}
	sms := children(si, NSDSig, "SignatureMethod")
	if len(sms) != 1 {
		return nil, errors.New("SignedInfo needs one SignatureMethod")
	}
	sm, _ := attr(sms[0], "Algorithm")
	sigHash, ok := sigHashes[sm]
	if !ok {
		return nil, errWeakAlg
	}
	refs := children(si, NSDSig, "Reference")
	if len(refs) != 1 {
		return nil, errors.New("signature must have exactly one Reference")
	}
	ref := refs[0]
	id, _ := attr(el, "ID")
	uri, _ := attr(ref, "URI")
	if id == "" || uri != "#"+id {
		return nil, errors.New("signature does not reference the signed element")
	}
	comments, prefixes, err := referenceTransforms(ref)
	if err != nil {
		return nil, err
	}
	dms := children(ref, NSDSig, "DigestMethod")
	if len(dms) != 1 {
		return nil, errors.New("Reference needs one DigestMethod")
	}
	dm, _ := attr(dms[0], "Algorithm")
	digestHash, ok := digestHashes[dm]
	if !ok {
		return nil, errWeakAlg
	}
	dvs := children(ref, NSDSig, "DigestValue")
	if len(dvs) != 1 {
		return nil, errors.New("Reference needs one DigestValue")
	}
	want, err := decodeB64(textOf(dvs[0]))
	if err != nil {
		return nil, errors.New("DigestValue is not base64")
	}
	h := digestHash.New()
	if err := canonicalize(h, el, sig, prefixes, comments); err != nil {
		return nil, err
	}
	if !bytes.Equal(h.Sum(nil), want) {
		return nil, errors.New("digest mismatch: the signed content was changed")
	}
	value, err := decodeB64(textOf(sv))
	if err != nil || len(value) == 0 {
		return nil, errors.New("SignatureValue is not base64")
	}
	h = sigHash.New()
	if err := canonicalize(h, si, nil, siPrefixes, siComments); err != nil {
		return nil, err
	}
	sum := h.Sum(nil)
	now := time.Now()
	var lastErr error = errors.New("no trusted certificate")
	for _, c := range certs {
		pub, ok := c.PublicKey.(*rsa.PublicKey)
		switch {
		case !ok:
			lastErr = errors.New("trusted certificate without an RSA key")
		case now.Before(c.NotBefore) || now.After(c.NotAfter):
			lastErr = errors.New("trusted certificate not valid at this time")
		default:
			if lastErr = rsa.VerifyPKCS1v15(pub, sigHash, sum, value); lastErr == nil {
				return el, nil
			}
			lastErr = errors.New("signature not made by a trusted certificate")
		}
	}
	return nil, lastErr
}

// Hashes of the allowed signature and digest algorithms (SHA-256 and up).
var (
	sigHashes = map[string]crypto.Hash{
		AlgRSASHA256: crypto.SHA256,
		"http://www.w3.org/2001/04/xmldsig-more#rsa-sha384": crypto.SHA384,
		"http://www.w3.org/2001/04/xmldsig-more#rsa-sha512": crypto.SHA512,
	}
	digestHashes = map[string]crypto.Hash{
		AlgSHA256: crypto.SHA256,
		"http://www.w3.org/2001/04/xmldsig-more#sha384": crypto.SHA384,
		"http://www.w3.org/2001/04/xmlenc#sha512":       crypto.SHA512,
	}
)

// nsExcC14N is the namespace of InclusiveNamespaces.
const nsExcC14N = "http://www.w3.org/2001/10/xml-exc-c14n#"

// excC14NAlg reads a CanonicalizationMethod or Transform that must be
// exclusive C14N: whether with comments, and its InclusiveNamespaces
// PrefixList.
func excC14NAlg(m *etree.Element) (comments bool, prefixes string, err error) {
	switch a, _ := attr(m, "Algorithm"); a {
	case AlgExcC14N:
	case AlgExcC14NComments:
		comments = true
	default:
		return false, "", fmt.Errorf("canonicalization %q is not exclusive C14N", a)
	}
	for _, c := range m.ChildElements() {
		if c.Tag != "InclusiveNamespaces" || c.NamespaceURI() != nsExcC14N {
			return false, "", fmt.Errorf("unexpected <%s> in a canonicalization method", c.FullTag())
		}
		prefixes, _ = attr(c, "PrefixList")
	}
	return comments, prefixes, nil
}

// referenceTransforms checks that a Reference's transforms are the
// enveloped signature and exclusive C14N, once each, and returns the
// latter's settings.
func referenceTransforms(ref *etree.Element) (comments bool, prefixes string, err error) {
	ts := children(ref, NSDSig, "Transforms")
	if len(ts) != 1 {
		return false, "", errors.New("Reference needs one Transforms")
	}
	enveloped, c14n := 0, 0
	for _, t := range ts[0].ChildElements() {
		if t.Tag != "Transform" || t.NamespaceURI() != NSDSig {
			return false, "", fmt.Errorf("unexpected <%s> in Transforms", t.FullTag())
		}
		if a, _ := attr(t, "Algorithm"); a == AlgEnveloped {
			enveloped++
			continue
		}
		c14n++
		if comments, prefixes, err = excC14NAlg(t); err != nil {
			return false, "", err
		}
	}
	if enveloped != 1 || c14n != 1 {
		return false, "", errors.New("transforms must be the enveloped signature and exclusive C14N")
	}
	return comments, prefixes, nil
}

// decodeB64 decodes base64 text, ignoring the white space XML puts in it.
func decodeB64(s string) ([]byte, error) {
	return base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), ""))
}

var (
	errUnsigned = errors.New("element is not signed")
	errWeakAlg  = errors.New("signature or digest algorithm not allowed (SHA-1 is refused)")
)

func certB64(c *x509.Certificate) string { return base64.StdEncoding.EncodeToString(c.Raw) }

func newElement(tag string) *etree.Element { return etree.NewElement(tag) }
