package spid

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwt"
)

// Options tunes an SP. Zero values are safe defaults.
type Options struct {
	// RequestTTL is how long an AuthnRequest waits for its answer (default 10m).
	RequestTTL time.Duration
	// ClockSkew tolerated on every instant (default 2m).
	ClockSkew time.Duration
	// ReplayWindow keeps Response IDs against replay (default 1h).
	ReplayWindow time.Duration
	// MaxResponseBytes bounds the base64 SAMLResponse (default 256 KiB).
	MaxResponseBytes int
	// TokenTTL is the lifetime of the JWT handed to the application (default 15m).
	TokenTTL time.Duration
	// UsePOST sends AuthnRequests with the HTTP-POST binding instead of HTTP-Redirect.
	UsePOST bool
	// CookieName of the JWT (default "ponte_spid"). The cookie's Path is the
	// path of SPConfig.BaseURL, so SPs mounted under different prefixes of one
	// host keep their sessions apart.
	CookieName string
	// AfterLogout is the local path the browser goes to when a logout has
	// completed at the IdP ("" shows a short built-in page).
	AfterLogout string
	// TokenAlg signs the hand-off token: TokenES256 (default), TokenEdDSA
	// or TokenRS256 (see tokenKeys for the keys and the JWKS).
	TokenAlg string
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger (default slog.Default()).
	Logger *slog.Logger
}

// SP is the SPID Service Provider, an http.Handler for /spid/...
type SP struct {
	cfg   SPConfig
	idps  IdPRegistry
	store RequestStore
	opts  Options
	mux   *http.ServeMux
	token *tokenKeys
	jwks  []byte
	// base is the path of BaseURL ("" at the root): the SP's own links and
	// its cookie live under it when it is mounted with http.StripPrefix.
	base string
}

// NewSP validates cfg and returns the SP.
func NewSP(cfg SPConfig, idps IdPRegistry, store RequestStore, opts Options) (*SP, error) {
	if cfg.Key == nil || cfg.Cert == nil {
		return nil, ErrNoKey
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if idps == nil || store == nil {
		return nil, errors.New("spid: an IdP registry and a request store are required")
	}
	if opts.RequestTTL <= 0 {
		opts.RequestTTL = 10 * time.Minute
	}
	if opts.ClockSkew <= 0 {
		opts.ClockSkew = 2 * time.Minute
	}
	if opts.ReplayWindow <= 0 {
		opts.ReplayWindow = time.Hour
	}
	if opts.MaxResponseBytes <= 0 {
		opts.MaxResponseBytes = 256 << 10
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = 15 * time.Minute
	}
	if opts.CookieName == "" {
		opts.CookieName = "ponte_spid"
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	sp := &SP{cfg: cfg.withDefaults(), idps: idps, store: store, opts: opts}
	if u, err := url.Parse(sp.cfg.BaseURL); err == nil {
		sp.base = strings.TrimRight(u.Path, "/")
	}
	tk, err := newTokenKeys(opts.TokenAlg, cfg.Key, cfg.Cert)
	if err != nil {
		return nil, err
	}
	sp.token = tk
	if sp.jwks, err = tk.jwks(); err != nil {
		return nil, err
	}
	m := http.NewServeMux()
	m.HandleFunc("GET /spid/metadata", sp.handleMetadata)
	if cfg.CIE != nil {
		m.HandleFunc("GET /spid/metadata/cie", sp.handleCIEMetadata)
	}
	m.HandleFunc("GET /spid/login", sp.handleLogin)
	m.HandleFunc("POST /spid/acs", sp.handleACS)
	m.HandleFunc("/spid/slo", sp.handleSLO)
	m.HandleFunc("GET /spid/jwks.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(sp.jwks)
	})
	m.HandleFunc("GET /spid/me", sp.handleMe)
	sp.mux = m
	return sp, nil
}

// EntityID is the SP's entityID.
func (sp *SP) EntityID() string { return sp.cfg.EntityID }

// JWKS is the JSON Web Key Set (public keys) that verifies the SP's tokens,
// also served at /spid/jwks.json: the signing key first, and the keys of
// the other algorithms a token still valid may have been signed with.
func (sp *SP) JWKS() []byte { return append([]byte(nil), sp.jwks...) }

// BaseURL is the public root under which the SP serves /spid/...
func (sp *SP) BaseURL() string { return sp.cfg.BaseURL }

func (sp *SP) cookiePath() string { return sp.base + "/" }

// ServeHTTP implements http.Handler.
func (sp *SP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			sp.opts.Logger.Error("spid: panic in handler", "panic", v, "path", r.URL.Path)
			sp.errorPage(w, http.StatusInternalServerError, Message{"Errore interno.", "Internal error."}, "")
		}
	}()
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	sp.mux.ServeHTTP(w, r)
}

