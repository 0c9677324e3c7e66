package tenant

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ponte-pa/ponte/connectors/spid"
	"github.com/ponte-pa/ponte/schemas"
)

// GatewayPathPrefix is where the HTTP gateway serves each tenant's public
// pages and SPID Service Provider: /t/<id>/.
const GatewayPathPrefix = "/t/"

// GatewayPath is the path under which the gateway serves this tenant
// ("/t/esempio"); an SP's baseURL must end with it.
func (t *Tenant) GatewayPath() string { return GatewayPathPrefix + t.ID }

// SPID is the ente's SPID/CIE login: its Service Provider (configured in a
// separate sp.yaml, the file `ponte spid metadata --config` also reads) and
// the identity providers it trusts.
type SPID struct {
	// SPConfig is the path of sp.yaml, absolute after Load.
	SPConfig string `json:"spConfig"`
	// IdPMetadata lists IdP metadata files (absolute after Load) and http(s) URLs.
	IdPMetadata []string `json:"idpMetadata,omitempty"`
	// Registry is AgID's signed registry of SPID IdPs, when used.
	Registry *SPIDRegistry `json:"registry,omitempty"`
	// Level is the SPID level requested at login (default 2).
	Level int `json:"level,omitempty"`
	// TokenAlg signs the token handed to the comune's application:
	// ES256 (default), EdDSA or RS256 (spid.TokenAlgs).
	TokenAlg string `json:"tokenAlg,omitempty"`
	// CIE, when set, offers login with the Carta d'Identità Elettronica
	// through one of the trusted IdPs.
	CIE *CIELogin `json:"cie,omitempty"`

	// SP is the loaded SP configuration, key and certificate included.
	SP spid.SPConfig `json:"-"`
	// StaticIdPs are the IdPs read at Load from metadata files (those of
	// IdPMetadata and sp.yaml's idpMetadata).
	StaticIdPs []*spid.IdP `json:"-"`
	// IdPURLs are the http(s) entries of IdPMetadata, for the gateway to fetch.
	IdPURLs []string `json:"-"`
}

// CIELogin is login with the CIE through the same SP.
type CIELogin struct {
	// IdP is the entityID of the CIE identity provider (one of the trusted).
	IdP string `json:"idp"`
	// AttributeIndex is the SP attribute set requested at CIE login.
	AttributeIndex int `json:"attributeIndex"`
	// Level requested (default 3).
	Level int `json:"level,omitempty"`
}

// SPIDRegistry is a signed metadata aggregate of IdPs (AgID's registry).
type SPIDRegistry struct {
	URL string `json:"url"`
	// TrustedCerts are PEM files, absolute after Load.
	TrustedCerts []string `json:"trustedCerts"`
	// CacheFile keeps the last verified copy; absolute after Load.
	CacheFile string `json:"cacheFile,omitempty"`

	// Trusted are the certificates read from TrustedCerts.
	Trusted []*x509.Certificate `json:"-"`
}

// loadedSPID is what checkSPID read from disk, attached to the Tenant when
// the whole file is valid.
type loadedSPID struct {
	sp      spid.SPConfig
	static  []*spid.IdP
	urls    []string
	trusted []*x509.Certificate
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

func relTo(dir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, filepath.FromSlash(p))
}

