package onboard

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/ponte-pa/ponte/connectors/spid"
)

// With Options.SPIDURL, each comune gets its SPID/CIE Service Provider
// too: sp.yaml from its IndicePA row (organization, IPA code, contact,
// site), an RSA key and a certificate in the SPID SP profile, and the
// spid block of its config, so that `ponte onboard check` finds keys and
// metadata that follow every SPID rule and the comune only has to send its
// metadata to AgID. A key on disk is never replaced: AgID's registry holds
// the metadata signed with it.

// DefaultSPIDRegistryURL is AgID's signed aggregate of the SPID IdPs.
const DefaultSPIDRegistryURL = "https://registry.spid.gov.it/entities-idp?&output=xml"

// spidRef is the spid block of a generated tenant config.
type spidRef struct {
	SPConfig    string       `yaml:"spConfig"`
	IdPMetadata []string     `yaml:"idpMetadata,omitempty"`
	Registry    *registryRef `yaml:"registry,omitempty"`
}

type registryRef struct {
	URL          string   `yaml:"url"`
	TrustedCerts []string `yaml:"trustedCerts"`
}

// checkSPIDOptions refuses SPID options that cannot give a working SP.
func checkSPIDOptions(opts Options) error {
	if opts.SPIDURL == "" {
		if opts.SPIDRegistryCert != "" || len(opts.SPIDIdPMetadata) > 0 {
			return &FileError{Rule: "spid-options", IT: "le opzioni degli IdP SPID valgono solo con --spid-url", EN: "the SPID IdP options apply only with --spid-url",
				Fix: "add --spid-url with the gateway's public URL"}
		}
		return nil
	}
	if !strings.HasPrefix(opts.SPIDURL, "https://") || !reURL.MatchString(opts.SPIDURL) {
		return &FileError{Rule: "spid-options", IT: fmt.Sprintf("--spid-url %q non è un URL https", opts.SPIDURL), EN: fmt.Sprintf("--spid-url %q is not an https URL", opts.SPIDURL),
			Fix: "give the gateway's public URL, e.g. https://ponte.regione.example"}
	}
	if opts.SPIDRegistryCert == "" && len(opts.SPIDIdPMetadata) == 0 {
		return &FileError{Rule: "spid-options", IT: "con --spid-url servono gli IdP: --spid-registry-cert (registro AgID) o --spid-idp-metadata",
			EN:  "--spid-url needs the IdPs: --spid-registry-cert (AgID's registry) or --spid-idp-metadata",
			Fix: "give the PEM certificate AgID signs the IdP registry with"}
	}
	return nil
}

// spidBlock is the spid block of the config at out/<id>.yaml: paths
// relative to out, URLs as given.
func spidBlock(id string, opts Options) *spidRef {
	conf, _, _ := spPaths(id)
	ref := &spidRef{SPConfig: filepath.ToSlash(conf)}
	rel := func(p string) string {
		if strings.Contains(p, "://") {
			return p
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return p
		}
		outAbs, err := filepath.Abs(opts.Out)
		if err != nil {
			return abs
		}
		if r, err := filepath.Rel(outAbs, abs); err == nil {
			return filepath.ToSlash(r)
		}
		return abs
	}
	for _, m := range opts.SPIDIdPMetadata {
		ref.IdPMetadata = append(ref.IdPMetadata, rel(m))
	}
	if opts.SPIDRegistryCert != "" {
		u := opts.SPIDRegistryURL
		if u == "" {
			u = DefaultSPIDRegistryURL
		}
		ref.Registry = &registryRef{URL: u, TrustedCerts: []string{rel(opts.SPIDRegistryCert)}}
	}
	return ref
}

// spFile is sp.yaml as generated (connectors/spid.FileConfig's fields, the
// empty ones left out).
type spFile struct {
	EntityID      string         `yaml:"entityID"`
	BaseURL       string         `yaml:"baseURL"`
	KeyFile       string         `yaml:"keyFile"`
	CertFile      string         `yaml:"certFile"`
	Org           spOrg          `yaml:"organization"`
	IPACode       string         `yaml:"ipaCode"`
	ContactEmail  string         `yaml:"contactEmail"`
	AttributeSets []spid.AttrSet `yaml:"attributeSets"`
	CIE           *spCIE         `yaml:"cie,omitempty"`

	// What the certificate needs besides.
	commonName, locality string
}

type spOrg struct {
	Names        name `yaml:"names"`
	DisplayNames name `yaml:"displayNames"`
	URLs         name `yaml:"urls"`
}

type spCIE struct {
	Municipality string `yaml:"municipality"`
	Province     string `yaml:"province"`
}

var (
	reProvinceCode  = regexp.MustCompile(`^[A-Z]{2}$`)
	reCadastralCode = regexp.MustCompile(`^[A-Z][0-9]{3}$`)
)

// spPaths are where a comune's SP files go, relative to the configs'
// directory: spid/<id>/sp.yaml and sp.cert.pem, secrets/<id>/sp.key.pem.
func spPaths(id string) (conf, cert, key string) {
	return filepath.Join("spid", id, "sp.yaml"), filepath.Join("spid", id, "sp.cert.pem"), filepath.Join("secrets", id, "sp.key.pem")
}

