package spid

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"
)

// SPMetadata is a Service Provider's metadata as read from outside (any SP,
// not only ours), for the rules of MetadataRules.
type SPMetadata struct {
	// Root is the EntityDescriptor.
	Root *etree.Element
	// SP is its SPSSODescriptor (nil when missing).
	SP *etree.Element
	// Now is the time the certificate's validity is judged at.
	Now time.Time
}

// ErrNotApplicable is returned by a rule that does not apply to this SP (for
// example the billing contact of a public SP).
var ErrNotApplicable = errors.New("rule not applicable to this SP")

// ParseSPMetadata reads an SP's EntityDescriptor, refusing DTDs.
func ParseSPMetadata(b []byte, now time.Time) (*SPMetadata, error) {
	doc, err := parseStrict(b)
	if err != nil {
		return nil, fmt.Errorf("spid: SP metadata: %w", err)
	}
	root := doc.Root()
	if root.Tag != "EntityDescriptor" || root.NamespaceURI() != NSMetadata {
		return nil, fmt.Errorf("spid: SP metadata: root is %s, want md:EntityDescriptor", root.FullTag())
	}
	return &SPMetadata{Root: root, SP: child(root, NSMetadata, "SPSSODescriptor"), Now: now}, nil
}

// EntityID is the metadata's entityID.
func (m *SPMetadata) EntityID() string { v, _ := attr(m.Root, "entityID"); return v }

// SigningCert is the certificate of the first signing KeyDescriptor.
func (m *SPMetadata) SigningCert() (*x509.Certificate, error) {
	for _, kd := range children(m.SP, NSMetadata, "KeyDescriptor") {
		if use, ok := attr(kd, "use"); ok && use != "signing" {
			continue
		}
		xc := kd.FindElement("./KeyInfo/X509Data/X509Certificate")
		if xc == nil {
			return nil, errors.New("signing KeyDescriptor without KeyInfo/X509Data/X509Certificate")
		}
		return parseB64Cert(xc.Text())
	}
	return nil, errors.New(`no KeyDescriptor use="signing"`)
}

func parseB64Cert(s string) (*x509.Certificate, error) {
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		return nil, fmt.Errorf("X509Certificate is not base64: %w", err)
	}
	return x509.ParseCertificate(der)
}

// ACSByIndex returns the AssertionConsumerService locations and bindings by index.
func (m *SPMetadata) ACSByIndex() map[int][2]string {
	out := map[int][2]string{}
	for _, a := range children(m.SP, NSMetadata, "AssertionConsumerService") {
		i, err := strconv.Atoi(a.SelectAttrValue("index", ""))
		if err != nil {
			continue
		}
		out[i] = [2]string{a.SelectAttrValue("Location", ""), a.SelectAttrValue("Binding", "")}
	}
	return out
}

// AttributeSets returns the RequestedAttribute names of each
// AttributeConsumingService, by index.
func (m *SPMetadata) AttributeSets() map[int][]string {
	out := map[int][]string{}
	for _, s := range children(m.SP, NSMetadata, "AttributeConsumingService") {
		i, err := strconv.Atoi(s.SelectAttrValue("index", ""))
		if err != nil {
			continue
		}
		out[i] = []string{}
		for _, ra := range children(s, NSMetadata, "RequestedAttribute") {
			out[i] = append(out[i], ra.SelectAttrValue("Name", ""))
		}
	}
	return out
}

// Private reports whether the metadata declares a private SP (spid:Private).
func (m *SPMetadata) Private() bool {
	for _, cp := range children(m.Root, NSMetadata, "ContactPerson") {
		if child(child(cp, NSMetadata, "Extensions"), NSSPID, "Private") != nil {
			return true
		}
	}
	return false
}

// MetadataRule is one rule of spid-sp-rules.md §1 that an SP's metadata
// shows. Check returns nil when the metadata follows it, ErrNotApplicable
// (wrapped) when it does not apply, else what is wrong.
type MetadataRule struct {
	Name  string // e.g. "signature"
	Rule  string // the rule and where it is written
	Check func(m *SPMetadata) error
}

