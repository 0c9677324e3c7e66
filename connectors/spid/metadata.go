package spid

import (
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/beevik/etree"
)

// SPIDAttributes is the list of attribute names an SPID IdP can release.
var SPIDAttributes = []string{
	"spidCode", "name", "familyName", "placeOfBirth", "countyOfBirth", "dateOfBirth",
	"gender", "companyName", "registeredOffice", "fiscalNumber", "ivaCode", "idCard",
	"mobilePhone", "email", "address", "expirationDate", "digitalAddress",
	"domicileStreetAddress", "domicilePostalCode", "domicileMunicipality",
	"domicileProvince", "domicileNation", "companyFiscalNumber",
}

// IsSPIDAttribute reports whether name is in the SPID attribute list.
func IsSPIDAttribute(name string) bool {
	for _, a := range SPIDAttributes {
		if a == name {
			return true
		}
	}
	return false
}

// Localized is a text in Italian (required) and English (optional).
type Localized struct {
	IT string `yaml:"it" json:"it"`
	EN string `yaml:"en" json:"en"`
}

// Org is the Organization element of the metadata.
type Org struct {
	Names        Localized `yaml:"names" json:"names"`
	DisplayNames Localized `yaml:"displayNames" json:"displayNames"`
	URLs         Localized `yaml:"urls" json:"urls"`
}

// AttrSet is one AttributeConsumingService: the attributes requested for a
// service, selected in the AuthnRequest by Index.
type AttrSet struct {
	Index      int      `yaml:"index" json:"index"`
	Name       string   `yaml:"name" json:"name"`
	Attributes []string `yaml:"attributes" json:"attributes"`
}

// ACS is one AssertionConsumerService endpoint (HTTP-POST binding).
type ACS struct {
	Index    int    `yaml:"index" json:"index"`
	Location string `yaml:"location" json:"location"`
}

// SPConfig configures the Service Provider. BaseURL is the public HTTPS root
// under which /spid/... is served; EntityID defaults to BaseURL + "/spid/metadata".
type SPConfig struct {
	EntityID string
	BaseURL  string
	Key      *rsa.PrivateKey
	Cert     *x509.Certificate
	Org      Org
	IPACode  string
	// Private marks a private SP: VATNumber/FiscalCode replace IPACode.
	Private      bool
	VATNumber    string
	FiscalCode   string
	ContactEmail string
	ContactPhone string
	// CIE, when set, describes the ente for CIE metadata (CIEMetadataElement).
	CIE *CIEInfo
	// AttributeSets default to one set (index 0) with name, familyName, fiscalNumber.
	AttributeSets []AttrSet
	// ACS defaults to one endpoint, index 0, at BaseURL + "/spid/acs".
	ACS []ACS
}

func (c *SPConfig) withDefaults() SPConfig {
	out := *c
	out.BaseURL = strings.TrimRight(out.BaseURL, "/")
	if out.EntityID == "" {
		out.EntityID = out.BaseURL + "/spid/metadata"
	}
	if len(out.AttributeSets) == 0 {
		out.AttributeSets = []AttrSet{{Index: 0, Name: "Servizi online", Attributes: []string{"name", "familyName", "fiscalNumber"}}}
	}
	if len(out.ACS) == 0 {
		out.ACS = []ACS{{Index: 0, Location: out.BaseURL + "/spid/acs"}}
	}
	return out
}

// Validate checks the configuration against the metadata rules.
func (c *SPConfig) Validate() error {
	d := c.withDefaults()
	var p []string
	if u, err := url.Parse(d.BaseURL); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		p = append(p, "BaseURL must be an absolute URL")
	}
	if d.Key == nil || d.Cert == nil {
		p = append(p, "Key and Cert are required")
	} else if d.Key.N.BitLen() < 2048 {
		p = append(p, "Key must have at least 2048 bits")
	}
	if d.Org.Names.IT == "" || d.Org.DisplayNames.IT == "" || d.Org.URLs.IT == "" {
		p = append(p, "Org names, display names and URLs are required in Italian")
	}
	en := []bool{d.Org.Names.EN != "", d.Org.DisplayNames.EN != "", d.Org.URLs.EN != ""}
	if en[0] != en[1] || en[1] != en[2] {
		p = append(p, "Org English texts must be all present or all absent (same languages in all three)")
	}
	if !d.Private && d.IPACode == "" {
		p = append(p, "IPACode is required for a public SP")
	}
	if d.Private && d.VATNumber == "" && d.FiscalCode == "" {
		p = append(p, "VATNumber or FiscalCode is required for a private SP")
	}
	if d.ContactEmail == "" {
		p = append(p, "ContactEmail is required")
	}
	for i, s := range d.AttributeSets {
		if s.Index != i {
			p = append(p, fmt.Sprintf("AttributeSets[%d].Index must be %d (numbered from 0)", i, i))
		}
		if s.Name == "" || len(s.Attributes) == 0 {
			p = append(p, fmt.Sprintf("AttributeSets[%d] needs a name and attributes", i))
		}
		for _, a := range s.Attributes {
			if !IsSPIDAttribute(a) {
				p = append(p, fmt.Sprintf("AttributeSets[%d]: %q is not a SPID attribute", i, a))
			}
		}
	}
	for i, a := range d.ACS {
		if a.Index != i || a.Location == "" {
			p = append(p, fmt.Sprintf("ACS[%d] must have index %d and a location", i, i))
		}
	}
	if len(p) > 0 {
		return fmt.Errorf("spid: invalid SP config: %s", strings.Join(p, "; "))
	}
	return nil
}

