package spididp_test

import (
	"bytes"
	"compress/flate"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/ponte-pa/ponte/mocks/spididp"
)

// testSP is a SPID Service Provider reduced to what the IdP sees of it:
// its metadata and its signed AuthnRequests (HTTP-Redirect binding,
// rsa-sha256), written from the SAML and SPID rules the IdP checks rather
// than with connectors/spid, which the IdP mock stands in front of.
type testSP struct {
	base string
	key  *rsa.PrivateKey
	cert *x509.Certificate
}

func newTestSP(t *testing.T, base string) *testSP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Comune di Prova", Country: []string{"IT"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testSP{base: base, key: key, cert: cert}
}

func (sp *testSP) entityID() string { return sp.base + "/spid/metadata" }

func (sp *testSP) metadata() []byte {
	return []byte(`<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="` + sp.entityID() + `">` +
		`<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" AuthnRequestsSigned="true" WantAssertionsSigned="true">` +
		`<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>` + base64.StdEncoding.EncodeToString(sp.cert.Raw) +
		`</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>` +
		`<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="` + sp.base + `/spid/slo"/>` +
		`<md:AssertionConsumerService index="0" isDefault="true" Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="` + sp.base + `/spid/acs"/>` +
		`<md:AttributeConsumingService index="0"><md:ServiceName xml:lang="it">Servizi</md:ServiceName>` +
		`<md:RequestedAttribute Name="name"/><md:RequestedAttribute Name="familyName"/><md:RequestedAttribute Name="fiscalNumber"/>` +
		`</md:AttributeConsumingService></md:SPSSODescriptor></md:EntityDescriptor>`)
}

var reqSeq atomic.Int64

// authnURL is the IdP's SSO URL carrying a signed, SPID-conformant
// AuthnRequest for level 2 (HTTP-Redirect binding).
func (sp *testSP) authnURL(t *testing.T, idp *spididp.Server) string {
	t.Helper()
	req := fmt.Sprintf(`<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"`+
		` ID="_req%d" Version="2.0" IssueInstant="%s" Destination="%s/sso" ForceAuthn="true"`+
		` AssertionConsumerServiceIndex="0" AttributeConsumingServiceIndex="0">`+
		`<saml:Issuer Format="urn:oasis:names:tc:SAML:2.0:nameid-format:entity" NameQualifier="%s">%s</saml:Issuer>`+
		`<samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:2.0:nameid-format:transient"/>`+
		`<samlp:RequestedAuthnContext Comparison="minimum"><saml:AuthnContextClassRef>https://www.spid.gov.it/SpidL2</saml:AuthnContextClassRef></samlp:RequestedAuthnContext>`+
		`</samlp:AuthnRequest>`, reqSeq.Add(1), time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), idp.URL(), sp.entityID(), sp.entityID())
	var buf bytes.Buffer
	fw, err := flate.NewWriter(&buf, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fw.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	signed := "SAMLRequest=" + url.QueryEscape(base64.StdEncoding.EncodeToString(buf.Bytes())) +
		"&RelayState=" + url.QueryEscape("/app") +
		"&SigAlg=" + url.QueryEscape("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256")
	sum := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, sp.key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return idp.URL() + "/sso?" + signed + "&Signature=" + url.QueryEscape(base64.StdEncoding.EncodeToString(sig))
}

// setup starts the mock IdP with a test SP registered; it returns the IdP
// and the SP's base URL.
func setup(t *testing.T) (*spididp.Server, *testSP) {
	t.Helper()
	idp, err := spididp.Start(spididp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := idp.Close(); err != nil {
			t.Error(err)
		}
	})
	sp := newTestSP(t, "https://comune.example.it")
	if err := idp.RegisterSP(sp.metadata()); err != nil {
		t.Fatal(err)
	}
	return idp, sp
}

var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func ssoURL(t *testing.T, idp *spididp.Server, sp *testSP) string { return sp.authnURL(t, idp) }

func getBody(t *testing.T, u string) string {
	t.Helper()
	r, err := noFollow.Get(u)
	return body(t, r, err)
}

func postBody(t *testing.T, u string, v url.Values) string {
	t.Helper()
	r, err := noFollow.PostForm(u, v)
	return body(t, r, err)
}