func (sp *SP) now() time.Time {
	if sp.opts.Now != nil {
		return sp.opts.Now()
	}
	return time.Now()
}

func (sp *SP) acsURL(i int) string {
	for _, a := range sp.cfg.ACS {
		if a.Index == i {
			return a.Location
		}
	}
	return ""
}

func (sp *SP) attrSet(i int) []string {
	for _, a := range sp.cfg.AttributeSets {
		if a.Index == i {
			return a.Attributes
		}
	}
	return nil
}

// Metadata returns the signed SP metadata with a fresh ID.
func (sp *SP) Metadata() ([]byte, error) { return SignedMetadata(sp.cfg, newID()) }

// handleCIEMetadata serves the signed metadata for the CIE federation
// (cie: extensions, CIE attribute sets only).
func (sp *SP) handleCIEMetadata(w http.ResponseWriter, _ *http.Request) {
	b, err := SignedCIEMetadata(sp.cfg, newID())
	if err != nil {
		sp.opts.Logger.Error("spid: CIE metadata", "err", err)
		sp.errorPage(w, http.StatusInternalServerError, Message{"Errore interno.", "Internal error."}, "")
		return
	}
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	_, _ = w.Write(b)
}

func (sp *SP) handleMetadata(w http.ResponseWriter, _ *http.Request) {
	b, err := sp.Metadata()
	if err != nil {
		sp.opts.Logger.Error("spid: metadata", "err", err)
		sp.errorPage(w, http.StatusInternalServerError, Message{"Errore interno.", "Internal error."}, "")
		return
	}
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	_, _ = w.Write(b)
}

var chooserTmpl = template.Must(template.New("c").Parse(`<!DOCTYPE html>
<html lang="it"><head><meta charset="utf-8"><title>Entra con SPID</title></head><body>
<h1>Entra con SPID</h1><p lang="en">Log in with SPID</p>
<ul>{{range .IdPs}}<li><a href="{{$.Base}}/spid/login?idp={{.EntityID}}&amp;level={{$.Level}}&amp;attrs={{$.Attrs}}">{{.Name}}</a></li>{{end}}</ul>
<p><a href="https://www.spid.gov.it">Maggiori informazioni su SPID / More about SPID</a></p>
</body></html>`))

// LoginStart creates and stores a pending request and returns where to send
// the browser (a URL for HTTP-Redirect, or an HTML form for HTTP-POST).
func (sp *SP) LoginStart(ctx context.Context, idpID string, level, attrIndex int, returnTo string) (redirect string, form []byte, err error) {
	idp, ok := sp.idps.Lookup(idpID)
	if !ok {
		return "", nil, fail(ErrUnknownIdP, "%s", idpID)
	}
	if level < 1 || level > 3 {
		return "", nil, errors.New("spid: level must be 1, 2 or 3")
	}
	if sp.attrSet(attrIndex) == nil {
		return "", nil, errors.New("spid: unknown attribute set")
	}
	if !strings.HasPrefix(returnTo, "/") || strings.HasPrefix(returnTo, "//") || strings.Contains(returnTo, "\\") {
		returnTo = sp.base + "/spid/me"
	}
	now := sp.now()
	rs := make([]byte, 16)
	_, _ = rand.Read(rs)
	p := PendingRequest{
		ID: newID(), IdP: idp.EntityID, Level: level, ACSIndex: 0, AttrIndex: attrIndex,
		IssueInstant: now.UTC().Truncate(time.Millisecond), Expires: now.Add(sp.opts.RequestTTL),
		RelayState: "rs_" + hex.EncodeToString(rs), ReturnTo: returnTo,
	}
	usePOST := (sp.opts.UsePOST && idp.SSOPost != "") || idp.SSORedirect == ""
	dest := idp.SSORedirect
	if usePOST {
		dest = idp.SSOPost
	}
	el := AuthnRequestElement(sp.cfg.EntityID, dest, p)
	if err := sp.store.Put(ctx, p); err != nil {
		return "", nil, err
	}
	if usePOST {
		signed, err := signEnveloped(el, sp.cfg.Key, sp.cfg.Cert)
		if err != nil {
			return "", nil, err
		}
		b, err := docBytes(signed)
		if err != nil {
			return "", nil, err
		}
		form, err := postForm(dest, "SAMLRequest", b, p.RelayState)
		return "", form, err
	}
	u, err := RedirectURL(dest, "SAMLRequest", el, p.RelayState, sp.cfg.Key)
	return u, nil, err
}

