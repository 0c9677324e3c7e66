package spid_test

import (
	"crypto/x509"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/ponte-pa/ponte/connectors/spid"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestMetadataGolden(t *testing.T) {
	cfg := testConfig(t, "https://comune.example.it")
	el, err := spid.MetadataElement(cfg, "_metadata0")
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	doc.SetRoot(el)
	doc.Indent(2)
	got, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile("testdata/metadata.golden.xml", got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile("testdata/metadata.golden.xml")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("metadata differs from golden (run with -update):\n%s", got)
	}
}

func sel(t *testing.T, root *etree.Element, path string) *etree.Element {
	t.Helper()
	e := root.FindElement(path)
	if e == nil {
		t.Fatalf("missing %s", path)
	}
	return e
}

// TestMetadataRules checks each metadata rule line on the signed document.
func TestMetadataRules(t *testing.T) {
	cfg := testConfig(t, "https://comune.example.it")
	b, err := spid.SignedMetadata(cfg, "_m1")
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(b); err != nil {
		t.Fatal(err)
	}
	root := doc.Root()
	// Signature: verified with goxmldsig against the SP certificate.
	vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{cfg.Cert}})
	if _, err := vc.Validate(root); err != nil {
		t.Fatalf("signature: %v", err)
	}
	sig := root.ChildElements()[0]
	if sig.Tag != "Signature" {
		t.Fatalf("Signature must be the first child, got %s", sig.Tag)
	}
	checks := map[string]string{
		"./Signature/SignedInfo/SignatureMethod[@Algorithm='http://www.w3.org/2001/04/xmldsig-more#rsa-sha256']": "rsa-sha256",
		"./Signature/SignedInfo/Reference/DigestMethod[@Algorithm='http://www.w3.org/2001/04/xmlenc#sha256']":    "sha256 digest",
		"./Signature/SignedInfo/CanonicalizationMethod[@Algorithm='http://www.w3.org/2001/10/xml-exc-c14n#']":    "exclusive c14n",
		"./Signature/KeyInfo/X509Data/X509Certificate":                                                           "cert in KeyInfo",
		"./SPSSODescriptor[@protocolSupportEnumeration='urn:oasis:names:tc:SAML:2.0:protocol']":                  "SAML 2.0",
		"./SPSSODescriptor[@AuthnRequestsSigned='true']":                                                         "AuthnRequestsSigned",
		"./SPSSODescriptor[@WantAssertionsSigned='true']":                                                        "WantAssertionsSigned",
		"./SPSSODescriptor/KeyDescriptor[@use='signing']":                                                        "signing key",
		"./SPSSODescriptor/SingleLogoutService[@Binding='urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST']":       "SLO POST",
		"./SPSSODescriptor/SingleLogoutService[@Location='https://comune.example.it/spid/slo']":                  "SLO location",
		"./SPSSODescriptor/AssertionConsumerService[@index='0'][@isDefault='true']":                              "ACS 0 default",
		"./SPSSODescriptor/AssertionConsumerService[@Binding='urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST']":  "ACS POST",
		"./SPSSODescriptor/AttributeConsumingService[@index='0']/ServiceName[@xml:lang='it']":                    "ServiceName it",
		"./SPSSODescriptor/AttributeConsumingService[@index='1']":                                                "second attribute set",
		"./Organization/OrganizationName[@xml:lang='it']":                                                        "OrganizationName it",
		"./Organization/OrganizationDisplayName[@xml:lang='it']":                                                 "DisplayName it",
		"./Organization/OrganizationURL[@xml:lang='it']":                                                         "URL it",
		"./Organization/OrganizationURL[@xml:lang='en']":                                                         "URL en",
		"./ContactPerson[@contactType='other']/Extensions/IPACode":                                               "IPACode",
		"./ContactPerson[@contactType='other']/Extensions/Public":                                                "Public",
		"./ContactPerson[@contactType='other']/EmailAddress":                                                     "EmailAddress",
	}
	for path, what := range checks {
		if root.FindElement(path) == nil {
			t.Errorf("%s: %s not found", what, path)
		}
	}
	if root.SelectAttrValue("entityID", "") != "https://comune.example.it/spid/metadata" || root.SelectAttrValue("ID", "") != "_m1" {
		t.Errorf("entityID/ID: %v", root.Attr)
	}
	if v := sel(t, root, "./SPSSODescriptor/NameIDFormat").Text(); v != spid.NameIDTransient {
		t.Errorf("NameIDFormat %s", v)
	}
	if v := sel(t, root, "./ContactPerson/Extensions/IPACode").Text(); v != "c_x000" {
		t.Errorf("IPACode %s", v)
	}
	if e := sel(t, root, "./ContactPerson/Extensions/IPACode"); e.NamespaceURI() != spid.NSSPID {
		t.Errorf("IPACode namespace %s", e.NamespaceURI())
	}
	for _, ra := range root.FindElements("./SPSSODescriptor/AttributeConsumingService/RequestedAttribute") {
		if !spid.IsSPIDAttribute(ra.SelectAttrValue("Name", "")) {
			t.Errorf("RequestedAttribute %s is not a SPID attribute", ra.SelectAttrValue("Name", ""))
		}
	}
	for _, tag := range []string{"OrganizationName", "OrganizationDisplayName", "OrganizationURL"} {
		if n := len(root.FindElements("./Organization/" + tag)); n != 2 {
			t.Errorf("%s in %d languages, want 2 (same in all three)", tag, n)
		}
	}
	// Tampering breaks the signature.
	sel(t, root, "./ContactPerson/EmailAddress").SetText("evil@example.org")
	if _, err := vc.Validate(root); err == nil {
		t.Error("tampered metadata still verifies")
	}
	// A fresh ID each time it is served.
	e := newEnv(t, spid.Options{})
	_, b1 := get(t, noFollow, e.spURL+"/spid/metadata")
	_, b2 := get(t, noFollow, e.spURL+"/spid/metadata")
	if b1 == b2 || !strings.Contains(b1, "EntityDescriptor") {
		t.Error("metadata ID is not fresh per request")
	}
}

