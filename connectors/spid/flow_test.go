package spid_test

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/ponte-pa/ponte/connectors/spid"
)

// TestBrowserFlow follows the whole login as a browser would, with a cookie
// jar: chooser page → IdP (auto-login) → auto-POST form → ACS → /spid/me.
func TestBrowserFlow(t *testing.T) {
	e := newEnv(t, spid.Options{})
	e.idp.SetAutoLogin("mario")
	c := newJarClient(t)
	resp, body := get(t, c, e.spURL+"/spid/login?level=2&attrs=1")
	if resp.StatusCode != 200 || !strings.Contains(body, "Entra con SPID") || !strings.Contains(body, "Mock SPID IdP") {
		t.Fatalf("chooser: %d %s", resp.StatusCode, body)
	}
	link := actionLink(t, body)
	resp, body = get(t, c, e.spURL+link) // redirected to the IdP, which answers with the form
	if resp.Request.URL.Host != strings.TrimPrefix(e.idp.URL(), "http://") {
		t.Fatalf("not at the IdP: %s", resp.Request.URL)
	}
	action, v := form(t, body)
	if action != e.spURL+"/spid/acs" {
		t.Fatalf("form action %s", action)
	}
	resp, body = post(t, c, action, v) // ACS → 303 → /spid/me
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/spid/me" {
		t.Fatalf("after ACS: %d %s %s", resp.StatusCode, resp.Request.URL, body)
	}
	for _, want := range []string{"Benvenuto/a, Mario Rossi", `id="attr-fiscalNumber">TINIT-RSSMRA80A01H501U`, `id="attr-email">mario.rossi@example.org`, `id="attr-dateOfBirth">1980-01-01`, `id="level">2`} {
		if !strings.Contains(body, want) {
			t.Errorf("/spid/me lacks %q:\n%s", want, body)
		}
	}
	// Single logout: SP → IdP → LogoutResponse back to the SP.
	resp, body = get(t, c, e.spURL+"/spid/slo")
	if resp.StatusCode != 200 || !strings.Contains(body, "logged out") {
		t.Fatalf("slo: %d %s", resp.StatusCode, body)
	}
	if resp, _ := get(t, c, e.spURL+"/spid/me"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/spid/me after logout: %d", resp.StatusCode)
	}
}

func actionLink(t *testing.T, body string) string {
	i := strings.Index(body, `href="/spid/login?idp=`)
	if i < 0 {
		t.Fatalf("no IdP link: %s", body)
	}
	rest := body[i+len(`href="`):]
	return strings.ReplaceAll(rest[:strings.Index(rest, `"`)], "&amp;", "&")
}

func inflate(t *testing.T, b64 string) *etree.Element {
	t.Helper()
	comp, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(flate.NewReader(bytes.NewReader(comp)))
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		t.Fatal(err)
	}
	return doc.Root()
}

// TestAuthnRequestRules checks each AuthnRequest rule on what the IdP received.
func TestAuthnRequestRules(t *testing.T) {
	e := newEnv(t, spid.Options{})
	for _, level := range []string{"1", "2", "3"} {
		resp, body := get(t, noFollow, e.spURL+"/spid/login?idp="+url.QueryEscape(e.idp.EntityID())+"&level="+level+"&attrs=1")
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		q := loc.Query()
		if q.Get("SigAlg") != "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" || q.Get("Signature") == "" {
			t.Fatalf("redirect signature params: %v", q)
		}
		rs := q.Get("RelayState")
		if !strings.HasPrefix(rs, "rs_") || strings.Contains(rs, "/") {
			t.Fatalf("RelayState must be an opaque reference, got %q", rs)
		}
		r := inflate(t, q.Get("SAMLRequest"))
		id := r.SelectAttrValue("ID", "")
		if id == "" || (id[0] >= '0' && id[0] <= '9') {
			t.Errorf("ID %q", id)
		}
		want := map[string]string{"Version": "2.0", "Destination": e.idp.URL() + "/sso", "AssertionConsumerServiceIndex": "0", "AttributeConsumingServiceIndex": "1"}
		for k, v := range want {
			if got := r.SelectAttrValue(k, ""); got != v {
				t.Errorf("%s = %q, want %q", k, got, v)
			}
		}
		if fa := r.SelectAttrValue("ForceAuthn", ""); (level != "1") != (fa == "true") {
			t.Errorf("L%s ForceAuthn=%q", level, fa)
		}
		if r.SelectAttr("IsPassive") != nil || r.SelectAttr("AssertionConsumerServiceURL") != nil {
			t.Error("IsPassive or ACS URL present")
		}
		if !strings.HasSuffix(r.SelectAttrValue("IssueInstant", ""), "Z") {
			t.Error("IssueInstant not UTC")
		}
		iss := r.SelectElement("Issuer")
		if iss.Text() != e.sp.EntityID() || iss.SelectAttrValue("Format", "") != spid.NameIDEntity || iss.SelectAttrValue("NameQualifier", "") != e.sp.EntityID() {
			t.Errorf("Issuer %v %s", iss.Attr, iss.Text())
		}
		nip := r.SelectElement("NameIDPolicy")
		if nip.SelectAttrValue("Format", "") != spid.NameIDTransient || nip.SelectAttr("AllowCreate") != nil {
			t.Errorf("NameIDPolicy %v", nip.Attr)
		}
		rac := r.SelectElement("RequestedAuthnContext")
		if rac.SelectAttrValue("Comparison", "") != "minimum" || rac.SelectElement("AuthnContextClassRef").Text() != "https://www.spid.gov.it/SpidL"+level {
			t.Errorf("RequestedAuthnContext %v", rac.Attr)
		}
		// The mock IdP verifies the signature with the SP's metadata certificate.
		if _, body := get(t, noFollow, loc.String()+"&user=mario"); !strings.Contains(body, "SAMLResponse") {
			t.Fatalf("IdP refused: %s", body)
		}
		reqs := e.idp.Requests()
		got := reqs[len(reqs)-1]
		if !got.SignatureOK || len(got.Problems) != 0 {
			t.Errorf("IdP found: sig=%v problems=%v", got.SignatureOK, got.Problems)
		}
		// A tampered query no longer verifies.
		bad := strings.Replace(loc.String(), "RelayState=rs_", "RelayState=rs_x", 1)
		if r, _ := get(t, noFollow, bad+"&user=mario"); r.StatusCode != http.StatusForbidden {
			t.Errorf("tampered redirect accepted by IdP: %d", r.StatusCode)
		}
	}
}

