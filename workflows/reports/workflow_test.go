package reports

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/ponte-pa/ponte/connectors/appio"
	"github.com/ponte-pa/ponte/connectors/channels"
	"github.com/ponte-pa/ponte/connectors/failure"
	"github.com/ponte-pa/ponte/connectors/registry"
	"github.com/ponte-pa/ponte/internal/store/storetest"
	"github.com/ponte-pa/ponte/internal/tenant"
	appiomock "github.com/ponte-pa/ponte/mocks/appio"
)

// testCRM is a CRM kind that exists only in these tests: tickets keyed by
// the report's id (the client reference of the CRM contract), a script of
// states Status walks through, and a number of Forward calls that fail
// with a retryable error before any ticket is filed.
type testCRM struct {
	mu       sync.Mutex
	tickets  map[string]string // report id → ticket
	forwards int               // calls to Forward
	failNext int
	script   []State // states Status answers, one per call; the last repeats
	polls    int
}

func (c *testCRM) Kind() string { return "test-crm" }

func (c *testCRM) Forward(_ context.Context, r *Report) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.forwards++
	if c.failNext > 0 {
		c.failNext--
		return "", failure.Retryablef("crm: 503 service unavailable")
	}
	if t, ok := c.tickets[r.ID]; ok {
		return t, nil
	}
	t := fmt.Sprintf("T-%d", len(c.tickets)+1)
	c.tickets[r.ID] = t
	return t, nil
}

func (c *testCRM) Status(context.Context, string) (State, string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.script) == 0 {
		return StateForwarded, "", nil
	}
	i := min(c.polls, len(c.script)-1)
	c.polls++
	st := c.script[i]
	note := ""
	if st == StateResolved {
		note = "buca chiusa"
	}
	return st, note, nil
}

// theCRM is the instance the "test-crm" kind opens; each test sets it.
var (
	crmMu  sync.Mutex
	theCRM *testCRM
)

func init() {
	CRMs.Register(registry.Kind[CRM]{Name: "test-crm", Doc: "in-test CRM",
		Open: func(json.RawMessage, registry.Env) (CRM, error) {
			crmMu.Lock()
			defer crmMu.Unlock()
			return theCRM, nil
		}})
}

// fakeSender records what it sends; App IO (kind appio) reaches fiscal
// codes, e-mail addresses.
type fakeSender struct {
	kind  string
	fail  error // every Send fails with it
	mu    sync.Mutex
	sent  []channels.Message
	tries int
}

func (s *fakeSender) Kind() string { return s.kind }
func (s *fakeSender) Reaches(r channels.Recipient) bool {
	if s.kind == "appio" {
		return len(r.FiscalCode) == 16
	}
	return r.Email != ""
}
func (s *fakeSender) Send(_ context.Context, m channels.Message) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tries++
	if s.fail != nil {
		return "", s.fail
	}
	s.sent = append(s.sent, m)
	return fmt.Sprintf("%s-%d", s.kind, len(s.sent)), nil
}
func (s *fakeSender) all() []channels.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sent)
}

type fixture struct {
	env          *testsuite.TestWorkflowEnvironment
	store        *Store
	crm          *testCRM
	io, email    *fakeSender
	tn           *tenant.Tenant
	acts         *Activities
	englishOnIO  map[string]bool
	requestedRef time.Time
}

