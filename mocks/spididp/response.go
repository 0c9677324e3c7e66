package spididp

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

// ResponseParams is what a Response is built from.
type ResponseParams struct {
	Request    RequestInfo
	ACS        string
	Audience   string
	User       User
	Attributes []string
	Defect     string
}

// field is one mutable spot of a Response for the "<field>:missing|empty|wrong" defects.
type field struct {
	path  []string // local names from the Response down
	attr  string   // "" = the element's text
	wrong func(p ResponseParams, now time.Time) string
}

func fixed(v string) func(ResponseParams, time.Time) string {
	return func(ResponseParams, time.Time) string { return v }
}

var fields = map[string]field{
	"response.ID":                {nil, "ID", nil},
	"response.Version":           {nil, "Version", fixed("1.1")},
	"response.IssueInstant":      {nil, "IssueInstant", fixed("2026-13-45 10:00:00")},
	"response.InResponseTo":      {nil, "InResponseTo", fixed("_not-a-request-of-yours")},
	"response.Destination":       {nil, "Destination", fixed("https://evil.example/acs")},
	"response.Issuer":            {[]string{"Issuer"}, "", fixed("https://evil.example/idp")},
	"response.Issuer.Format":     {[]string{"Issuer"}, "Format", fixed("urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified")},
	"response.Status":            {[]string{"Status", "StatusCode"}, "Value", fixed("urn:oasis:names:tc:SAML:2.0:status:Requester")},
	"assertion.ID":               {[]string{"Assertion"}, "ID", nil},
	"assertion.Version":          {[]string{"Assertion"}, "Version", fixed("1.1")},
	"assertion.IssueInstant":     {[]string{"Assertion"}, "IssueInstant", fixed("yesterday")},
	"assertion.Issuer":           {[]string{"Assertion", "Issuer"}, "", fixed("https://evil.example/idp")},
	"assertion.Issuer.Format":    {[]string{"Assertion", "Issuer"}, "Format", fixed("urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified")},
	"subject":                    {[]string{"Assertion", "Subject"}, "-", nil},
	"nameid":                     {[]string{"Assertion", "Subject", "NameID"}, "", nil},
	"nameid.Format":              {[]string{"Assertion", "Subject", "NameID"}, "Format", fixed("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent")},
	"nameid.NameQualifier":       {[]string{"Assertion", "Subject", "NameID"}, "NameQualifier", nil},
	"subjectconfirmation.Method": {[]string{"Assertion", "Subject", "SubjectConfirmation"}, "Method", fixed("urn:oasis:names:tc:SAML:2.0:cm:holder-of-key")},
	"scd.Recipient":              {[]string{"Assertion", "Subject", "SubjectConfirmation", "SubjectConfirmationData"}, "Recipient", fixed("https://evil.example/acs")},
	"scd.InResponseTo":           {[]string{"Assertion", "Subject", "SubjectConfirmation", "SubjectConfirmationData"}, "InResponseTo", fixed("_other-request")},
	"scd.NotOnOrAfter": {[]string{"Assertion", "Subject", "SubjectConfirmation", "SubjectConfirmationData"}, "NotOnOrAfter",
		func(_ ResponseParams, now time.Time) string { return samlTime(now.Add(-10 * time.Minute)) }},
	"conditions": {[]string{"Assertion", "Conditions"}, "-", nil},
	"conditions.NotBefore": {[]string{"Assertion", "Conditions"}, "NotBefore",
		func(_ ResponseParams, now time.Time) string { return samlTime(now.Add(10 * time.Minute)) }},
	"conditions.NotOnOrAfter": {[]string{"Assertion", "Conditions"}, "NotOnOrAfter",
		func(_ ResponseParams, now time.Time) string { return samlTime(now.Add(-10 * time.Minute)) }},
	"audience":       {[]string{"Assertion", "Conditions", "AudienceRestriction", "Audience"}, "", fixed("https://other-sp.example/metadata")},
	"authncontext":   {[]string{"Assertion", "AuthnStatement", "AuthnContext", "AuthnContextClassRef"}, "", fixed("https://www.spid.gov.it/SpidL9")},
	"attribute":      {[]string{"Assertion", "AttributeStatement", "Attribute"}, "-", nil},
	"attributevalue": {[]string{"Assertion", "AttributeStatement", "Attribute", "AttributeValue"}, "", nil},
}

