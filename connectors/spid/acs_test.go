package spid_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/ponte-pa/ponte/connectors/spid"
	"github.com/ponte-pa/ponte/mocks/spididp"
)

// TestACSEveryDefect drives every broken-response case of the mock IdP
// (missing / empty / wrong value of each checked field, and the named
// attacks) through the real ACS over HTTP.
func TestACSEveryDefect(t *testing.T) {
	e := newEnv(t, spid.Options{})
	for _, d := range spididp.Defects() {
		want, ok := expectedCodes[d]
		if !ok {
			t.Errorf("defect %q has no pinned expectation", d)
			continue
		}
		t.Run(d, func(t *testing.T) {
			st, code, ck := e.run(t, "2", "0", "mario", d)
			if st != want.status || code != want.code {
				t.Fatalf("got %d %q, want %d %q", st, code, want.status, want.code)
			}
			if (ck != nil) != (want.code == "") {
				t.Fatalf("session cookie = %v, want %v", ck != nil, want.code == "")
			}
			if want.code != "" && st < 400 {
				t.Fatalf("rejection with status %d", st)
			}
		})
	}
}

func claims(t *testing.T, e *env, ck *http.Cookie) map[string]any {
	t.Helper()
	req, err := http.NewRequest("GET", e.spURL+"/spid/me?format=json", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.AddCookie(ck)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/spid/me: %d", resp.StatusCode)
	}
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestACSPositiveLevelsAndSets(t *testing.T) {
	e := newEnv(t, spid.Options{})
	for _, tc := range []struct {
		level, attrs string
		want         map[string]string
	}{
		{"1", "0", map[string]string{"name": "Mario", "familyName": "Rossi", "fiscalNumber": "TINIT-RSSMRA80A01H501U"}},
		{"2", "0", map[string]string{"name": "Mario", "familyName": "Rossi", "fiscalNumber": "TINIT-RSSMRA80A01H501U"}},
		{"3", "1", map[string]string{"name": "Mario", "familyName": "Rossi", "fiscalNumber": "TINIT-RSSMRA80A01H501U", "email": "mario.rossi@example.org", "dateOfBirth": "1980-01-01"}},
	} {
		st, code, ck := e.run(t, tc.level, tc.attrs, "mario", "")
		if st != http.StatusSeeOther || ck == nil {
			t.Fatalf("L%s: %d %s", tc.level, st, code)
		}
		c := claims(t, e, ck)
		if c["fiscalNumber"] != "TINIT-RSSMRA80A01H501U" || c["name"] != "Mario" || c["familyName"] != "Rossi" {
			t.Errorf("claims %v", c)
		}
		if c["spidLevel"] != float64(tc.level[0]-'0') || c["idp"] != e.idp.EntityID() || c["sessionIndex"] == "" {
			t.Errorf("level/idp/session: %v %v %v", c["spidLevel"], c["idp"], c["sessionIndex"])
		}
		attrs, ok := c["attributes"].(map[string]any)
		if !ok {
			t.Fatalf("claims without an attributes object: %v", c)
		}
		if len(attrs) != len(tc.want) {
			t.Errorf("attributes %v, want %v", attrs, tc.want)
		}
		for k, v := range tc.want {
			if attrs[k] != v {
				t.Errorf("attribute %s = %v, want %s", k, attrs[k], v)
			}
		}
	}
}

func TestACSUserWithoutLevelGetsNr20(t *testing.T) {
	e := newEnv(t, spid.Options{})
	st, code, ck := e.run(t, "3", "0", "anna", "")
	if st != http.StatusUnauthorized || code != "nr20" || ck != nil {
		t.Fatalf("%d %q %v", st, code, ck)
	}
}

func TestACSErrorMessagesBilingual(t *testing.T) {
	e := newEnv(t, spid.Options{})
	for _, nr := range []string{"nr19", "nr20", "nr21", "nr22", "nr23", "nr25"} {
		action, v := e.idpForm(t, "2", "0", "mario", nr)
		resp, body := post(t, noFollow, action, v)
		m := spid.SPIDErrorMessages[nr]
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, htmlEsc(m.IT)) || !strings.Contains(body, htmlEsc(m.EN)) {
			t.Errorf("%s: %d %s", nr, resp.StatusCode, body)
		}
	}
}

func htmlEsc(s string) string { return strings.ReplaceAll(s, "'", "&#39;") }

func TestACSCommentDoesNotTruncate(t *testing.T) {
	e := newEnv(t, spid.Options{})
	st, code, ck := e.run(t, "2", "0", "mario", "nameid-comment")
	if st != http.StatusSeeOther || ck == nil {
		t.Fatalf("%d %s", st, code)
	}
	if c := claims(t, e, ck); c["fiscalNumber"] != "TINIT-RSSMRA80A01H501U" || len(c["nameID"].(string)) != 33 {
		t.Fatalf("truncated: %v / %v", c["fiscalNumber"], c["nameID"])
	}
}

