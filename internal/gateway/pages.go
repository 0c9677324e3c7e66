package gateway

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/ponte-pa/ponte/connectors/spid"
)

// The pages are for citizens: Italian first, English beside it, no
// JavaScript, and the SPID button styled after AgID's "Entra con SPID".
const pageStyle = `
body{font-family:"Titillium Web",Geneva,Tahoma,sans-serif;margin:0;color:#1a1a1a;background:#f5f5f0}
header{background:#0066cc;color:#fff;padding:1rem 2rem}header p{margin:0}.ente{font-size:1.4rem;font-weight:600}
main{max-width:42rem;margin:2rem auto;padding:0 1rem}[lang=en]{color:#555}
.spid{display:inline-block;position:relative;margin:1rem 0}
.spid summary{list-style:none;cursor:pointer}.spid summary::-webkit-details-marker{display:none}
.spid-button{display:inline-flex;align-items:center;gap:.6rem;background:#06c;color:#fff;border-radius:4px;
padding:.7rem 1.4rem;font-weight:600;font-size:1.05rem;text-decoration:none}
.spid-button:hover,.spid-button:focus{background:#036}
.spid-icon{display:inline-block;width:1.6rem;height:1.6rem;border-radius:50%;background:#fff;color:#06c;text-align:center}
.spid-idps{list-style:none;margin:.3rem 0 0;padding:0;background:#fff;border:1px solid #ccc;border-radius:4px;min-width:16rem}
.spid-idps li{border-bottom:1px solid #eee}.spid-idps a{display:block;padding:.6rem 1rem;color:#06c;text-decoration:none}
.spid-idps a:hover{background:#e6f0fa}.notice{background:#e6f4ea;border-left:4px solid #2e7d32;padding:.6rem 1rem}
.error{background:#fdecea;border-left:4px solid #c62828;padding:.6rem 1rem}
dl{display:grid;grid-template-columns:max-content auto;gap:.4rem 1.2rem}dt{font-weight:600}dd{margin:0}
.small{font-size:.9rem}`

var spidIcon = template.HTML(`<svg class="spid-icon" viewBox="0 0 24 24" aria-hidden="true"><circle cx="12" cy="12" r="12" fill="#fff"/>` +
	`<circle cx="12" cy="8.5" r="3.5" fill="#06c"/><path d="M5.5 19.5c0-3.6 2.9-6 6.5-6s6.5 2.4 6.5 6z" fill="#06c"/></svg>`)

