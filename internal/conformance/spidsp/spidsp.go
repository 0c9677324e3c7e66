// Package spidsp is the "spid-sp" conformance suite: it checks any SPID/CIE
// SAML Service Provider — Ponte's or anyone's — against
// shared/docs/spid-sp-rules.md, the way AgID's spid-sp-test does: its
// metadata, the AuthnRequest it sends when a login starts, and how its
// Assertion Consumer Service answers responses crafted by the suite's own
// test IdP (a good one, and one per known attack or defect).
//
// The suite plays the IdP with mocks/spididp, which shares no code with
// Ponte's SP (connectors/spid); the metadata rules are the exported ones of
// connectors/spid, which judge any SP's EntityDescriptor.
//
// Before a run, the SP under test must trust the suite's IdP: run the suite
// once with --opt setup-only=true --opt idp-key=FILE --opt idp-cert=FILE
// --opt idp-metadata-out=idp.xml, add idp.xml to the SP's trusted IdP
// metadata (for Ponte: the tenant's spid.idpMetadata), restart the SP, and
// run the suite with the same idp-* options. See Doc for every option.
package spidsp

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ponte-pa/ponte/connectors/spid"
	"github.com/ponte-pa/ponte/internal/conformance"
	"github.com/ponte-pa/ponte/mocks/spididp"
)

// Name is the suite's name.
const Name = "spid-sp"

// DefaultIdPURL is the suite IdP's entityID when idp-url is not given. The
// suite never listens there: it reads the SP's redirect or form itself.
const DefaultIdPURL = "https://idp.conformance.ponte.invalid"

// DefaultLogin is the login template when login is not given (Ponte's SP).
const DefaultLogin = "{base}/spid/login?idp={idp}"

// Doc describes the suite and its options.
const Doc = `Checks a SPID/CIE Service Provider against spid-sp-rules.md: metadata (§1),
the AuthnRequest of a login (§2), and its ACS's answers to responses from the
suite's test IdP (§3): a good one must be accepted, each attack or defect refused.
The SP must first trust the suite's IdP: run with setup-only=true and the idp-*
options, give the written metadata to the SP as a trusted IdP, then run again
with the same idp-* options.
Options (--opt key=value):
  metadata=URL          SP metadata (default: the target, then {base}/spid/metadata,
                        {base}/saml/metadata, {base}/metadata)
  login=TEMPLATE        URL that starts a login (default "` + DefaultLogin + `");
                        {base} is the target, {idp} the suite IdP's entityID (escaped)
  idp-url=URL           the suite IdP's entityID; its SSO endpoint is URL/sso
                        (default ` + DefaultIdPURL + `)
  idp-key=FILE          the suite IdP's PEM key and certificate, created when both are
  idp-cert=FILE         missing; keep them, the SP trusts this key
  idp-metadata-out=FILE write the suite IdP's metadata there
  setup-only=true       only create the key and write the metadata
  user=NAME             test citizen (mario, anna; default mario)
  accept-cookie=NAME    a response counts as accepted only if it sets cookie NAME
  accept-location=RE    ... and, when answered with a redirect, only if Location matches RE
                        (default: accepted = HTTP 2xx or 3xx, refused = 4xx or 5xx)
  oversize-bytes=N      size of the oversize response (default 2097152)`

func init() {
	conformance.Register(conformance.Suite{Name: Name, Doc: Doc, Cases: Cases})
}

// memo is a step shared by several cases, run by the first that needs it.
type memo[T any] struct {
	done bool
	v    T
	err  error
}

func (m *memo[T]) get(f func() (T, error)) (T, error) {
	if !m.done {
		m.v, m.err = f()
		m.done = true
	}
	return m.v, m.err
}

// run is one run of the suite against one target.
type run struct {
	tg       *conformance.Target
	base     string
	idp      *spididp.Server
	user     spididp.User
	accept   acceptance
	oversize int

	md      memo[*fetchedMD]
	request memo[*capture]
	good    memo[struct{}]
}

type fetchedMD struct {
	m *spid.SPMetadata
}

type acceptance struct {
	cookie   string
	location *regexp.Regexp
}

// Cases sets the suite up for tg and returns its cases.
func Cases(ctx context.Context, tg *conformance.Target) ([]conformance.Case, error) {
	r, err := setup(tg)
	if err != nil {
		return nil, err
	}
	if tg.Options["setup-only"] == "true" {
		return []conformance.Case{{
			Name: "setup/idp-metadata",
			Rule: "spid-sp-rules.md §5: the SP trusts a local test IdP in non-production setups (this suite's)",
			Run:  func(context.Context, *conformance.Target) error { return nil },
		}}, nil
	}
	var cases []conformance.Case
	cases = append(cases, r.metadataCases()...)
	cases = append(cases, r.requestCases()...)
	cases = append(cases, r.responseCases()...)
	return cases, nil
}