// named defects, besides "<field>:missing|empty|wrong".
var namedDefects = []string{
	"unsigned-assertion", "unsigned", "no-response-signature", "wrong-key", "keyinfo-other-cert",
	"no-keyinfo", "tampered-assertion", "tampered-response", "xsw-sibling", "xsw-extensions",
	"xsw-in-signature", "two-assertions", "encrypted", "level-low", "extra-attribute",
	"nameid-comment", "sha1", "response-future", "expired",
	"nr19", "nr20", "nr21", "nr22", "nr23", "nr25",
}

// Defects lists every defect name the mock understands.
func Defects() []string {
	out := append([]string(nil), namedDefects...)
	for f, d := range fields {
		out = append(out, f+":missing", f+":empty")
		if d.wrong != nil {
			out = append(out, f+":wrong")
		}
	}
	sort.Strings(out)
	return out
}

// FieldDefects lists the "<field>:<kind>" defects, for table tests.
func FieldDefects() []string {
	var out []string
	for _, d := range Defects() {
		if strings.Contains(d, ":") {
			out = append(out, d)
		}
	}
	return out
}

func findPath(root *etree.Element, path []string) *etree.Element {
	el := root
	for _, t := range path {
		var next *etree.Element
		for _, c := range el.ChildElements() {
			if c.Tag == t {
				next = c
				break
			}
		}
		if next == nil {
			return nil
		}
		el = next
	}
	return el
}

func applyField(root *etree.Element, name string, p ResponseParams, now time.Time) error {
	fname, kind, _ := strings.Cut(name, ":")
	f, ok := fields[fname]
	if !ok {
		return fmt.Errorf("spididp: unknown defect %q", name)
	}
	el := findPath(root, f.path)
	if el == nil {
		return fmt.Errorf("spididp: defect %q: element not found", name)
	}
	switch {
	case f.attr == "-" && kind == "missing":
		el.Parent().RemoveChild(el)
	case f.attr == "-" && kind == "empty":
		for _, c := range el.ChildElements() {
			el.RemoveChild(c)
		}
	case f.attr == "" && kind == "missing":
		el.Parent().RemoveChild(el)
	case f.attr == "" && kind == "empty":
		el.SetText("")
	case f.attr == "" && kind == "wrong" && f.wrong != nil:
		el.SetText(f.wrong(p, now))
	case kind == "missing":
		el.RemoveAttr(f.attr)
	case kind == "empty":
		el.CreateAttr(f.attr, "")
	case kind == "wrong" && f.wrong != nil:
		el.CreateAttr(f.attr, f.wrong(p, now))
	default:
		return fmt.Errorf("spididp: defect %q not applicable", name)
	}
	return nil
}

var spidStatus = map[string][2]string{
	"nr19": {"urn:oasis:names:tc:SAML:2.0:status:AuthnFailed", "ErrorCode nr19"},
	"nr20": {"urn:oasis:names:tc:SAML:2.0:status:AuthnFailed", "ErrorCode nr20"},
	"nr21": {"urn:oasis:names:tc:SAML:2.0:status:AuthnFailed", "ErrorCode nr21"},
	"nr22": {"urn:oasis:names:tc:SAML:2.0:status:AuthnFailed", "ErrorCode nr22"},
	"nr23": {"urn:oasis:names:tc:SAML:2.0:status:AuthnFailed", "ErrorCode nr23"},
	"nr25": {"urn:oasis:names:tc:SAML:2.0:status:AuthnFailed", "ErrorCode nr25"},
}

