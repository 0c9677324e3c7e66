// Package spididp is a mock SPID identity provider: a real SAML 2.0 IdP
// that signs its responses with its own key, with test citizens, levels
// SpidL1–3, the user-side errors nr19–nr25 and a defect knob producing each
// broken-response case, so that a Service Provider's checks are tested
// against real signed XML. Knobs and an inspection API are under /__mock/;
// the fault knobs of every mock (Faults, /__mock/faults) apply to the
// single sign-on endpoint /sso.
package spididp

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
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/ponte-pa/ponte/mocks/fault"
)

const (
	nsMD    = "urn:oasis:names:tc:SAML:2.0:metadata"
	nsSAML  = "urn:oasis:names:tc:SAML:2.0:assertion"
	nsSAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
	nsDS    = "http://www.w3.org/2000/09/xmldsig#"

	fmtEntity    = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity"
	fmtTransient = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
	bindPOST     = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
	bindRedirect = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
	rsaSHA256    = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
	levelPrefix  = "https://www.spid.gov.it/SpidL"
)

// User is a test citizen.
type User struct {
	Username string
	Password string
	// MaxLevel is the highest SPID level of the user's credentials (default 3);
	// a request above it is answered with ErrorCode nr20.
	MaxLevel int
	Attrs    map[string]string
}

// DefaultUsers are the test citizens of a zero Options.
func DefaultUsers() []User {
	return []User{
		{Username: "mario", Password: "password", MaxLevel: 3, Attrs: map[string]string{
			"spidCode": "SPID-0000000001", "name": "Mario", "familyName": "Rossi",
			"placeOfBirth": "H501", "countyOfBirth": "RM", "dateOfBirth": "1980-01-01",
			"gender": "M", "companyName": "", "registeredOffice": "",
			"fiscalNumber": "TINIT-RSSMRA80A01H501U", "ivaCode": "",
			"idCard":      "CartaIdentita CA00000AA Comune 2020-01-01 2030-01-01",
			"mobilePhone": "+393331234567", "email": "mario.rossi@example.org",
			"address": "Via Roma 1 00100 Roma RM", "expirationDate": "2030-12-31",
			"digitalAddress": "mario.rossi@pec.example.org", "domicileStreetAddress": "Via Roma 1",
			"domicilePostalCode": "00100", "domicileMunicipality": "Roma", "domicileProvince": "RM",
			"domicileNation": "IT", "companyFiscalNumber": "",
		}},
		{Username: "anna", Password: "password", MaxLevel: 2, Attrs: map[string]string{
			"spidCode": "SPID-0000000002", "name": "Anna", "familyName": "Bianchi",
			"placeOfBirth": "F205", "countyOfBirth": "MI", "dateOfBirth": "1990-05-15",
			"gender": "F", "fiscalNumber": "TINIT-BNCNNA90E55F205X",
			"email": "anna.bianchi@example.org", "mobilePhone": "+393339876543",
			"address": "Corso Buenos Aires 10 20124 Milano MI", "digitalAddress": "anna.bianchi@pec.example.org",
			"idCard": "CartaIdentita CA11111BB Comune 2021-02-02 2031-02-02", "expirationDate": "2031-02-02",
			"domicileStreetAddress": "Corso Buenos Aires 10", "domicilePostalCode": "20124",
			"domicileMunicipality": "Milano", "domicileProvince": "MI", "domicileNation": "IT",
		}},
		// The sample comune's Protezione Civile operator (alerts.operators
		// in internal/tenant/sample): logs in to the operators' page.
		{Username: "operatore", Password: "password", MaxLevel: 3, Attrs: map[string]string{
			"spidCode": "SPID-0000000003", "name": "Mario", "familyName": "Rossi",
			"placeOfBirth": "A562", "countyOfBirth": "LU", "dateOfBirth": "1985-12-10",
			"gender": "M", "fiscalNumber": "TINIT-RSSMRA85T10A562S",
			"email": "protezione.civile@comune.esempio.it", "mobilePhone": "+393330000003",
			"address": "Piazza del Municipio 1 42100 Esempio RE", "digitalAddress": "protezione.civile@pec.example.org",
			"idCard": "CartaIdentita CA22222CC Comune 2022-03-03 2032-03-03", "expirationDate": "2032-03-03",
			"domicileStreetAddress": "Piazza del Municipio 1", "domicilePostalCode": "42100",
			"domicileMunicipality": "Esempio", "domicileProvince": "RE", "domicileNation": "IT",
		}},
	}
}