func TestMetadataConfigRules(t *testing.T) {
	base := testConfig(t, "https://comune.example.it")
	for _, tc := range []struct {
		name string
		mod  func(c *spid.SPConfig)
		want string
	}{
		{"no-ipa", func(c *spid.SPConfig) { c.IPACode = "" }, "IPACode"},
		{"no-org-it", func(c *spid.SPConfig) { c.Org.Names.IT = "" }, "Italian"},
		{"languages-differ", func(c *spid.SPConfig) { c.Org.URLs.EN = "" }, "same languages"},
		{"no-email", func(c *spid.SPConfig) { c.ContactEmail = "" }, "ContactEmail"},
		{"bad-attribute", func(c *spid.SPConfig) { c.AttributeSets[0].Attributes = []string{"shoeSize"} }, "not a SPID attribute"},
		{"index-gap", func(c *spid.SPConfig) { c.AttributeSets[1].Index = 5 }, "numbered from 0"},
		{"acs-index", func(c *spid.SPConfig) { c.ACS = []spid.ACS{{Index: 1, Location: "https://x/acs"}} }, "ACS[0]"},
		{"private-no-vat", func(c *spid.SPConfig) { c.Private = true }, "VATNumber"},
		{"no-key", func(c *spid.SPConfig) { c.Key = nil }, "Key"},
	} {
		c := base
		c.AttributeSets = append([]spid.AttrSet(nil), base.AttributeSets...)
		tc.mod(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	if err := base.Validate(); err != nil {
		t.Fatal(err)
	}
	// A private SP carries spid:VATNumber, spid:Private and a billing contact.
	p := base
	p.Private, p.VATNumber = true, "12345678901"
	el, err := spid.MetadataElement(p, "_p")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"./ContactPerson/Extensions/VATNumber", "./ContactPerson/Extensions/Private", "./ContactPerson[@contactType='billing']"} {
		if el.FindElement(path) == nil {
			t.Errorf("private SP: %s missing", path)
		}
	}
}

func TestCIEMetadata(t *testing.T) {
	cfg := testConfig(t, "https://comune.example.it")
	cfg.AttributeSets = cfg.AttributeSets[:1]
	if _, err := spid.CIEMetadataElement(cfg, "_c"); err == nil || !strings.Contains(err.Error(), "Municipality") {
		t.Fatalf("no CIE info: %v", err)
	}
	cfg.CIE = &spid.CIEInfo{Municipality: "H501", Province: "RM"}
	b, err := spid.SignedCIEMetadata(cfg, "_c")
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(b); err != nil {
		t.Fatal(err)
	}
	root := doc.Root()
	vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{cfg.Cert}})
	if _, err := vc.Validate(root); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"./ContactPerson[@contactType='administrative']/Extensions/IPACode":      "c_x000",
		"./ContactPerson[@contactType='administrative']/Extensions/Municipality": "H501",
		"./ContactPerson[@contactType='administrative']/Extensions/Province":     "RM",
		"./ContactPerson[@contactType='administrative']/Extensions/Country":      "IT",
		"./ContactPerson[@contactType='administrative']/EmailAddress":            "protocollo@comune.example.it",
	} {
		e := root.FindElement(path)
		if e == nil || e.Text() != want || (strings.Contains(path, "Extensions") && e.NamespaceURI() != spid.NSCIE) {
			t.Errorf("%s: %v", path, e)
		}
	}
	if root.FindElement("./ContactPerson/Extensions/Public") == nil || root.FindElement("./SPSSODescriptor[@WantAssertionsSigned='true']") == nil {
		t.Error("cie:Public or SPSSODescriptor missing")
	}
	cfg.AttributeSets = []spid.AttrSet{{Index: 0, Name: "x", Attributes: []string{"email"}}}
	if _, err := spid.CIEMetadataElement(cfg, "_c"); err == nil || !strings.Contains(err.Error(), "not released by CIE") {
		t.Fatalf("non-CIE attribute: %v", err)
	}
}
