package alertpage

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/ponte-pa/ponte/connectors/cap"
	"github.com/ponte-pa/ponte/internal/tenant"
	"github.com/ponte-pa/ponte/workflows/alert"
)

// formOf fills the update form from the alert's current CAP message.
func formOf(t *tenant.Tenant, al *cap.Alert) *form {
	it, en := alert.InfoFor(al, "it"), alert.InfoFor(al, "en")
	ital := cap.ItalianOf(it)
	f := &form{Source: "form", Colour: string(ital.Colour), Risk: string(ital.Risk), Phase: string(ital.Phase), Status: al.Status, AreaMode: "all",
		Headline: tenant.Localized{IT: it.Headline}, Description: tenant.Localized{IT: it.Description}, Instruction: tenant.Localized{IT: it.Instruction}}
	if en.Language != it.Language {
		f.Headline.EN, f.Description.EN, f.Instruction.EN = en.Headline, en.Description, en.Instruction
	}
	var zones, codes []string
	for _, a := range it.Area {
		if a.AreaDesc != t.Name.IT {
			f.AreaDesc = a.AreaDesc
		}
		for _, g := range a.Geocode {
			switch g.ValueName {
			case alert.GeocodeZone:
				zones = append(zones, g.Value)
			case alert.GeocodeISTAT:
				codes = append(codes, g.Value)
			}
		}
	}
	switch {
	case len(zones) > 0:
		f.AreaMode, f.Zones = "zones", zones
	case len(codes) > 0 && !sameSet(codes, t.Alerts.ISTAT):
		f.AreaMode, f.ISTAT = "istat", strings.Join(codes, ", ")
	}
	return f
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// current is the alert's latest CAP message.
func (st *site) current(ctx context.Context, id string) (*cap.Alert, []alert.Version, error) {
	vs, err := st.opts.Store.Versions(ctx, id)
	if err != nil || len(vs) == 0 {
		return nil, vs, err
	}
	al, err := alert.ParseCAP(vs[len(vs)-1].CAP)
	return al, vs, err
}

// alertView is the progress of an alert as the page and its JSON show it.
type alertView struct {
	Progress  *alert.Progress `json:"progress,omitempty"`
	Error     string          `json:"error,omitempty"`
	Channels  []channelCount  `json:"channels"`
	Unreached []unreached     `json:"unreached"`
	// UnreachedTotal may be more than Unreached lists.
	UnreachedTotal int  `json:"unreachedTotal"`
	Final          bool `json:"final"` // done or cancelled
}

type channelCount struct {
	Channel string `json:"channel"`
	Sent    int    `json:"sent"`
	Failed  int    `json:"failed"`
}

type unreached struct {
	Name     string `json:"name"`
	Phone    string `json:"phone"`
	Email    string `json:"email"`
	Attempts string `json:"attempts"`
}

// maxUnreached bounds the people listed on the page; the CLI's report
// gives them all as CSV.
const maxUnreached = 500

// view queries the workflow and, once its rounds are done, reads the
// people not reached from the report.
func (st *site) view(ctx context.Context, id string) alertView {
	v := alertView{Channels: []channelCount{}, Unreached: []unreached{}}
	p, err := st.progress(ctx, id)
	if err != nil {
		v.Error = "Avanzamento non disponibile: " + err.Error()
		st.opts.Logger.Warn("alertpage: progress", "tenant", st.t.ID, "alert", id, "err", err)
	} else {
		v.Progress = &p
		kinds := map[string]bool{}
		for k := range p.Sent {
			kinds[k] = true
		}
		for k := range p.Failed {
			kinds[k] = true
		}
		for k := range kinds {
			v.Channels = append(v.Channels, channelCount{Channel: k, Sent: p.Sent[k], Failed: p.Failed[k]})
		}
		sort.Slice(v.Channels, func(i, j int) bool { return v.Channels[i].Channel < v.Channels[j].Channel })
		v.Final = p.Phase == alert.StateDone || p.Phase == alert.StateCancelled
	}
	if v.Final || err != nil {
		r, err := alert.BuildReport(ctx, st.opts.Store, id)
		if err != nil {
			st.opts.Logger.Warn("alertpage: report", "tenant", st.t.ID, "alert", id, "err", err)
			return v
		}
		for _, po := range r.People {
			if po.Reached {
				continue
			}
			v.UnreachedTotal++
			if len(v.Unreached) < maxUnreached {
				v.Unreached = append(v.Unreached, unreached{Name: po.Name, Phone: po.Phone, Email: po.Email, Attempts: strings.Join(po.Attempts, "; ")})
			}
		}
	}
	return v
}

func (st *site) alertData(r *http.Request, rec alert.Record, f *form) (map[string]any, error) {
	al, vs, err := st.current(r.Context(), rec.ID)
	if err != nil {
		return nil, err
	}
	switch {
	case f == nil && al != nil:
		f = formOf(st.t, al)
	case f == nil:
		f = &form{Source: "form", AreaMode: "all"} // not stored yet: the update form waits for a reload
	}
	data := st.page(r, "Allerta "+rec.ID, map[string]any{"Alert": rec, "Versions": vs, "View": st.view(r.Context(), rec.ID),
		"Form": f, "Zones": st.t.Alerts.Zones, "TenantISTAT": strings.Join(st.t.Alerts.ISTAT, ", "), "Choices": choices(),
		"Done": r.URL.Query().Get("done"), "ProgressURL": st.base + "/a/" + url.PathEscape(rec.ID) + "/progress"})
	if al != nil {
		data["Preview"] = preview(al)
		data["Headline"] = alert.InfoFor(al, "it").Headline
	}
	return data, nil
}

func (st *site) handleAlert(w http.ResponseWriter, r *http.Request) {
	rec, ok := st.alertOf(w, r)
	if !ok {
		return
	}
	data, err := st.alertData(r, rec, nil)
	if err != nil {
		st.opts.Logger.Error("alertpage: alert store", "tenant", st.t.ID, "alert", rec.ID, "err", err)
		st.fail(w, http.StatusInternalServerError, msg{"Errore interno: riprova.", "Internal error: please try again."})
		return
	}
	st.render(w, http.StatusOK, "alert", data)
}

func (st *site) handleProgress(w http.ResponseWriter, r *http.Request) {
	rec, ok := st.alertOf(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, st.view(r.Context(), rec.ID))
}

// handleUpdate sends an Update written from the edited texts.
func (st *site) handleUpdate(w http.ResponseWriter, r *http.Request) {
	rec, ok := st.alertOf(w, r)
	if !ok {
		return
	}
	f := formFrom(r.PostForm)
	f.Source = "form"
	def := f.definition(st.t)
	if def != nil {
		if _, err := def.ToCAP(st.t, alert.Identifier(st.t, rec.ID, rec.Version+1), st.opts.Now()); err != nil {
			f.fail("general", "%v", err)
			def = nil
		}
	}
	if def == nil {
		st.renderAlert(w, r, rec, f, http.StatusUnprocessableEntity)
		return
	}
	if err := st.signal(r.Context(), rec.ID, alert.SignalUpdate, alert.Change{Definition: def, By: opLabel(sessionOf(r))}); err != nil {
		f.fail("general", "Aggiornamento non inviato: %v (un'allerta accetta modifiche finché non scade). / Update not sent.", err)
		st.renderAlert(w, r, rec, f, http.StatusConflict)
		return
	}
	st.opts.Logger.Info("alertpage: update sent", "tenant", st.t.ID, "alert", rec.ID)
	http.Redirect(w, r, st.base+"/a/"+url.PathEscape(rec.ID)+"?done=update", http.StatusSeeOther)
}

func (st *site) renderAlert(w http.ResponseWriter, r *http.Request, rec alert.Record, f *form, status int) {
	data, err := st.alertData(r, rec, f)
	if err != nil {
		st.fail(w, http.StatusInternalServerError, msg{"Errore interno: riprova.", "Internal error: please try again."})
		return
	}
	st.render(w, status, "alert", data)
}

// handleCancel cancels the alert: sending stops, those reached are told
// the reason.
func (st *site) handleCancel(w http.ResponseWriter, r *http.Request) {
	rec, ok := st.alertOf(w, r)
	if !ok {
		return
	}
	reason := tenant.Localized{IT: strings.TrimSpace(r.PostForm.Get("reason_it")), EN: strings.TrimSpace(r.PostForm.Get("reason_en"))}
	if reason.IT == "" {
		f := &form{}
		f.fail("reason_it", "Scrivi il motivo della revoca: lo leggono le persone già avvisate. / Give the reason: the people already reached read it.")
		data, err := st.alertData(r, rec, nil)
		if err != nil {
			st.fail(w, http.StatusInternalServerError, msg{"Errore interno: riprova.", "Internal error: please try again."})
			return
		}
		data["CancelErrors"] = f.Errors
		st.render(w, http.StatusUnprocessableEntity, "alert", data)
		return
	}
	if err := st.signal(r.Context(), rec.ID, alert.SignalCancel, alert.Change{Cancel: true, Reason: reason, By: opLabel(sessionOf(r))}); err != nil {
		st.fail(w, http.StatusConflict, msg{"Revoca non inviata: " + err.Error(), "Cancel not sent: the alert may have expired."})
		return
	}
	st.opts.Logger.Info("alertpage: cancel sent", "tenant", st.t.ID, "alert", rec.ID)
	http.Redirect(w, r, st.base+"/a/"+url.PathEscape(rec.ID)+"?done=cancel", http.StatusSeeOther)
}

// handleConfirm confirms an alert that waits for an operator (one pushed
// by another system, or prepared from a feed).
func (st *site) handleConfirm(w http.ResponseWriter, r *http.Request) {
	rec, ok := st.alertOf(w, r)
	if !ok {
		return
	}
	if r.PostForm.Get("confirm") != "confermo" {
		st.fail(w, http.StatusUnprocessableEntity, msg{"Spunta «confermo» per avviare l'invio.", "Tick «confermo» to start sending."})
		return
	}
	if err := st.signal(r.Context(), rec.ID, alert.SignalConfirm, sessionOf(r).FiscalCode); err != nil {
		st.fail(w, http.StatusConflict, msg{"Conferma non inviata: " + err.Error(), "Confirmation not sent."})
		return
	}
	st.opts.Logger.Info("alertpage: alert confirmed", "tenant", st.t.ID, "alert", rec.ID)
	http.Redirect(w, r, st.base+"/a/"+url.PathEscape(rec.ID)+"?done=confirm", http.StatusSeeOther)
}