// Options configures a Server. The zero value generates a key and
// certificate and uses DefaultUsers.
type Options struct {
	// BaseURL of the IdP (set by Start); EntityID defaults to BaseURL.
	BaseURL  string
	EntityID string
	// Name is the IdP's name in its metadata (default "Mock SPID IdP"; e.g.
	// "Mock CIE IdP" for a mock of the CIE identity provider).
	Name  string
	Key   *rsa.PrivateKey
	Cert  *x509.Certificate
	Users []User
	// VerifyRequests rejects AuthnRequests whose signature does not verify
	// with the registered SP's certificate (default on once an SP is registered).
	Now    func() time.Time
	Logger *slog.Logger
}

// RequestInfo is an AuthnRequest as the mock received it, with the SPID
// non-conformities it found (Problems).
type RequestInfo struct {
	ID, Issuer, Destination, Binding, RelayState string
	Level, ACSIndex, AttrIndex                   int
	ForceAuthn                                   bool
	SignatureOK                                  bool
	// ACSURL is AssertionConsumerServiceURL, when the request names the
	// ACS by URL instead of by index.
	ACSURL string
	// Problems are the broken RequestChecks, readable; Failed their keys.
	Problems     []string
	Failed       []string
	IssueInstant time.Time
}

type spInfo struct {
	entityID string
	cert     *x509.Certificate
	acs      map[int]string
	attrs    map[int][]string
	slo      string
}

// Server is the mock IdP, safe for concurrent use.
type Server struct {
	opts Options
	key  *rsa.PrivateKey
	cert *x509.Certificate

	mu        sync.Mutex
	sps       map[string]*spInfo
	requests  []RequestInfo
	defect    string
	nextDef   []string
	autoLogin string
	faults    fault.Injector
	logouts   []LogoutResult
	pending   map[string]pendingLogin
	users     map[string]User
	ln        net.Listener
	srv       *http.Server
}

type pendingLogin struct {
	req RequestInfo
}

// New returns a Server; it generates a 2048-bit key and certificate when
// opts has none.
func New(opts Options) (*Server, error) {
	s := &Server{opts: opts, sps: map[string]*spInfo{}, pending: map[string]pendingLogin{}, users: map[string]User{}}
	if opts.Key == nil || opts.Cert == nil {
		k, c, err := selfSigned(s.name())
		if err != nil {
			return nil, err
		}
		s.opts.Key, s.opts.Cert = k, c
	}
	s.key, s.cert = s.opts.Key, s.opts.Cert
	if s.opts.Users == nil {
		s.opts.Users = DefaultUsers()
	}
	for _, u := range s.opts.Users {
		if u.MaxLevel == 0 {
			u.MaxLevel = 3
		}
		s.users[u.Username] = u
	}
	if s.opts.Logger == nil {
		s.opts.Logger = slog.Default()
	}
	return s, nil
}

// Start listens on 127.0.0.1 (a free port) and serves; BaseURL and, unless
// set, EntityID become the listener's URL.
func Start(opts Options) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	opts.BaseURL = "http://" + ln.Addr().String()
	s, err := New(opts)
	if err != nil {
		ln.Close()
		return nil, err
	}
	s.ln = ln
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

func (s *Server) name() string {
	if s.opts.Name != "" {
		return s.opts.Name
	}
	return "Mock SPID IdP"
}

// Close stops a server made by Start.
func (s *Server) Close() error {
	if s.srv != nil {
		return s.srv.Close()
	}
	return nil
}

// URL is the IdP's base URL.
func (s *Server) URL() string { return strings.TrimRight(s.opts.BaseURL, "/") }

// EntityID is the IdP's entityID.
func (s *Server) EntityID() string {
	if s.opts.EntityID != "" {
		return s.opts.EntityID
	}
	return s.URL()
}

// Cert is the IdP's signing certificate.
func (s *Server) Cert() *x509.Certificate { return s.cert }

func (s *Server) now() time.Time {
	if s.opts.Now != nil {
		return s.opts.Now()
	}
	return time.Now()
}

