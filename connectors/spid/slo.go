package spid

import (
	"bytes"
	"compress/flate"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/beevik/etree"
)

// handleSLO starts an SP-initiated logout (GET without a SAML message) or
// processes the IdP's LogoutResponse (HTTP-Redirect binding).
func (sp *SP) handleSLO(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("SAMLRequest") != "" {
		sp.handleIdPLogout(w, r)
		return
	}
	if r.URL.Query().Get("SAMLResponse") != "" {
		if err := sp.checkLogoutResponse(r); err != nil {
			sp.opts.Logger.Warn("spid: logout response rejected", "err", err)
			sp.errorPage(w, http.StatusBadRequest, Message{"Risposta di logout non valida.", "Invalid logout response."}, "logout_response")
			return
		}
		if sp.opts.AfterLogout != "" {
			http.Redirect(w, r, sp.opts.AfterLogout, http.StatusSeeOther)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, `<!DOCTYPE html><html lang="it"><body><p>Sei uscito / You are logged out.</p></body></html>`)
		return
	}
	c, err := r.Cookie(sp.opts.CookieName)
	http.SetCookie(w, &http.Cookie{Name: sp.opts.CookieName, Value: "", Path: sp.cookiePath(), MaxAge: -1, HttpOnly: true})
	if err != nil {
		sp.errorPage(w, http.StatusUnauthorized, Message{"Non hai effettuato l'accesso.", "You are not logged in."}, "")
		return
	}
	claims, err := sp.ParseToken([]byte(c.Value))
	if err != nil {
		sp.errorPage(w, http.StatusUnauthorized, Message{"Sessione scaduta o non valida.", "Session expired or invalid."}, "")
		return
	}
	str := func(k string) string { s, _ := claims[k].(string); return s }
	idp, ok := sp.idps.Lookup(str("idp"))
	if !ok || idp.SLORedirect == "" {
		sp.errorPage(w, http.StatusBadRequest, Message{"Logout non disponibile per questo identity provider.", "Logout not available for this identity provider."}, "")
		return
	}
	now := sp.now()
	id := newID()
	if err := sp.store.Put(r.Context(), PendingRequest{ID: id, IdP: idp.EntityID, IssueInstant: now, Expires: now.Add(sp.opts.RequestTTL)}); err != nil {
		sp.errorPage(w, http.StatusInternalServerError, Message{"Errore interno.", "Internal error."}, "")
		return
	}
	lr := newElement("samlp:LogoutRequest")
	lr.CreateAttr("xmlns:samlp", NSProtocol)
	lr.CreateAttr("xmlns:saml", NSAssertion)
	lr.CreateAttr("ID", id)
	lr.CreateAttr("Version", "2.0")
	lr.CreateAttr("IssueInstant", samlTime(now))
	lr.CreateAttr("Destination", idp.SLORedirect)
	iss := lr.CreateElement("saml:Issuer")
	iss.CreateAttr("Format", NameIDEntity)
	iss.CreateAttr("NameQualifier", sp.cfg.EntityID)
	iss.SetText(sp.cfg.EntityID)
	nid := lr.CreateElement("saml:NameID")
	nid.CreateAttr("Format", NameIDTransient)
	nid.CreateAttr("NameQualifier", str("nameQualifier"))
	nid.SetText(str("nameID"))
	lr.CreateElement("samlp:SessionIndex").SetText(str("sessionIndex"))
	u, err := RedirectURL(idp.SLORedirect, "SAMLRequest", lr, "", sp.cfg.Key)
	if err != nil {
		sp.errorPage(w, http.StatusInternalServerError, Message{"Errore interno.", "Internal error."}, "")
		return
	}
	http.Redirect(w, r, u, http.StatusFound)
}

// readRedirect decodes a SAML message of the HTTP-Redirect binding and
// verifies its RSA-SHA256 signature over the raw query string with certs.
func readRedirect(rawQuery, param string, max int64, certs func(issuer string) []*x509.Certificate) (*etree.Element, error) {
	parts := map[string]string{}
	for _, kv := range strings.Split(rawQuery, "&") {
		k, v, _ := strings.Cut(kv, "=")
		if _, dup := parts[k]; dup {
			return nil, errors.New("repeated query parameter " + k)
		}
		parts[k] = v
	}
	signed := param + "=" + parts[param]
	if v, ok := parts["RelayState"]; ok {
		signed += "&RelayState=" + v
	}
	signed += "&SigAlg=" + parts["SigAlg"]
	if sigAlg, _ := url.QueryUnescape(parts["SigAlg"]); sigAlg != AlgRSASHA256 {
		return nil, errWeakAlg
	}
	sigB64, _ := url.QueryUnescape(parts["Signature"])
	sig, err := base64.StdEncoding.DecodeString(sigB64)
	if err != nil || len(sig) == 0 {
		return nil, errors.New("missing or bad Signature")
	}
	msgB64, _ := url.QueryUnescape(parts[param])
	comp, err := base64.StdEncoding.DecodeString(msgB64)
	if err != nil {
		return nil, err
	}
	xmlb, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(comp)), max))
	if err != nil {
		return nil, err
	}
	doc, err := parseStrict(xmlb)
	if err != nil {
		return nil, err
	}
	root := doc.Root()
	issuer := textOf(child(root, NSAssertion, "Issuer"))
	sum := sha256.Sum256([]byte(signed))
	for _, c := range certs(issuer) {
		if pub, ok := c.PublicKey.(*rsa.PublicKey); ok && rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig) == nil {
			return root, nil
		}
	}
	return nil, errors.New("signature does not verify with the IdP's metadata certificates")
}

