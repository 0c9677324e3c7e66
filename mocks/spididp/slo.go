package spididp

import (
	"bytes"
	"compress/flate"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/beevik/etree"
)

// LogoutResult is a LogoutResponse an SP sent back to the mock.
type LogoutResult struct {
	InResponseTo, Issuer, Status string
	SignatureOK                  bool
}

// LogoutResults returns the LogoutResponses received so far.
func (s *Server) LogoutResults() []LogoutResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]LogoutResult(nil), s.logouts...)
}

// LogoutRequestURL builds a signed IdP-initiated LogoutRequest (HTTP-Redirect)
// for the SP spEntityID; tamper, when set, edits the request before signing.
func (s *Server) LogoutRequestURL(spEntityID, nameID, sessionIndex string, tamper func(*etree.Element)) (string, error) {
	s.mu.Lock()
	sp := s.sps[spEntityID]
	s.mu.Unlock()
	if sp == nil || sp.slo == "" {
		return "", errors.New("spididp: unknown SP or SP without SLO")
	}
	lr := etree.NewElement("samlp:LogoutRequest")
	lr.CreateAttr("xmlns:samlp", nsSAMLP)
	lr.CreateAttr("xmlns:saml", nsSAML)
	lr.CreateAttr("ID", newID())
	lr.CreateAttr("Version", "2.0")
	lr.CreateAttr("IssueInstant", samlTime(s.now()))
	lr.CreateAttr("Destination", sp.slo)
	iss := lr.CreateElement("saml:Issuer")
	iss.CreateAttr("Format", fmtEntity)
	iss.SetText(s.EntityID())
	nid := lr.CreateElement("saml:NameID")
	nid.CreateAttr("Format", fmtTransient)
	nid.CreateAttr("NameQualifier", s.EntityID())
	nid.SetText(nameID)
	lr.CreateElement("samlp:SessionIndex").SetText(sessionIndex)
	if tamper != nil {
		tamper(lr)
	}
	d := etree.NewDocument()
	d.SetRoot(lr)
	xb, err := d.WriteToBytes()
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.BestCompression)
	_, _ = fw.Write(xb)
	_ = fw.Close()
	q := "SAMLRequest=" + url.QueryEscape(base64.StdEncoding.EncodeToString(buf.Bytes())) + "&SigAlg=" + url.QueryEscape(rsaSHA256)
	sum := sha256.Sum256([]byte(q))
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return sp.slo + "?" + q + "&Signature=" + url.QueryEscape(base64.StdEncoding.EncodeToString(sig)), nil
}

func (s *Server) handleLogoutResponse(w http.ResponseWriter, r *http.Request) {
	parts := map[string]string{}
	for _, kv := range strings.Split(r.URL.RawQuery, "&") {
		k, v, _ := strings.Cut(kv, "=")
		parts[k] = v
	}
	signed := "SAMLResponse=" + parts["SAMLResponse"]
	if v, ok := parts["RelayState"]; ok {
		signed += "&RelayState=" + v
	}
	signed += "&SigAlg=" + parts["SigAlg"]
	comp, err := base64.StdEncoding.DecodeString(r.URL.Query().Get("SAMLResponse"))
	if err != nil {
		page(w, http.StatusBadRequest, "LogoutResponse non valida")
		return
	}
	raw, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(comp)), 1<<20))
	doc := etree.NewDocument()
	if err != nil || doc.ReadFromBytes(raw) != nil || doc.Root() == nil {
		page(w, http.StatusBadRequest, "LogoutResponse non valida")
		return
	}
	root := doc.Root()
	res := LogoutResult{InResponseTo: root.SelectAttrValue("InResponseTo", "")}
	if e := root.SelectElement("Issuer"); e != nil {
		res.Issuer = strings.TrimSpace(e.Text())
	}
	if e := root.FindElement("./Status/StatusCode"); e != nil {
		res.Status = e.SelectAttrValue("Value", "")
	}
	s.mu.Lock()
	sp := s.sps[res.Issuer]
	s.mu.Unlock()
	if sp != nil && sp.cert != nil && r.URL.Query().Get("SigAlg") == rsaSHA256 {
		sig, _ := base64.StdEncoding.DecodeString(r.URL.Query().Get("Signature"))
		sum := sha256.Sum256([]byte(signed))
		res.SignatureOK = rsa.VerifyPKCS1v15(sp.cert.PublicKey.(*rsa.PublicKey), crypto.SHA256, sum[:], sig) == nil
	}
	s.mu.Lock()
	s.logouts = append(s.logouts, res)
	s.mu.Unlock()
	page(w, http.StatusOK, "Logout completato / logout complete")
}