// NewKeyCert makes a 2048-bit RSA key and a self-signed certificate for an
// IdP named cn, as New does when Options has none (e.g. for a test IdP whose
// key must outlive one run).
func NewKeyCert(cn string) (*rsa.PrivateKey, *x509.Certificate, error) { return selfSigned(cn) }

func selfSigned(cn string) (*rsa.PrivateKey, *x509.Certificate, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, err
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	t := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn, Country: []string{"IT"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(10 * 365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, SignatureAlgorithm: x509.SHA256WithRSA}
	der, err := x509.CreateCertificate(rand.Reader, t, t, &k.PublicKey, k)
	if err != nil {
		return nil, nil, err
	}
	c, err := x509.ParseCertificate(der)
	return k, c, err
}

// --- knobs and inspection ---

// SetDefect makes every following response carry defect d ("" for none).
func (s *Server) SetDefect(d string) { s.mu.Lock(); s.defect = d; s.mu.Unlock() }

// NextDefect makes only the next response carry defect d.
func (s *Server) NextDefect(d string) { s.mu.Lock(); s.nextDef = append(s.nextDef, d); s.mu.Unlock() }

// SetAutoLogin logs in user without a form for every request ("" shows the form).
func (s *Server) SetAutoLogin(user string) { s.mu.Lock(); s.autoLogin = user; s.mu.Unlock() }

// Faults are the fault knobs; they apply to /sso: an IdP that fails,
// is slow or drops the login request.
func (s *Server) Faults() *fault.Injector { return &s.faults }

// Requests returns the AuthnRequests received so far.
func (s *Server) Requests() []RequestInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]RequestInfo(nil), s.requests...)
}

// Reset clears knobs and the request log.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.defect, s.nextDef, s.autoLogin, s.requests, s.logouts = "", nil, "", nil, nil
	s.faults.Reset()
}

// RegisterSP reads an SP's metadata: entityID, signing certificate, ACS
// endpoints and attribute sets. Over HTTP: POST /__mock/sp with the metadata
// as body, or POST /__mock/sp?url=<metadata URL>.
func (s *Server) RegisterSP(metadata []byte) error {
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(metadata); err != nil {
		return err
	}
	ed := doc.Root()
	if ed == nil || ed.Tag != "EntityDescriptor" {
		return errors.New("spididp: not an EntityDescriptor")
	}
	sp := &spInfo{entityID: ed.SelectAttrValue("entityID", ""), acs: map[int]string{}, attrs: map[int][]string{}}
	d := ed.FindElement("./SPSSODescriptor")
	if d == nil {
		return errors.New("spididp: no SPSSODescriptor")
	}
	for _, kd := range d.SelectElements("KeyDescriptor") {
		if kd.SelectAttrValue("use", "signing") != "signing" {
			continue
		}
		if xc := kd.FindElement(".//X509Certificate"); xc != nil {
			der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(xc.Text()), ""))
			if err != nil {
				return err
			}
			if sp.cert, err = x509.ParseCertificate(der); err != nil {
				return err
			}
		}
	}
	for _, e := range d.SelectElements("SingleLogoutService") {
		if e.SelectAttrValue("Binding", "") == bindRedirect {
			sp.slo = e.SelectAttrValue("Location", "")
		}
	}
	for _, a := range d.SelectElements("AssertionConsumerService") {
		i, _ := strconv.Atoi(a.SelectAttrValue("index", "0"))
		sp.acs[i] = a.SelectAttrValue("Location", "")
	}
	for _, a := range d.SelectElements("AttributeConsumingService") {
		i, _ := strconv.Atoi(a.SelectAttrValue("index", "0"))
		for _, ra := range a.SelectElements("RequestedAttribute") {
			sp.attrs[i] = append(sp.attrs[i], ra.SelectAttrValue("Name", ""))
		}
	}
	s.mu.Lock()
	s.sps[sp.entityID] = sp
	s.mu.Unlock()
	return nil
}

