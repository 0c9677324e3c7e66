// Package alertpage is the Protezione Civile operators' page of the
// gateway, under /t/<id>/allerte/ of every tenant with an alerts section:
// an operator who logged in with SPID and is listed in alerts.operators
// writes an alert (or pastes CAP), previews what citizens will read on
// each channel, sends it after a confirmation, follows its progress and
// updates or cancels it. The page starts and signals workflows/alert
// through Temporal; it keeps only its sessions.
package alertpage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/ponte-pa/ponte/internal/gateway"
	"github.com/ponte-pa/ponte/internal/store"
	"github.com/ponte-pa/ponte/internal/tenant"
	"github.com/ponte-pa/ponte/workflows/alert"
)

// Options configure the operators' pages. Client, Store and DB are
// required.
type Options struct {
	// Client starts, queries and signals the alert workflows.
	Client client.Client
	// Store holds the alerts (list, CAP messages, report).
	Store *alert.Store
	// DB keeps the operators' sessions, shared by every gateway instance.
	DB *store.DB
	// SessionTTL is how long an operator stays logged in (default 8h: a
	// shift).
	SessionTTL time.Duration
	// Logger (default slog.Default()).
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Pages serves the operators' page of every tenant it is mounted for.
type Pages struct {
	opts Options
	sess *sessions
}

// New checks the options and brings the session table up to date.
func New(ctx context.Context, opts Options) (*Pages, error) {
	if opts.Client == nil || opts.Store == nil || opts.DB == nil {
		return nil, errors.New("alertpage: a Temporal client, the alert store and the state store are required")
	}
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = 8 * time.Hour
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s, err := newSessions(ctx, opts.DB)
	if err != nil {
		return nil, err
	}
	return &Pages{opts: opts, sess: s}, nil
}

// site is one tenant's operators' page.
type site struct {
	*Pages
	gw     *gateway.Site
	t      *tenant.Tenant
	base   string // /t/<id>/allerte
	cookie string
	secure bool
}

// Mount serves the tenant's operators' page under s.Path()+"/allerte/"
// when the tenant has an alerts section (a gateway.Options.Mount).
func (p *Pages) Mount(mux *http.ServeMux, s *gateway.Site) {
	if s.Tenant.Alerts == nil {
		return
	}
	st := &site{Pages: p, gw: s, t: s.Tenant, base: s.Path() + "/allerte", cookie: "ponte_ops_" + s.Tenant.ID,
		secure: strings.HasPrefix(s.SP.BaseURL(), "https://")}
	b := st.base
	mux.Handle("GET "+b, http.RedirectHandler(b+"/", http.StatusMovedPermanently))
	mux.HandleFunc("GET "+b+"/{$}", st.operator(st.handleCompose))
	mux.HandleFunc("POST "+b+"/{$}", st.operator(st.csrf(st.handleComposePost)))
	mux.HandleFunc("GET "+b+"/login", st.handleLogin)
	mux.HandleFunc("POST "+b+"/logout", st.operator(st.csrf(st.handleLogout)))
	mux.HandleFunc("GET "+b+"/a/{id}", st.operator(st.handleAlert))
	mux.HandleFunc("GET "+b+"/a/{id}/progress", st.operator(st.handleProgress))
	mux.HandleFunc("POST "+b+"/a/{id}/update", st.operator(st.csrf(st.handleUpdate)))
	mux.HandleFunc("POST "+b+"/a/{id}/cancel", st.operator(st.csrf(st.handleCancel)))
	mux.HandleFunc("POST "+b+"/a/{id}/confirm", st.operator(st.csrf(st.handleConfirm)))
	mux.HandleFunc("POST "+b+"/cap", st.handlePush)
}

type ctxKey struct{}

func sessionOf(r *http.Request) *session { se, _ := r.Context().Value(ctxKey{}).(*session); return se }

// operator lets through requests with a live session of an operator still
// in alerts.operators; others get the login page (401).
func (st *site) operator(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var se *session
		if c, err := r.Cookie(st.cookie); err == nil {
			s, err := st.sess.get(r.Context(), st.t.ID, c.Value, st.opts.Now())
			if err != nil && !errors.Is(err, errNoSession) {
				st.opts.Logger.Error("alertpage: session", "tenant", st.t.ID, "err", err)
				st.fail(w, http.StatusInternalServerError, msg{"Errore interno: riprova.", "Internal error: please try again."})
				return
			}
			se = s
		}
		if se == nil || !st.t.Alerts.IsOperator(se.FiscalCode) {
			if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/progress") {
				writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "login required"})
				return
			}
			st.render(w, http.StatusUnauthorized, "login", st.page(r, "Accesso operatori", map[string]any{"LoginURL": st.loginURL()}))
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, se)))
	}
}