// MetadataRules lists every metadata rule, in the order of spid-sp-rules.md
// §1. The conformance suite and the onboarding checks run the same list.
func MetadataRules() []MetadataRule {
	return []MetadataRule{
		{"entity-id", "spid-sp-rules.md §1: EntityDescriptor with entityID = the SP's HTTPS URL (plain http only on a loopback host, for test setups) and an ID not starting with a digit", checkEntityID},
		{"signature", "spid-sp-rules.md §1: metadata signed with an enveloped XML signature over the whole EntityDescriptor, verifying with the certificate in KeyInfo/X509Data, which is the SP's signing certificate", checkMDSignature},
		{"signature-algorithms", "spid-sp-rules.md §1: metadata signature rsa-sha256 (or stronger), digest sha256, exclusive C14N; no SHA-1", checkMDSignatureAlgs},
		{"sp-sso-descriptor", `spid-sp-rules.md §1: SPSSODescriptor with protocolSupportEnumeration SAML 2.0, AuthnRequestsSigned="true", WantAssertionsSigned="true"`, checkSPSSO},
		{"key-descriptor", `spid-sp-rules.md §1: KeyDescriptor use="signing" carrying an X.509 certificate with an RSA key of at least 2048 bits`, checkKeyDescriptor},
		{"certificate", "spid-sp-rules.md §1 (AgID SP certificate profile): subject CN, O, organizationIdentifier (PA:IT-<IPA code> for a public SP), C=IT, L; keyUsage digitalSignature+nonRepudiation; SHA-256; RSA ≥ 2048; AgID policies 1.3.76.16.6 and public/private SP; valid now", checkMDCert},
		{"single-logout-service", "spid-sp-rules.md §1: SingleLogoutService with binding HTTP-POST and/or HTTP-Redirect and a Location", checkSLO},
		{"nameid-format", "spid-sp-rules.md §1: NameIDFormat transient", checkNameIDFormat},
		{"assertion-consumer-service", `spid-sp-rules.md §1: AssertionConsumerService indexes from 0 without gaps, index 0 isDefault="true", binding HTTP-POST, a Location`, checkACS},
		{"attribute-consuming-service", `spid-sp-rules.md §1: AttributeConsumingService indexes from 0, each with ServiceName xml:lang="it" and RequestedAttribute names from the SPID attribute list`, checkAttrCS},
		{"organization", `spid-sp-rules.md §1: Organization with OrganizationName, OrganizationDisplayName, OrganizationURL, each at least in xml:lang="it", the same languages in all three`, checkOrganization},
		{"contact-person", `spid-sp-rules.md §1: ContactPerson contactType="other" with spid: Extensions (public: spid:IPACode and empty spid:Public; private: spid:VATNumber and/or spid:FiscalCode and spid:Private) and an EmailAddress`, checkContactOther},
		{"contact-billing", `spid-sp-rules.md §1: a private SP has a ContactPerson contactType="billing"`, checkContactBilling},
	}
}

// CheckMetadata runs every rule and joins the failures (nil when conformant).
func CheckMetadata(m *SPMetadata) error {
	var errs []error
	for _, r := range MetadataRules() {
		if err := r.Check(m); err != nil && !errors.Is(err, ErrNotApplicable) {
			errs = append(errs, fmt.Errorf("%s: %w", r.Name, err))
		}
	}
	return errors.Join(errs...)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func checkEntityID(m *SPMetadata) error {
	id := m.EntityID()
	u, err := url.Parse(id)
	if id == "" || err != nil || u.Host == "" {
		return fmt.Errorf("entityID %q is not an absolute URL", id)
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())) {
		return fmt.Errorf("entityID %q is not an HTTPS URL", id)
	}
	return checkSAMLID(m.Root)
}

// checkSAMLID wants a non-empty ID attribute not starting with a digit.
func checkSAMLID(el *etree.Element) error {
	v, ok := attr(el, "ID")
	switch {
	case !ok || v == "":
		return fmt.Errorf("%s has no ID", el.Tag)
	case v[0] >= '0' && v[0] <= '9':
		return fmt.Errorf("%s ID %q starts with a digit (not an xs:ID)", el.Tag, v)
	}
	return nil
}

func mdSignature(m *SPMetadata) (*etree.Element, error) {
	sigs := children(m.Root, NSDSig, "Signature")
	if len(sigs) != 1 {
		return nil, fmt.Errorf("EntityDescriptor has %d ds:Signature children, want 1", len(sigs))
	}
	return sigs[0], nil
}