// NSCIE is the namespace of the CIE metadata extensions.
const NSCIE = "https://www.cartaidentita.interno.gov.it/saml-extensions"

// CIEAttributes is the attribute set the CIE IdP releases.
var CIEAttributes = []string{"name", "familyName", "dateOfBirth", "fiscalNumber"}

// CIEInfo is what CIE metadata adds about the ente.
type CIEInfo struct {
	Municipality string `yaml:"municipality"` // ISTAT/cadastral code of the comune, e.g. H501
	Province     string `yaml:"province"`
	Country      string `yaml:"country"` // default IT
}

// MetadataElement builds the unsigned SPID EntityDescriptor with the given ID.
func MetadataElement(cfg SPConfig, id string) (*etree.Element, error) {
	return metadataElement(cfg, id, false)
}

// CIEMetadataElement builds the unsigned metadata for the CIE federation:
// the same SP roles, CIE attributes only, and an administrative contact
// with cie: extensions (Public, IPACode, Municipality, Province, Country).
func CIEMetadataElement(cfg SPConfig, id string) (*etree.Element, error) {
	if cfg.CIE == nil || cfg.CIE.Municipality == "" {
		return nil, fmt.Errorf("spid: invalid SP config: CIE.Municipality is required for CIE metadata")
	}
	// Only the attribute sets CIE can satisfy go into CIE metadata (an SP
	// may also ask SPID for more, e.g. email, in other sets).
	var bad error
	n := 0
	for i, s := range cfg.withDefaults().AttributeSets {
		if ok, a := cieSet(s); ok {
			n++
		} else if bad == nil {
			bad = fmt.Errorf("AttributeSets[%d]: %q is not released by CIE", i, a)
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("spid: invalid SP config: no attribute set asks only for CIE attributes (%s); %w", strings.Join(CIEAttributes, ", "), bad)
	}
	return metadataElement(cfg, id, true)
}

// cieSet reports whether CIE releases every attribute of s, or names the
// first it does not.
func cieSet(s AttrSet) (bool, string) {
	for _, a := range s.Attributes {
		if !contains(CIEAttributes, a) {
			return false, a
		}
	}
	return true, ""
}

// SignedCIEMetadata returns the signed CIE metadata.
func SignedCIEMetadata(cfg SPConfig, id string) ([]byte, error) {
	el, err := CIEMetadataElement(cfg, id)
	if err != nil {
		return nil, err
	}
	signed, err := signEnveloped(el, cfg.Key, cfg.Cert)
	if err != nil {
		return nil, err
	}
	return docBytes(signed)
}

func metadataElement(cfg SPConfig, id string, cie bool) (*etree.Element, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := cfg.withDefaults()
	ed := etree.NewElement("md:EntityDescriptor")
	ed.CreateAttr("xmlns:md", NSMetadata)
	ed.CreateAttr("xmlns:ds", NSDSig)
	if cie {
		ed.CreateAttr("xmlns:cie", NSCIE)
	} else {
		ed.CreateAttr("xmlns:spid", NSSPID)
	}
	ed.CreateAttr("entityID", c.EntityID)
	ed.CreateAttr("ID", id)

	sp := ed.CreateElement("md:SPSSODescriptor")
	sp.CreateAttr("protocolSupportEnumeration", NSProtocol)
	sp.CreateAttr("AuthnRequestsSigned", "true")
	sp.CreateAttr("WantAssertionsSigned", "true")
	kd := sp.CreateElement("md:KeyDescriptor")
	kd.CreateAttr("use", "signing")
	kd.CreateElement("ds:KeyInfo").CreateElement("ds:X509Data").CreateElement("ds:X509Certificate").SetText(certB64(c.Cert))
	for _, b := range []string{BindingPOST, BindingRedirect} {
		slo := sp.CreateElement("md:SingleLogoutService")
		slo.CreateAttr("Binding", b)
		slo.CreateAttr("Location", c.BaseURL+"/spid/slo")
	}
	sp.CreateElement("md:NameIDFormat").SetText(NameIDTransient)
	for _, a := range c.ACS {
		e := sp.CreateElement("md:AssertionConsumerService")
		e.CreateAttr("index", strconv.Itoa(a.Index))
		if a.Index == 0 {
			e.CreateAttr("isDefault", "true")
		}
		e.CreateAttr("Binding", BindingPOST)
		e.CreateAttr("Location", a.Location)
	}
	for _, s := range c.AttributeSets {
		if ok, _ := cieSet(s); cie && !ok {
			continue
		}
		e := sp.CreateElement("md:AttributeConsumingService")
		e.CreateAttr("index", strconv.Itoa(s.Index))
		sn := e.CreateElement("md:ServiceName")
		sn.CreateAttr("xml:lang", "it")
		sn.SetText(s.Name)
		for _, a := range s.Attributes {
			ra := e.CreateElement("md:RequestedAttribute")
			ra.CreateAttr("Name", a)
			ra.CreateAttr("NameFormat", AttrNameBasic)
		}
	}
	org := ed.CreateElement("md:Organization")
	langs := []string{"it"}
	if c.Org.Names.EN != "" {
		langs = append(langs, "en")
	}
	for _, f := range []struct {
		tag string
		v   Localized
	}{{"md:OrganizationName", c.Org.Names}, {"md:OrganizationDisplayName", c.Org.DisplayNames}, {"md:OrganizationURL", c.Org.URLs}} {
		for _, l := range langs {
			e := org.CreateElement(f.tag)
			e.CreateAttr("xml:lang", l)
			if l == "it" {
				e.SetText(f.v.IT)
			} else {
				e.SetText(f.v.EN)
			}
		}
	}
	if cie {
		cp := ed.CreateElement("md:ContactPerson")
		cp.CreateAttr("contactType", "administrative")
		ext := cp.CreateElement("md:Extensions")
		if c.Private {
			ext.CreateElement("cie:Private")
			if c.VATNumber != "" {
				ext.CreateElement("cie:VATNumber").SetText(c.VATNumber)
			}
			if c.FiscalCode != "" {
				ext.CreateElement("cie:FiscalCode").SetText(c.FiscalCode)
			}
		} else {
			ext.CreateElement("cie:Public")
			ext.CreateElement("cie:IPACode").SetText(c.IPACode)
		}
		ext.CreateElement("cie:Municipality").SetText(c.CIE.Municipality)
		if c.CIE.Province != "" {
			ext.CreateElement("cie:Province").SetText(c.CIE.Province)
		}
		country := c.CIE.Country
		if country == "" {
			country = "IT"
		}
		ext.CreateElement("cie:Country").SetText(country)
		cp.CreateElement("md:Company").SetText(c.Org.Names.IT)
		cp.CreateElement("md:EmailAddress").SetText(c.ContactEmail)
		if c.ContactPhone != "" {
			cp.CreateElement("md:TelephoneNumber").SetText(c.ContactPhone)
		}
		return ed, nil
	}
	cp := ed.CreateElement("md:ContactPerson")
	cp.CreateAttr("contactType", "other")
	ext := cp.CreateElement("md:Extensions")
	if c.Private {
		if c.VATNumber != "" {
			ext.CreateElement("spid:VATNumber").SetText(c.VATNumber)
		}
		if c.FiscalCode != "" {
			ext.CreateElement("spid:FiscalCode").SetText(c.FiscalCode)
		}
		ext.CreateElement("spid:Private")
	} else {
		ext.CreateElement("spid:IPACode").SetText(c.IPACode)
		ext.CreateElement("spid:Public")
	}
	cp.CreateElement("md:EmailAddress").SetText(c.ContactEmail)
	if c.ContactPhone != "" {
		cp.CreateElement("md:TelephoneNumber").SetText(c.ContactPhone)
	}
	if c.Private {
		bill := ed.CreateElement("md:ContactPerson")
		bill.CreateAttr("contactType", "billing")
		bill.CreateElement("md:EmailAddress").SetText(c.ContactEmail)
	}
	return ed, nil
}

// SignedMetadata returns the SP metadata with an enveloped signature.
func SignedMetadata(cfg SPConfig, id string) ([]byte, error) {
	el, err := MetadataElement(cfg, id)
	if err != nil {
		return nil, err
	}
	signed, err := signEnveloped(el, cfg.Key, cfg.Cert)
	if err != nil {
		return nil, err
	}
	return docBytes(signed)
}
