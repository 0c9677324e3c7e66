package spid

import (
	"bytes"
	"compress/flate"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"html/template"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"
)

// LevelURI returns the AuthnContextClassRef of SPID level 1..3.
func LevelURI(level int) string { return LevelURIPrefx + strconv.Itoa(level) }

// newID returns a random SAML ID that never starts with a digit.
func newID() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	return "_" + hex.EncodeToString(b)
}

// samlTime formats t in UTC as SAML wants it.
func samlTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// AuthnRequestElement builds the unsigned AuthnRequest for the pending request.
func AuthnRequestElement(entityID, destination string, p PendingRequest) *etree.Element {
	r := etree.NewElement("samlp:AuthnRequest")
	r.CreateAttr("xmlns:samlp", NSProtocol)
	r.CreateAttr("xmlns:saml", NSAssertion)
	r.CreateAttr("ID", p.ID)
	r.CreateAttr("Version", "2.0")
	r.CreateAttr("IssueInstant", samlTime(p.IssueInstant))
	r.CreateAttr("Destination", destination)
	if p.Level > 1 {
		r.CreateAttr("ForceAuthn", "true")
	}
	r.CreateAttr("AssertionConsumerServiceIndex", strconv.Itoa(p.ACSIndex))
	r.CreateAttr("AttributeConsumingServiceIndex", strconv.Itoa(p.AttrIndex))
	iss := r.CreateElement("saml:Issuer")
	iss.CreateAttr("Format", NameIDEntity)
	iss.CreateAttr("NameQualifier", entityID)
	iss.SetText(entityID)
	nip := r.CreateElement("samlp:NameIDPolicy")
	nip.CreateAttr("Format", NameIDTransient)
	rac := r.CreateElement("samlp:RequestedAuthnContext")
	rac.CreateAttr("Comparison", "minimum")
	rac.CreateElement("saml:AuthnContextClassRef").SetText(LevelURI(p.Level))
	return r
}

// RedirectURL encodes a SAML message for the HTTP-Redirect binding: raw
// DEFLATE, base64, and an RSA-SHA256 signature over the exact query string
// SAMLRequest|SAMLResponse=…&RelayState=…&SigAlg=….
func RedirectURL(endpoint, param string, el *etree.Element, relayState string, key *rsa.PrivateKey) (string, error) {
	raw, err := docBytes(el)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.BestCompression)
	_, _ = fw.Write(raw)
	_ = fw.Close()
	q := param + "=" + url.QueryEscape(base64.StdEncoding.EncodeToString(buf.Bytes()))
	if relayState != "" {
		q += "&RelayState=" + url.QueryEscape(relayState)
	}
	q += "&SigAlg=" + url.QueryEscape(AlgRSASHA256)
	sum := sha256.Sum256([]byte(q))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	q += "&Signature=" + url.QueryEscape(base64.StdEncoding.EncodeToString(sig))
	sep := "?"
	if strings.Contains(endpoint, "?") {
		sep = "&"
	}
	return endpoint + sep + q, nil
}

var postFormTmpl = template.Must(template.New("post").Parse(`<!DOCTYPE html>
<html lang="it"><head><meta charset="utf-8"><title>SPID</title></head>
<body onload="document.forms[0].submit()">
<form method="post" action="{{.Action}}">
<input type="hidden" name="{{.Param}}" value="{{.Value}}">
{{if .RelayState}}<input type="hidden" name="RelayState" value="{{.RelayState}}">{{end}}
<noscript><p>Premi il pulsante per continuare / Press the button to continue.</p></noscript>
<input type="submit" value="Continua / Continue">
</form></body></html>`))

// postForm renders the auto-submitting HTML form of the HTTP-POST binding.
func postForm(action, param string, xmlDoc []byte, relayState string) ([]byte, error) {
	var b bytes.Buffer
	err := postFormTmpl.Execute(&b, map[string]string{
		"Action": action, "Param": param,
		"Value":      base64.StdEncoding.EncodeToString(xmlDoc),
		"RelayState": relayState,
	})
	return b.Bytes(), err
}

func levelFromURI(s string) (int, error) {
	if !strings.HasPrefix(s, LevelURIPrefx) {
		return 0, fmt.Errorf("unknown AuthnContextClassRef %q", s)
	}
	switch s[len(LevelURIPrefx):] {
	case "1":
		return 1, nil
	case "2":
		return 2, nil
	case "3":
		return 3, nil
	}
	return 0, fmt.Errorf("unknown AuthnContextClassRef %q", s)
}
