package reports

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/ponte-pa/ponte/connectors/appio"
	"github.com/ponte-pa/ponte/connectors/channels"
	"github.com/ponte-pa/ponte/internal/tenant"
	"github.com/ponte-pa/ponte/internal/wfkit"
)

// Activities are the lifecycle's steps. AppIO and Channels, when set,
// replace the worker's connectors (tests); Lang finds a citizen's language
// on App IO (default: their App IO profile).
type Activities struct {
	Tenants wfkit.TenantLookup
	Store   *Store
	Outbox  *channels.Outbox
	Conns   *wfkit.Connectors

	AppIO    func(t *tenant.Tenant, purpose string) (channels.Sender, error)
	Channels func(t *tenant.Tenant) ([]channels.Sender, error)
	Lang     func(ctx context.Context, s channels.Sender, fiscalCode string) (string, error)
}

func (a *Activities) load(ctx context.Context, tenantID, id string) (*tenant.Tenant, *Report, error) {
	t, err := a.Tenants.Get(tenantID)
	if err != nil {
		return nil, nil, err
	}
	r, err := a.Store.Get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, nil, wfkit.BadInput("%v", err)
	}
	if err != nil {
		return nil, nil, wfkit.ActivityError(err)
	}
	if r.Tenant != tenantID {
		return nil, nil, wfkit.BadInput("report %s is not of tenant %s", id, tenantID)
	}
	return t, r, nil
}

// OpenResult is what the workflow needs of its report and tenant.
type OpenResult struct {
	State          State         `json:"state"`
	Poll           time.Duration `json:"poll"`
	TakeInChargeBy time.Time     `json:"takeInChargeBy,omitzero"`
	ResolveBy      time.Time     `json:"resolveBy,omitzero"`
	Duplicates     []string      `json:"duplicates,omitempty"`
}

// Open reads the report, its deadlines and the open reports of the same
// category nearby (suggested duplicates).
func (a *Activities) Open(ctx context.Context, in Input) (OpenResult, error) {
	t, r, err := a.load(ctx, in.TenantID, in.ReportID)
	if err != nil {
		return OpenResult{}, err
	}
	res := OpenResult{State: r.State, Poll: t.Reports.Poll()}
	tic, resolve := t.Reports.Deadlines(r.ServiceCode)
	if tic > 0 {
		res.TakeInChargeBy = r.Requested.Add(tic)
	}
	if resolve > 0 {
		res.ResolveBy = r.Requested.Add(resolve)
		if r.Expected.IsZero() { // Open311 expected_datetime: the resolution deadline
			if err := a.Store.SetExpected(ctx, r.ID, res.ResolveBy, ""); err != nil {
				return res, wfkit.ActivityError(err)
			}
		}
	}
	res.Duplicates, err = a.Nearby(ctx, t, r)
	return res, wfkit.ActivityError(err)
}

// Nearby lists the open reports of r's category within the tenant's
// distance and age of r (tenant.Reports.Nearby), newest first.
func (a *Activities) Nearby(ctx context.Context, t *tenant.Tenant, r *Report) ([]string, error) {
	if !r.HasLocation {
		return nil, nil
	}
	metres, age := t.Reports.Nearby()
	list, err := a.Store.List(ctx, Filter{Tenant: r.Tenant, ServiceCodes: []string{r.ServiceCode}, Statuses: []string{"open"},
		From: r.Requested.Add(-age), To: r.Requested.Add(age)})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, o := range list {
		if o.ID != r.ID && o.HasLocation && Distance(r.Lat, r.Long, o.Lat, o.Long) <= metres {
			out = append(out, o.ID)
		}
	}
	return out, nil
}

// Distance is the great-circle distance in metres between two WGS 84
// points (haversine; plenty for tens of metres).
func Distance(lat1, lon1, lat2, lon2 float64) float64 {
	const earth = 6371008.8
	rad := math.Pi / 180
	dlat, dlon := (lat2-lat1)*rad, (lon2-lon1)*rad
	h := math.Sin(dlat/2)*math.Sin(dlat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dlon/2)*math.Sin(dlon/2)
	return 2 * earth * math.Asin(math.Min(1, math.Sqrt(h)))
}

// crm opens the CRM of r's category.
func (a *Activities) crm(t *tenant.Tenant, code string) (CRM, error) {
	rt, ok := t.Reports.Route(code)
	if !ok {
		return nil, wfkit.BadInput("tenant %s has no route for category %q (reports.routes)", t.ID, code)
	}
	cfg, err := tenant.RouteConfig(rt.Kind, rt.Config)
	if err != nil {
		return nil, wfkit.BadInput("tenant %s: route of %q: %v", t.ID, code, err)
	}
	env := t.Env()
	if a.Conns != nil {
		env = a.Conns.Env(t)
	}
	c, err := CRMs.Open(rt.Kind, cfg, env)
	if err != nil {
		return nil, wfkit.BadInput("tenant %s: route of %q: %v", t.ID, code, err)
	}
	return c, nil
}