func TestAuthnRequestPOSTBinding(t *testing.T) {
	e := newEnv(t, spid.Options{UsePOST: true})
	resp, body := get(t, noFollow, e.spURL+"/spid/login?idp="+url.QueryEscape(e.idp.EntityID())+"&level=2")
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	action, v := form(t, body)
	raw, err := base64.StdEncoding.DecodeString(v.Get("SAMLRequest"))
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		t.Fatal(err)
	}
	sig := doc.Root().SelectElement("Signature")
	if sig == nil || doc.Root().ChildElements()[1] != sig {
		t.Fatal("POST AuthnRequest must carry an enveloped signature after Issuer")
	}
	if sig.FindElement("./KeyInfo/X509Data/X509Certificate") == nil {
		t.Error("no certificate in KeyInfo")
	}
	v.Set("user", "mario")
	_, body = post(t, noFollow, action, v)
	action2, v2 := form(t, body)
	if st, code, ck := e.acs(t, action2, v2); st != http.StatusSeeOther || ck == nil {
		t.Fatalf("POST binding login: %d %s", st, code)
	}
	got := e.idp.Requests()[0]
	if !got.SignatureOK || len(got.Problems) != 0 || got.Binding != spid.BindingPOST {
		t.Fatalf("IdP found: %+v", got)
	}
}

func TestLoginParameters(t *testing.T) {
	e := newEnv(t, spid.Options{})
	for _, q := range []string{"level=4", "level=x", "attrs=9", "idp=https://unknown.example"} {
		if r, body := get(t, noFollow, e.spURL+"/spid/login?"+q); r.StatusCode != 400 || !strings.Contains(body, "lang=\"en\"") {
			t.Errorf("%s: %d", q, r.StatusCode)
		}
	}
	// next= keeps only local paths (no open redirect).
	for next, want := range map[string]string{"/servizi/tari": "/servizi/tari", "https://evil.example": "/spid/me", "//evil.example": "/spid/me"} {
		u, _, err := e.sp.LoginStart(t.Context(), e.idp.EntityID(), 2, 0, next)
		if err != nil {
			t.Fatal(err)
		}
		lu, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		p, err := e.store.Pending(t.Context(), inflate(t, lu.Query().Get("SAMLRequest")).SelectAttrValue("ID", ""), now0())
		if err != nil || p.ReturnTo != want {
			t.Errorf("next=%s: %v %q", next, err, p.ReturnTo)
		}
	}
}

// TestIdPInitiatedLogout: the IdP's signed LogoutRequest ends the session
// and is answered with a signed LogoutResponse; broken ones are refused.
func TestIdPInitiatedLogout(t *testing.T) {
	e := newEnv(t, spid.Options{})
	e.idp.SetAutoLogin("mario")
	c := newJarClient(t)
	_, body := get(t, c, e.spURL+"/spid/login?idp="+url.QueryEscape(e.idp.EntityID()))
	action, v := form(t, body)
	if resp, _ := post(t, c, action, v); resp.Request.URL.Path != "/spid/me" {
		t.Fatalf("login failed: %s", resp.Request.URL)
	}
	for name, tamper := range map[string]func(*etree.Element){
		"wrong-destination": func(el *etree.Element) { el.CreateAttr("Destination", "https://evil.example/slo") },
		"no-nameid":         func(el *etree.Element) { el.RemoveChild(el.SelectElement("NameID")) },
		"bad-version":       func(el *etree.Element) { el.CreateAttr("Version", "1.0") },
	} {
		u, err := e.idp.LogoutRequestURL(e.sp.EntityID(), "_n", "_s", tamper)
		if err != nil {
			t.Fatal(err)
		}
		if resp, _ := get(t, noFollow, u); resp.StatusCode != 400 {
			t.Errorf("%s: %d", name, resp.StatusCode)
		}
	}
	u, err := e.idp.LogoutRequestURL(e.sp.EntityID(), "_n", "_s", nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp, _ := get(t, noFollow, strings.Replace(u, "SigAlg=", "SigAlg=x", 1)); resp.StatusCode != 400 {
		t.Errorf("bad signature: %d", resp.StatusCode)
	}
	resp, body := get(t, c, u)
	if resp.StatusCode != 200 || !strings.Contains(body, "logout complete") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	res := e.idp.LogoutResults()
	if len(res) != 1 || !res[0].SignatureOK || res[0].Status != spid.StatusSuccess || res[0].Issuer != e.sp.EntityID() {
		t.Fatalf("%+v", res)
	}
	if resp, _ := get(t, c, e.spURL+"/spid/me"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("session survived: %d", resp.StatusCode)
	}
	// Replay of the same LogoutRequest is refused.
	if resp, _ := get(t, noFollow, u); resp.StatusCode != 400 {
		t.Fatalf("replayed logout: %d", resp.StatusCode)
	}
}