// BuildResponse builds the signed Response for p (with p.Defect applied).
func (s *Server) BuildResponse(p ResponseParams) ([]byte, error) {
	now := s.now()
	level := p.Request.Level
	if level < 1 {
		level = 1
	}
	if p.User.MaxLevel > 0 && level > p.User.MaxLevel && p.Defect == "" {
		p.Defect = "nr20"
	}
	if p.Defect == "level-low" {
		level = p.Request.Level - 1
	}
	resp := etree.NewElement("samlp:Response")
	resp.CreateAttr("xmlns:samlp", nsSAMLP)
	resp.CreateAttr("xmlns:saml", nsSAML)
	resp.CreateAttr("ID", newID())
	resp.CreateAttr("Version", "2.0")
	ii := now
	if p.Defect == "response-future" {
		ii = now.Add(30 * time.Minute)
	}
	resp.CreateAttr("IssueInstant", samlTime(ii))
	resp.CreateAttr("InResponseTo", p.Request.ID)
	resp.CreateAttr("Destination", p.ACS)
	iss := resp.CreateElement("saml:Issuer")
	iss.CreateAttr("Format", fmtEntity)
	iss.SetText(s.EntityID())
	st := resp.CreateElement("samlp:Status")
	sc := st.CreateElement("samlp:StatusCode")
	if e, ok := spidStatus[p.Defect]; ok {
		sc.CreateAttr("Value", e[0])
		st.CreateElement("samlp:StatusMessage").SetText(e[1])
		return s.finish(resp, p)
	}
	sc.CreateAttr("Value", "urn:oasis:names:tc:SAML:2.0:status:Success")

	as := resp.CreateElement("saml:Assertion")
	as.CreateAttr("xmlns:saml", nsSAML)
	as.CreateAttr("ID", newID())
	as.CreateAttr("Version", "2.0")
	as.CreateAttr("IssueInstant", samlTime(now))
	ai := as.CreateElement("saml:Issuer")
	ai.CreateAttr("Format", fmtEntity)
	ai.SetText(s.EntityID())
	subj := as.CreateElement("saml:Subject")
	nid := subj.CreateElement("saml:NameID")
	nid.CreateAttr("Format", fmtTransient)
	nid.CreateAttr("NameQualifier", s.EntityID())
	nid.SetText(newID())
	scf := subj.CreateElement("saml:SubjectConfirmation")
	scf.CreateAttr("Method", "urn:oasis:names:tc:SAML:2.0:cm:bearer")
	scd := scf.CreateElement("saml:SubjectConfirmationData")
	scd.CreateAttr("Recipient", p.ACS)
	scd.CreateAttr("InResponseTo", p.Request.ID)
	until := now.Add(5 * time.Minute)
	if p.Defect == "expired" {
		until = now.Add(-10 * time.Minute)
	}
	scd.CreateAttr("NotOnOrAfter", samlTime(until))
	cond := as.CreateElement("saml:Conditions")
	cond.CreateAttr("NotBefore", samlTime(now.Add(-time.Minute)))
	cond.CreateAttr("NotOnOrAfter", samlTime(until))
	cond.CreateElement("saml:AudienceRestriction").CreateElement("saml:Audience").SetText(p.Audience)
	an := as.CreateElement("saml:AuthnStatement")
	an.CreateAttr("AuthnInstant", samlTime(now))
	an.CreateAttr("SessionIndex", newID())
	an.CreateElement("saml:AuthnContext").CreateElement("saml:AuthnContextClassRef").SetText(levelPrefix + strconv.Itoa(level))
	stmt := as.CreateElement("saml:AttributeStatement")
	names := append([]string(nil), p.Attributes...)
	if p.Defect == "extra-attribute" {
		names = append(names, "email")
		if contains(p.Attributes, "email") {
			names = append(names, "mobilePhone")
		}
	}
	for _, n := range names {
		a := stmt.CreateElement("saml:Attribute")
		a.CreateAttr("Name", n)
		a.CreateAttr("NameFormat", "urn:oasis:names:tc:SAML:2.0:attrname-format:basic")
		v := p.User.Attrs[n]
		if v == "" {
			v = "-"
		}
		a.CreateElement("saml:AttributeValue").SetText(v)
	}
	if p.Defect == "nameid-comment" {
		splitWithComment(nid)
		for _, a := range stmt.ChildElements() {
			if a.SelectAttrValue("Name", "") == "fiscalNumber" {
				splitWithComment(a.SelectElement("AttributeValue"))
			}
		}
	}
	if strings.Contains(p.Defect, ":") {
		if err := applyField(resp, p.Defect, p, now); err != nil {
			return nil, err
		}
	}
	return s.finish(resp, p)
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// splitWithComment turns "ABCDEF" into "ABC<!--x-->DEF".
func splitWithComment(el *etree.Element) {
	if el == nil {
		return
	}
	t := el.Text()
	half := len(t) / 2
	el.SetText(t[:half])
	el.CreateComment("x")
	el.CreateText(t[half:])
}

// finish signs the assertion and the response according to the defect.
func (s *Server) finish(resp *etree.Element, p ResponseParams) ([]byte, error) {
	key, cert := s.key, s.cert
	if p.Defect == "wrong-key" {
		k, c, err := selfSigned("Impostor IdP")
		if err != nil {
			return nil, err
		}
		key, cert = k, c
	}
	sha1 := p.Defect == "sha1"
	idx := -1
	for i, c := range resp.Child {
		if e, ok := c.(*etree.Element); ok && e.Tag == "Assertion" {
			idx = i
		}
	}
	if idx >= 0 && p.Defect != "unsigned-assertion" && p.Defect != "unsigned" {
		as := resp.Child[idx].(*etree.Element)
		signed, err := sign(as, key, cert, sha1)
		if err != nil {
			return nil, err
		}
		switch p.Defect {
		case "keyinfo-other-cert":
			_, other, err := selfSigned("Other")
			if err != nil {
				return nil, err
			}
			signed.FindElement("./Signature/KeyInfo/X509Data/X509Certificate").SetText(base64.StdEncoding.EncodeToString(other.Raw))
		case "no-keyinfo":
			sig := signed.SelectElement("Signature")
			sig.RemoveChild(sig.SelectElement("KeyInfo"))
		}
		resp.RemoveChildAt(idx)
		resp.InsertChildAt(idx, signed)
	}
	wrapping := strings.HasPrefix(p.Defect, "xsw-") || p.Defect == "two-assertions" || p.Defect == "tampered-assertion" || p.Defect == "encrypted"
	if idx >= 0 && wrapping {
		var as *etree.Element
		for _, c := range resp.ChildElements() {
			if c.Tag == "Assertion" {
				as = c
			}
		}
		evil := as.Copy()
		// The attacker's change: another fiscal number, or (for an SP that
		// requests no attributes) another NameID.
		if v := findFiscal(evil); v != nil {
			v.SetText("TINIT-EVLVLE80A01H501X")
		} else if n := evil.FindElement("./Subject/NameID"); n != nil {
			n.SetText("_evil" + n.Text())
		}
		switch p.Defect {
		case "tampered-assertion":
			resp.RemoveChild(as)
			resp.AddChild(evil)
		case "two-assertions":
			resp.AddChild(as.Copy())
		case "encrypted":
			resp.RemoveChild(as)
			resp.CreateElement("saml:EncryptedAssertion").CreateElement("xenc:EncryptedData").CreateAttr("xmlns:xenc", "http://www.w3.org/2001/04/xmlenc#")
		case "xsw-sibling":
			evil.RemoveChild(evil.SelectElement("Signature"))
			evil.CreateAttr("ID", "_evil")
			resp.InsertChildAt(idx, evil)
		case "xsw-extensions":
			resp.RemoveChild(as)
			ext := etree.NewElement("samlp:Extensions")
			ext.AddChild(as)
			resp.InsertChildAt(1, ext)
			evil.RemoveChild(evil.SelectElement("Signature"))
			resp.AddChild(evil)
		case "xsw-in-signature":
			resp.RemoveChild(as)
			sig := evil.SelectElement("Signature")
			sig.CreateElement("ds:Object").AddChild(as)
			resp.AddChild(evil)
		}
	}
	if p.Defect != "unsigned" && p.Defect != "no-response-signature" && !wrapping {
		signed, err := sign(resp, key, cert, sha1)
		if err != nil {
			return nil, err
		}
		resp = signed
	}
	if p.Defect == "tampered-response" {
		resp.CreateAttr("Destination", resp.SelectAttrValue("Destination", "")+"?x")
	}
	doc := etree.NewDocument()
	doc.SetRoot(resp)
	return doc.WriteToBytes()
}

func findFiscal(as *etree.Element) *etree.Element {
	for _, a := range as.FindElements("./AttributeStatement/Attribute") {
		if a.SelectAttrValue("Name", "") == "fiscalNumber" {
			return a.SelectElement("AttributeValue")
		}
	}
	return nil
}

// sign returns el with an enveloped signature placed after its Issuer.
func sign(el *etree.Element, key *rsa.PrivateKey, cert *x509.Certificate, sha1 bool) (*etree.Element, error) {
	ctx, err := dsig.NewSigningContext(key, [][]byte{cert.Raw})
	if err != nil {
		return nil, err
	}
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	if sha1 {
		ctx.Hash = crypto.SHA1
		_ = ctx.SetSignatureMethod(dsig.RSASHA1SignatureMethod)
	} else if err := ctx.SetSignatureMethod(dsig.RSASHA256SignatureMethod); err != nil {
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