var pages = template.Must(template.New("pages").Parse(`
{{define "head"}}<!DOCTYPE html>
<html lang="it"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title><style>` + pageStyle + `</style></head><body>
<header><p class="ente">{{.Name.IT}}</p>{{if .Name.EN}}<p lang="en">{{.Name.EN}}</p>{{end}}</header><main>{{end}}

{{define "landing"}}{{template "head" .}}
{{if .LoggedOut}}<p class="notice" id="logged-out">Sei uscito dai servizi online. <span lang="en">You have logged out.</span></p>{{end}}
<h1>Servizi online <span lang="en">/ Online services</span></h1>
<p>Accedi con la tua identità digitale SPID{{if .CIE}} o con la CIE{{end}}.<br><span lang="en">Log in with your SPID digital identity{{if .CIE}} or your CIE{{end}}.</span></p>
<details class="spid" open>
<summary class="spid-button" aria-haspopup="true">{{.Icon}}<span>Entra con SPID</span></summary>
<ul class="spid-idps" id="spid-idps">
{{range .IdPs}}<li><a class="spid-idp" href="{{$.Login}}?idp={{.EntityID}}&amp;level={{$.Level}}&amp;next={{$.Next}}">{{.Name}}</a></li>
{{else}}<li><p class="error">Nessun identity provider disponibile in questo momento: riprova tra poco.<br><span lang="en">No identity provider is available right now: please try again shortly.</span></p></li>
{{end}}</ul></details>
{{with .CIE}}<p><a class="spid-button cie-idp" id="cie-login" href="{{$.Login}}?idp={{.EntityID}}&amp;level={{.Level}}&amp;attrs={{.Attrs}}&amp;next={{$.Next}}">Entra con CIE</a><br>
<span class="small">Carta d'Identità Elettronica <span lang="en">/ Electronic Identity Card</span></span></p>{{end}}
<p class="small"><a href="https://www.spid.gov.it/cos-e-spid/">Maggiori informazioni su SPID</a> ·
<a href="https://www.spid.gov.it/cos-e-spid/come-attivare-spid/">Non hai SPID?</a> ·
<a href="https://www.spid.gov.it/serve-aiuto/">Serve aiuto?</a><br>
<span lang="en"><a href="https://www.spid.gov.it/en/">More about SPID</a></span><br>
Livello richiesto <span lang="en">/ Level requested</span>: <span id="level">SPID {{.Level}}</span></p>
</main></body></html>{{end}}

{{define "app"}}{{template "head" .}}
<h1>Benvenuto/a, {{.Citizen.Name}} {{.Citizen.FamilyName}} <span lang="en">/ Welcome</span></h1>
<p>Hai effettuato l'accesso con la tua identità digitale. <span lang="en">You are logged in with your digital identity.</span></p>
<dl>
<dt>Codice fiscale <span lang="en">/ Fiscal number</span></dt><dd id="fiscalNumber">{{.Citizen.FiscalNumber}}</dd>
<dt>Nome <span lang="en">/ Name</span></dt><dd id="name">{{.Citizen.Name}}</dd>
<dt>Cognome <span lang="en">/ Family name</span></dt><dd id="familyName">{{.Citizen.FamilyName}}</dd>
<dt>Livello SPID <span lang="en">/ SPID level</span></dt><dd id="spidLevel">{{.Citizen.Level}}</dd>
<dt>Identity provider</dt><dd id="idp" data-entity-id="{{.Citizen.IdP}}">{{.Citizen.IdPName}}</dd>
{{range .Others}}<dt>{{.K}}</dt><dd id="attr-{{.K}}">{{.V}}</dd>
{{end}}<dt>Sessione valida fino a <span lang="en">/ Session valid until</span></dt><dd id="expires">{{.Citizen.Expires.Format "02/01/2006 15:04:05 MST"}}</dd>
</dl>
<p class="small">Questa pagina è l'applicazione del comune: riceve dal Service Provider un token firmato (JWT) e lo verifica con la chiave pubblica (JWKS), senza vedere SAML.<br>
<span lang="en">This page is the comune's application: it gets a signed token (JWT) from the Service Provider and checks it with the public key set (JWKS), never seeing SAML.</span></p>
<p><a class="spid-button" id="logout" href="{{.Base}}/spid/slo">Esci <span>/ Log out</span></a></p>
</main></body></html>{{end}}

{{define "noauth"}}{{template "head" .}}
<h1>Accesso richiesto <span lang="en">/ Login required</span></h1>
<p class="error">{{.Message.IT}}<br><span lang="en">{{.Message.EN}}</span></p>
<p><a href="{{.Base}}/">Accedi con SPID <span lang="en">/ Log in with SPID</span></a></p>
</main></body></html>{{end}}

{{define "index"}}<!DOCTYPE html>
<html lang="it"><head><meta charset="utf-8"><title>Ponte</title><style>` + pageStyle + `</style></head><body>
<header><p class="ente">Ponte</p><p lang="en">Servizi online degli enti / Online services of the entes</p></header><main>
<h1>Enti <span lang="en">/ Entes</span></h1><ul>
{{range .}}<li><a href="{{.Path}}/">{{.Name.IT}}</a>{{if .Name.EN}} <span lang="en">({{.Name.EN}})</span>{{end}}</li>
{{else}}<li>Nessun ente con accesso SPID configurato. <span lang="en">No ente has SPID login configured.</span></li>{{end}}
</ul></main></body></html>{{end}}
`))

