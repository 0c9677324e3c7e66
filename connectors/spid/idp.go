package spid

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
)

// IdP is one identity provider as read from its metadata.
type IdP struct {
	EntityID    string
	Name        string
	SSORedirect string
	SSOPost     string
	SLORedirect string
	SLOPost     string
	// Certs are the signing certificates from the metadata: the only keys
	// trusted for its responses.
	Certs []*x509.Certificate
}

// IdPRegistry gives the IdPs the SP talks to.
type IdPRegistry interface {
	Lookup(entityID string) (*IdP, bool)
	List() []*IdP
}

// Registry is an IdPRegistry held in memory, safe for concurrent use; Replace
// swaps the whole list, so a failed refresh keeps the last good copy.
type Registry struct {
	mu   sync.RWMutex
	idps map[string]*IdP
}

// NewRegistry returns a Registry holding idps.
func NewRegistry(idps ...*IdP) *Registry {
	r := &Registry{}
	r.Replace(idps)
	return r
}

// Replace sets the list of IdPs.
func (r *Registry) Replace(idps []*IdP) {
	m := make(map[string]*IdP, len(idps))
	for _, i := range idps {
		m[i.EntityID] = i
	}
	r.mu.Lock()
	r.idps = m
	r.mu.Unlock()
}

// Add adds or replaces one IdP.
func (r *Registry) Add(i *IdP) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.idps == nil {
		r.idps = map[string]*IdP{}
	}
	r.idps[i.EntityID] = i
}

// Lookup implements IdPRegistry.
func (r *Registry) Lookup(entityID string) (*IdP, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	i, ok := r.idps[entityID]
	return i, ok
}

// List implements IdPRegistry, sorted by name.
func (r *Registry) List() []*IdP {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*IdP, 0, len(r.idps))
	for _, i := range r.idps {
		out = append(out, i)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name+out[a].EntityID < out[b].Name+out[b].EntityID })
	return out
}

// LoadIdPMetadataFile reads IdP metadata (an EntityDescriptor or an
// EntitiesDescriptor) from a file.
func LoadIdPMetadataFile(path string) ([]*IdP, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseIdPMetadata(b)
}

// ParseIdPMetadata decodes IdP metadata without checking a signature.
func ParseIdPMetadata(b []byte) ([]*IdP, error) {
	doc, err := parseStrict(b)
	if err != nil {
		return nil, fmt.Errorf("spid: IdP metadata: %w", err)
	}
	// crewjam's types cannot decode ds:Signature with encoding/xml: drop
	// signatures (checked separately by ParseSignedAggregate) and decode
	// each EntityDescriptor on its own.
	var els []*etree.Element
	switch root := doc.Root(); root.Tag {
	case "EntitiesDescriptor":
		els = root.FindElements(".//EntityDescriptor")
	case "EntityDescriptor":
		els = []*etree.Element{root}
	default:
		return nil, fmt.Errorf("spid: IdP metadata: unexpected root %s", root.Tag)
	}
	var eds []saml.EntityDescriptor
	for _, el := range els {
		cp := el.Copy()
		for p := el.Parent(); p != nil; p = p.Parent() {
			for _, a := range p.Attr {
				if a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns") {
					if cp.SelectAttr(a.FullKey()) == nil {
						cp.CreateAttr(a.FullKey(), a.Value)
					}
				}
			}
		}
		for _, sig := range children(cp, NSDSig, "Signature") {
			cp.RemoveChild(sig)
		}
		one := etree.NewDocument()
		one.SetRoot(cp)
		raw, err := one.WriteToBytes()
		if err != nil {
			return nil, err
		}
		var ed saml.EntityDescriptor
		if err := xml.Unmarshal(raw, &ed); err != nil {
			return nil, fmt.Errorf("spid: IdP metadata: %w", err)
		}
		eds = append(eds, ed)
	}
	var out []*IdP
	for _, ed := range eds {
		for _, d := range ed.IDPSSODescriptors {
			i := &IdP{EntityID: ed.EntityID}
			if ed.Organization != nil && len(ed.Organization.OrganizationDisplayNames) > 0 {
				i.Name = ed.Organization.OrganizationDisplayNames[0].Value
			}
			if i.Name == "" {
				i.Name = ed.EntityID
			}
			for _, s := range d.SingleSignOnServices {
				switch s.Binding {
				case BindingRedirect:
					i.SSORedirect = s.Location
				case BindingPOST:
					i.SSOPost = s.Location
				}
			}
			for _, s := range d.SingleLogoutServices {
				switch s.Binding {
				case BindingRedirect:
					i.SLORedirect = s.Location
				case BindingPOST:
					i.SLOPost = s.Location
				}
			}
			for _, kd := range d.KeyDescriptors {
				if kd.Use != "" && kd.Use != "signing" {
					continue
				}
				for _, xc := range kd.KeyInfo.X509Data.X509Certificates {
					der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(xc.Data), ""))
					if err != nil {
						return nil, fmt.Errorf("spid: IdP %s: bad certificate: %w", ed.EntityID, err)
					}
					c, err := x509.ParseCertificate(der)
					if err != nil {
						return nil, fmt.Errorf("spid: IdP %s: bad certificate: %w", ed.EntityID, err)
					}
					i.Certs = append(i.Certs, c)
				}
			}
			if len(i.Certs) == 0 {
				return nil, fmt.Errorf("spid: IdP %s has no signing certificate", ed.EntityID)
			}
			if i.SSORedirect == "" && i.SSOPost == "" {
				return nil, fmt.Errorf("spid: IdP %s has no SingleSignOnService", ed.EntityID)
			}
			out = append(out, i)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("spid: metadata holds no IdP")
	}
	return out, nil
}

// ParseSignedAggregate verifies the enveloped signature of a metadata
// aggregate (such as AgID's registry of SPID IdPs) against trusted and then
// decodes it.
func ParseSignedAggregate(b []byte, trusted []*x509.Certificate) ([]*IdP, error) {
	doc, err := parseStrict(b)
	if err != nil {
		return nil, fmt.Errorf("spid: aggregate: %w", err)
	}
	if _, err := verifySigned(doc.Root(), trusted); err != nil {
		return nil, fmt.Errorf("spid: aggregate signature: %w", err)
	}
	return ParseIdPMetadata(b)
}