// csrf refuses a POST whose form lacks the session's token.
func (st *site) csrf(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		if err := r.ParseForm(); err != nil {
			st.fail(w, http.StatusRequestEntityTooLarge, msg{"Modulo troppo grande.", "Form too large."})
			return
		}
		if !sessionOf(r).validCSRF(r.PostForm.Get("csrf")) {
			st.fail(w, http.StatusForbidden, msg{"Il modulo è scaduto o non viene da questa pagina: ricarica la pagina e riprova.",
				"The form has expired or did not come from this page: reload the page and try again."})
			return
		}
		h(w, r)
	}
}

// maxForm bounds a form: a pasted CAP message with its texts.
const maxForm = 1 << 20

// loginURL is the tenant's SPID landing page, which sends the operator
// back to /allerte/login once logged in.
func (st *site) loginURL() string {
	return st.gw.Path() + "/?next=" + url.QueryEscape(st.base+"/login")
}

// handleLogin turns the SP's login into an operator's session: the
// citizen's token must be valid and their fiscal code in alerts.operators.
func (st *site) handleLogin(w http.ResponseWriter, r *http.Request) {
	ct, err := st.gw.Citizen(r)
	if err != nil {
		http.Redirect(w, r, st.loginURL(), http.StatusSeeOther)
		return
	}
	if !st.t.Alerts.IsOperator(ct.FiscalNumber) {
		st.opts.Logger.Warn("alertpage: login of someone who is not an operator", "tenant", st.t.ID)
		st.render(w, http.StatusForbidden, "forbidden", st.page(r, "Accesso negato", map[string]any{"Citizen": ct}))
		return
	}
	exp := st.opts.Now().Add(st.opts.SessionTTL)
	if ct.Expires.After(st.opts.Now()) && ct.Expires.Before(exp) {
		exp = ct.Expires // never longer than the SPID session it comes from
	}
	v, err := st.sess.create(r.Context(), session{Tenant: st.t.ID, FiscalCode: ct.FiscalNumber,
		Name: strings.TrimSpace(ct.Name + " " + ct.FamilyName), CSRF: randomToken(), Expires: exp})
	if err != nil {
		st.opts.Logger.Error("alertpage: session", "tenant", st.t.ID, "err", err)
		st.fail(w, http.StatusInternalServerError, msg{"Errore interno: riprova.", "Internal error: please try again."})
		return
	}
	st.opts.Logger.Info("alertpage: operator logged in", "tenant", st.t.ID)
	http.SetCookie(w, sessionCookie(st.cookie, st.base+"/", v, exp, st.secure))
	// A page, not a redirect: the login arrives from the IdP's site, and a
	// SameSite=Strict cookie is sent only on a navigation this site starts.
	st.render(w, http.StatusOK, "welcome", st.page(r, "Accesso effettuato", map[string]any{"Next": st.base + "/"}))
}