func TestACSReplayAndSingleUse(t *testing.T) {
	e := newEnv(t, spid.Options{})
	action, v := e.idpForm(t, "2", "0", "mario", "")
	if st, code, _ := e.acs(t, action, v); st != http.StatusSeeOther {
		t.Fatalf("first: %d %s", st, code)
	}
	if st, code, ck := e.acs(t, action, v); st != 400 || code != "replay" || ck != nil {
		t.Fatalf("replay: %d %s", st, code)
	}
	// A rejected response still consumes its request ID: a valid answer to
	// the same request afterwards is refused.
	action, v = e.idpForm(t, "2", "0", "mario", "audience:wrong")
	if st, code, _ := e.acs(t, action, v); code != "audience" {
		t.Fatalf("audience: %d %s", st, code)
	}
	reqs := e.idp.Requests()
	last := reqs[len(reqs)-1]
	b, err := e.idp.BuildResponse(spididp.ResponseParams{Request: last, ACS: e.spURL + "/spid/acs", Audience: e.sp.EntityID(),
		User: spididp.DefaultUsers()[0], Attributes: []string{"name", "familyName", "fiscalNumber"}})
	if err != nil {
		t.Fatal(err)
	}
	v.Set("SAMLResponse", base64.StdEncoding.EncodeToString(b))
	if st, code, ck := e.acs(t, action, v); st != 400 || code != "response_in_response_to" || ck != nil {
		t.Fatalf("second answer to a consumed request: %d %s", st, code)
	}
}

func TestACSRelayStateMustMatch(t *testing.T) {
	e := newEnv(t, spid.Options{})
	action, v := e.idpForm(t, "2", "0", "mario", "")
	v.Set("RelayState", "https://evil.example/")
	if st, code, _ := e.acs(t, action, v); st != 400 || code != "relay_state" {
		t.Fatalf("%d %s", st, code)
	}
}

func post64(t *testing.T, e *env, doc string) (int, string) {
	t.Helper()
	st, code, ck := e.acs(t, e.spURL+"/spid/acs", url.Values{"SAMLResponse": {base64.StdEncoding.EncodeToString([]byte(doc))}})
	if ck != nil {
		t.Fatal("session created")
	}
	return st, code
}

func TestACSHostileInput(t *testing.T) {
	e := newEnv(t, spid.Options{MaxResponseBytes: 64 << 10})
	xxe := `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_a">&x;</samlp:Response>`
	laughs := `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">&lol3;</samlp:Response>`
	for _, tc := range []struct {
		name, doc string
		status    int
		code      string
	}{
		{"xxe", xxe, 400, "response_dtd"},
		{"billion-laughs", laughs, 400, "response_dtd"},
		{"lowercase-doctype", strings.Replace(xxe, "DOCTYPE", "doctype", 1), 400, "response_dtd"},
		{"not-xml", "hello", 400, "response_malformed"},
		{"unclosed", `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">`, 400, "response_malformed"},
		{"other-root", `<a/>`, 400, "not_a_response"},
		{"bare-response", `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"/>`, 400, "response_id"},
		{"oversized", `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">` + strings.Repeat("A", 70<<10) + `</samlp:Response>`, 413, "response_too_large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, code := post64(t, e, tc.doc)
			if st != tc.status || code != tc.code {
				t.Fatalf("got %d %q, want %d %q", st, code, tc.status, tc.code)
			}
		})
	}
	// Not base64, and a body far above the limit.
	if st, code, _ := e.acs(t, e.spURL+"/spid/acs", url.Values{"SAMLResponse": {"%%%"}}); st != 400 || code != "response_malformed" {
		t.Errorf("not base64: %d %s", st, code)
	}
	if st, code, _ := e.acs(t, e.spURL+"/spid/acs", url.Values{"SAMLResponse": {strings.Repeat("A", 1<<20)}}); st != 413 || code != "response_too_large" {
		t.Errorf("huge body: %d %s", st, code)
	}
}

func TestValidateResponseErrorsIs(t *testing.T) {
	e := newEnv(t, spid.Options{})
	_, err := e.sp.ValidateResponse(t.Context(), base64.StdEncoding.EncodeToString([]byte("<x/>")), "")
	var ve *spid.ValidationError
	if !errors.As(err, &ve) || !errors.Is(err, spid.ErrNotResponse) || ve.Code != spid.ErrNotResponse {
		t.Fatalf("%v", err)
	}
	if m := spid.UserMessage(err); !strings.Contains(m.IT, "not_a_response") || !strings.Contains(m.EN, "not_a_response") {
		t.Fatalf("%v", m)
	}
}

func TestJWKSVerifiesToken(t *testing.T) {
	e := newEnv(t, spid.Options{})
	_, _, ck := e.run(t, "2", "0", "mario", "")
	if ck == nil || !ck.HttpOnly {
		t.Fatalf("cookie %v", ck)
	}
	resp, body := get(t, http.DefaultClient, e.spURL+"/spid/jwks.json")
	if resp.StatusCode != 200 {
		t.Fatal(resp.StatusCode)
	}
	set, err := jwk.Parse([]byte(body))
	if err != nil || set.Len() != 2 { // the ES256 key that signs, and the RSA one

		t.Fatalf("jwks: %v %s", err, body)
	}
	tok, err := jwt.Parse([]byte(ck.Value), jwt.WithKeySet(set), jwt.WithValidate(true))
	if err != nil {
		t.Fatal(err)
	}
	if tok.Subject() != "TINIT-RSSMRA80A01H501U" || tok.Issuer() != e.sp.EntityID() {
		t.Fatalf("sub %s iss %s", tok.Subject(), tok.Issuer())
	}
	// A token signed with another key is refused by /spid/me.
	req, err := http.NewRequest("GET", e.spURL+"/spid/me", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.AddCookie(&http.Cookie{Name: "ponte_spid", Value: ck.Value[:len(ck.Value)-4] + "AAAA"})
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != http.StatusUnauthorized {
		t.Fatalf("tampered token: %d", r2.StatusCode)
	}
}