// Metadata returns the IdP's metadata (unsigned).
func (s *Server) Metadata() []byte {
	ed := etree.NewElement("md:EntityDescriptor")
	ed.CreateAttr("xmlns:md", nsMD)
	ed.CreateAttr("xmlns:ds", nsDS)
	ed.CreateAttr("entityID", s.EntityID())
	ed.CreateAttr("ID", "_idpmeta")
	d := ed.CreateElement("md:IDPSSODescriptor")
	d.CreateAttr("protocolSupportEnumeration", nsSAMLP)
	d.CreateAttr("WantAuthnRequestsSigned", "true")
	kd := d.CreateElement("md:KeyDescriptor")
	kd.CreateAttr("use", "signing")
	kd.CreateElement("ds:KeyInfo").CreateElement("ds:X509Data").CreateElement("ds:X509Certificate").SetText(base64.StdEncoding.EncodeToString(s.cert.Raw))
	for _, b := range []string{bindRedirect, bindPOST} {
		e := d.CreateElement("md:SingleLogoutService")
		e.CreateAttr("Binding", b)
		e.CreateAttr("Location", s.URL()+"/slo")
	}
	d.CreateElement("md:NameIDFormat").SetText(fmtTransient)
	for _, b := range []string{bindRedirect, bindPOST} {
		e := d.CreateElement("md:SingleSignOnService")
		e.CreateAttr("Binding", b)
		e.CreateAttr("Location", s.URL()+"/sso")
	}
	o := ed.CreateElement("md:Organization")
	for _, t := range []string{"OrganizationName", "OrganizationDisplayName", "OrganizationURL"} {
		e := o.CreateElement("md:" + t)
		e.CreateAttr("xml:lang", "it")
		if t == "OrganizationURL" {
			e.SetText(s.URL())
		} else {
			e.SetText(s.name())
		}
	}
	doc := etree.NewDocument()
	doc.SetRoot(ed)
	b, _ := doc.WriteToBytes()
	return b
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.faults.Middleware(http.HandlerFunc(s.serve), fault.HTTPOptions{
		Problem: func(w http.ResponseWriter, status int, detail string) {
			page(w, status, "errore simulato / "+detail)
		},
		Applies: func(r *http.Request) bool { return r.URL.Path == "/sso" },
	}).ServeHTTP(w, r)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/metadata":
		w.Header().Set("Content-Type", "application/samlmetadata+xml")
		_, _ = w.Write(s.Metadata())
	case r.URL.Path == "/sso":
		s.handleSSO(w, r)
	case r.URL.Path == "/login" && r.Method == http.MethodPost:
		s.handleLoginForm(w, r)
	case r.URL.Path == "/slo":
		s.handleSLO(w, r)
	case r.URL.Path == "/__mock/requests":
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s.Requests())
	case r.URL.Path == "/__mock/defect" && r.Method == http.MethodPost:
		s.SetDefect(r.FormValue("defect"))
		w.WriteHeader(http.StatusNoContent)
	case r.URL.Path == "/__mock/reset" && r.Method == http.MethodPost:
		s.Reset()
		w.WriteHeader(http.StatusNoContent)
	case r.URL.Path == "/__mock/sp" && r.Method == http.MethodPost:
		s.handleRegisterSP(w, r)
	case r.URL.Path == "/__mock/defects":
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(Defects())
	default:
		http.NotFound(w, r)
	}
}