func checkMDSignature(m *SPMetadata) error {
	sig, err := mdSignature(m)
	if err != nil {
		return err
	}
	xc := sig.FindElement("./KeyInfo/X509Data/X509Certificate")
	if xc == nil {
		return errors.New("signature without KeyInfo/X509Data/X509Certificate")
	}
	kiCert, err := parseB64Cert(xc.Text())
	if err != nil {
		return fmt.Errorf("signature KeyInfo certificate: %w", err)
	}
	if sc, err := m.SigningCert(); err == nil && !sc.Equal(kiCert) {
		return errors.New("the certificate in the signature's KeyInfo is not the SP's signing certificate")
	}
	if _, err := verifySigned(m.Root, []*x509.Certificate{kiCert}); err != nil {
		return fmt.Errorf("signature does not verify: %w", err)
	}
	return nil
}

func checkMDSignatureAlgs(m *SPMetadata) error {
	sig, err := mdSignature(m)
	if err != nil {
		return err
	}
	return SignatureAlgorithms(sig)
}

// SignatureAlgorithms checks the algorithms of an XML signature: RSA with
// SHA-256 or stronger, SHA-256 (or stronger) digests, exclusive C14N.
func SignatureAlgorithms(sig *etree.Element) error {
	si := child(sig, NSDSig, "SignedInfo")
	var p []string
	cm, _ := attr(child(si, NSDSig, "CanonicalizationMethod"), "Algorithm")
	if cm != AlgExcC14N && cm != AlgExcC14N+"WithComments" {
		p = append(p, fmt.Sprintf("CanonicalizationMethod %q, want exclusive C14N", cm))
	}
	sm, _ := attr(child(si, NSDSig, "SignatureMethod"), "Algorithm")
	if !strongSigAlg(sm) {
		p = append(p, fmt.Sprintf("SignatureMethod %q, want rsa-sha256 (or rsa-sha384/512)", sm))
	}
	refs := children(si, NSDSig, "Reference")
	if len(refs) == 0 {
		p = append(p, "no Reference")
	}
	for _, r := range refs {
		dm, _ := attr(child(r, NSDSig, "DigestMethod"), "Algorithm")
		if !strongDigest(dm) {
			p = append(p, fmt.Sprintf("DigestMethod %q, want sha256 (or sha384/512)", dm))
		}
	}
	if len(p) > 0 {
		return errors.New(strings.Join(p, "; "))
	}
	return nil
}

func strongSigAlg(a string) bool {
	return a == AlgRSASHA256 || a == "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384" || a == "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
}

func strongDigest(a string) bool {
	return a == AlgSHA256 || a == "http://www.w3.org/2001/04/xmlenc#sha512" || a == "http://www.w3.org/2001/04/xmldsig-more#sha384"
}

func rsaBits(c *x509.Certificate) int {
	if k, ok := c.PublicKey.(*rsa.PublicKey); ok {
		return k.N.BitLen()
	}
	return 0
}

// StrongSignatureAlgorithm reports whether a (an XML-DSig SignatureMethod or
// an HTTP-Redirect SigAlg) is RSA with SHA-256 or stronger.
func StrongSignatureAlgorithm(a string) bool { return strongSigAlg(a) }

func needSP(m *SPMetadata) error {
	if m.SP == nil {
		return errors.New("no SPSSODescriptor")
	}
	return nil
}

func checkSPSSO(m *SPMetadata) error {
	if err := needSP(m); err != nil {
		return err
	}
	var p []string
	if pse, _ := attr(m.SP, "protocolSupportEnumeration"); !contains(strings.Fields(pse), NSProtocol) {
		p = append(p, fmt.Sprintf("protocolSupportEnumeration %q lacks %s", pse, NSProtocol))
	}
	for _, a := range []string{"AuthnRequestsSigned", "WantAssertionsSigned"} {
		if v, ok := attr(m.SP, a); !ok || v != "true" {
			p = append(p, fmt.Sprintf("%s is %q, want \"true\"", a, v))
		}
	}
	if len(p) > 0 {
		return errors.New(strings.Join(p, "; "))
	}
	return nil
}