func (st *site) handleLogout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(st.cookie); err == nil {
		if err := st.sess.delete(r.Context(), c.Value); err != nil {
			st.opts.Logger.Error("alertpage: session", "tenant", st.t.ID, "err", err)
		}
	}
	http.SetCookie(w, sessionCookie(st.cookie, st.base+"/", "", time.Time{}, st.secure))
	http.Redirect(w, r, st.gw.Path()+"/spid/slo", http.StatusSeeOther)
}

// alertOf returns the tenant's alert named in the path, or answers 404.
func (st *site) alertOf(w http.ResponseWriter, r *http.Request) (alert.Record, bool) {
	id := r.PathValue("id")
	rec, err := st.opts.Store.Get(r.Context(), id)
	if err == nil && rec.Tenant == st.t.ID {
		return rec, true
	}
	if errors.Is(err, alert.ErrNotFound) {
		// Just started: the workflow exists, its first activity has not
		// stored the alert yet.
		if d, derr := st.opts.Client.DescribeWorkflowExecution(r.Context(), alert.WorkflowID(st.t.ID, id), ""); derr == nil {
			at := st.opts.Now()
			if info := d.GetWorkflowExecutionInfo(); info != nil && info.GetStartTime() != nil {
				at = info.GetStartTime().AsTime()
			}
			return alert.Record{ID: id, Tenant: st.t.ID, State: "staging", Recipients: -1, CreatedAt: at, UpdatedAt: at}, true
		}
	}
	if err != nil && !errors.Is(err, alert.ErrNotFound) {
		st.opts.Logger.Error("alertpage: alert store", "tenant", st.t.ID, "err", err)
	}
	if strings.HasSuffix(r.URL.Path, "/progress") {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such alert"})
	} else {
		st.fail(w, http.StatusNotFound, msg{"Allerta non trovata.", "Alert not found."})
	}
	return rec, false
}

// startAlert starts the workflow of a new alert; started is false when an
// alert with that id exists already.
func (st *site) startAlert(ctx context.Context, in alert.Input) (started bool, err error) {
	_, err = st.opts.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: alert.WorkflowID(in.TenantID, in.AlertID),
		TaskQueue: alert.Queue, WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowExecutionErrorWhenAlreadyStarted: true}, alert.WorkflowName, in)
	if temporal.IsWorkflowExecutionAlreadyStartedError(err) {
		return false, nil
	}
	return err == nil, err
}

func (st *site) signal(ctx context.Context, id, name string, arg any) error {
	return st.opts.Client.SignalWorkflow(ctx, alert.WorkflowID(st.t.ID, id), "", name, arg)
}

func (st *site) progress(ctx context.Context, id string) (alert.Progress, error) {
	var p alert.Progress
	v, err := st.opts.Client.QueryWorkflow(ctx, alert.WorkflowID(st.t.ID, id), "", alert.QueryProgress)
	if err != nil {
		return p, err
	}
	return p, v.Get(&p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		slog.Default().Debug("alertpage: writing JSON", "err", err)
	}
}

type msg struct{ IT, EN string }

func (st *site) fail(w http.ResponseWriter, status int, m msg) {
	st.render(w, status, "error", map[string]any{"Title": "Errore", "Name": st.t.Name, "Base": st.base, "Message": m})
}

// page is the data every page template gets.
func (st *site) page(r *http.Request, title string, data map[string]any) map[string]any {
	if data == nil {
		data = map[string]any{}
	}
	data["Title"], data["Name"], data["Base"] = title+" — Protezione Civile — "+st.t.Name.IT, st.t.Name, st.base
	if se := sessionOf(r); se != nil {
		data["Operator"], data["CSRF"] = se, se.CSRF
	}
	return data
}

// opLabel is who did something, as the workflow keeps it.
func opLabel(se *session) string { return "operator:" + se.FiscalCode }

// fmtErr is the message of an error for the page.
func fmtErr(err error) string { return fmt.Sprint(err) }

func jsonEncode(w io.Writer, v any) error { return json.NewEncoder(w).Encode(v) }