// checkSPID loads what the spid block refers to — sp.yaml with its key and
// certificate, IdP metadata files, the registry's certificates — and checks
// that the SP's URLs match where the gateway serves it.
func checkSPID(root map[string]any, dir string, already []schemas.Problem) ([]schemas.Problem, *loadedSPID) {
	blk, ok := root["spid"].(map[string]any)
	if !ok {
		return nil, nil
	}
	for _, p := range already {
		if p.Pointer == "/spid" || strings.HasPrefix(p.Pointer, "/spid/") {
			return nil, nil // fix the shape first
		}
	}
	var probs []schemas.Problem
	add := func(ptr, rule, msg, hint string) {
		probs = append(probs, schemas.Problem{Pointer: ptr, Rule: rule, Message: msg, Hint: hint})
	}
	out := &loadedSPID{}
	sources := 0

	spPath, _ := blk["spConfig"].(string)
	_, statErr := os.Stat(relTo(dir, spPath))
	cfg, fc, err := spid.LoadConfigFile(relTo(dir, spPath))
	switch {
	case errors.Is(statErr, fs.ErrNotExist):
		add("/spid/spConfig", "spConfig", err.Error(),
			"the path is relative to this file; generate a key pair with 'ponte spid keygen' and write sp.yaml (see 'ponte config sample' for one)")
	case err != nil:
		add("/spid/spConfig", "spConfig", err.Error(),
			"fix the SP configuration; 'ponte spid metadata --config "+spPath+"' runs the same checks")
	default:
		out.sp = cfg
		id, _ := root["id"].(string)
		want := GatewayPathPrefix + id
		base := strings.TrimRight(cfg.BaseURL, "/")
		if u, perr := url.Parse(base); perr == nil && u.Path != want {
			add("/spid/spConfig", "baseURL",
				fmt.Sprintf("%s: baseURL %q has path %q, but the gateway serves this tenant's SP under %q", spPath, cfg.BaseURL, u.Path, want),
				fmt.Sprintf("set baseURL in %s to the gateway's public URL followed by %s, e.g. https://ponte.example.it%s", spPath, want, want))
		}
		for i, a := range cfg.ACS {
			if a.Location != base+"/spid/acs" {
				add("/spid/spConfig", "acs",
					fmt.Sprintf("%s: acs[%d].location %q is not served by the gateway", spPath, i, a.Location),
					fmt.Sprintf("use %s/spid/acs, or leave acs out to get it by default", base))
			}
		}
		if cie, ok := blk["cie"].(map[string]any); ok {
			idx, _ := cie["attributeIndex"].(json.Number)
			n, _ := idx.Int64()
			var set *spid.AttrSet
			for i := range cfg.AttributeSets {
				if int64(cfg.AttributeSets[i].Index) == n {
					set = &cfg.AttributeSets[i]
				}
			}
			switch {
			case set == nil:
				add("/spid/cie/attributeIndex", "attributeSet", fmt.Sprintf("%s has no attribute set with index %d", spPath, n),
					"add to attributeSets in "+spPath+" a set with index "+idx.String()+" and the CIE attributes name, familyName, dateOfBirth, fiscalNumber")
			default:
				for _, a := range set.Attributes {
					if !slices.Contains(spid.CIEAttributes, a) {
						add("/spid/cie/attributeIndex", "attributeSet", fmt.Sprintf("%s: attribute set %d asks for %q, which CIE does not release", spPath, n, a),
							"keep only name, familyName, dateOfBirth and fiscalNumber in the CIE attribute set")
						break
					}
				}
			}
		}
		for _, f := range fc.IdPMetadata {
			idps, err := spid.LoadIdPMetadataFile(f)
			if err != nil {
				add("/spid/spConfig", "idpMetadata", fmt.Sprintf("%s: idpMetadata %s: %v", spPath, f, err),
					"fix or remove the IdP metadata file listed in sp.yaml")
				continue
			}
			out.static = append(out.static, idps...)
			sources++
		}
	}

	list, _ := blk["idpMetadata"].([]any)
	for i, v := range list {
		s, _ := v.(string)
		ptr := fmt.Sprintf("/spid/idpMetadata/%d", i)
		if isURL(s) {
			if u, err := url.Parse(s); err != nil || u.Host == "" {
				add(ptr, "url", fmt.Sprintf("%q is not a valid URL", s), "write the full metadata URL, e.g. http://127.0.0.1:18084/metadata")
				continue
			}
			out.urls = append(out.urls, s)
			sources++
			continue
		}
		idps, err := spid.LoadIdPMetadataFile(relTo(dir, s))
		if err != nil {
			add(ptr, "metadata", err.Error(),
				"give an IdP metadata XML file (relative to this file) or an http(s) URL to fetch it from")
			continue
		}
		out.static = append(out.static, idps...)
		sources++
	}

	if reg, ok := blk["registry"].(map[string]any); ok {
		sources++
		certs, _ := reg["trustedCerts"].([]any)
		for i, v := range certs {
			s, _ := v.(string)
			cs, err := readCerts(relTo(dir, s))
			if err != nil {
				add(fmt.Sprintf("/spid/registry/trustedCerts/%d", i), "certificate", err.Error(),
					"give a PEM file (relative to this file) with the certificate that signs the registry")
				continue
			}
			out.trusted = append(out.trusted, cs...)
		}
	}
	if sources == 0 && len(probs) == 0 {
		add("/spid", "idp", "no identity provider is configured",
			"list IdP metadata files or URLs in idpMetadata, or set registry to AgID's registry of SPID identity providers")
	}
	return probs, out
}

// readCerts reads every CERTIFICATE block of a PEM file.
func readCerts(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no PEM certificate", path)
	}
	return out, nil
}

// attachSPID resolves the block's paths against dir and attaches what
// checkSPID loaded.
func (t *Tenant) attachSPID(l *loadedSPID) {
	s := t.SPID
	if s == nil || l == nil {
		return
	}
	s.SPConfig = relTo(t.Dir, s.SPConfig)
	for i, m := range s.IdPMetadata {
		if !isURL(m) {
			s.IdPMetadata[i] = relTo(t.Dir, m)
		}
	}
	if r := s.Registry; r != nil {
		for i, c := range r.TrustedCerts {
			r.TrustedCerts[i] = relTo(t.Dir, c)
		}
		r.CacheFile = relTo(t.Dir, r.CacheFile)
		r.Trusted = l.trusted
	}
	if s.Level == 0 {
		s.Level = 2
	}
	if s.CIE != nil && s.CIE.Level == 0 {
		s.CIE.Level = 3
	}
	s.SP, s.StaticIdPs, s.IdPURLs = l.sp, l.static, l.urls
}
