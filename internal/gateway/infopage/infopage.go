// Package infopage serves the unsubscribe link every information-campaign
// message carries (/t/<tenant>/info/unsubscribe?token=…): a GET shows a
// bilingual confirmation page, a POST records the withdrawal of consent,
// which the campaign honours from its next batch.
package infopage

import (
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/ponte-pa/ponte/internal/gateway"
	"github.com/ponte-pa/ponte/internal/tenant"
	"github.com/ponte-pa/ponte/workflows/info"
)

// Pages serves the unsubscribe pages of every tenant.
type Pages struct {
	Store  *info.Store
	Logger *slog.Logger     // default slog.Default()
	Now    func() time.Time // default time.Now
}

// Path is where a tenant's unsubscribe page is under its gateway path.
const Path = "/info/unsubscribe"

// Mount serves the site's unsubscribe page (gateway.Options.Mount).
func (p *Pages) Mount(mux *http.ServeMux, s *gateway.Site) { p.MountTenant(mux, s.Path(), s.Tenant) }

// MountTenant serves t's unsubscribe page at base+Path.
func (p *Pages) MountTenant(mux *http.ServeMux, base string, t *tenant.Tenant) {
	mux.HandleFunc("GET "+base+Path, func(w http.ResponseWriter, r *http.Request) { p.serve(w, r, t, false) })
	mux.HandleFunc("POST "+base+Path, func(w http.ResponseWriter, r *http.Request) { p.serve(w, r, t, true) })
}

type view struct {
	Comune  tenant.Localized
	Token   string
	Topic   string
	Done    bool
	Invalid bool
}

var page = template.Must(template.New("p").Parse(`<!doctype html>
<html lang="it"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Comune.IT}} — Cancellazione / Unsubscribe</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 2em auto; padding: 0 1em">
<h1>{{.Comune.IT}}</h1>
{{if .Invalid}}
<p lang="it">Il link non è valido o è stato modificato. Per revocare il consenso rivolgiti al Comune.</p>
<p lang="en">This link is not valid or was altered. To withdraw your consent, contact the comune.</p>
{{else if .Done}}
<p lang="it"><strong>Fatto.</strong> Non riceverai più messaggi del Comune sul tema «{{.Topic}}». La revoca è registrata con data e ora.</p>
<p lang="en"><strong>Done.</strong> You will receive no more messages from {{.Comune.EN}} on the topic “{{.Topic}}”. Your withdrawal is recorded with its date and time.</p>
{{else}}
<p lang="it">Vuoi smettere di ricevere i messaggi del Comune sul tema «{{.Topic}}»?</p>
<p lang="en">Do you want to stop receiving messages from {{.Comune.EN}} on the topic “{{.Topic}}”?</p>
<form method="post"><input type="hidden" name="token" value="{{.Token}}">
<button type="submit">Revoca il consenso / Unsubscribe</button></form>
{{end}}
</body></html>
`))

func (p *Pages) serve(w http.ResponseWriter, r *http.Request, t *tenant.Tenant, post bool) {
	log := p.Logger
	if log == nil {
		log = slog.Default()
	}
	v := view{Comune: t.Name}
	if v.Comune.EN == "" {
		v.Comune.EN = v.Comune.IT
	}
	tok := r.FormValue("token")
	key, err := info.KeyFor(t)
	if err != nil {
		log.Error("unsubscribe key", "tenant", t.ID, "err", err)
		http.Error(w, "Servizio non disponibile / Service unavailable", http.StatusServiceUnavailable)
		return
	}
	c, err := info.Verify(key, tok)
	status := http.StatusOK
	switch {
	case err != nil || c.Tenant != t.ID:
		v.Invalid, status = true, http.StatusBadRequest
	case post:
		now := time.Now
		if p.Now != nil {
			now = p.Now
		}
		if _, err := p.Store.Withdraw(r.Context(), c, "unsubscribe link, campaign "+c.Campaign, now()); err != nil {
			log.Error("recording a withdrawal", "tenant", t.ID, "campaign", c.Campaign, "err", err)
			http.Error(w, "Errore, riprova più tardi / Error, please try again later", http.StatusInternalServerError)
			return
		}
		v.Done, v.Topic = true, c.Topic
	default:
		v.Token, v.Topic = tok, c.Topic
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	if err := page.Execute(w, v); err != nil {
		log.Warn("unsubscribe page", "err", err)
	}
}