// handleRegisterSP registers an SP from its metadata, given as the request
// body or fetched from the form field url (e.g. a gateway's /spid/metadata),
// the way an SP is registered with a test IdP before its first login.
func (s *Server) handleRegisterSP(w http.ResponseWriter, r *http.Request) {
	var md []byte
	var err error
	if u := r.URL.Query().Get("url"); u != "" {
		md, err = fetchMetadata(r, u)
	} else {
		md, err = io.ReadAll(io.LimitReader(r.Body, 1<<20))
	}
	if err == nil {
		err = s.RegisterSP(md)
	}
	if err != nil {
		http.Error(w, "spididp: cannot register the SP: "+err.Error(), http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func fetchMetadata(r *http.Request, u string) ([]byte, error) {
	if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		return nil, errors.New("url must be http(s)")
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %d", u, resp.StatusCode)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 1<<20))
}

func page(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!DOCTYPE html><html lang=\"it\"><body><p>%s</p></body></html>", template.HTMLEscapeString(msg))
}

func (s *Server) handleSSO(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		page(w, http.StatusBadRequest, "richiesta non valida / bad request")
		return
	}
	info, err := s.readRequest(r)
	if err != nil {
		page(w, http.StatusBadRequest, "AuthnRequest non valida / invalid AuthnRequest: "+err.Error())
		return
	}
	s.mu.Lock()
	s.requests = append(s.requests, info)
	sp := s.sps[info.Issuer]
	user := r.Form.Get("user")
	if user == "" {
		user = s.autoLogin
	}
	s.mu.Unlock()
	if sp != nil && !info.SignatureOK {
		page(w, http.StatusForbidden, "firma della richiesta non valida / request signature invalid")
		return
	}
	if user == "" {
		s.loginForm(w, info)
		return
	}
	s.respond(w, info, user, r.Form.Get("defect"))
}

var loginTmpl = template.Must(template.New("l").Parse(`<!DOCTYPE html><html lang="it"><head><meta charset="utf-8"><title>Mock SPID IdP</title></head><body>
<h1>Mock SPID IdP — livello {{.Level}}</h1>
<form method="post" action="/login"><input type="hidden" name="key" value="{{.Key}}">
<label>Utente <select name="user">{{range .Users}}<option>{{.}}</option>{{end}}</select></label>
<label>Password <input type="password" name="password"></label>
<button type="submit" name="action" value="login">Entra</button>
<button type="submit" name="action" value="cancel">Annulla</button></form></body></html>`))

func (s *Server) loginForm(w http.ResponseWriter, info RequestInfo) {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	key := hex.EncodeToString(b)
	s.mu.Lock()
	s.pending[key] = pendingLogin{req: info}
	var names []string
	for n := range s.users {
		names = append(names, n)
	}
	s.mu.Unlock()
	sort.Strings(names)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = loginTmpl.Execute(w, map[string]any{"Key": key, "Users": names, "Level": info.Level})
}

func (s *Server) handleLoginForm(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	_ = r.ParseForm()
	s.mu.Lock()
	p, ok := s.pending[r.PostForm.Get("key")]
	delete(s.pending, r.PostForm.Get("key"))
	u, uok := s.users[r.PostForm.Get("user")]
	s.mu.Unlock()
	if !ok {
		page(w, http.StatusBadRequest, "sessione di login scaduta / login session expired")
		return
	}
	defect := ""
	switch {
	case r.PostForm.Get("action") == "cancel":
		defect = "nr25"
	case !uok || r.PostForm.Get("password") != u.Password:
		defect = "nr19"
	}
	s.respond(w, p.req, r.PostForm.Get("user"), defect)
}

// ReadAuthnRequest decodes and checks an AuthnRequest sent to the IdP's
// single sign-on endpoint (either binding), as the /sso handler does, and
// logs it in Requests. A conformance suite that plays the IdP captures the
// SP's request this way without a browser.
func (s *Server) ReadAuthnRequest(r *http.Request) (RequestInfo, error) {
	if err := r.ParseForm(); err != nil {
		return RequestInfo{}, err
	}
	info, err := s.readRequest(r)
	if err != nil {
		return info, err
	}
	s.mu.Lock()
	s.requests = append(s.requests, info)
	s.mu.Unlock()
	return info, nil
}

// readRequest decodes and checks an AuthnRequest of either binding.
func (s *Server) readRequest(r *http.Request) (RequestInfo, error) {
	info := RequestInfo{RelayState: r.Form.Get("RelayState")}
	var raw []byte
	var redirectSigned string
	if r.Method == http.MethodGet {
		info.Binding = bindRedirect
		comp, err := base64.StdEncoding.DecodeString(r.URL.Query().Get("SAMLRequest"))
		if err != nil {
			return info, err
		}
		raw, err = io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(comp)), 1<<20))
		if err != nil {
			return info, err
		}
		parts := map[string]string{}
		for _, kv := range strings.Split(r.URL.RawQuery, "&") {
			k, v, _ := strings.Cut(kv, "=")
			parts[k] = v
		}
		redirectSigned = "SAMLRequest=" + parts["SAMLRequest"]
		if v, ok := parts["RelayState"]; ok {
			redirectSigned += "&RelayState=" + v
		}
		redirectSigned += "&SigAlg=" + parts["SigAlg"]
	} else {
		info.Binding = bindPOST
		var err error
		raw, err = base64.StdEncoding.DecodeString(r.PostForm.Get("SAMLRequest"))
		if err != nil {
			return info, err
		}
	}
	if bytes.Contains(bytes.ToUpper(raw), []byte("<!DOCTYPE")) {
		return info, errors.New("DTD refused")
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		return info, err
	}
	req := doc.Root()
	if req == nil || req.Tag != "AuthnRequest" {
		return info, errors.New("not an AuthnRequest")
	}
	info.ID = req.SelectAttrValue("ID", "")
	info.Destination = req.SelectAttrValue("Destination", "")
	info.ForceAuthn = req.SelectAttrValue("ForceAuthn", "") == "true"
	info.IssueInstant, _ = time.Parse(time.RFC3339Nano, req.SelectAttrValue("IssueInstant", ""))
	info.ACSIndex, _ = strconv.Atoi(req.SelectAttrValue("AssertionConsumerServiceIndex", "0"))
	info.ACSURL = req.SelectAttrValue("AssertionConsumerServiceURL", "")
	info.AttrIndex, _ = strconv.Atoi(req.SelectAttrValue("AttributeConsumingServiceIndex", "0"))
	iss := req.SelectElement("Issuer")
	if iss != nil {
		info.Issuer = strings.TrimSpace(iss.Text())
	}
	ref := req.FindElement("./RequestedAuthnContext/AuthnContextClassRef")
	if ref != nil {
		info.Level, _ = strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(ref.Text()), levelPrefix))
	}
	s.mu.Lock()
	sp := s.sps[info.Issuer]
	s.mu.Unlock()
	if sp != nil && sp.cert != nil {
		if info.Binding == bindRedirect {
			sigB, err := base64.StdEncoding.DecodeString(r.URL.Query().Get("Signature"))
			sum := sha256.Sum256([]byte(redirectSigned))
			info.SignatureOK = err == nil && rsa.VerifyPKCS1v15(sp.cert.PublicKey.(*rsa.PublicKey), crypto.SHA256, sum[:], sigB) == nil
		} else {
			vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{sp.cert}})
			_, err := vc.Validate(req)
			info.SignatureOK = err == nil
		}
	}
	s.checkRequest(&info, req, r, sp)
	return info, nil
}

