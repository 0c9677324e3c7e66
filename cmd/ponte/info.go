package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/ponte-pa/ponte/workflows/info"
)

var infoCommands = []*command{
	{name: "send", summary: "send an information campaign (--definition info.yaml, schemas/info.schema.json) to the people who consented to its topic", run: infoSend},
	{name: "status", summary: "print a campaign's live progress (a Temporal query)", run: infoStatus},
	{name: "pause", summary: "pause a campaign between batches", run: infoSignal(info.SignalPause, "pause")},
	{name: "resume", summary: "resume a paused campaign", run: infoSignal(info.SignalResume, "resume")},
	{name: "cancel", summary: "cancel a campaign: no more batches go; the report says what went", run: infoSignal(info.SignalCancel, "cancel")},
	{name: "report", summary: "the campaign's report from the state store: counts per channel and outcome, unsubscribes during it", run: infoReport},
	{name: "consent", summary: "consent export: the consent records (grants with their source, withdrawals) as evidence, CSV or JSON", subs: []*command{
		{name: "export", summary: "write the tenant's consent records (of --topic) as CSV (default) or JSON", run: infoConsentExport},
	}},
}

const infoNotes = `
The campaign id may be given as --id ID or as the argument: ponte info status --tenant esempio festa-1
send, status, pause, resume and cancel talk to Temporal (--temporal, --namespace, --tls-*, as for
'ponte campaign'); report and consent export read the state store (--state).`

func addInfoTarget(fs *flag.FlagSet) *workflowTarget {
	return &workflowTarget{temporal: addTemporalFlags(fs, devFrontend), tenant: tenantFlag(fs),
		id: fs.String("id", "", "campaign id (the definition's id); may be given as the argument instead"), name: info.WorkflowID}
}

func infoSend(ctx context.Context, args []string) error {
	fs := newFlags("info send", "info send --tenant T --definition info.yaml [--public-url URL] [--wait]")
	it := addInfoTarget(fs)
	defPath := fs.String("definition", "", "campaign definition (YAML or JSON, schemas/info.schema.json): id, topic, title and text it/en, channels, start, quiet hours, spread, area")
	public := fs.String("public-url", "", "the tenant's base URL on the gateway for unsubscribe links, e.g. https://ponte.example.it/t/esempio (default: its SPID SP's baseURL)")
	wait := fs.Bool("wait", false, "wait until the campaign ends, printing progress")
	args, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(args) > 0 {
		return usagef("unexpected arguments %q", args)
	}
	if *defPath == "" {
		return usagef("--definition is required")
	}
	d, err := info.LoadDefinition(*defPath)
	if err != nil {
		return usageError{err: err}
	}
	if *it.id != "" && *it.id != d.ID {
		return usagef("--id %s differs from the definition's id %s", *it.id, d.ID)
	}
	*it.id = d.ID
	return it.run(nil, func(c client.Client, wfID string) error {
		in := info.Input{TenantID: *it.tenant, Definition: d, PublicURL: *public, Origin: "cli"}
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: wfID, TaskQueue: info.Queue}, info.WorkflowName, in)
		if err != nil {
			return fmt.Errorf("starting campaign %s: %w", wfID, err)
		}
		fmt.Fprintf(stdout, "information campaign %s started (workflow %s run %s)\n", d.ID, run.GetID(), run.GetRunID())
		if !*wait {
			return nil
		}
		var p info.Progress
		last := ""
		for {
			v, err := c.QueryWorkflow(ctx, wfID, "", info.QueryProgress)
			if err == nil && v.Get(&p) == nil {
				if line := infoLine(p); line != last {
					fmt.Fprintln(stdout, line)
					last = line
				}
				if p.Phase == info.StateDone || p.Phase == info.StateCancelled {
					return nil
				}
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Second):
			}
		}
	})
}

func counts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%d", k, m[k])
	}
	if b.Len() == 0 {
		return " -"
	}
	return b.String()
}

func infoLine(p info.Progress) string {
	s := fmt.Sprintf("%s: %s, batches %d/%d, recipients %d, sent%s, failed%s, withdrawn %d, unreachable %d",
		p.Campaign, p.Phase, p.BatchesDone, p.Batches, p.Stage.Recipients, counts(p.Sent), counts(p.Failed), p.Withdrawn, p.Unreachable)
	if !p.NextAt.IsZero() {
		s += ", next batch " + p.NextAt.Format(time.RFC3339)
	}
	return s
}

