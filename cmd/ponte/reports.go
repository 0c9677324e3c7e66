package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"go.temporal.io/sdk/client"

	"github.com/ponte-pa/ponte/connectors/channels"
	"github.com/ponte-pa/ponte/internal/rome"
	"github.com/ponte-pa/ponte/internal/store"
	"github.com/ponte-pa/ponte/workflows/reports"
)

var reportsCommands = []*command{
	{name: "list", summary: "the reports of a tenant in the state store, newest first, by state and category", run: reportsList},
	{name: "show", summary: "one report from the state store, with the messages its lifecycle sent (state changes to the citizen, escalations)", run: reportsShow},
	{name: "status", summary: "a report's lifecycle from its workflow (a Temporal query), or set its state by hand with --state and --note (a signal)", run: reportsStatus},
}

const reportsNotes = `
The report id is the Open311 service_request_id, as --id ID or as the argument.
list and show read the state store (--state DSN); status talks to Temporal (--temporal, --namespace,
--tls-*, as for 'ponte campaign'), and there --state is the lifecycle state to set: one of
received, forwarded, in_charge, resolved, rejected, duplicate.`

func openReportsStore(ctx context.Context, dsn string) (*reports.Store, *store.DB, error) {
	db, err := store.Open(ctx, dsn)
	if err != nil {
		return nil, nil, err
	}
	st, err := reports.NewStore(ctx, db)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return st, db, nil
}

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

func reportsList(ctx context.Context, args []string) error {
	fs := newFlags("reports list", "reports list --tenant T [--states received,forwarded] [--category buca-stradale] [--state DSN]")
	stateDSN := stateFlag(fs)
	tenantID := tenantFlag(fs)
	states := fs.String("states", "", "comma-separated lifecycle states to list (default all)")
	category := fs.String("category", "", "comma-separated category (service) codes to list (default all)")
	limit := fs.Int("limit", 100, "at most this many reports (at most 1000)")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if *tenantID == "" {
		return usagef("--tenant is required")
	}
	f := reports.Filter{Tenant: *tenantID, ServiceCodes: splitList(*category), Limit: *limit}
	for _, s := range splitList(*states) {
		if !reports.State(s).Valid() {
			return usagef("unknown state %q in --states: one of %v", s, reports.States)
		}
		f.States = append(f.States, reports.State(s))
	}
	st, db, err := openReportsStore(ctx, *stateDSN)
	if err != nil {
		return err
	}
	defer db.Close()
	rs, err := st.List(ctx, f)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if rs == nil {
			rs = []*reports.Report{}
		}
		return enc.Encode(rs)
	}
	for _, r := range rs {
		fmt.Fprintf(stdout, "%-18s %-10s %-18s %s  %s\n", r.ID, r.State, r.ServiceCode,
			r.Requested.In(rome.Location).Format("02/01/2006 15:04"), oneLine(r.Address, 40))
	}
	if len(rs) == 0 {
		fmt.Fprintln(stdout, "no reports")
	}
	return nil
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// reportID is the report id, from --id or from the one argument.
func reportID(id string, args []string) (string, error) {
	switch {
	case len(args) == 0 && id != "":
		return id, nil
	case len(args) == 1 && id == "":
		return args[0], nil
	}
	return "", usagef("give the report id once, as --id ID or as the argument")
}

func reportsShow(ctx context.Context, args []string) error {
	fs := newFlags("reports show", "reports show [--state DSN] ID")
	stateDSN := stateFlag(fs)
	idFlag := fs.String("id", "", "report id (service_request_id); may be given as the argument instead")
	args, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	id, err := reportID(*idFlag, args)
	if err != nil {
		return err
	}
	st, db, err := openReportsStore(ctx, *stateDSN)
	if err != nil {
		return err
	}
	defer db.Close()
	r, err := st.Get(ctx, id)
	if err != nil {
		return err
	}
	ob, err := channels.NewOutbox(ctx, db)
	if err != nil {
		return err
	}
	sent, err := ob.All(ctx, reports.Scope(r.Tenant, r.ID))
	if err != nil {
		return err
	}
	printReportDetail(r, sent)
	return nil
}