// RequestCheck is one SPID rule (spid-sp-rules.md §2) the mock checks on
// every AuthnRequest it receives; a broken one adds its Key to
// RequestInfo.Failed and its Problem (with what was found) to Problems.
type RequestCheck struct {
	Key, Problem string
}

// RequestChecks lists the checks, in the order of spid-sp-rules.md §2. The
// ones about the signature and the ACS/attribute indexes need the SP to be
// registered (RegisterSP).
var RequestChecks = []RequestCheck{
	{"id", "ID missing or starts with a digit"},
	{"version", "Version is not 2.0"},
	{"issue-instant", "IssueInstant not in UTC"},
	{"destination", "Destination is not the SSO endpoint"},
	{"acs", "not exactly one of AssertionConsumerServiceIndex or AssertionConsumerServiceURL+ProtocolBinding, or not in the SP metadata"},
	{"attribute-index", "AttributeConsumingServiceIndex missing or not in the SP metadata"},
	{"force-authn", "ForceAuthn missing above SpidL1"},
	{"is-passive", "IsPassive is true"},
	{"issuer-format", "Issuer Format is not entity"},
	{"issuer-name-qualifier", "Issuer NameQualifier is not the entityID"},
	{"nameid-policy", "NameIDPolicy Format is not transient"},
	{"nameid-policy-allow-create", "NameIDPolicy has AllowCreate"},
	{"requested-authn-context", "RequestedAuthnContext Comparison missing or not minimum/exact/better/maximum"},
	{"authn-context-class-ref", "AuthnContextClassRef is not SpidL1..3"},
	{"signature", "signature does not verify with the SP certificate"},
	{"signature-algorithm", "signature is not rsa-sha256 (or stronger) with a sha256 digest"},
	{"relay-state", "RelayState carries an absolute URL (an open redirect), not a server-side reference"},
}