// buildSP makes the comune's sp.yaml from its IndicePA row. Problems are
// the row's, on the IndicePA file.
func buildSP(e Entity, c *config, publicURL string) (*spFile, []RowError) {
	var errs []RowError
	bad := func(col, rule, it, en, fixIT, fixEN string) {
		errs = append(errs, RowError{Line: e.Line, Column: col, Rule: rule, IT: it, EN: en, FixIT: fixIT, FixEN: fixEN})
	}
	site := strings.TrimSpace(e.Site)
	if site != "" && !strings.Contains(site, "://") {
		site = "https://" + site
	}
	if site == "" || !reURL.MatchString(site) {
		bad(ColSite, "spid-site", "il sito istituzionale manca o non è un URL: i metadata SPID devono indicarlo",
			"the institutional site is missing or not a URL: SPID metadata must give it",
			"aggiornare il sito su IndicePA (indicepa.gov.it), o importare senza --spid-url e scrivere sp.yaml a mano",
			"update the site on IndicePA (indicepa.gov.it), or import without --spid-url and write sp.yaml by hand")
	}
	if e.PEC == "" {
		bad("Mail1", "spid-contact", "manca l'indirizzo email dell'ente: i metadata SPID devono indicare un contatto",
			"the ente's email address is missing: SPID metadata must give a contact",
			"aggiornare Mail1 su IndicePA", "update Mail1 on IndicePA")
	}
	if len(errs) > 0 {
		return nil, errs
	}
	base := strings.TrimRight(publicURL, "/") + "/t/" + c.ID
	conf, cert, key := spPaths(c.ID)
	rel, err := filepath.Rel(filepath.Dir(conf), key)
	if err != nil {
		rel = key
	}
	sp := &spFile{
		EntityID: base + "/spid/metadata", BaseURL: base,
		KeyFile: filepath.ToSlash(rel), CertFile: filepath.Base(cert),
		Org:          spOrg{Names: c.Name, DisplayNames: c.Name, URLs: name{IT: site}},
		IPACode:      e.IPACode,
		ContactEmail: e.PEC,
		AttributeSets: []spid.AttrSet{
			{Index: 0, Name: "Servizi online del " + e.Name, Attributes: []string{"name", "familyName", "fiscalNumber", "email"}},
			{Index: 1, Name: "Accesso con CIE", Attributes: []string{"name", "familyName", "dateOfBirth", "fiscalNumber"}},
		},
		commonName: e.Name, locality: e.Name,
	}
	if c.Name.EN != "" {
		sp.Org.URLs.EN = site
	}
	if rest, ok := cutPrefixFold(e.Name, "Comune di "); ok {
		sp.locality = rest
	}
	// The CIE federation wants the comune's cadastral code and province:
	// with no province column in the file, sp.yaml goes without them
	// (`ponte spid metadata --cie` then says what is missing).
	if p := strings.ToUpper(strings.TrimSpace(e.Province)); reProvinceCode.MatchString(p) && reCadastralCode.MatchString(e.Cadastral) {
		sp.CIE = &spCIE{Municipality: e.Cadastral, Province: p}
	}
	return sp, nil
}

// renderSP writes sp.yaml with a header saying where it comes from.
func renderSP(sp *spFile, e Entity) ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# SPID/CIE Service Provider of %s (%s): generated by 'ponte onboard import' from\n", oneLine(e.Name), oneLine(e.IPACode))
	b.WriteString("# the IndicePA open data. `ponte spid metadata --config` prints its signed metadata,\n# to send to AgID. A later import overwrites hand edits only with --force.\n")
	return appendYAML(&b, sp)
}

// writeSP puts the comune's SP files in place under out: the key and
// certificate when neither exists (a key alone, or a certificate alone, is
// an error to resolve by hand, never overwritten), and sp.yaml as configs
// are written (unchanged, changed and kept, or overwritten with Force).
func writeSP(sp *spFile, e Entity, id string, opts Options) (status Status, diff string, keyMade bool, err error) {
	conf, certRel, keyRel := spPaths(id)
	confPath, certPath, keyPath := filepath.Join(opts.Out, conf), filepath.Join(opts.Out, certRel), filepath.Join(opts.Out, keyRel)
	_, kerr := os.Stat(keyPath)
	_, cerr := os.Stat(certPath)
	switch {
	case kerr == nil && cerr == nil:
	case errors.Is(kerr, os.ErrNotExist) && errors.Is(cerr, os.ErrNotExist):
		key, cert, err := spid.GenerateKeyCert(spid.CertOptions{CommonName: sp.commonName, OrgName: sp.commonName, IPACode: sp.IPACode,
			Locality: sp.locality, EntityID: sp.EntityID, Bits: opts.SPIDKeyBits, Public: true})
		if err != nil {
			return "", "", false, err
		}
		kp, cp := spid.EncodeKeyPair(key, cert)
		for _, f := range []struct {
			path string
			data []byte
			mode os.FileMode
		}{{keyPath, kp, 0o600}, {certPath, cp, 0o644}} {
			if err := os.MkdirAll(filepath.Dir(f.path), 0o755); err != nil {
				return "", "", false, err
			}
			if err := os.WriteFile(f.path, f.data, f.mode); err != nil {
				return "", "", false, err
			}
		}
		keyMade = true
	case kerr != nil && !errors.Is(kerr, os.ErrNotExist):
		return "", "", false, kerr
	case cerr != nil && !errors.Is(cerr, os.ErrNotExist):
		return "", "", false, cerr
	default:
		return "", "", false, fmt.Errorf("%s or %s is missing while the other exists: restore it, or move both away to have a new pair generated (the metadata at AgID must then be sent again)", keyPath, certPath)
	}
	data, err := renderSP(sp, e)
	if err != nil {
		return "", "", keyMade, err
	}
	if err := os.MkdirAll(filepath.Dir(confPath), 0o755); err != nil {
		return "", "", keyMade, err
	}
	status, diff, err = writeGenerated(confPath, data, opts.Force)
	return status, diff, keyMade, err
}