func infoStatus(ctx context.Context, args []string) error {
	fs := newFlags("info status", "info status --tenant T ID")
	it := addInfoTarget(fs)
	args, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	return it.run(args, func(c client.Client, wfID string) error {
		v, err := c.QueryWorkflow(ctx, wfID, "", info.QueryProgress)
		if err != nil {
			return fmt.Errorf("query %s: %w", wfID, err)
		}
		var p info.Progress
		if err := v.Get(&p); err != nil {
			return err
		}
		fmt.Fprintln(stdout, infoLine(p))
		return nil
	})
}

func infoSignal(signal, what string) func(context.Context, []string) error {
	return func(ctx context.Context, args []string) error {
		fs := newFlags("info "+what, "info "+what+" --tenant T ID")
		it := addInfoTarget(fs)
		args, err := parseFlags(fs, args)
		if err != nil {
			return err
		}
		return it.run(args, func(c client.Client, wfID string) error {
			if err := c.SignalWorkflow(ctx, wfID, "", signal, nil); err != nil {
				return fmt.Errorf("%s %s: %w", what, wfID, err)
			}
			fmt.Fprintf(stdout, "%s sent to campaign %s\n", what, *it.id)
			return nil
		})
	}
}

func openInfoStore(ctx context.Context, dsn string) (*info.Store, func(), error) {
	return openStateStore(ctx, dsn, info.NewStore)
}

func infoReport(ctx context.Context, args []string) error {
	fs := newFlags("info report", "info report --tenant T ID [--state DSN] [--json FILE]")
	stateDSN := stateFlag(fs)
	tenantID := tenantFlag(fs)
	idFlag := fs.String("id", "", "campaign id; may be given as the argument instead")
	jsonOut := fs.String("json", "", "write the whole report as JSON to this file")
	args, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	id, err := campaignID(*idFlag, args)
	if err != nil {
		return err
	}
	if id == "" || *tenantID == "" {
		return usagef("--tenant and the campaign id are required")
	}
	st, closeDB, err := openInfoStore(ctx, *stateDSN)
	if err != nil {
		return err
	}
	defer closeDB()
	saved, err := st.SavedReport(ctx, *tenantID, id)
	if errors.Is(err, info.ErrNotFound) {
		return usagef("%v in %s: check the id and --state", err, *stateDSN)
	}
	if err != nil {
		return err
	}
	if saved == "" {
		rec, err := st.Get(ctx, *tenantID, id)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "campaign %s is %s: the report is written when it ends (ponte info status for its progress)\n", id, rec.State)
		return nil
	}
	var r info.Report
	if err := json.Unmarshal([]byte(saved), &r); err != nil {
		return fmt.Errorf("campaign %s: stored report: %w", id, err)
	}
	fmt.Fprintf(stdout, "campaign %s (%s), topic %s: %s\n", r.Campaign, r.Tenant, r.Topic, r.State)
	fmt.Fprintf(stdout, "staged: read %d, no consent %d, withdrawn before %d, outside area %d, duplicates %d, recipients %d\n",
		r.Stage.Read, r.Stage.NoConsent, r.Stage.Withdrawn, r.Stage.Outside, r.Stage.Duplicates, r.Stage.Recipients)
	fmt.Fprintf(stdout, "outcomes:%s\nsent:%s\nfailed attempts:%s\nunsubscribed during the campaign: %d\n", counts(r.Outcomes), counts(r.Sent), counts(r.Failed), len(r.Unsubscribed))
	if *jsonOut != "" {
		return writeFileWith(*jsonOut, func(w io.Writer) error {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(r)
		})
	}
	return nil
}

func infoConsentExport(ctx context.Context, args []string) error {
	fs := newFlags("info consent export", "info consent export --tenant T [--topic X] [--format csv|json] [--out FILE] [--state DSN]")
	stateDSN := stateFlag(fs)
	tenantID := tenantFlag(fs)
	topic := fs.String("topic", "", "only this consent topic")
	format := fs.String("format", "csv", "csv or json")
	out := fs.String("out", "", "write to this file (default standard output)")
	args, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(args) > 0 {
		return usagef("unexpected arguments %q", args)
	}
	if *tenantID == "" {
		return usagef("--tenant is required")
	}
	write := info.WriteConsentCSV
	switch *format {
	case "csv":
	case "json":
		write = info.WriteConsentJSON
	default:
		return usagef("--format is csv or json, not %q", *format)
	}
	st, closeDB, err := openInfoStore(ctx, *stateDSN)
	if err != nil {
		return err
	}
	defer closeDB()
	cs, err := st.Consents(ctx, *tenantID, *topic)
	if err != nil {
		return err
	}
	if *out == "" {
		return write(stdout, cs)
	}
	if err := writeFileWith(*out, func(w io.Writer) error { return write(w, cs) }); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "%d consent records written to %s\n", len(cs), *out)
	return nil
}