// ForwardResult is the ticket the CRM filed.
type ForwardResult struct {
	Ticket string `json:"ticket"`
	CRM    string `json:"crm"`
}

// Forward files the report with its category's CRM. After a retry the CRM
// is given the same report (and its id as reference), so it finds the
// ticket it filed instead of filing a second one.
func (a *Activities) Forward(ctx context.Context, in Input) (ForwardResult, error) {
	t, r, err := a.load(ctx, in.TenantID, in.ReportID)
	if err != nil {
		return ForwardResult{}, err
	}
	c, err := a.crm(t, r.ServiceCode)
	if err != nil {
		return ForwardResult{}, err
	}
	ticket, err := c.Forward(ctx, r)
	if err != nil {
		return ForwardResult{}, wfkit.ActivityError(fmt.Errorf("forwarding report %s to %s: %w", r.ID, c.Kind(), err))
	}
	return ForwardResult{Ticket: ticket, CRM: c.Kind()}, nil
}

// StatusInput names the ticket to read.
type StatusInput struct{ TenantID, ReportID, Ticket string }

// StatusResult is the ticket's state in the CRM.
type StatusResult struct {
	State State  `json:"state"`
	Note  string `json:"note,omitempty"`
}

// Status reads the ticket's state from the CRM.
func (a *Activities) Status(ctx context.Context, in StatusInput) (StatusResult, error) {
	t, r, err := a.load(ctx, in.TenantID, in.ReportID)
	if err != nil {
		return StatusResult{}, err
	}
	c, err := a.crm(t, r.ServiceCode)
	if err != nil {
		return StatusResult{}, err
	}
	st, note, err := c.Status(ctx, in.Ticket)
	if err != nil {
		return StatusResult{}, wfkit.ActivityError(fmt.Errorf("ticket %s of report %s: %w", in.Ticket, r.ID, err))
	}
	if !st.Valid() {
		return StatusResult{}, wfkit.BadInput("the CRM %s answered an unknown state %q for ticket %s", c.Kind(), st, in.Ticket)
	}
	return StatusResult{State: st, Note: note}, nil
}

// SetStateInput moves a report.
type SetStateInput struct {
	TenantID, ReportID string
	State              State
	Note               string
}

// SetState stores the report's new state (its public Open311 status).
func (a *Activities) SetState(ctx context.Context, in SetStateInput) error {
	if _, _, err := a.load(ctx, in.TenantID, in.ReportID); err != nil {
		return err
	}
	if !in.State.Valid() {
		return wfkit.BadInput("unknown state %q", in.State)
	}
	return wfkit.ActivityError(a.Store.SetState(ctx, in.ReportID, in.State, in.Note))
}

// Scope is the outbox scope of a report's messages.
func Scope(tenantID, id string) string { return "report:" + tenantID + ":" + id }

// NotifyInput is a change of state to tell the citizen.
type NotifyInput struct {
	TenantID, ReportID string
	State              State
	Note               string
}

func (a *Activities) appIO(t *tenant.Tenant) (channels.Sender, error) {
	purpose := t.Reports.Purpose()
	if _, ok := t.AppIO.Services[purpose]; !ok {
		return nil, nil // no App IO service for reports: e-mail only
	}
	if a.AppIO != nil {
		return a.AppIO(t, purpose)
	}
	return a.Conns.AppIO(t, purpose)
}

func (a *Activities) channels(t *tenant.Tenant) ([]channels.Sender, error) {
	if a.Channels != nil {
		return a.Channels(t)
	}
	return a.Conns.Channels(t)
}

// lang is the citizen's language on App IO: the first of their profile's
// preferred languages we write in, else Italian.
func (a *Activities) lang(ctx context.Context, s channels.Sender, fc string) (string, error) {
	if a.Lang != nil {
		return a.Lang(ctx, s, fc)
	}
	io, ok := s.(*appio.Sender)
	if !ok {
		return "it", nil
	}
	prof, err := io.Client.GetProfile(ctx, io.Key, fc)
	if err != nil {
		return "", err
	}
	for _, l := range prof.PreferredLanguages {
		if l := strings.ToLower(l); strings.HasPrefix(l, "en") || strings.HasPrefix(l, "it") {
			return l[:2], nil
		}
	}
	return "it", nil
}