func checkKeyDescriptor(m *SPMetadata) error {
	if err := needSP(m); err != nil {
		return err
	}
	c, err := m.SigningCert()
	if err != nil {
		return err
	}
	if bits := rsaBits(c); bits < 2048 {
		return fmt.Errorf("signing key is not RSA ≥ 2048 bits (%d)", bits)
	}
	return nil
}

func checkMDCert(m *SPMetadata) error {
	if err := needSP(m); err != nil {
		return err
	}
	c, err := m.SigningCert()
	if err != nil {
		return err
	}
	if err := CheckCert(c, m.Now); err != nil {
		return err
	}
	// The certificate must describe the SP the metadata declares.
	if m.Private() == hasPolicy(c, OIDSPIDPublicSP) {
		return fmt.Errorf("certificate policies say public=%v but the metadata declares a %s SP", !m.Private(), map[bool]string{true: "private", false: "public"}[m.Private()])
	}
	if ipa := m.IPACode(); ipa != "" {
		if id := orgIdentifier(c); id != "PA:IT-"+ipa {
			return fmt.Errorf("certificate organizationIdentifier %q, want PA:IT-%s (the spid:IPACode of the metadata)", id, ipa)
		}
	}
	return nil
}

// IPACode is the spid:IPACode of the "other" contact ("" when none).
func (m *SPMetadata) IPACode() string {
	for _, cp := range contacts(m, "other") {
		if v := textOf(child(child(cp, NSMetadata, "Extensions"), NSSPID, "IPACode")); v != "" {
			return v
		}
	}
	return ""
}

func checkSLO(m *SPMetadata) error {
	if err := needSP(m); err != nil {
		return err
	}
	slos := children(m.SP, NSMetadata, "SingleLogoutService")
	if len(slos) == 0 {
		return errors.New("no SingleLogoutService")
	}
	for _, s := range slos {
		b, _ := attr(s, "Binding")
		loc, _ := attr(s, "Location")
		if b != BindingPOST && b != BindingRedirect {
			return fmt.Errorf("SingleLogoutService binding %q, want HTTP-POST or HTTP-Redirect", b)
		}
		if u, err := url.Parse(loc); loc == "" || err != nil || !u.IsAbs() {
			return fmt.Errorf("SingleLogoutService Location %q is not an absolute URL", loc)
		}
	}
	return nil
}

func checkNameIDFormat(m *SPMetadata) error {
	if err := needSP(m); err != nil {
		return err
	}
	for _, f := range children(m.SP, NSMetadata, "NameIDFormat") {
		if textOf(f) == NameIDTransient {
			return nil
		}
	}
	return fmt.Errorf("no NameIDFormat %s", NameIDTransient)
}

func checkACS(m *SPMetadata) error {
	if err := needSP(m); err != nil {
		return err
	}
	acs := children(m.SP, NSMetadata, "AssertionConsumerService")
	if len(acs) == 0 {
		return errors.New("no AssertionConsumerService")
	}
	seen := map[int]bool{}
	for _, a := range acs {
		idx, _ := attr(a, "index")
		i, err := strconv.Atoi(idx)
		if err != nil || i < 0 {
			return fmt.Errorf("AssertionConsumerService index %q is not a number", idx)
		}
		seen[i] = true
		if b, _ := attr(a, "Binding"); b != BindingPOST {
			return fmt.Errorf("AssertionConsumerService %d binding %q, want HTTP-POST", i, b)
		}
		if loc, _ := attr(a, "Location"); loc == "" {
			return fmt.Errorf("AssertionConsumerService %d has no Location", i)
		}
		if def, _ := attr(a, "isDefault"); i == 0 && def != "true" {
			return fmt.Errorf(`AssertionConsumerService index 0 has isDefault=%q, want "true"`, def)
		}
	}
	for i := range len(acs) {
		if !seen[i] {
			return fmt.Errorf("AssertionConsumerService indexes do not run from 0: index %d missing", i)
		}
	}
	return nil
}