func (sp *SP) handleLogin(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	level, attrs := 2, 0
	if v := q.Get("level"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 3 {
			sp.errorPage(w, http.StatusBadRequest, Message{"Livello SPID non valido.", "Invalid SPID level."}, "")
			return
		}
		level = n
	}
	if v := q.Get("attrs"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || sp.attrSet(n) == nil {
			sp.errorPage(w, http.StatusBadRequest, Message{"Insieme di attributi sconosciuto.", "Unknown attribute set."}, "")
			return
		}
		attrs = n
	}
	idp := q.Get("idp")
	if idp == "" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = chooserTmpl.Execute(w, map[string]any{"IdPs": sp.idps.List(), "Level": level, "Attrs": attrs, "Base": sp.base})
		return
	}
	u, form, err := sp.LoginStart(r.Context(), idp, level, attrs, q.Get("next"))
	var ve *ValidationError
	if errors.As(err, &ve) {
		sp.errorPage(w, http.StatusBadRequest, Message{"Identity provider sconosciuto.", "Unknown identity provider."}, string(ve.Code))
		return
	}
	if err != nil {
		sp.opts.Logger.Error("spid: login", "err", err)
		sp.errorPage(w, http.StatusInternalServerError, Message{"Errore interno.", "Internal error."}, "")
		return
	}
	if form != nil {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(form)
		return
	}
	http.Redirect(w, r, u, http.StatusFound)
}

func (sp *SP) handleACS(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, int64(sp.opts.MaxResponseBytes)+4096)
	buf := formBufs.Get().(*bytes.Buffer)
	defer putFormBuf(buf)
	form, err := readACSForm(r, buf)
	if errors.Is(err, errFormTooLarge) {
		sp.reject(w, fail(ErrTooLarge, "form over %d bytes", sp.opts.MaxResponseBytes+4096))
		return
	}
	if err != nil {
		sp.reject(w, fail(ErrMalformed, "form: %v", err))
		return
	}
	login, err := sp.validateResponse(r.Context(), form.Response, form.RelayState)
	if err != nil {
		sp.reject(w, err)
		return
	}
	tok, err := sp.IssueToken(login)
	if err != nil {
		sp.opts.Logger.Error("spid: token", "err", err)
		sp.errorPage(w, http.StatusInternalServerError, Message{"Errore interno.", "Internal error."}, "")
		return
	}
	sp.opts.Logger.Info("spid: login", "idp", login.IdP, "level", login.Level)
	http.SetCookie(w, &http.Cookie{
		Name: sp.opts.CookieName, Value: string(tok), Path: sp.cookiePath(), HttpOnly: true,
		Secure: strings.HasPrefix(sp.cfg.BaseURL, "https://"), SameSite: http.SameSiteLaxMode,
		MaxAge: int(sp.opts.TokenTTL / time.Second),
	})
	http.Redirect(w, r, login.ReturnTo, http.StatusSeeOther)
}

func (sp *SP) reject(w http.ResponseWriter, err error) {
	var ve *ValidationError
	if !errors.As(err, &ve) {
		sp.opts.Logger.Error("spid: acs", "err", err)
		sp.errorPage(w, http.StatusInternalServerError, UserMessage(err), "")
		return
	}
	sp.opts.Logger.Warn("spid: response rejected", "code", string(ve.Code), "spid_code", ve.SPIDCode, "detail", ve.Detail)
	status := http.StatusBadRequest
	if ve.Code == ErrTooLarge {
		status = http.StatusRequestEntityTooLarge
	} else if ve.Code == ErrIdPError {
		status = http.StatusUnauthorized
	}
	code := string(ve.Code)
	if ve.SPIDCode != "" {
		code = ve.SPIDCode
	}
	sp.errorPage(w, status, UserMessage(err), code)
}

