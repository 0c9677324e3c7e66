package spid_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/ponte-pa/ponte/connectors/spid"
)

func parsedMetadata(t *testing.T, cfg spid.SPConfig) *spid.SPMetadata {
	t.Helper()
	b, err := spid.SignedMetadata(cfg, "_m1")
	if err != nil {
		t.Fatal(err)
	}
	m, err := spid.ParseSPMetadata(b, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestMetadataRulesPass: our signed metadata, public and private, follows
// every rule (the billing one does not apply to a public SP).
func TestMetadataRulesPass(t *testing.T) {
	cfg := testConfig(t, "https://comune.example.it")
	m := parsedMetadata(t, cfg)
	for _, r := range spid.MetadataRules() {
		err := r.Check(m)
		if r.Name == "contact-billing" {
			if !errors.Is(err, spid.ErrNotApplicable) {
				t.Errorf("%s on a public SP: %v, want not applicable", r.Name, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", r.Name, err)
		}
	}
	if err := spid.CheckMetadata(m); err != nil {
		t.Error(err)
	}
	// The sample certificate is public-sector, so a private SP's metadata
	// passes everything but the certificate profile.
	p := cfg
	p.Private, p.VATNumber = true, "12345678901"
	pm := parsedMetadata(t, p)
	if err := spid.CheckMetadata(pm); err == nil || !strings.Contains(err.Error(), "certificate:") || strings.Contains(err.Error(), "contact") {
		t.Errorf("private SP: %v", err)
	}
}

// TestMetadataRulesFail breaks each rule once and expects that rule (by
// name) to fail with a readable reason.
func TestMetadataRulesFail(t *testing.T) {
	cfg := testConfig(t, "https://comune.example.it")
	rules := map[string]spid.MetadataRule{}
	for _, r := range spid.MetadataRules() {
		rules[r.Name] = r
	}
	del := func(path string) func(*etree.Element) {
		return func(root *etree.Element) {
			for _, e := range root.FindElements(path) {
				e.Parent().RemoveChild(e)
			}
		}
	}
	setAttr := func(path, key, v string) func(*etree.Element) {
		return func(root *etree.Element) { root.FindElement(path).CreateAttr(key, v) }
	}
	for _, tc := range []struct {
		rule, want string
		mod        func(root *etree.Element)
	}{
		{"entity-id", "not an HTTPS URL", setAttr(".", "entityID", "http://comune.example.it/spid/metadata")},
		{"entity-id", "starts with a digit", setAttr(".", "ID", "1abc")},
		{"signature", "0 ds:Signature", del("./Signature")},
		{"signature", "does not verify", func(r *etree.Element) { r.FindElement("./ContactPerson/EmailAddress").SetText("evil@example.org") }},
		{"signature-algorithms", "SignatureMethod", setAttr("./Signature/SignedInfo/SignatureMethod", "Algorithm", "http://www.w3.org/2000/09/xmldsig#rsa-sha1")},
		{"signature-algorithms", "DigestMethod", setAttr("./Signature/SignedInfo/Reference/DigestMethod", "Algorithm", "http://www.w3.org/2000/09/xmldsig#sha1")},
		{"sp-sso-descriptor", "WantAssertionsSigned", setAttr("./SPSSODescriptor", "WantAssertionsSigned", "false")},
		{"sp-sso-descriptor", "AuthnRequestsSigned", setAttr("./SPSSODescriptor", "AuthnRequestsSigned", "false")},
		{"key-descriptor", "no KeyDescriptor", del("./SPSSODescriptor/KeyDescriptor")},
		{"certificate", "no KeyDescriptor", del("./SPSSODescriptor/KeyDescriptor")},
		{"single-logout-service", "no SingleLogoutService", del("./SPSSODescriptor/SingleLogoutService")},
		{"nameid-format", "no NameIDFormat", del("./SPSSODescriptor/NameIDFormat")},
		{"assertion-consumer-service", "isDefault", func(r *etree.Element) {
			r.FindElement("./SPSSODescriptor/AssertionConsumerService").RemoveAttr("isDefault")
		}},
		{"assertion-consumer-service", "index 0 missing", setAttr("./SPSSODescriptor/AssertionConsumerService", "index", "1")},
		{"assertion-consumer-service", "want HTTP-POST", setAttr("./SPSSODescriptor/AssertionConsumerService", "Binding", spid.BindingRedirect)},
		{"attribute-consuming-service", "not a SPID attribute", setAttr("./SPSSODescriptor/AttributeConsumingService/RequestedAttribute", "Name", "shoeSize")},
		{"attribute-consuming-service", "ServiceName", setAttr("./SPSSODescriptor/AttributeConsumingService/ServiceName", "xml:lang", "en")},
		{"organization", "same languages", del("./Organization/OrganizationURL[@xml:lang='en']")},
		{"organization", "no Organization", del("./Organization")},
		{"contact-person", "IPACode", del("./ContactPerson/Extensions/IPACode")},
		{"contact-person", "neither", del("./ContactPerson/Extensions/Public")},
		{"contact-person", "EmailAddress", del("./ContactPerson/EmailAddress")},
	} {
		m := parsedMetadata(t, cfg)
		tc.mod(m.Root)
		m.SP = m.Root.SelectElement("SPSSODescriptor")
		err := rules[tc.rule].Check(m)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s broken (%s): %v", tc.rule, tc.want, err)
		}
	}
	// A private SP without a billing contact.
	p := cfg
	p.Private, p.VATNumber = true, "12345678901"
	m := parsedMetadata(t, p)
	del("./ContactPerson[@contactType='billing']")(m.Root)
	if err := rules["contact-billing"].Check(m); err == nil || errors.Is(err, spid.ErrNotApplicable) {
		t.Errorf("private SP without billing contact: %v", err)
	}
	// An expired certificate.
	m = parsedMetadata(t, cfg)
	m.Now = time.Now().AddDate(30, 0, 0)
	if err := rules["certificate"].Check(m); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("expired certificate: %v", err)
	}
	if _, err := spid.ParseSPMetadata([]byte(`<!DOCTYPE x [<!ENTITY a "b">]><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"/>`), time.Now()); err == nil {
		t.Error("metadata with a DTD parsed")
	}
}