func opt(tg *conformance.Target, k, def string) string {
	if v := tg.Options[k]; v != "" {
		return v
	}
	return def
}

func setup(tg *conformance.Target) (*run, error) {
	if err := CheckOptions(tg.Options); err != nil {
		return nil, err
	}
	r := &run{tg: tg, base: strings.TrimRight(tg.URL, "/")}
	idpURL := strings.TrimRight(opt(tg, "idp-url", DefaultIdPURL), "/")
	if u, err := url.Parse(idpURL); err != nil || !u.IsAbs() {
		return nil, fmt.Errorf("idp-url %q is not an absolute URL", idpURL)
	}
	key, cert, err := idpKeyPair(tg.Options["idp-key"], tg.Options["idp-cert"])
	if err != nil {
		return nil, err
	}
	r.idp, err = spididp.New(spididp.Options{BaseURL: idpURL, EntityID: idpURL, Name: "Ponte conformance IdP",
		Key: key, Cert: cert, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return nil, err
	}
	if out := tg.Options["idp-metadata-out"]; out != "" {
		if err := os.WriteFile(out, r.idp.Metadata(), 0o644); err != nil {
			return nil, fmt.Errorf("idp-metadata-out: %w", err)
		}
		logf(tg, "wrote the suite IdP's metadata (entityID %s) to %s: the SP under test must trust it", idpURL, out)
	}
	name := opt(tg, "user", "mario")
	for _, u := range spididp.DefaultUsers() {
		if u.Username == name {
			r.user = u
		}
	}
	if r.user.Username == "" {
		return nil, fmt.Errorf("user %q is not a test citizen of the suite IdP", name)
	}
	r.accept.cookie = tg.Options["accept-cookie"]
	if re := tg.Options["accept-location"]; re != "" {
		if r.accept.location, err = regexp.Compile(re); err != nil {
			return nil, fmt.Errorf("accept-location: %w", err)
		}
	}
	r.oversize = 2 << 20
	if v := tg.Options["oversize-bytes"]; v != "" {
		if r.oversize, err = strconv.Atoi(v); err != nil || r.oversize <= 0 {
			return nil, fmt.Errorf("oversize-bytes %q is not a positive number", v)
		}
	}
	if tg.Options["setup-only"] != "true" {
		if _, err := r.loginURL(); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func logf(tg *conformance.Target, format string, a ...any) {
	if tg.Log != nil {
		fmt.Fprintf(tg.Log, format+"\n", a...)
	}
}

// idpKeyPair reads the suite IdP's key pair, creating both files when both
// are missing; with no files it makes a key for this run only.
func idpKeyPair(keyFile, certFile string) (*rsa.PrivateKey, *x509.Certificate, error) {
	if (keyFile == "") != (certFile == "") {
		return nil, nil, errors.New("give both idp-key and idp-cert, or neither")
	}
	if keyFile == "" {
		return spididp.NewKeyCert("Ponte conformance IdP")
	}
	kp, kerr := os.ReadFile(keyFile)
	cp, cerr := os.ReadFile(certFile)
	switch {
	case errors.Is(kerr, os.ErrNotExist) && errors.Is(cerr, os.ErrNotExist):
		k, c, err := spididp.NewKeyCert("Ponte conformance IdP")
		if err != nil {
			return nil, nil, err
		}
		kp, cp := spid.EncodeKeyPair(k, c)
		if err := os.WriteFile(keyFile, kp, 0o600); err != nil {
			return nil, nil, err
		}
		if err := os.WriteFile(certFile, cp, 0o644); err != nil {
			return nil, nil, err
		}
		return k, c, nil
	case kerr != nil:
		return nil, nil, fmt.Errorf("idp-key: %w", kerr)
	case cerr != nil:
		return nil, nil, fmt.Errorf("idp-cert: %w", cerr)
	}
	k, c, err := spid.ParseKeyPair(kp, cp)
	if err != nil {
		return nil, nil, fmt.Errorf("idp-key/idp-cert: %w", err)
	}
	return k, c, nil
}

// --- metadata ---

func (r *run) metadata(ctx context.Context) (*fetchedMD, error) {
	return r.md.get(func() (*fetchedMD, error) {
		cands := []string{r.tg.Options["metadata"]}
		if cands[0] == "" {
			cands = []string{r.base, r.base + "/spid/metadata", r.base + "/saml/metadata", r.base + "/metadata"}
		}
		var errs []error
		for _, u := range cands {
			raw, err := r.fetch(ctx, u)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			m, err := spid.ParseSPMetadata(raw, time.Now())
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", u, err))
				continue
			}
			if err := r.idp.RegisterSP(raw); err != nil {
				return nil, fmt.Errorf("%s: the suite IdP cannot read it: %w", u, err)
			}
			logf(r.tg, "SP metadata from %s (entityID %s)", u, m.EntityID())
			return &fetchedMD{m: m}, nil
		}
		return nil, fmt.Errorf("no SP metadata found: %w", errors.Join(errs...))
	})
}

func (r *run) fetch(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := r.tg.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %d", u, resp.StatusCode)
	}
	return b, nil
}

func (r *run) metadataCases() []conformance.Case {
	cases := []conformance.Case{{
		Name: "metadata/available",
		Rule: "spid-sp-rules.md §1: the SP metadata is served at a stable URL as an md:EntityDescriptor (without DTDs)",
		Run: func(ctx context.Context, _ *conformance.Target) error {
			_, err := r.metadata(ctx)
			return err
		},
	}}
	for _, rule := range spid.MetadataRules() {
		cases = append(cases, conformance.Case{
			Name: "metadata/" + rule.Name,
			Rule: rule.Rule,
			Run: func(ctx context.Context, _ *conformance.Target) error {
				md, err := r.metadata(ctx)
				if err != nil {
					return err
				}
				err = rule.Check(md.m)
				if errors.Is(err, spid.ErrNotApplicable) {
					return conformance.Skipf("%v", err)
				}
				return err
			},
		})
	}
	return cases
}

// --- AuthnRequest ---

// capture is one login started at the SP: the AuthnRequest as the suite
// IdP read it, and the browser (its cookies) that started it.
type capture struct {
	info   spididp.RequestInfo
	client *http.Client
}

func (r *run) loginURL() (string, error) {
	t := opt(r.tg, "login", DefaultLogin)
	if !strings.Contains(t, "{base}") && !strings.HasPrefix(t, "http") {
		return "", fmt.Errorf("login %q: want an absolute URL or a template with {base}", t)
	}
	return strings.NewReplacer("{base}", r.base, "{idp}", url.QueryEscape(r.idp.EntityID())).Replace(t), nil
}

var (
	formRe   = regexp.MustCompile(`(?is)<form[^>]*\saction="([^"]*)"`)
	inputRe  = regexp.MustCompile(`(?is)<input[^>]*>`)
	nameRe   = regexp.MustCompile(`(?is)\sname="([^"]*)"`)
	valueRe  = regexp.MustCompile(`(?is)\svalue="([^"]*)"`)
	tagRe    = regexp.MustCompile(`(?s)<[^>]*>`)
	spacesRe = regexp.MustCompile(`\s+`)
)

// login starts a login at the SP and reads the AuthnRequest it sends to
// the suite IdP, with the HTTP-Redirect binding (a redirect) or the
// HTTP-POST binding (an auto-submitting form).
func (r *run) login(ctx context.Context) (*capture, error) {
	if _, err := r.metadata(ctx); err != nil {
		return nil, err
	}
	lu, err := r.loginURL()
	if err != nil {
		return nil, err
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	c := &http.Client{Transport: r.tg.HTTP.Transport, Timeout: r.tg.HTTP.Timeout, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, lu, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("starting a login: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	sso := r.idp.URL() + "/sso"
	var idpReq *http.Request
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		loc, err := resp.Location()
		if err != nil {
			return nil, fmt.Errorf("login at %s: HTTP %d without a Location", lu, resp.StatusCode)
		}
		if !strings.HasPrefix(loc.String(), sso+"?") {
			return nil, fmt.Errorf("login at %s redirects to %s, not to the suite IdP's SSO endpoint %s: does the SP trust the suite IdP's metadata (idp-metadata-out), and does the login template name it?", lu, loc, sso)
		}
		idpReq, err = http.NewRequestWithContext(ctx, http.MethodGet, "/sso?"+loc.RawQuery, nil)
		if err != nil {
			return nil, err
		}
	case resp.StatusCode == http.StatusOK:
		m := formRe.FindSubmatch(body)
		if m == nil {
			return nil, fmt.Errorf("login at %s: HTTP 200 without a redirect or an HTTP-POST form: %s", lu, excerpt(body))
		}
		if action := html.UnescapeString(string(m[1])); action != sso {
			return nil, fmt.Errorf("login at %s posts to %s, not to the suite IdP's SSO endpoint %s", lu, action, sso)
		}
		form := url.Values{}
		for _, in := range inputRe.FindAll(body, -1) {
			n, v := nameRe.FindSubmatch(in), valueRe.FindSubmatch(in)
			if n != nil && v != nil {
				form.Set(html.UnescapeString(string(n[1])), html.UnescapeString(string(v[1])))
			}
		}
		idpReq, err = http.NewRequestWithContext(ctx, http.MethodPost, "/sso", strings.NewReader(form.Encode()))
		if err != nil {
			return nil, err
		}
		idpReq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	default:
		return nil, fmt.Errorf("login at %s: HTTP %d: %s", lu, resp.StatusCode, excerpt(body))
	}
	info, err := r.idp.ReadAuthnRequest(idpReq)
	if err != nil {
		return nil, fmt.Errorf("the AuthnRequest cannot be read: %w", err)
	}
	return &capture{info: info, client: c}, nil
}

func (r *run) captured(ctx context.Context) (*capture, error) {
	return r.request.get(func() (*capture, error) { return r.login(ctx) })
}

// requestRules cites the rule behind each of spididp.RequestChecks.
var requestRules = map[string]string{
	"id":                         "spid-sp-rules.md §2: AuthnRequest ID present, unique, not starting with a digit",
	"version":                    `spid-sp-rules.md §2: AuthnRequest Version="2.0"`,
	"issue-instant":              "spid-sp-rules.md §2: AuthnRequest IssueInstant well-formed, in UTC",
	"destination":                "spid-sp-rules.md §2: Destination = the chosen IdP's SSO endpoint for that binding",
	"acs":                        "spid-sp-rules.md §2: exactly one of AssertionConsumerServiceIndex, or AssertionConsumerServiceURL + ProtocolBinding, matching the metadata",
	"attribute-index":            "spid-sp-rules.md §2: AttributeConsumingServiceIndex selecting an attribute set of the metadata",
	"force-authn":                `spid-sp-rules.md §2: ForceAuthn="true" whenever the requested level is above SpidL1`,
	"is-passive":                 `spid-sp-rules.md §2: no IsPassive="true"`,
	"issuer-format":              `spid-sp-rules.md §2: Issuer Format="urn:oasis:names:tc:SAML:2.0:nameid-format:entity"`,
	"issuer-name-qualifier":      "spid-sp-rules.md §2: Issuer NameQualifier = the SP entityID",
	"nameid-policy":              "spid-sp-rules.md §2: NameIDPolicy Format transient",
	"nameid-policy-allow-create": "spid-sp-rules.md §2: NameIDPolicy without an AllowCreate attribute",
	"requested-authn-context":    `spid-sp-rules.md §2: RequestedAuthnContext Comparison="minimum" (or exact/better/maximum)`,
	"authn-context-class-ref":    "spid-sp-rules.md §2: one AuthnContextClassRef among SpidL1, SpidL2, SpidL3",
	"signature":                  "spid-sp-rules.md §2: AuthnRequest signed with the key of the metadata (HTTP-POST: enveloped XML signature; HTTP-Redirect: SigAlg + Signature over the query)",
	"signature-algorithm":        "spid-sp-rules.md §2: rsa-sha256 signatures, no SHA-1 anywhere",
	"relay-state":                "spid-sp-rules.md §2: RelayState opaque, a server-side reference, not a raw URL (open redirect)",
}

func (r *run) requestCases() []conformance.Case {
	cases := []conformance.Case{{
		Name: "authn-request/sent",
		Rule: "spid-sp-rules.md §2 and §5: the login URL carries the chosen IdP; the SP sends it an AuthnRequest with the HTTP-Redirect or HTTP-POST binding",
		Run: func(ctx context.Context, _ *conformance.Target) error {
			c, err := r.captured(ctx)
			if err == nil {
				logf(r.tg, "AuthnRequest %s (%s), level %d", c.info.ID, c.info.Binding, c.info.Level)
			}
			return err
		},
	}}
	for _, chk := range spididp.RequestChecks {
		cases = append(cases, conformance.Case{
			Name: "authn-request/" + chk.Key,
			Rule: requestRules[chk.Key],
			Run: func(ctx context.Context, _ *conformance.Target) error {
				c, err := r.captured(ctx)
				if err != nil {
					return err
				}
				if strings.HasPrefix(chk.Key, "signature") {
					md, err := r.metadata(ctx)
					if err != nil {
						return err
					}
					if _, err := md.m.SigningCert(); err != nil {
						return fmt.Errorf("the request cannot be verified: the metadata has no signing certificate (%v)", err)
					}
				}
				for i, k := range c.info.Failed {
					if k == chk.Key {
						return errors.New(c.info.Problems[i])
					}
				}
				return nil
			},
		})
	}
	cases = append(cases,
		conformance.Case{
			Name: "authn-request/issue-instant-now",
			Rule: "spid-sp-rules.md §2: IssueInstant is the time the request is made (the IdP refuses one outside a small clock skew)",
			Run: func(ctx context.Context, _ *conformance.Target) error {
				c, err := r.captured(ctx)
				if err != nil {
					return err
				}
				if d := time.Since(c.info.IssueInstant); d > 3*time.Minute || d < -3*time.Minute {
					return fmt.Errorf("IssueInstant %s is %s away from now", c.info.IssueInstant.UTC().Format(time.RFC3339), d.Round(time.Second))
				}
				return nil
			},
		},
		conformance.Case{
			Name: "authn-request/unique-id",
			Rule: "spid-sp-rules.md §2: a unique ID for every AuthnRequest",
			Run: func(ctx context.Context, _ *conformance.Target) error {
				a, err := r.captured(ctx)
				if err != nil {
					return err
				}
				b, err := r.login(ctx)
				if err != nil {
					return err
				}
				if a.info.ID == b.info.ID {
					return fmt.Errorf("two logins sent the same ID %q", a.info.ID)
				}
				return nil
			},
		})
	return cases
}

// --- responses ---

// answer is how the SP's ACS answered a response.
type answer struct {
	status   int
	location string
	cookies  []string
	body     []byte
	accepted bool
}

func (a *answer) String() string {
	s := "HTTP " + strconv.Itoa(a.status)
	if a.location != "" {
		s += " → " + a.location
	}
	if len(a.cookies) > 0 {
		s += " (sets cookies " + strings.Join(a.cookies, ", ") + ")"
	}
	if e := excerpt(a.body); e != "" {
		s += ": " + e
	}
	return s
}

func excerpt(b []byte) string {
	t := strings.TrimSpace(spacesRe.ReplaceAllString(html.UnescapeString(tagRe.ReplaceAllString(string(b), " ")), " "))
	if len(t) > 160 {
		t = t[:160] + "…"
	}
	return t
}

// leaks reports whether an error page shows the SP's internals.
func leaks(b []byte) bool {
	return bytes.Contains(b, []byte("goroutine ")) || bytes.Contains(b, []byte("panic(")) ||
		bytes.Contains(b, []byte("Traceback (most recent call last)")) || bytes.Contains(b, []byte("at java."))
}

// build crafts the response of the suite IdP to c, with defect applied.
func (r *run) build(ctx context.Context, c *capture, defect string) (acs string, doc []byte, err error) {
	md, err := r.metadata(ctx)
	if err != nil {
		return "", nil, err
	}
	acs = c.info.ACSURL
	if acs == "" {
		acs = md.m.ACSByIndex()[c.info.ACSIndex][0]
	}
	if acs == "" {
		return "", nil, fmt.Errorf("the AuthnRequest names ACS index %d, which the metadata lacks", c.info.ACSIndex)
	}
	attrs := md.m.AttributeSets()[c.info.AttrIndex]
	if len(attrs) == 0 && strings.HasPrefix(defect, "attribute") {
		return "", nil, conformance.Skipf("the SP requests no attributes (AttributeConsumingService %d)", c.info.AttrIndex)
	}
	doc, err = r.idp.BuildResponse(spididp.ResponseParams{Request: c.info, ACS: acs, Audience: md.m.EntityID(),
		User: r.user, Attributes: attrs, Defect: defect})
	if err != nil {
		return "", nil, conformance.Skipf("the suite cannot craft %q for this SP: %v", defect, err)
	}
	return acs, doc, nil
}

// post sends a response to the ACS with the HTTP-POST binding, from the
// browser that started the login.
func (r *run) post(ctx context.Context, c *capture, acs string, doc []byte) (*answer, error) {
	form := url.Values{"SAMLResponse": {base64.StdEncoding.EncodeToString(doc)}}
	if c.info.RelayState != "" {
		form.Set("RelayState", c.info.RelayState)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, acs, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.client.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			return nil, fmt.Errorf("the ACS %s gave no answer (a crash or a dropped connection, §3 robustness): %w", acs, err)
		}
		return nil, fmt.Errorf("posting to the ACS %s: %w", acs, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	a := &answer{status: resp.StatusCode, location: resp.Header.Get("Location"), body: body}
	cookieOK := r.accept.cookie == ""
	for _, ck := range resp.Cookies() {
		if ck.Value != "" && ck.MaxAge >= 0 {
			a.cookies = append(a.cookies, ck.Name)
			cookieOK = cookieOK || ck.Name == r.accept.cookie
		}
	}
	a.accepted = a.status >= 200 && a.status < 400 && cookieOK
	if a.accepted && r.accept.location != nil && a.status >= 300 {
		a.accepted = r.accept.location.MatchString(a.location)
	}
	return a, nil
}

// respond logs in and answers with defect (mutate, when set, edits the
// signed document).
func (r *run) respond(ctx context.Context, defect string, mutate func([]byte) []byte) (*answer, error) {
	c, err := r.login(ctx)
	if err != nil {
		return nil, err
	}
	acs, doc, err := r.build(ctx, c, defect)
	if err != nil {
		return nil, err
	}
	if mutate != nil {
		doc = mutate(doc)
	}
	return r.post(ctx, c, acs, doc)
}

// goodAccepted runs the good case once; a refusal proves nothing when the
// SP refuses even a good response.
func (r *run) goodAccepted(ctx context.Context) error {
	_, err := r.good.get(func() (struct{}, error) {
		a, err := r.respond(ctx, "", nil)
		if err != nil {
			return struct{}{}, err
		}
		if !a.accepted {
			return struct{}{}, fmt.Errorf("the SP refused a good response: %s", a)
		}
		return struct{}{}, nil
	})
	return err
}

func (r *run) mustRefuse(ctx context.Context, defect string, mutate func([]byte) []byte) error {
	if err := r.goodAccepted(ctx); err != nil {
		return conformance.Skipf("a refusal proves nothing: %v", err)
	}
	a, err := r.respond(ctx, defect, mutate)
	if err != nil {
		return err
	}
	return judgeRefusal(a)
}

func judgeRefusal(a *answer) error {
	if a.accepted {
		return fmt.Errorf("the SP accepted it: %s", a)
	}
	if leaks(a.body) {
		return fmt.Errorf("refused, but the error page shows the SP's internals: %s", a)
	}
	return nil
}

func (r *run) mustAccept(ctx context.Context, defect string) error {
	a, err := r.respond(ctx, defect, nil)
	if err != nil {
		return err
	}
	if !a.accepted {
		return fmt.Errorf("the SP refused it: %s", a)
	}
	return nil
}

// refusals are the responses the SP must refuse: name, the suite IdP's
// defect (mocks/spididp), the rule.
var refusals = []struct{ name, defect, rule string }{
	{"unsigned", "unsigned", "spid-sp-rules.md §3: the Assertion must be signed by the IdP (nothing is signed here)"},
	{"unsigned-assertion", "unsigned-assertion", "spid-sp-rules.md §3: no unsigned Assertion is accepted because the Response envelope is signed"},
	{"wrong-key", "wrong-key", "spid-sp-rules.md §3: signatures verify only with a certificate of the IdP's trusted metadata (signed by another key)"},
	{"sha1", "sha1", "spid-sp-rules.md §2/§3: SHA-1 is not acceptable anywhere (rsa-sha1 signature, sha1 digest)"},
	{"tampered-assertion", "tampered-assertion", "spid-sp-rules.md §3: the Assertion signature must be valid (an attribute changed after signing)"},
	{"tampered-response", "tampered-response", "spid-sp-rules.md §3: a Response signature, when present, must be valid"},
	{"xsw-sibling", "xsw-sibling", "spid-sp-rules.md §3: no XML signature wrapping — an unsigned Assertion beside the signed one"},
	{"xsw-extensions", "xsw-extensions", "spid-sp-rules.md §3: no XML signature wrapping — the signed Assertion hidden in Extensions"},
	{"xsw-in-signature", "xsw-in-signature", "spid-sp-rules.md §3: no XML signature wrapping — the signed Assertion hidden in the Signature's Object"},
	{"two-assertions", "two-assertions", "spid-sp-rules.md §3: exactly one Assertion"},
	{"encrypted", "encrypted", "spid-sp-rules.md §3: reject encrypted assertions the SP cannot decrypt"},
	{"response-version", "response.Version:wrong", `spid-sp-rules.md §3: Response Version="2.0"`},
	{"response-id-missing", "response.ID:missing", "spid-sp-rules.md §3: Response ID present"},
	{"response-issue-instant-malformed", "response.IssueInstant:wrong", "spid-sp-rules.md §3: Response IssueInstant well-formed UTC"},
	{"response-issue-instant-future", "response-future", "spid-sp-rules.md §3: Response IssueInstant not in the future beyond a small clock skew"},
	{"in-response-to-wrong", "response.InResponseTo:wrong", "spid-sp-rules.md §3: InResponseTo equal to a pending request ID of the SP"},
	{"in-response-to-missing", "response.InResponseTo:missing", "spid-sp-rules.md §3: InResponseTo present (no unsolicited responses)"},
	{"destination-wrong", "response.Destination:wrong", "spid-sp-rules.md §3: Response Destination equal to the SP's ACS URL"},
	{"destination-missing", "response.Destination:missing", "spid-sp-rules.md §3: Response Destination present"},
	{"status-wrong", "response.Status:wrong", "spid-sp-rules.md §3: Status/StatusCode other than Success is an error, never a session"},
	{"response-issuer-wrong", "response.Issuer:wrong", "spid-sp-rules.md §3: Response Issuer equal to the IdP entityID the request was sent to"},
	{"response-issuer-format-wrong", "response.Issuer.Format:wrong", "spid-sp-rules.md §3: Response Issuer Format, when present, is entity"},
	{"assertion-version", "assertion.Version:wrong", `spid-sp-rules.md §3: Assertion Version="2.0"`},
	{"assertion-issue-instant-malformed", "assertion.IssueInstant:wrong", "spid-sp-rules.md §3: Assertion IssueInstant well-formed UTC"},
	{"assertion-issuer-wrong", "assertion.Issuer:wrong", "spid-sp-rules.md §3: Assertion Issuer equal to the IdP"},
	{"assertion-issuer-format-wrong", "assertion.Issuer.Format:wrong", "spid-sp-rules.md §3: Assertion Issuer Format entity"},
	{"subject-missing", "subject:missing", "spid-sp-rules.md §3: Subject present (no nil pointers)"},
	{"nameid-format-wrong", "nameid.Format:wrong", "spid-sp-rules.md §3: NameID Format transient"},
	{"nameid-name-qualifier-missing", "nameid.NameQualifier:missing", "spid-sp-rules.md §3: NameID NameQualifier present"},
	{"subject-confirmation-method-wrong", "subjectconfirmation.Method:wrong", "spid-sp-rules.md §3: SubjectConfirmation Method bearer"},
	{"recipient-wrong", "scd.Recipient:wrong", "spid-sp-rules.md §3: SubjectConfirmationData Recipient = the SP's ACS URL"},
	{"scd-in-response-to-wrong", "scd.InResponseTo:wrong", "spid-sp-rules.md §3: SubjectConfirmationData InResponseTo = the request ID"},
	{"scd-not-on-or-after-missing", "scd.NotOnOrAfter:missing", "spid-sp-rules.md §3: SubjectConfirmationData NotOnOrAfter present"},
	{"expired", "expired", "spid-sp-rules.md §3: SubjectConfirmationData and Conditions NotOnOrAfter in the future (an expired assertion)"},
	{"conditions-missing", "conditions:missing", "spid-sp-rules.md §3: Conditions present (no nil pointers)"},
	{"conditions-not-before-future", "conditions.NotBefore:wrong", "spid-sp-rules.md §3: now within Conditions NotBefore…NotOnOrAfter (NotBefore in the future)"},
	{"conditions-not-on-or-after-past", "conditions.NotOnOrAfter:wrong", "spid-sp-rules.md §3: now within Conditions NotBefore…NotOnOrAfter (NotOnOrAfter in the past)"},
	{"audience-wrong", "audience:wrong", "spid-sp-rules.md §3: AudienceRestriction/Audience = the SP entityID"},
	{"audience-missing", "audience:missing", "spid-sp-rules.md §3: AudienceRestriction/Audience present"},
	{"authn-context-missing", "authncontext:missing", "spid-sp-rules.md §3: AuthnContextClassRef present"},
	{"authn-context-wrong", "authncontext:wrong", "spid-sp-rules.md §3: AuthnContextClassRef one of SpidL1/2/3"},
	{"level-too-low", "level-low", "spid-sp-rules.md §3: level not lower than requested with Comparison minimum (asked L2, got L1)"},
	{"attribute-missing", "attribute:missing", "spid-sp-rules.md §3: the attributes of the requested AttributeConsumingService — none missing"},
	{"attribute-extra", "extra-attribute", "spid-sp-rules.md §3: the attributes of the requested AttributeConsumingService — none extra"},
	{"attribute-empty", "attributevalue:empty", `spid-sp-rules.md §3: "attribute present but empty" is refused`},
	{"error-nr19", "nr19", "spid-sp-rules.md §3: ErrorCode nr19 (repeated wrong credentials) shows a message, never a session"},
	{"error-nr20", "nr20", "spid-sp-rules.md §3: ErrorCode nr20 (no credentials of the required level) shows a message, never a session"},
	{"error-nr21", "nr21", "spid-sp-rules.md §3: ErrorCode nr21 (timeout) shows a message, never a session"},
	{"error-nr22", "nr22", "spid-sp-rules.md §3: ErrorCode nr22 (consent denied) shows a message, never a session"},
	{"error-nr23", "nr23", "spid-sp-rules.md §3: ErrorCode nr23 (suspended/revoked identity) shows a message, never a session"},
	{"error-nr25", "nr25", "spid-sp-rules.md §3: ErrorCode nr25 (user cancelled) shows a message, never a session"},
}

// acceptances are defects that are no defect: the SP must accept them.
var acceptances = []struct{ name, defect, rule string }{
	{"keyinfo-other-cert", "keyinfo-other-cert", "spid-sp-rules.md §3: verify only against the metadata certificates — a KeyInfo with some other certificate is never trusted, nor a reason to refuse"},
	{"no-keyinfo", "no-keyinfo", "spid-sp-rules.md §3: do not require the signature's KeyInfo to be filled in"},
	{"response-unsigned-assertion-signed", "no-response-signature", "spid-sp-rules.md §3: the Assertion must be signed; a Response signature is optional"},
}

func (r *run) responseCases() []conformance.Case {
	cases := []conformance.Case{{
		Name: "response/good",
		Rule: "spid-sp-rules.md §3: a conformant, signed Response to a pending request is accepted (a session, 2xx/3xx, no error page)",
		Run: func(ctx context.Context, _ *conformance.Target) error {
			return r.goodAccepted(ctx)
		},
	}}
	for _, a := range acceptances {
		cases = append(cases, conformance.Case{Name: "response/" + a.name, Rule: a.rule,
			Run: func(ctx context.Context, _ *conformance.Target) error { return r.mustAccept(ctx, a.defect) }})
	}
	for _, x := range refusals {
		cases = append(cases, conformance.Case{Name: "response/" + x.name, Rule: x.rule,
			Run: func(ctx context.Context, _ *conformance.Target) error { return r.mustRefuse(ctx, x.defect, nil) }})
	}
	cases = append(cases,
		conformance.Case{
			Name: "response/dtd-entity",
			Rule: "spid-sp-rules.md §3: any document with DTDs/entities is rejected (no XXE, no entity expansion)",
			Run: func(ctx context.Context, _ *conformance.Target) error {
				return r.mustRefuse(ctx, "", func(doc []byte) []byte {
					dtd := `<?xml version="1.0"?><!DOCTYPE Response [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>`
					doc = bytes.TrimPrefix(doc, []byte(`<?xml version="1.0" encoding="UTF-8"?>`))
					return append([]byte(dtd), doc...)
				})
			},
		},
		conformance.Case{
			Name: "response/oversize",
			Rule: "spid-sp-rules.md §3: bounded size — a huge Response is refused without being parsed",
			Run: func(ctx context.Context, _ *conformance.Target) error {
				return r.mustRefuse(ctx, "", func(doc []byte) []byte {
					return append(doc, bytes.Repeat([]byte(" "), r.oversize)...)
				})
			},
		},
		conformance.Case{
			Name: "response/replay",
			Rule: "spid-sp-rules.md §3: replay — the same Response is never accepted twice",
			Run: func(ctx context.Context, _ *conformance.Target) error {
				return r.replay(ctx, false)
			},
		},
		conformance.Case{
			Name: "response/request-consumed",
			Rule: "spid-sp-rules.md §2/§3: the request ID is consumed on first use — a second, fresh Response to an answered request is refused",
			Run: func(ctx context.Context, _ *conformance.Target) error {
				return r.replay(ctx, true)
			},
		})
	return cases
}

// replay answers one login with a good response, then again: with the
// same document, or (fresh) with a new response to the same request.
func (r *run) replay(ctx context.Context, fresh bool) error {
	c, err := r.login(ctx)
	if err != nil {
		return err
	}
	acs, doc, err := r.build(ctx, c, "")
	if err != nil {
		return err
	}
	a, err := r.post(ctx, c, acs, doc)
	if err != nil {
		return err
	}
	if !a.accepted {
		return conformance.Skipf("a refusal proves nothing: the SP refused the first, good response: %s", a)
	}
	if fresh {
		if _, doc, err = r.build(ctx, c, ""); err != nil {
			return err
		}
	}
	a, err = r.post(ctx, c, acs, doc)
	if err != nil {
		return err
	}
	return judgeRefusal(a)
}

// knownOptions are the options of Doc: setup refuses others, so that a typo
// in --opt is not silently ignored.
var knownOptions = []string{"metadata", "login", "idp-url", "idp-key", "idp-cert", "idp-metadata-out",
	"setup-only", "user", "accept-cookie", "accept-location", "oversize-bytes"}

// CheckOptions reports options the suite does not know.
func CheckOptions(opts map[string]string) error {
	var bad []string
	for k := range opts {
		if !slices.Contains(knownOptions, k) {
			bad = append(bad, k)
		}
	}
	if len(bad) > 0 {
		slices.Sort(bad)
		return fmt.Errorf("unknown options %s (known: %s)", strings.Join(bad, ", "), strings.Join(knownOptions, ", "))
	}
	return nil
}