func (s *Server) checkRequest(info *RequestInfo, req *etree.Element, r *http.Request, sp *spInfo) {
	msgs := map[string]string{}
	for _, c := range RequestChecks {
		msgs[c.Key] = c.Problem
	}
	prob := func(ok bool, key, got string) {
		if !ok {
			info.Failed = append(info.Failed, key)
			if got != "" {
				info.Problems = append(info.Problems, msgs[key]+" (got "+got+")")
			} else {
				info.Problems = append(info.Problems, msgs[key])
			}
		}
	}
	attrOf := func(name string) string { return req.SelectAttrValue(name, "") }
	q := func(s string) string { return strconv.Quote(s) }
	prob(info.ID != "" && !(info.ID[0] >= '0' && info.ID[0] <= '9'), "id", q(info.ID))
	prob(attrOf("Version") == "2.0", "version", q(attrOf("Version")))
	_, terr := time.Parse(time.RFC3339Nano, attrOf("IssueInstant"))
	prob(terr == nil && strings.HasSuffix(attrOf("IssueInstant"), "Z"), "issue-instant", q(attrOf("IssueInstant")))
	prob(info.Destination == s.URL()+"/sso", "destination", q(info.Destination))
	idx, url, pb := req.SelectAttr("AssertionConsumerServiceIndex"), attrOf("AssertionConsumerServiceURL"), attrOf("ProtocolBinding")
	acsOK := (idx != nil) != (url != "" || pb != "")
	got := ""
	if sp != nil && acsOK {
		if idx != nil {
			_, acsOK = sp.acs[info.ACSIndex]
			got = "index " + idx.Value
		} else {
			acsOK = pb == bindPOST && slices.Contains(valuesOf(sp.acs), url)
			got = url + " " + pb
		}
	}
	prob(acsOK, "acs", got)
	ai := req.SelectAttr("AttributeConsumingServiceIndex")
	aiOK := ai != nil
	if sp != nil && ai != nil {
		_, aiOK = sp.attrs[info.AttrIndex]
	}
	prob(aiOK, "attribute-index", "")
	prob(info.Level <= 1 || info.ForceAuthn, "force-authn", "")
	prob(attrOf("IsPassive") != "true", "is-passive", "")
	iss := req.SelectElement("Issuer")
	prob(iss != nil && iss.SelectAttrValue("Format", "") == fmtEntity, "issuer-format", "")
	prob(iss != nil && iss.SelectAttrValue("NameQualifier", "") == info.Issuer, "issuer-name-qualifier", "")
	nip := req.SelectElement("NameIDPolicy")
	prob(nip != nil && nip.SelectAttrValue("Format", "") == fmtTransient, "nameid-policy", "")
	prob(nip == nil || nip.SelectAttr("AllowCreate") == nil, "nameid-policy-allow-create", "")
	rac := req.SelectElement("RequestedAuthnContext")
	cmp := ""
	if rac != nil {
		cmp = rac.SelectAttrValue("Comparison", "")
	}
	prob(slices.Contains([]string{"minimum", "exact", "better", "maximum"}, cmp), "requested-authn-context", q(cmp))
	prob(info.Level >= 1 && info.Level <= 3 && rac != nil && len(rac.SelectElements("AuthnContextClassRef")) == 1, "authn-context-class-ref", "")
	if sp != nil && sp.cert != nil {
		prob(info.SignatureOK, "signature", "")
		alg, dig := r.URL.Query().Get("SigAlg"), ""
		if info.Binding == bindPOST {
			alg, dig = "", ""
			if sm := req.FindElement("./Signature/SignedInfo/SignatureMethod"); sm != nil {
				alg = sm.SelectAttrValue("Algorithm", "")
			}
			if dm := req.FindElement("./Signature/SignedInfo/Reference/DigestMethod"); dm != nil {
				dig = dm.SelectAttrValue("Algorithm", "")
			}
			prob(alg == rsaSHA256 && strings.HasSuffix(dig, "sha256"), "signature-algorithm", q(alg)+" "+q(dig))
		} else {
			prob(alg == rsaSHA256, "signature-algorithm", q(alg))
		}
	}
	rs := info.RelayState
	// An absolute or scheme-relative URL is an open redirect if the SP
	// follows it; a server-side reference or a local path is not.
	prob(!strings.Contains(rs, "://") && !strings.HasPrefix(rs, "//"), "relay-state", q(rs))
}