var errorTmpl = template.Must(template.New("e").Parse(`<!DOCTYPE html>
<html lang="it"><head><meta charset="utf-8"><title>Accesso non riuscito / Login failed</title></head><body>
<h1>Accesso non riuscito</h1><p>{{.IT}}</p>
<h2 lang="en">Login failed</h2><p lang="en">{{.EN}}</p>
{{if .Code}}<p>Codice / Code: <code id="code">{{.Code}}</code></p>{{end}}
<p><a href="{{.Base}}/spid/login">Riprova / Try again</a></p></body></html>`))

func (sp *SP) errorPage(w http.ResponseWriter, status int, m Message, code string) {
	var b bytes.Buffer
	_ = errorTmpl.Execute(&b, map[string]string{"IT": m.IT, "EN": m.EN, "Code": code, "Base": sp.base})
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// handoffClaims are the claims of the hand-off token.
type handoffClaims struct {
	Issuer        string            `json:"iss"`
	Subject       string            `json:"sub,omitempty"`
	Audience      []string          `json:"aud"`
	IssuedAt      int64             `json:"iat"`
	Expires       int64             `json:"exp"`
	FiscalNumber  string            `json:"fiscalNumber"`
	Name          string            `json:"name"`
	FamilyName    string            `json:"familyName"`
	SPIDLevel     int               `json:"spidLevel"`
	IdP           string            `json:"idp"`
	SessionIndex  string            `json:"sessionIndex"`
	NameID        string            `json:"nameID"`
	NameQualifier string            `json:"nameQualifier"`
	Attributes    map[string]string `json:"attributes"`
}

// IssueToken signs the JWT handed to the application (Options.TokenAlg).
// The claims are marshaled from a struct and signed with a header encoded
// once per SP (typ JWT, the key's kid): jwt.Builder's generic token and
// jws.Sign's header handling cost more than the signature itself.
func (sp *SP) IssueToken(l *Login) ([]byte, error) {
	now := sp.now()
	payload, err := json.Marshal(handoffClaims{
		Issuer: sp.cfg.EntityID, Subject: l.Attributes["fiscalNumber"], Audience: []string{sp.cfg.EntityID},
		IssuedAt: now.Unix(), Expires: now.Add(sp.opts.TokenTTL).Unix(),
		FiscalNumber: l.Attributes["fiscalNumber"], Name: l.Attributes["name"], FamilyName: l.Attributes["familyName"],
		SPIDLevel: l.Level, IdP: l.IdP, SessionIndex: l.SessionIndex, NameID: l.NameID, NameQualifier: l.NameQualifier,
		Attributes: l.Attributes,
	})
	if err != nil {
		return nil, err
	}
	return sp.token.compact(payload)
}

// ParseToken verifies a token issued by this SP and returns its claims.
func (sp *SP) ParseToken(b []byte) (map[string]any, error) {
	t, err := jwt.Parse(b, jwt.WithKeySet(sp.token.public), jwt.WithValidate(true),
		jwt.WithClock(jwt.ClockFunc(sp.now)), jwt.WithIssuer(sp.cfg.EntityID))
	if err != nil {
		return nil, err
	}
	return t.AsMap(context.Background())
}

var meTmpl = template.Must(template.New("me").Parse(`<!DOCTYPE html>
<html lang="it"><head><meta charset="utf-8"><title>I tuoi dati / Your data</title></head><body>
<h1>Benvenuto/a, {{index .Attrs "name"}} {{index .Attrs "familyName"}}</h1>
<p>Livello SPID / SPID level: <span id="level">{{.Level}}</span> — IdP: <span id="idp">{{.IdP}}</span></p>
<table>{{range $k, $v := .Attrs}}<tr><th>{{$k}}</th><td id="attr-{{$k}}">{{$v}}</td></tr>{{end}}</table>
<p><a href="{{.Base}}/spid/slo">Esci / Log out</a></p></body></html>`))

func (sp *SP) handleMe(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(sp.opts.CookieName)
	if err != nil {
		sp.errorPage(w, http.StatusUnauthorized, Message{"Non hai effettuato l'accesso.", "You are not logged in."}, "")
		return
	}
	claims, err := sp.ParseToken([]byte(c.Value))
	if err != nil {
		sp.errorPage(w, http.StatusUnauthorized, Message{"Sessione scaduta o non valida.", "Session expired or invalid."}, "")
		return
	}
	if r.URL.Query().Get("format") == "json" {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(claims)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = meTmpl.Execute(w, map[string]any{"Attrs": claims["attributes"], "Level": claims["spidLevel"], "IdP": claims["idp"], "Base": sp.base})
}