func newFixture(t *testing.T, sla tenant.ReportSLA) *fixture {
	t.Helper()
	ctx := context.Background()
	db := storetest.SQLite(t)
	st, err := NewStore(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	ob, err := channels.NewOutbox(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: st, crm: &testCRM{tickets: map[string]string{}}, io: &fakeSender{kind: "appio"}, email: &fakeSender{kind: "email"},
		englishOnIO: map[string]bool{}}
	crmMu.Lock()
	theCRM = f.crm
	crmMu.Unlock()
	f.tn = &tenant.Tenant{ID: "esempio", AppIO: tenant.AppIO{Services: map[string]tenant.IOService{"reports": {ServiceID: "svc"}}},
		Reports: &tenant.Reports{
			Services:     []tenant.ReportService{{Code: "buca", Name: tenant.Localized{IT: "Buca stradale", EN: "Pothole"}}},
			Routes:       []tenant.ReportRoute{{Service: "*", Kind: "test-crm"}},
			SLA:          map[string]tenant.ReportSLA{"*": sla},
			Supervisor:   &tenant.ReportSupervisor{Kind: "email", Email: "urp@comune.esempio.it"},
			PollInterval: "1h",
		}}
	f.acts = &Activities{Tenants: func(id string) (*tenant.Tenant, error) {
		if id != f.tn.ID {
			return nil, fmt.Errorf("no tenant %q", id)
		}
		return f.tn, nil
	}, Store: st, Outbox: ob,
		AppIO:    func(*tenant.Tenant, string) (channels.Sender, error) { return f.io, nil },
		Channels: func(*tenant.Tenant) ([]channels.Sender, error) { return []channels.Sender{f.email}, nil },
		Lang: func(_ context.Context, _ channels.Sender, fc string) (string, error) {
			if f.englishOnIO[fc] {
				return "en", nil
			}
			return "it", nil
		}}
	var suite testsuite.WorkflowTestSuite
	f.env = suite.NewTestWorkflowEnvironment()
	f.env.RegisterWorkflowWithOptions(Workflow, workflow.RegisterOptions{Name: WorkflowName})
	for name, fn := range map[string]any{"ReportOpen": f.acts.Open, "ReportForward": f.acts.Forward, "ReportStatus": f.acts.Status,
		"ReportSetState": f.acts.SetState, "ReportNotify": f.acts.Notify, "ReportEscalate": f.acts.Escalate} {
		f.env.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
	return f
}

func (f *fixture) file(t *testing.T, r *Report) *Report {
	t.Helper()
	r.Tenant, r.ServiceCode, r.ServiceName = "esempio", "buca", "Buca stradale"
	if err := f.store.Create(context.Background(), r, nil); err != nil {
		t.Fatal(err)
	}
	return r
}

func (f *fixture) run(t *testing.T, r *Report) Progress {
	t.Helper()
	f.env.ExecuteWorkflow(WorkflowName, Input{TenantID: "esempio", ReportID: r.ID})
	if !f.env.IsWorkflowCompleted() {
		t.Fatal("workflow not completed")
	}
	if err := f.env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var p Progress
	if err := f.env.GetWorkflowResult(&p); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLifecycleNotifiesEachChangeOnce: forwarded, then the CRM answers
// forwarded (no change), in charge twice, resolved: the report is stored
// at each state, and the citizen (on App IO, English profile) hears of
// each change once, in English; an anonymous reporter gets e-mails in
// Italian.
func TestLifecycleNotifiesEachChangeOnce(t *testing.T) {
	f := newFixture(t, tenant.ReportSLA{})
	f.crm.script = []State{StateForwarded, StateInCharge, StateInCharge, StateResolved}
	f.englishOnIO["RSSMRA85T10A562S"] = true
	r := f.file(t, &Report{Reporter: Reporter{FiscalCode: "RSSMRA85T10A562S", Email: "mario@example.it"}})
	p := f.run(t, r)
	if p.State != StateResolved || p.Ticket != "T-1" || p.Polls != 4 || len(p.Escalated) != 0 {
		t.Fatalf("progress %+v", p)
	}
	var states []State
	for _, h := range p.History {
		states = append(states, h.State)
	}
	if !slices.Equal(states, []State{StateForwarded, StateInCharge, StateResolved}) {
		t.Errorf("history %v", states)
	}
	got, err := f.store.Get(context.Background(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != StateResolved || got.Status() != "closed" || got.StatusNotes != "buca chiusa" {
		t.Errorf("stored %s %q", got.State, got.StatusNotes)
	}
	sent := f.io.all()
	if len(sent) != 3 || len(f.email.all()) != 0 {
		t.Fatalf("App IO %d messages, e-mail %d", len(sent), len(f.email.all()))
	}
	for i, want := range []string{"forwarded", "taken in charge", "resolved"} {
		if !strings.Contains(sent[i].Subject, want) || !strings.Contains(sent[i].Text, "Pothole") || sent[i].To.FiscalCode != "RSSMRA85T10A562S" {
			t.Errorf("message %d: %q / %q", i, sent[i].Subject, sent[i].Text)
		}
	}
	if !strings.Contains(sent[2].Text, "buca chiusa") {
		t.Errorf("the office's note is missing: %q", sent[2].Text)
	}
	// Notifying a state again (a retried activity) sends nothing more.
	if err := f.acts.Notify(context.Background(), NotifyInput{TenantID: "esempio", ReportID: r.ID, State: StateResolved}); err != nil {
		t.Fatal(err)
	}
	if n := len(f.io.all()); n != 3 {
		t.Errorf("a second notify of the same state sent again: %d messages", n)
	}
}

// TestLifecycleAnonymousByEmailItalianAndSignal: no fiscal code, so e-mail
// in Italian; a status signal (CRM webhook or operator) moves the report
// without waiting for a poll.
func TestLifecycleAnonymousByEmailItalianAndSignal(t *testing.T) {
	f := newFixture(t, tenant.ReportSLA{})
	r := f.file(t, &Report{Reporter: Reporter{Email: "anna@example.it"}})
	f.env.RegisterDelayedCallback(func() {
		f.env.SignalWorkflow(SignalStatus, StatusSignal{State: StateRejected, Note: "area privata"})
	}, 10*time.Minute)
	p := f.run(t, r)
	if p.State != StateRejected || p.Polls != 0 || p.History[len(p.History)-1].Source != "signal" {
		t.Fatalf("progress %+v", p)
	}
	sent := f.email.all()
	if len(sent) != 2 || len(f.io.all()) != 0 {
		t.Fatalf("e-mail %d, App IO %d", len(sent), len(f.io.all()))
	}
	if !strings.Contains(sent[0].Subject, "inoltrata") || !strings.Contains(sent[1].Text, "respinta") || !strings.Contains(sent[1].Text, "area privata") ||
		sent[1].To.Email != "anna@example.it" {
		t.Errorf("messages %+v", sent)
	}
}

// TestLifecycleSLAEscalatesOnce: the CRM never takes the report in charge
// within its deadline: the supervisor is told once, though the workflow
// keeps polling past the deadline; the report is then resolved.
func TestLifecycleSLAEscalatesOnce(t *testing.T) {
	f := newFixture(t, tenant.ReportSLA{TakeInCharge: "3h", Resolve: "240h"})
	script := make([]State, 10) // ten hours forwarded, then in charge, then resolved
	for i := range script {
		script[i] = StateForwarded
	}
	f.crm.script = append(script, StateInCharge, StateResolved)
	r := f.file(t, &Report{Reporter: Reporter{Email: "anna@example.it"}})
	f.env.SetStartTime(r.Requested)
	p := f.run(t, r)
	if p.State != StateResolved || !slices.Equal(p.Escalated, []string{DeadlineTakeInCharge}) {
		t.Fatalf("progress %+v", p)
	}
	var toSupervisor []channels.Message
	for _, m := range f.email.all() {
		if m.To.Email == "urp@comune.esempio.it" {
			toSupervisor = append(toSupervisor, m)
		}
	}
	if len(toSupervisor) != 1 || !strings.Contains(toSupervisor[0].Subject, "presa in carico") || !strings.Contains(toSupervisor[0].Text, r.ID) {
		t.Fatalf("supervisor messages %+v", toSupervisor)
	}
	got, err := f.store.Get(context.Background(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Expected.Equal(r.Requested.Add(240 * time.Hour)) {
		t.Errorf("expected_datetime %v, want the resolution deadline", got.Expected)
	}
}

// TestLifecycleForwardRetriedWithoutSecondTicket: the CRM fails twice
// before filing; Temporal retries Forward and one ticket is filed.
func TestLifecycleForwardRetriedWithoutSecondTicket(t *testing.T) {
	f := newFixture(t, tenant.ReportSLA{})
	f.crm.failNext = 2
	f.crm.script = []State{StateResolved}
	r := f.file(t, &Report{Reporter: Reporter{Email: "anna@example.it"}})
	p := f.run(t, r)
	if p.State != StateResolved || p.Ticket != "T-1" || f.crm.forwards != 3 || len(f.crm.tickets) != 1 {
		t.Fatalf("progress %+v, forwards %d, tickets %v", p, f.crm.forwards, f.crm.tickets)
	}
}

// TestNearbyDuplicates: an open report of the same category 30 m away is
// suggested; one 200 m away, of another category, closed or too old is not.
func TestNearbyDuplicates(t *testing.T) {
	f := newFixture(t, tenant.ReportSLA{})
	ctx := context.Background()
	now := time.Now().UTC()
	at := func(lat, lon float64, ago time.Duration) *Report {
		return &Report{HasLocation: true, Lat: lat, Long: lon, Requested: now.Add(-ago)}
	}
	near := f.file(t, at(44.06120, 12.56620, time.Hour))
	f.file(t, at(44.06300, 12.56620, time.Hour))       // ~200 m north
	f.file(t, at(44.06120, 12.56625, 10*24*time.Hour)) // too old
	closed := f.file(t, at(44.06121, 12.56620, time.Hour))
	if err := f.store.SetState(ctx, closed.ID, StateResolved, ""); err != nil {
		t.Fatal(err)
	}
	other := at(44.06120, 12.56621, time.Hour)
	other.Tenant, other.ServiceCode = "esempio", "rifiuti"
	if err := f.store.Create(ctx, other, nil); err != nil {
		t.Fatal(err)
	}
	r := f.file(t, at(44.06145, 12.56620, 0)) // ~28 m from near
	res, err := f.acts.Open(ctx, Input{TenantID: "esempio", ReportID: r.ID})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Duplicates, []string{near.ID}) {
		t.Errorf("duplicates %v, want [%s]", res.Duplicates, near.ID)
	}
	if d := Distance(44.06120, 12.56620, 44.06300, 12.56620); d < 195 || d > 205 {
		t.Errorf("distance %v", d)
	}
}

// TestRoutesCheckedAtLoad: a tenant whose route names an unknown CRM kind
// is refused at load with the route's pointer; a registered kind loads.
func TestRoutesCheckedAtLoad(t *testing.T) {
	dir := t.TempDir()
	path, err := tenant.WriteSample(dir, map[string]string{"GPDURL": "http://127.0.0.1:1", "IOURL": "http://127.0.0.1:2/api/v1"})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	with := func(kind string) []byte {
		return []byte(strings.Replace(string(data), "  pollInterval: 15m\n", "  pollInterval: 15m\n  routes:\n    - {service: \"*\", kind: "+kind+"}\n", 1))
	}
	if bytes.Equal(with("x"), data) {
		t.Fatal("the sample has no reports.pollInterval to put routes after")
	}
	_, err = tenant.LoadBytes(path, with("nope"))
	var ce *tenant.ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "/reports/routes/0/kind") || !strings.Contains(err.Error(), "test-crm") {
		t.Fatalf("unknown kind: %v", err)
	}
	tn, err := tenant.LoadBytes(path, with("test-crm"))
	if err != nil {
		t.Fatal(err)
	}
	if rt, ok := tn.Reports.Route("buca-stradale"); !ok || rt.Kind != "test-crm" {
		t.Errorf("route %+v %v", rt, ok)
	}
}

// TestNotifyThroughAppIOMock: with the real App IO sender against the App
// IO mock, a citizen whose profile prefers English is told in English on
// App IO (the message passes the mock's contract checks); one without an
// App IO profile gets the e-mail, in Italian.
func TestNotifyThroughAppIOMock(t *testing.T) {
	f := newFixture(t, tenant.ReportSLA{})
	m := appiomock.New(appiomock.Options{})
	m.SetProfile("RSSMRA85T10A562S", appiomock.ProfileSpec{SenderAllowed: true, Languages: []string{"en_GB", "it_IT"}})
	srv := httptest.NewServer(m)
	defer srv.Close()
	io := &appio.Sender{Client: appio.NewClient(appio.Options{BaseURL: srv.URL + "/api/v1"}), Key: "k"}
	f.acts.AppIO = func(*tenant.Tenant, string) (channels.Sender, error) { return io, nil }
	f.acts.Lang = nil
	ctx := context.Background()
	onIO := f.file(t, &Report{Reporter: Reporter{FiscalCode: "RSSMRA85T10A562S", Email: "mario@example.it"}})
	notOnIO := f.file(t, &Report{Reporter: Reporter{FiscalCode: "VRDLGU80A01H501U", Email: "luigi@example.it"}})
	for _, r := range []*Report{onIO, notOnIO} {
		if err := f.acts.Notify(ctx, NotifyInput{TenantID: "esempio", ReportID: r.ID, State: StateInCharge}); err != nil {
			t.Fatal(err)
		}
	}
	msgs := m.Messages()
	if len(msgs) != 1 || msgs[0].FiscalCode != "RSSMRA85T10A562S" || !strings.Contains(msgs[0].Subject, "taken in charge") {
		t.Fatalf("App IO messages %+v", msgs)
	}
	mails := f.email.all()
	if len(mails) != 1 || mails[0].To.Email != "luigi@example.it" || !strings.Contains(mails[0].Subject, "presa in carico") {
		t.Fatalf("e-mails %+v", mails)
	}
}

// TestNotifyFallsBackToEmail: App IO refuses the message for good, so the
// citizen gets the e-mail; notifying again sends nothing more anywhere.
func TestNotifyFallsBackToEmail(t *testing.T) {
	f := newFixture(t, tenant.ReportSLA{})
	f.io.fail = failure.Permanentf("appio: 400 bad request")
	r := f.file(t, &Report{Reporter: Reporter{FiscalCode: "RSSMRA85T10A562S", Email: "mario@example.it"}})
	ctx := context.Background()
	for range 2 {
		if err := f.acts.Notify(ctx, NotifyInput{TenantID: "esempio", ReportID: r.ID, State: StateResolved}); err != nil {
			t.Fatal(err)
		}
	}
	mails := f.email.all()
	if f.io.tries != 1 || len(mails) != 1 || mails[0].To.Email != "mario@example.it" || !strings.Contains(mails[0].Subject, "risolta") {
		t.Fatalf("App IO tries %d, e-mails %+v", f.io.tries, mails)
	}
}

// TestLifecycleContinuesAsNew: past maxPolls polls the workflow
// continues as new with its ticket, deadlines and escalations, so it never
// forwards again; the continued run ends the report.
func TestLifecycleContinuesAsNew(t *testing.T) {
	old := maxPolls
	maxPolls = 5
	t.Cleanup(func() { maxPolls = old })
	f := newFixture(t, tenant.ReportSLA{TakeInCharge: "2h"})
	script := make([]State, 30)
	for i := range script {
		script[i] = StateForwarded
	}
	f.crm.script = append(script, StateResolved)
	r := f.file(t, &Report{Reporter: Reporter{Email: "anna@example.it"}})
	f.env.SetStartTime(r.Requested)
	f.env.ExecuteWorkflow(WorkflowName, Input{TenantID: "esempio", ReportID: r.ID})
	var can *workflow.ContinueAsNewError
	if err := f.env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("err = %v, want continue-as-new", err)
	}
	var in Input
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &in); err != nil {
		t.Fatal(err)
	}
	if in.Resume == nil || in.Resume.Ticket != "T-1" || in.Resume.State != StateForwarded || !slices.Equal(in.Resume.Escalated, []string{DeadlineTakeInCharge}) {
		t.Fatalf("carried over %+v", in.Resume)
	}
	maxPolls = old
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(Workflow, workflow.RegisterOptions{Name: WorkflowName})
	for name, fn := range map[string]any{"ReportOpen": f.acts.Open, "ReportForward": f.acts.Forward, "ReportStatus": f.acts.Status,
		"ReportSetState": f.acts.SetState, "ReportNotify": f.acts.Notify, "ReportEscalate": f.acts.Escalate} {
		env.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
	env.ExecuteWorkflow(WorkflowName, in)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var p Progress
	if err := env.GetWorkflowResult(&p); err != nil {
		t.Fatal(err)
	}
	var toSupervisor int
	for _, m := range f.email.all() {
		if m.To.Email == "urp@comune.esempio.it" {
			toSupervisor++
		}
	}
	if p.State != StateResolved || f.crm.forwards != 1 || toSupervisor != 1 {
		t.Fatalf("progress %+v, forwards %d, supervisor told %d times", p, f.crm.forwards, toSupervisor)
	}
}

// TestLifecycleResolveDeadline: taken in charge in time but not resolved
// within its deadline: the supervisor is told once, of the resolution.
func TestLifecycleResolveDeadline(t *testing.T) {
	f := newFixture(t, tenant.ReportSLA{TakeInCharge: "2h", Resolve: "4h"})
	f.crm.script = []State{StateInCharge, StateInCharge, StateInCharge, StateInCharge, StateInCharge, StateInCharge, StateResolved}
	r := f.file(t, &Report{Reporter: Reporter{Email: "anna@example.it"}})
	f.env.SetStartTime(r.Requested)
	p := f.run(t, r)
	if p.State != StateResolved || !slices.Equal(p.Escalated, []string{DeadlineResolve}) {
		t.Fatalf("progress %+v", p)
	}
	var toSupervisor []string
	for _, m := range f.email.all() {
		if m.To.Email == "urp@comune.esempio.it" {
			toSupervisor = append(toSupervisor, m.Subject)
		}
	}
	if len(toSupervisor) != 1 || !strings.Contains(toSupervisor[0], "risoluzione") {
		t.Fatalf("supervisor messages %q", toSupervisor)
	}
}

// TestLifecyclePokedByWebhook: a poke (the CRM's webhook) makes the
// workflow read the ticket at once, not at the next poll; the CRM's own
// answer decides the state.
func TestLifecyclePokedByWebhook(t *testing.T) {
	f := newFixture(t, tenant.ReportSLA{})
	f.crm.script = []State{StateResolved}
	r := f.file(t, &Report{Reporter: Reporter{Email: "anna@example.it"}})
	f.env.RegisterDelayedCallback(func() { f.env.SignalWorkflow(SignalPoll, nil) }, time.Minute)
	p := f.run(t, r)
	if p.State != StateResolved || p.Polls != 1 {
		t.Fatalf("progress %+v", p)
	}
	first, last := p.History[0], p.History[len(p.History)-1]
	if last.Source != "crm" || last.At.Sub(first.At) > 5*time.Minute {
		t.Errorf("resolved by %s %v after forwarding; the poll interval is %v", last.Source, last.At.Sub(first.At), 15*time.Minute)
	}
}
