package spid

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"
)

// FileConfig is the YAML form of an SP configuration (sp.yaml). Key and
// certificate paths are relative to the file's directory.
type FileConfig struct {
	EntityID      string    `yaml:"entityID"`
	BaseURL       string    `yaml:"baseURL"`
	KeyFile       string    `yaml:"keyFile"`
	CertFile      string    `yaml:"certFile"`
	Org           Org       `yaml:"organization"`
	IPACode       string    `yaml:"ipaCode"`
	Private       bool      `yaml:"private"`
	VATNumber     string    `yaml:"vatNumber"`
	FiscalCode    string    `yaml:"fiscalCode"`
	ContactEmail  string    `yaml:"contactEmail"`
	ContactPhone  string    `yaml:"contactPhone"`
	AttributeSets []AttrSet `yaml:"attributeSets"`
	ACS           []ACS     `yaml:"acs"`
	CIE           *CIEInfo  `yaml:"cie"`
	// IdPMetadata lists IdP metadata files to load.
	IdPMetadata []string `yaml:"idpMetadata"`
}

// LoadConfigFile reads sp.yaml, loads the key pair and validates the result.
func LoadConfigFile(path string) (SPConfig, *FileConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return SPConfig{}, nil, err
	}
	var fc FileConfig
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&fc); err != nil {
		return SPConfig{}, nil, fmt.Errorf("%s: %w", path, err)
	}
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(filepath.Dir(path), p)
	}
	kp, err := os.ReadFile(rel(fc.KeyFile))
	if err != nil {
		return SPConfig{}, nil, fmt.Errorf("%s: keyFile: %w", path, err)
	}
	cp, err := os.ReadFile(rel(fc.CertFile))
	if err != nil {
		return SPConfig{}, nil, fmt.Errorf("%s: certFile: %w", path, err)
	}
	key, cert, err := ParseKeyPair(kp, cp)
	if err != nil {
		return SPConfig{}, nil, fmt.Errorf("%s: %w", path, err)
	}
	for i := range fc.IdPMetadata {
		fc.IdPMetadata[i] = rel(fc.IdPMetadata[i])
	}
	cfg := SPConfig{
		EntityID: fc.EntityID, BaseURL: fc.BaseURL, Key: key, Cert: cert, Org: fc.Org, IPACode: fc.IPACode,
		Private: fc.Private, VATNumber: fc.VATNumber, FiscalCode: fc.FiscalCode,
		ContactEmail: fc.ContactEmail, ContactPhone: fc.ContactPhone, AttributeSets: fc.AttributeSets, ACS: fc.ACS, CIE: fc.CIE,
	}
	if err := cfg.Validate(); err != nil {
		return SPConfig{}, nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, &fc, nil
}