func printReportDetail(r *reports.Report, sent []channels.Entry) {
	w := stdout
	fmt.Fprintf(w, "report     %s (tenant %s, from %s)\n", r.ID, r.Tenant, r.Client)
	fmt.Fprintf(w, "category   %s (%s)\n", r.ServiceCode, r.ServiceName)
	fmt.Fprintf(w, "state      %s (%s)", r.State, r.Status())
	if r.StatusNotes != "" {
		fmt.Fprintf(w, ": %s", r.StatusNotes)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "received   %s\n", r.Requested.In(rome.Location).Format("02/01/2006 15:04:05"))
	fmt.Fprintf(w, "updated    %s\n", r.Updated.In(rome.Location).Format("02/01/2006 15:04:05"))
	if !r.Expected.IsZero() {
		fmt.Fprintf(w, "expected   %s\n", r.Expected.In(rome.Location).Format("02/01/2006 15:04"))
	}
	if r.Address != "" || r.HasLocation {
		fmt.Fprintf(w, "where      %s", r.Address)
		if r.HasLocation {
			fmt.Fprintf(w, " (%.6f, %.6f)", r.Lat, r.Long)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "text       %s\n", oneLine(r.Description, 200))
	who := "anonymous"
	if r.Reporter.FiscalCode != "" {
		who = "SPID " + r.Reporter.FiscalCode
	}
	if r.Reporter.Email != "" {
		who += ", " + r.Reporter.Email
	}
	fmt.Fprintf(w, "reporter   %s\n", who)
	fmt.Fprintln(w, "history (messages of the lifecycle):")
	if len(sent) == 0 {
		fmt.Fprintln(w, "  none yet")
	}
	for _, e := range sent {
		fmt.Fprintf(w, "  %s  %-24s %-6s %s", e.UpdatedAt.In(rome.Location).Format("02/01/2006 15:04"), e.Slot, e.Channel, e.State)
		if e.Error != "" {
			fmt.Fprintf(w, " (%s)", e.Error)
		}
		fmt.Fprintln(w)
	}
}

func reportsStatus(ctx context.Context, args []string) error {
	fs := newFlags("reports status", `reports status --tenant T ID [--state resolved --note "Buca chiusa"]`)
	at := &workflowTarget{temporal: addTemporalFlags(fs, devFrontend), tenant: tenantFlag(fs),
		id: fs.String("id", "", "report id (service_request_id); may be given as the argument instead"), name: reports.WorkflowID}
	state := fs.String("state", "", "set this lifecycle state (a signal to the report's workflow); empty: only show")
	note := fs.String("note", "", "with --state: the note the citizen reads (Open311 status_notes)")
	asJSON := fs.Bool("json", false, "print the progress as JSON")
	args, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if *state != "" && !reports.State(*state).Valid() {
		return usagef("unknown --state %q: one of %v", *state, reports.States)
	}
	if *state == "" && *note != "" {
		return usagef("--note goes with --state")
	}
	return at.run(args, func(c client.Client, _ string) error {
		if *state != "" {
			if err := reports.Signal(ctx, c, *at.tenant, *at.id, reports.StatusSignal{State: reports.State(*state), Note: *note}); err != nil {
				return fmt.Errorf("report %s: %w (a report takes changes until it is closed)", *at.id, err)
			}
			fmt.Fprintf(stdout, "state %s sent to report %s\n", *state, *at.id)
			return nil
		}
		p, err := reports.Query(ctx, c, *at.tenant, *at.id)
		if err != nil {
			return fmt.Errorf("report %s: %w", *at.id, err)
		}
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(p)
		}
		printReportProgress(p)
		return nil
	})
}

func printReportProgress(p reports.Progress) {
	w := stdout
	fmt.Fprintf(w, "state      %s\n", p.State)
	if p.Ticket != "" {
		fmt.Fprintf(w, "ticket     %s (%s)\n", p.Ticket, p.CRM)
	}
	if !p.TakeInChargeBy.IsZero() {
		fmt.Fprintf(w, "in charge  by %s\n", p.TakeInChargeBy.In(rome.Location).Format("02/01/2006 15:04"))
	}
	if !p.ResolveBy.IsZero() {
		fmt.Fprintf(w, "resolved   by %s\n", p.ResolveBy.In(rome.Location).Format("02/01/2006 15:04"))
	}
	if len(p.Escalated) > 0 {
		fmt.Fprintf(w, "escalated  %s\n", strings.Join(p.Escalated, ", "))
	}
	if len(p.Duplicates) > 0 {
		fmt.Fprintf(w, "possible duplicates  %s\n", strings.Join(p.Duplicates, ", "))
	}
	fmt.Fprintf(w, "polls      %d\n", p.Polls)
	for _, h := range p.History {
		fmt.Fprintf(w, "  %s  %-10s %-8s %s\n", h.At.In(rome.Location).Format("02/01/2006 15:04"), h.State, h.Source, h.Note)
	}
}