func (sp *SP) idpCerts(issuer string) []*x509.Certificate {
	if i, ok := sp.idps.Lookup(issuer); ok {
		return i.Certs
	}
	return nil
}

// checkLogoutResponse verifies a LogoutResponse received with the
// HTTP-Redirect binding: signature over the raw query with the IdP's
// metadata certificates, pending InResponseTo, Issuer, Destination and
// Success status.
func (sp *SP) checkLogoutResponse(r *http.Request) error {
	root, err := readRedirect(r.URL.RawQuery, "SAMLResponse", int64(sp.opts.MaxResponseBytes), sp.idpCerts)
	if err != nil {
		return err
	}
	if root.Tag != "LogoutResponse" || root.NamespaceURI() != NSProtocol {
		return errors.New("not a LogoutResponse")
	}
	irt, _ := attr(root, "InResponseTo")
	p, err := sp.store.Pending(r.Context(), irt, sp.now())
	if err != nil {
		return err
	}
	if err := sp.store.Consume(r.Context(), irt, nil, sp.now()); err != nil {
		return err
	}
	if err := checkIssuer(child(root, NSAssertion, "Issuer"), p.IdP, false, ErrIssuer, ErrIssuerFormat); err != nil {
		return err
	}
	if d, _ := attr(root, "Destination"); d != sp.cfg.BaseURL+"/spid/slo" {
		return errors.New("wrong Destination " + d)
	}
	if v, _ := attr(child(child(root, NSProtocol, "Status"), NSProtocol, "StatusCode"), "Value"); v != StatusSuccess {
		return errors.New("logout status " + v)
	}
	return nil
}

// handleIdPLogout answers an IdP-initiated LogoutRequest (HTTP-Redirect):
// it verifies it, ends the local session and answers with a signed
// LogoutResponse.
func (sp *SP) handleIdPLogout(w http.ResponseWriter, r *http.Request) {
	root, err := readRedirect(r.URL.RawQuery, "SAMLRequest", int64(sp.opts.MaxResponseBytes), sp.idpCerts)
	if err == nil && (root.Tag != "LogoutRequest" || root.NamespaceURI() != NSProtocol) {
		err = errors.New("not a LogoutRequest")
	}
	var idp *IdP
	if err == nil {
		var ok bool
		idp, ok = sp.idps.Lookup(textOf(child(root, NSAssertion, "Issuer")))
		id, _ := attr(root, "ID")
		v, _ := attr(root, "Version")
		d, _ := attr(root, "Destination")
		switch {
		case !ok || idp.SLORedirect == "":
			err = errors.New("unknown IdP or no SLO endpoint")
		case id == "" || v != "2.0":
			err = errors.New("bad ID or Version")
		case d != sp.cfg.BaseURL+"/spid/slo":
			err = errors.New("wrong Destination")
		case textOf(child(root, NSAssertion, "NameID")) == "":
			err = errors.New("missing NameID")
		}
		if err == nil {
			if ok, _ := sp.store.MarkSeen(r.Context(), "logout:"+id, sp.now().Add(sp.opts.ReplayWindow), sp.now()); !ok {
				err = errors.New("replayed LogoutRequest")
			}
		}
	}
	if err != nil {
		sp.opts.Logger.Warn("spid: logout request rejected", "err", err)
		sp.errorPage(w, http.StatusBadRequest, Message{"Richiesta di logout non valida.", "Invalid logout request."}, "logout_request")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sp.opts.CookieName, Value: "", Path: sp.cookiePath(), MaxAge: -1, HttpOnly: true})
	id, _ := attr(root, "ID")
	lr := newElement("samlp:LogoutResponse")
	lr.CreateAttr("xmlns:samlp", NSProtocol)
	lr.CreateAttr("xmlns:saml", NSAssertion)
	lr.CreateAttr("ID", newID())
	lr.CreateAttr("Version", "2.0")
	lr.CreateAttr("IssueInstant", samlTime(sp.now()))
	lr.CreateAttr("InResponseTo", id)
	lr.CreateAttr("Destination", idp.SLORedirect)
	iss := lr.CreateElement("saml:Issuer")
	iss.CreateAttr("Format", NameIDEntity)
	iss.CreateAttr("NameQualifier", sp.cfg.EntityID)
	iss.SetText(sp.cfg.EntityID)
	lr.CreateElement("samlp:Status").CreateElement("samlp:StatusCode").CreateAttr("Value", StatusSuccess)
	u, err := RedirectURL(idp.SLORedirect, "SAMLResponse", lr, r.URL.Query().Get("RelayState"), sp.cfg.Key)
	if err != nil {
		sp.errorPage(w, http.StatusInternalServerError, Message{"Errore interno.", "Internal error."}, "")
		return
	}
	http.Redirect(w, r, u, http.StatusFound)
}