func valuesOf(m map[int]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

var postTmpl = template.Must(template.New("p").Parse(`<!DOCTYPE html><html lang="it"><head><meta charset="utf-8"><title>Mock SPID IdP</title></head>
<body onload="document.forms[0].submit()"><form method="post" action="{{.Action}}">
<input type="hidden" name="SAMLResponse" value="{{.Resp}}">
<input type="hidden" name="RelayState" value="{{.Relay}}">
<input type="submit" value="Continua"></form></body></html>`))

// respond signs a response for user (with defect) and renders the auto-POST form.
func (s *Server) respond(w http.ResponseWriter, info RequestInfo, user, defect string) {
	s.mu.Lock()
	if defect == "" {
		if len(s.nextDef) > 0 {
			defect, s.nextDef = s.nextDef[0], s.nextDef[1:]
		} else {
			defect = s.defect
		}
	}
	sp := s.sps[info.Issuer]
	u, ok := s.users[user]
	s.mu.Unlock()
	if sp == nil {
		page(w, http.StatusForbidden, "SP sconosciuto / unknown SP: "+info.Issuer)
		return
	}
	if !ok && defect == "" {
		defect = "nr19"
	}
	acs := sp.acs[info.ACSIndex]
	b, err := s.BuildResponse(ResponseParams{
		Request: info, ACS: acs, Audience: sp.entityID, User: u, Attributes: sp.attrs[info.AttrIndex], Defect: defect,
	})
	if err != nil {
		page(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = postTmpl.Execute(w, map[string]string{"Action": acs, "Resp": base64.StdEncoding.EncodeToString(b), "Relay": info.RelayState})
}

func (s *Server) handleSLO(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("SAMLResponse") != "" {
		s.handleLogoutResponse(w, r)
		return
	}
	comp, err := base64.StdEncoding.DecodeString(r.URL.Query().Get("SAMLRequest"))
	if err != nil {
		page(w, http.StatusBadRequest, "LogoutRequest non valida")
		return
	}
	raw, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(comp)), 1<<20))
	if err != nil {
		page(w, http.StatusBadRequest, "LogoutRequest non valida")
		return
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil || doc.Root() == nil || doc.Root().Tag != "LogoutRequest" {
		page(w, http.StatusBadRequest, "LogoutRequest non valida")
		return
	}
	req := doc.Root()
	issuer := ""
	if e := req.SelectElement("Issuer"); e != nil {
		issuer = strings.TrimSpace(e.Text())
	}
	s.mu.Lock()
	sp := s.sps[issuer]
	s.mu.Unlock()
	if sp == nil {
		page(w, http.StatusForbidden, "SP sconosciuto")
		return
	}
	dest := sp.slo
	lr := etree.NewElement("samlp:LogoutResponse")
	lr.CreateAttr("xmlns:samlp", nsSAMLP)
	lr.CreateAttr("xmlns:saml", nsSAML)
	lr.CreateAttr("ID", newID())
	lr.CreateAttr("Version", "2.0")
	lr.CreateAttr("IssueInstant", samlTime(s.now()))
	lr.CreateAttr("InResponseTo", req.SelectAttrValue("ID", ""))
	lr.CreateAttr("Destination", dest)
	iss := lr.CreateElement("saml:Issuer")
	iss.CreateAttr("Format", fmtEntity)
	iss.SetText(s.EntityID())
	lr.CreateElement("samlp:Status").CreateElement("samlp:StatusCode").CreateAttr("Value", "urn:oasis:names:tc:SAML:2.0:status:Success")
	d := etree.NewDocument()
	d.SetRoot(lr)
	xb, _ := d.WriteToBytes()
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.BestCompression)
	_, _ = fw.Write(xb)
	_ = fw.Close()
	q := "SAMLResponse=" + url.QueryEscape(base64.StdEncoding.EncodeToString(buf.Bytes())) + "&SigAlg=" + url.QueryEscape(rsaSHA256)
	sum := sha256.Sum256([]byte(q))
	sig, _ := rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, sum[:])
	q += "&Signature=" + url.QueryEscape(base64.StdEncoding.EncodeToString(sig))
	http.Redirect(w, r, dest+"?"+q, http.StatusFound)
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "_" + hex.EncodeToString(b)
}

func samlTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