func body(t *testing.T, r *http.Response, err error) string {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var respRe = regexp.MustCompile(`name="SAMLResponse" value="([^"]*)"`)

func samlResponse(t *testing.T, page string) *etree.Element {
	t.Helper()
	m := respRe.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no SAMLResponse in %s", page)
	}
	raw, err := base64.StdEncoding.DecodeString(html.UnescapeString(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		t.Fatal(err)
	}
	return doc.Root()
}

func TestLoginFormPasswordAndCancel(t *testing.T) {
	idp, sp := setup(t)
	for _, tc := range []struct{ user, password, action, status string }{
		{"mario", "password", "login", "Success"},
		{"mario", "wrong", "login", "nr19"},
		{"mario", "", "cancel", "nr25"},
	} {
		page := getBody(t, ssoURL(t, idp, sp))
		m := regexp.MustCompile(`name="key" value="([^"]+)"`).FindStringSubmatch(page)
		if m == nil || !strings.Contains(page, "livello 2") {
			t.Fatalf("login form: %s", page)
		}
		page = postBody(t, idp.URL()+"/login", url.Values{"key": {m[1]}, "user": {tc.user}, "password": {tc.password}, "action": {tc.action}})
		r := samlResponse(t, page)
		got := r.FindElement("./Status/StatusCode").SelectAttrValue("Value", "")
		if msg := r.FindElement("./Status/StatusMessage"); msg != nil {
			got = strings.TrimPrefix(msg.Text(), "ErrorCode ")
		} else {
			got = got[strings.LastIndex(got, ":")+1:]
		}
		if got != tc.status {
			t.Errorf("%+v: status %s", tc, got)
		}
	}
}

func TestKnobsAndInspection(t *testing.T) {
	idp, sp := setup(t)
	idp.SetAutoLogin("mario")
	idp.Faults().FailNext(1, 503)
	if r, err := noFollow.Get(ssoURL(t, idp, sp)); err != nil || r.StatusCode != 503 {
		t.Fatalf("FailNext: %v %v", err, r)
	}
	// The same knobs over HTTP.
	resp, err := http.Post(idp.URL()+"/__mock/faults", "application/json", strings.NewReader(`{"dropNext":1}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || idp.Faults().Knobs().DropNext != 1 {
		t.Fatalf("POST /__mock/faults: %d %+v", resp.StatusCode, idp.Faults().Knobs())
	}
	if _, err := noFollow.Get(ssoURL(t, idp, sp)); err == nil {
		t.Fatal("DropNext: got an answer")
	}
	if st := idp.Faults().Stats(); st.Failed != 1 || st.Dropped != 1 {
		t.Fatalf("fault stats %+v", st)
	}
	if r := getBody(t, idp.URL()+"/metadata"); !strings.Contains(r, "IDPSSODescriptor") {
		t.Fatalf("faults must apply to /sso only; metadata: %.200s", r)
	}
	idp.Faults().SetLatency(time.Millisecond)
	idp.NextDefect("audience:wrong")
	r := samlResponse(t, getBody(t, ssoURL(t, idp, sp)))
	if a := r.FindElement("./Assertion/Conditions/AudienceRestriction/Audience").Text(); a != "https://other-sp.example/metadata" {
		t.Fatalf("NextDefect: audience %s", a)
	}
	idp.Faults().SetLatency(0)
	r = samlResponse(t, getBody(t, ssoURL(t, idp, sp)))
	if a := r.FindElement("./Assertion/Conditions/AudienceRestriction/Audience").Text(); a != sp.entityID() {
		t.Fatalf("defect not one-shot: %s", a)
	}
	if r.FindElement("./Signature") == nil || r.FindElement("./Assertion/Signature") == nil {
		t.Fatal("response and assertion must both be signed")
	}
	if _, err := http.PostForm(idp.URL()+"/__mock/defect", url.Values{"defect": {"unsigned"}}); err != nil {
		t.Fatal(err)
	}
	r = samlResponse(t, getBody(t, ssoURL(t, idp, sp)))
	if r.FindElement("./Signature") != nil || r.FindElement("./Assertion/Signature") != nil {
		t.Fatal("sticky defect over HTTP not applied")
	}
	var reqs []spididp.RequestInfo
	if err := json.Unmarshal([]byte(getBody(t, idp.URL()+"/__mock/requests")), &reqs); err != nil || len(reqs) != 3 { // the failed one is not recorded
		t.Fatalf("requests: %v %d", err, len(reqs))
	}
	if reqs[0].Level != 2 || !reqs[0].SignatureOK || len(reqs[0].Problems) != 0 {
		t.Fatalf("%+v", reqs[0])
	}
	var defects []string
	if err := json.Unmarshal([]byte(getBody(t, idp.URL()+"/__mock/defects")), &defects); err != nil || len(defects) != len(spididp.Defects()) || len(defects) < 90 {
		t.Fatalf("defects: %d %v", len(defects), err)
	}
	if _, err := http.PostForm(idp.URL()+"/__mock/reset", nil); err != nil || len(idp.Requests()) != 0 {
		t.Fatal("reset")
	}
	// An unknown SP is refused.
	garbage, err := noFollow.Get(idp.URL() + "/sso?SAMLRequest=%%%")
	if err != nil {
		t.Fatal(err)
	}
	garbage.Body.Close()
	if garbage.StatusCode != 400 {
		t.Fatalf("garbage request: %d", garbage.StatusCode)
	}
}

// TestRegisterSPOverHTTP: /__mock/sp takes SP metadata as the body or
// fetches it from ?url=, and refuses what is not SP metadata.
func TestRegisterSPOverHTTP(t *testing.T) {
	idp, err := spididp.Start(spididp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer idp.Close()
	md := `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://sp.example/spid/metadata">` +
		`<md:SPSSODescriptor><md:AssertionConsumerService index="0" Location="https://sp.example/spid/acs"/></md:SPSSODescriptor></md:EntityDescriptor>`
	served := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.WriteString(w, md); err != nil {
			t.Error(err)
		}
	}))
	defer served.Close()
	for _, tc := range []struct {
		query, body string
		status      int
	}{
		{"", md, http.StatusNoContent},
		{"?url=" + url.QueryEscape(served.URL+"/spid/metadata"), "", http.StatusNoContent},
		{"", "<foo/>", http.StatusBadRequest},
		{"?url=file:///etc/passwd", "", http.StatusBadRequest},
	} {
		resp, err := http.Post(idp.URL()+"/__mock/sp"+tc.query, "application/samlmetadata+xml", strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("POST /__mock/sp%s: HTTP %d, want %d", tc.query, resp.StatusCode, tc.status)
		}
	}
}