// Notify tells the citizen the report's new state, once (the outbox key is
// the report, the state and the channel): on App IO when they filed it
// logged in with SPID and App IO reaches them, in their App IO profile's
// language; else, or when App IO refuses the message for good, by e-mail
// to their contact, in Italian. Nobody to tell is not an error.
func (a *Activities) Notify(ctx context.Context, in NotifyInput) error {
	t, r, err := a.load(ctx, in.TenantID, in.ReportID)
	if err != nil {
		return err
	}
	to := channels.Recipient{FiscalCode: r.Reporter.FiscalCode, Email: r.Reporter.Email,
		Name: strings.TrimSpace(r.Reporter.FirstName + " " + r.Reporter.LastName)}
	type try struct {
		s    channels.Sender
		lang string
	}
	var plan []try
	if to.FiscalCode != "" {
		io, err := a.appIO(t)
		if err != nil {
			return err
		}
		if io != nil && io.Reaches(to) {
			st := ""
			if pc, ok := io.(channels.Prechecker); ok {
				if st, _, err = pc.Precheck(ctx, to); err != nil {
					return wfkit.ActivityError(err)
				}
			}
			if st == "" {
				lang, err := a.lang(ctx, io, to.FiscalCode)
				if err != nil {
					return wfkit.ActivityError(err)
				}
				plan = append(plan, try{io, lang})
			}
		}
	}
	if to.Email != "" {
		all, err := a.channels(t)
		if err != nil {
			return err
		}
		for _, s := range all {
			if s.Kind() == "email" && s.Reaches(to) {
				plan = append(plan, try{s, "it"})
				break
			}
		}
	}
	for _, p := range plan {
		m := stateMessage(t, r, in.State, in.Note, p.lang)
		m.To = to
		m.To.Lang = p.lang
		st, err := a.send(ctx, t.ID, channels.Key{Scope: Scope(t.ID, r.ID), Slot: StateSlot(in.State, p.s.Kind())}, p.s, m)
		if err != nil || st != channels.StateFailed {
			return err // sent, or unknown (it may have arrived: never twice)
		}
	}
	if len(plan) == 0 {
		wfkit.ActivityLogger(ctx, t.ID).Info("report: nobody to tell", "report", r.ID, "state", string(in.State))
	}
	return nil
}

// StateSlot is the outbox slot of the message telling state on channel
// kind.
func StateSlot(state State, kind string) string { return "state:" + string(state) + ":" + kind }

// send runs one message through the outbox and returns its final state.
func (a *Activities) send(ctx context.Context, tenantID string, key channels.Key, s channels.Sender, m channels.Message) (string, error) {
	res, err := a.Outbox.Run(ctx, channels.Batch{Tenant: tenantID, Send: []channels.Delivery{{Key: key, Sender: s, Message: m}}})
	if err != nil {
		return "", wfkit.ActivityError(err)
	}
	if res[0].State == channels.StateRetry {
		return "", wfkit.ActivityError(res[0].Err)
	}
	return res[0].State, nil
}

// EscalateInput is a passed deadline.
type EscalateInput struct {
	TenantID, ReportID, Deadline string
	State                        State
	Ticket                       string
}

// Escalate tells the supervisor (reports.supervisor) that a deadline of the
// report passed, once.
func (a *Activities) Escalate(ctx context.Context, in EscalateInput) error {
	t, r, err := a.load(ctx, in.TenantID, in.ReportID)
	if err != nil {
		return err
	}
	sup := t.Reports.Supervisor
	if sup == nil {
		wfkit.ActivityLogger(ctx, t.ID).Warn("report: deadline passed, no supervisor configured", "report", r.ID, "deadline", in.Deadline)
		return nil
	}
	all, err := a.channels(t)
	if err != nil {
		return err
	}
	var sender channels.Sender
	for _, s := range all {
		if s.Kind() == sup.Kind {
			sender = s
			break
		}
	}
	if sender == nil {
		return wfkit.BadInput("tenant %s: the supervisor's channel %q is not configured (channels)", t.ID, sup.Kind)
	}
	what := map[string]string{DeadlineTakeInCharge: "presa in carico", DeadlineResolve: "risoluzione"}[in.Deadline]
	m := channels.Message{To: channels.Recipient{Email: sup.Email, Name: "supervisor"},
		Subject: fmt.Sprintf("Segnalazione %s: scaduto il termine di %s", r.ID, what),
		Text: fmt.Sprintf("La segnalazione %s (%s, %s) ricevuta il %s è nello stato %s: il termine di %s è scaduto.\nTicket: %s\n",
			r.ID, r.ServiceName, r.Address, r.Requested.Format(time.DateTime), in.State, what, in.Ticket)}
	_, err = a.send(ctx, t.ID, channels.Key{Scope: Scope(t.ID, r.ID), Slot: "sla:" + in.Deadline}, sender, m)
	return err
}