func checkAttrCS(m *SPMetadata) error {
	if err := needSP(m); err != nil {
		return err
	}
	sets := children(m.SP, NSMetadata, "AttributeConsumingService")
	if len(sets) == 0 {
		return errors.New("no AttributeConsumingService")
	}
	seen := map[int]bool{}
	for _, s := range sets {
		idx, _ := attr(s, "index")
		i, err := strconv.Atoi(idx)
		if err != nil || i < 0 {
			return fmt.Errorf("AttributeConsumingService index %q is not a number", idx)
		}
		seen[i] = true
		it := false
		for _, sn := range children(s, NSMetadata, "ServiceName") {
			if sn.SelectAttrValue("xml:lang", "") == "it" && textOf(sn) != "" {
				it = true
			}
		}
		if !it {
			return fmt.Errorf(`AttributeConsumingService %d has no ServiceName xml:lang="it"`, i)
		}
		ras := children(s, NSMetadata, "RequestedAttribute")
		if len(ras) == 0 {
			return fmt.Errorf("AttributeConsumingService %d requests no attribute", i)
		}
		for _, ra := range ras {
			if n, _ := attr(ra, "Name"); !IsSPIDAttribute(n) {
				return fmt.Errorf("AttributeConsumingService %d: %q is not a SPID attribute", i, n)
			}
		}
	}
	for i := range len(sets) {
		if !seen[i] {
			return fmt.Errorf("AttributeConsumingService indexes do not run from 0: index %d missing", i)
		}
	}
	return nil
}

func checkOrganization(m *SPMetadata) error {
	org := child(m.Root, NSMetadata, "Organization")
	if org == nil {
		return errors.New("no Organization")
	}
	var langs []string
	for _, tag := range []string{"OrganizationName", "OrganizationDisplayName", "OrganizationURL"} {
		var ls []string
		for _, e := range children(org, NSMetadata, tag) {
			if textOf(e) == "" {
				return fmt.Errorf("%s is empty", tag)
			}
			ls = append(ls, e.SelectAttrValue("xml:lang", ""))
		}
		ls = sortStrings(ls)
		if !contains(ls, "it") {
			return fmt.Errorf(`no %s xml:lang="it"`, tag)
		}
		if langs == nil {
			langs = ls
		} else if strings.Join(ls, ",") != strings.Join(langs, ",") {
			return fmt.Errorf("%s is in languages %v, OrganizationName in %v: the same languages are required in all three", tag, ls, langs)
		}
	}
	return nil
}

func contacts(m *SPMetadata, typ string) []*etree.Element {
	var out []*etree.Element
	for _, cp := range children(m.Root, NSMetadata, "ContactPerson") {
		if t, _ := attr(cp, "contactType"); t == typ {
			out = append(out, cp)
		}
	}
	return out
}

func checkContactOther(m *SPMetadata) error {
	cps := contacts(m, "other")
	if len(cps) == 0 {
		return errors.New(`no ContactPerson contactType="other"`)
	}
	cp := cps[0]
	ext := child(cp, NSMetadata, "Extensions")
	if ext == nil {
		return errors.New(`ContactPerson "other" has no Extensions`)
	}
	ipa, pub, priv := child(ext, NSSPID, "IPACode"), child(ext, NSSPID, "Public"), child(ext, NSSPID, "Private")
	vat, cf := child(ext, NSSPID, "VATNumber"), child(ext, NSSPID, "FiscalCode")
	switch {
	case pub != nil && priv != nil:
		return errors.New("both spid:Public and spid:Private")
	case pub != nil:
		if textOf(ipa) == "" {
			return errors.New("public SP without a spid:IPACode")
		}
		if textOf(pub) != "" || len(pub.ChildElements()) > 0 {
			return errors.New("spid:Public must be empty")
		}
	case priv != nil:
		if textOf(vat) == "" && textOf(cf) == "" {
			return errors.New("private SP without spid:VATNumber or spid:FiscalCode")
		}
	default:
		return errors.New("neither spid:Public nor spid:Private in the spid: namespace (" + NSSPID + ")")
	}
	if textOf(child(cp, NSMetadata, "EmailAddress")) == "" {
		return errors.New(`ContactPerson "other" has no EmailAddress`)
	}
	return nil
}

func checkContactBilling(m *SPMetadata) error {
	if !m.Private() {
		return fmt.Errorf("%w: only a private SP (spid:Private) needs a billing contact", ErrNotApplicable)
	}
	if len(contacts(m, "billing")) == 0 {
		return errors.New(`private SP without ContactPerson contactType="billing"`)
	}
	return nil
}