func render(w http.ResponseWriter, status int, name string, data any) {
	var b bytes.Buffer
	if err := pages.ExecuteTemplate(&b, name, data); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

func (g *Gateway) handleIndex(w http.ResponseWriter, _ *http.Request) {
	type entry struct {
		Path string
		Name struct{ IT, EN string }
	}
	var list []entry
	for _, s := range g.sites {
		e := entry{Path: s.path}
		e.Name.IT, e.Name.EN = s.Tenant.Name.IT, s.Tenant.Name.EN
		list = append(list, e)
	}
	render(w, http.StatusOK, "index", list)
}

func (s *Site) handleLanding(w http.ResponseWriter, r *http.Request) {
	// The CIE identity provider gets its own button, not a place in the
	// SPID list; it shows once its metadata is loaded.
	var idps []*spid.IdP
	var cie map[string]any
	c := s.Tenant.SPID.CIE
	for _, p := range s.Registry.List() {
		if c != nil && p.EntityID == c.IdP {
			cie = map[string]any{"EntityID": p.EntityID, "Level": c.Level, "Attrs": c.AttributeIndex}
			continue
		}
		idps = append(idps, p)
	}
	// next sends the citizen, once logged in, to another of the tenant's
	// applications (the operators' page) instead of /app/.
	next := s.path + "/app/"
	if n := r.URL.Query().Get("next"); strings.HasPrefix(n, s.path+"/") && !strings.ContainsAny(n, "\\\r\n") && !strings.Contains(n, "/../") {
		next = n
	}
	render(w, http.StatusOK, "landing", map[string]any{
		"Title": s.Tenant.Name.IT + " — Entra con SPID", "Name": s.Tenant.Name, "Icon": spidIcon,
		"IdPs": idps, "CIE": cie, "Login": s.path + "/spid/login", "Level": s.Tenant.SPID.Level,
		"Next": next, "LoggedOut": r.URL.Query().Get("logout") == "1",
	})
}

// Citizen is who logged in, as the comune's application reads it from the
// SP's token.
type Citizen struct {
	// FiscalNumber is the codice fiscale, without SPID's "TINIT-" prefix.
	FiscalNumber string
	Name         string
	FamilyName   string
	// Level is the SPID level of the login (1-3).
	Level int
	// IdP is the identity provider's entityID; IdPName its display name.
	IdP, IdPName string
	Attributes   map[string]string
	Expires      time.Time
}

// Citizen verifies the SP's token in r's cookie with the SP's public keys
// (JWKS), as an application outside Ponte would, and reads the citizen
// from it.
func (s *Site) Citizen(r *http.Request) (*Citizen, error) {
	c, err := r.Cookie(s.cookie)
	if err != nil {
		return nil, err
	}
	now := time.Now
	if s.now != nil {
		now = s.now
	}
	eid := s.SP.EntityID()
	tok, err := jwt.Parse([]byte(c.Value), jwt.WithKeySet(s.keys), jwt.WithValidate(true),
		jwt.WithIssuer(eid), jwt.WithAudience(eid), jwt.WithClock(jwt.ClockFunc(now)))
	if err != nil {
		return nil, err
	}
	cl := tok.PrivateClaims()
	str := func(k string) string { v, _ := cl[k].(string); return v }
	ct := &Citizen{FiscalNumber: strings.TrimPrefix(str("fiscalNumber"), "TINIT-"), Name: str("name"),
		FamilyName: str("familyName"), IdP: str("idp"), Expires: tok.Expiration(), Attributes: map[string]string{}}
	if f, ok := cl["spidLevel"].(float64); ok {
		ct.Level = int(f)
	}
	if ct.FiscalNumber == "" || ct.Level == 0 {
		return nil, fmt.Errorf("token lacks fiscalNumber or spidLevel")
	}
	if m, ok := cl["attributes"].(map[string]any); ok {
		for k, v := range m {
			if sv, ok := v.(string); ok {
				ct.Attributes[k] = sv
			}
		}
	}
	ct.IdPName = ct.IdP
	if i, ok := s.Registry.Lookup(ct.IdP); ok {
		ct.IdPName = i.Name
	}
	return ct, nil
}

type msg struct{ IT, EN string }

func (s *Site) handleApp(w http.ResponseWriter, r *http.Request) {
	base := map[string]any{"Title": s.Tenant.Name.IT + " — Servizi online", "Name": s.Tenant.Name, "Base": s.path}
	ct, err := s.Citizen(r)
	if err != nil {
		m := msg{"Accedi con SPID per usare i servizi online.", "Log in with SPID to use the online services."}
		if _, nc := r.Cookie(s.cookie); nc == nil {
			m = msg{"La sessione è scaduta o non è valida: accedi di nuovo.", "Your session has expired or is not valid: please log in again."}
		}
		base["Message"] = m
		render(w, http.StatusUnauthorized, "noauth", base)
		return
	}
	type kv struct{ K, V string }
	var others []kv
	for k, v := range ct.Attributes {
		switch k {
		case "fiscalNumber", "name", "familyName":
			continue
		}
		others = append(others, kv{k, v})
	}
	sort.Slice(others, func(i, j int) bool { return others[i].K < others[j].K })
	base["Citizen"], base["Others"] = ct, others
	render(w, http.StatusOK, "app", base)
}