// TestRequestChecks: a request breaking many §2 rules is read, and each
// broken rule is named in Failed with a readable Problem.
func TestRequestChecks(t *testing.T) {
	s, err := spididp.New(spididp.Options{BaseURL: "https://idp.example"})
	if err != nil {
		t.Fatal(err)
	}
	bad := `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"
 ID="1abc" Version="2.0" IssueInstant="2026-01-01T10:00:00+01:00" Destination="https://other.example/sso" IsPassive="true"
 AssertionConsumerServiceIndex="0" AssertionConsumerServiceURL="https://sp.example/acs">
 <saml:Issuer>https://sp.example</saml:Issuer>
 <samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:2.0:nameid-format:transient" AllowCreate="true"/>
 <samlp:RequestedAuthnContext><saml:AuthnContextClassRef>https://www.spid.gov.it/SpidL2</saml:AuthnContextClassRef></samlp:RequestedAuthnContext>
</samlp:AuthnRequest>`
	form := url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString([]byte(bad))}, "RelayState": {"https://evil.example/"}}
	req := httptest.NewRequest(http.MethodPost, "/sso", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	info, err := s.ReadAuthnRequest(req)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"id", "issue-instant", "destination", "acs", "attribute-index", "force-authn", "is-passive",
		"issuer-format", "issuer-name-qualifier", "nameid-policy-allow-create", "requested-authn-context", "relay-state"}
	if strings.Join(info.Failed, ",") != strings.Join(want, ",") || len(info.Problems) != len(want) {
		t.Errorf("failed %v, want %v; problems %q", info.Failed, want, info.Problems)
	}
	if len(s.Requests()) != 1 {
		t.Errorf("request not logged: %d", len(s.Requests()))
	}
}
