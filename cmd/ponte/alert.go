package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/ponte-pa/ponte/connectors/cap"
	"github.com/ponte-pa/ponte/internal/rome"
	"github.com/ponte-pa/ponte/internal/store"
	"github.com/ponte-pa/ponte/internal/tenant"
	"github.com/ponte-pa/ponte/workflows/alert"
)

var alertCommands = []*command{
	{name: "send", summary: "send an alert to the residents of its area: from a CAP 1.2 file (--cap) or a short definition (--definition alert.yaml, schemas/alert.schema.json)", run: alertSend},
	{name: "status", summary: "print an alert's live progress per channel (a Temporal query)", run: alertStatus},
	{name: "update", summary: "send an Update: everyone reached gets it, pending sends of the old version are dropped", run: alertUpdate},
	{name: "cancel", summary: "cancel an alert: sending stops and the people already reached are told", run: alertCancel},
	{name: "confirm", summary: "confirm an alert a CAP feed prepared (tenants whose feeds ask for confirmation)", run: alertConfirm},
	{name: "report", summary: "the delivery report from the state store: counts per channel and outcome, and the people not reached with their contacts (CSV for phone follow-up, JSON)", run: alertReport},
	{name: "list", summary: "the alerts in the state store, newest first", run: alertList},
	{name: "feed", summary: "feed check URL: read a CAP feed (Atom, RSS or a CAP document) and show its alerts and which zones they concern", subs: []*command{
		{name: "check", summary: "read a CAP feed and print its alerts, their areas and errors", run: alertFeedCheckCmd},
	}},
}

const alertNotes = `
The alert id may be given as --id ID or as the argument: ponte alert cancel --tenant esempio 20261202-1530
send, status, update, cancel and confirm talk to Temporal (--temporal, --namespace, --tls-*, as for
'ponte campaign'); report and list read the state store (--state).`

func addAlertTarget(fs *flag.FlagSet) *workflowTarget {
	return &workflowTarget{temporal: addTemporalFlags(fs, devFrontend), tenant: tenantFlag(fs),
		id: fs.String("id", "", "alert id (printed by send); may be given as the argument instead"), name: alert.WorkflowID}
}

// readChange reads --cap or --definition into a change of a running
// alert, or the first message of a new one.
func readChange(capPath, defPath string) (alert.Change, error) {
	switch {
	case capPath != "" && defPath != "":
		return alert.Change{}, usagef("give --cap or --definition, not both")
	case capPath != "":
		f, err := os.Open(capPath)
		if err != nil {
			return alert.Change{}, err
		}
		defer f.Close()
		al, err := cap.Parse(f)
		if err != nil {
			return alert.Change{}, usageError{err: fmt.Errorf("%s: %w", capPath, err)}
		}
		b, err := cap.Marshal(al)
		if err != nil {
			return alert.Change{}, err
		}
		return alert.Change{CAP: string(b), By: "cli"}, nil
	case defPath != "":
		d, err := alert.LoadDefinition(defPath)
		if err != nil {
			return alert.Change{}, usageError{err: err}
		}
		return alert.Change{Definition: d, By: "cli"}, nil
	}
	return alert.Change{}, usagef("give --cap FILE (CAP 1.2) or --definition FILE (alert.yaml)")
}

func alertSend(ctx context.Context, args []string) error {
	fs := newFlags("alert send", "alert send --tenant T (--cap alert.xml | --definition alert.yaml) [--id ID] [--confirm] [--wait]")
	at := addAlertTarget(fs)
	capPath := fs.String("cap", "", "a CAP 1.2 alert (msgType Alert) to send as it is")
	defPath := fs.String("definition", "", "an alert definition (YAML or JSON, schemas/alert.schema.json): colour, risk, phase, texts it/en, area")
	confirm := fs.Bool("confirm", false, "prepare the alert and wait for 'ponte alert confirm' before sending")
	escalate := fs.Duration("escalate", 0, "wait this long for a delivery before trying a person's next channel (default: the tenant's alerts.escalateAfter)")
	wait := fs.Bool("wait", false, "wait until every round is done, printing progress, then print the report's counts")
	args, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	ch, err := readChange(*capPath, *defPath)
	if err != nil {
		return err
	}
	id, err := campaignID(*at.id, args)
	if err != nil {
		return err
	}
	if id == "" {
		if ch.CAP != "" {
			al, _ := cap.Parse(strings.NewReader(ch.CAP)) // parsed by readChange
			id = alert.AlertID(*at.tenant, al.Identifier)
		} else {
			id = time.Now().In(rome.Location).Format("20060102-150405")
		}
	}
	*at.id = id
	return at.run(nil, func(c client.Client, wfID string) error {
		in := alert.Input{AlertID: id, TenantID: *at.tenant, CAP: ch.CAP, Definition: ch.Definition, Origin: "cli", AwaitConfirm: *confirm, EscalateAfter: *escalate}
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: wfID, TaskQueue: alert.Queue}, alert.WorkflowName, in)
		if err != nil {
			return fmt.Errorf("starting alert %s: %w", wfID, err)
		}
		fmt.Fprintf(stdout, "alert %s started (workflow %s run %s)\n", id, run.GetID(), run.GetRunID())
		if !*wait {
			return nil
		}
		p, err := waitAlert(ctx, c, wfID, stdout)
		if err != nil {
			return err
		}
		printAlertProgress(stdout, p)
		return nil
	})
}

func queryAlert(ctx context.Context, c client.Client, wfID string) (alert.Progress, error) {
	var p alert.Progress
	v, err := c.QueryWorkflow(ctx, wfID, "", alert.QueryProgress)
	if err != nil {
		return p, fmt.Errorf("query %s: %w", wfID, err)
	}
	return p, v.Get(&p)
}

// waitAlert polls the alert until its rounds are done (the workflow stays
// open for updates until the alert expires), printing a line now and then.
func waitAlert(ctx context.Context, c client.Client, wfID string, w io.Writer) (alert.Progress, error) {
	last := ""
	for {
		p, err := queryAlert(ctx, c, wfID)
		if err == nil {
			if line := alertLine(p); line != last {
				fmt.Fprintln(w, line)
				last = line
			}
			switch p.Phase {
			case alert.StateDone, alert.StateCancelled:
				return p, nil
			}
		}
		select {
		case <-ctx.Done():
			return p, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func alertLine(p alert.Progress) string {
	return fmt.Sprintf("%-12s v%d round %d: %d recipients, %d reached, %d waiting for delivery, %d to retry, %d not reached",
		p.Phase, p.Version, p.Round+1, p.Stage.Recipients, p.Reached, p.Waiting, p.Pending, p.Unreached)
}

// printAlertProgress prints an alert's progress with its counts per channel.
func printAlertProgress(w io.Writer, p alert.Progress) {
	fmt.Fprintf(w, "alert %s (%s): %s, version %d (%s)\n", p.AlertID, p.Tenant, p.Phase, p.Version, p.MsgType)
	fmt.Fprintf(w, "  recipients: %d (read %d, rejected %d, outside the area %d, merged duplicates %d)\n",
		p.Stage.Recipients, p.Stage.Read, p.Stage.Rejected, p.Stage.Outside, p.Stage.Merged)
	fmt.Fprintf(w, "  reached: %d; waiting for delivery: %d; not reached: %d; webhooks: %d", p.Reached, p.Waiting, p.Unreached, p.Webhooks)
	if p.Revoked > 0 {
		fmt.Fprintf(w, "; told of the cancel: %d", p.Revoked)
	}
	fmt.Fprintln(w)
	kinds := map[string]bool{}
	for k := range p.Sent {
		kinds[k] = true
	}
	for k := range p.Failed {
		kinds[k] = true
	}
	names := make([]string, 0, len(kinds))
	for k := range kinds {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(w, "  %-8s sent %d, failed %d\n", k, p.Sent[k], p.Failed[k])
	}
	if !p.FirstSent.IsZero() {
		fmt.Fprintf(w, "  first message %s after the start\n", p.FirstSent.Sub(p.StartedAt).Round(time.Millisecond))
	}
	for _, r := range p.Stage.Rejects {
		fmt.Fprintf(w, "  rejected: %s\n", r)
	}
}

func alertStatus(ctx context.Context, args []string) error {
	fs := newFlags("alert status", "alert status --tenant T ID")
	at := addAlertTarget(fs)
	args, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	return at.run(args, func(c client.Client, wfID string) error {
		p, err := queryAlert(ctx, c, wfID)
		if err != nil {
			return err
		}
		printAlertProgress(stdout, p)
		return nil
	})
}

// signalAlert sends one signal with a Change to a running alert.
func signalAlert(ctx context.Context, at *workflowTarget, args []string, signal string, payload any, what string) error {
	return at.run(args, func(c client.Client, wfID string) error {
		if err := c.SignalWorkflow(ctx, wfID, "", signal, payload); err != nil {
			return fmt.Errorf("%s %s: %w (an alert takes changes until it expires)", what, wfID, err)
		}
		fmt.Fprintf(stdout, "%s sent to alert %s\n", what, *at.id)
		return nil
	})
}

func alertUpdate(ctx context.Context, args []string) error {
	fs := newFlags("alert update", "alert update --tenant T ID (--cap update.xml | --definition alert.yaml)")
	at := addAlertTarget(fs)
	capPath := fs.String("cap", "", "a CAP 1.2 Update")
	defPath := fs.String("definition", "", "the alert as it is now (schemas/alert.schema.json); Ponte writes the Update")
	args, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	ch, err := readChange(*capPath, *defPath)
	if err != nil {
		return err
	}
	return signalAlert(ctx, at, args, alert.SignalUpdate, ch, "update")
}

func alertCancel(ctx context.Context, args []string) error {
	fs := newFlags("alert cancel", `alert cancel --tenant T ID [--reason "Il livello del fiume è rientrato"] [--reason-en …]`)
	at := addAlertTarget(fs)
	reason := fs.String("reason", "Cessato allarme.", "why, in Italian: what the people already reached read")
	reasonEN := fs.String("reason-en", "The alert is over.", "why, in English")
	args, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	ch := alert.Change{Cancel: true, Reason: tenant.Localized{IT: *reason, EN: *reasonEN}, By: "cli"}
	return signalAlert(ctx, at, args, alert.SignalCancel, ch, "cancel")
}

func alertConfirm(ctx context.Context, args []string) error {
	fs := newFlags("alert confirm", "alert confirm --tenant T ID --operator FISCALCODE")
	at := addAlertTarget(fs)
	op := fs.String("operator", "", "fiscal code of the operator who confirms (kept with the alert)")
	args, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if *op == "" {
		return usagef("--operator is required: who confirms is kept as evidence")
	}
	return signalAlert(ctx, at, args, alert.SignalConfirm, strings.ToUpper(*op), "confirmation")
}

func openAlertStore(ctx context.Context, dsn string) (*alert.Store, func(), error) {
	return openStateStore(ctx, dsn, alert.NewStore)
}

// openStateStore opens the state store at dsn and one package's store on
// it; done closes the database.
func openStateStore[S any](ctx context.Context, dsn string, open func(context.Context, *store.DB) (S, error)) (st S, done func(), err error) {
	db, err := store.Open(ctx, dsn)
	if err != nil {
		return st, nil, err
	}
	if st, err = open(ctx, db); err != nil {
		db.Close()
		return st, nil, err
	}
	return st, func() { db.Close() }, nil
}

func alertReport(ctx context.Context, args []string) error {
	fs := newFlags("alert report", "alert report ID [--state DSN] [--csv FILE [--unreached]] [--json FILE] [--cap DIR]")
	stateDSN := stateFlag(fs)
	idFlag := fs.String("id", "", "alert id; may be given as the argument instead")
	csvOut := fs.String("csv", "", "write one row per person (name, fiscal code, phone, e-mail, reached, channel, attempts) to this file")
	unreached := fs.Bool("unreached", false, "with --csv: only the people not reached, for phone follow-up")
	jsonOut := fs.String("json", "", "write the whole report as JSON to this file")
	capDir := fs.String("cap", "", "write every CAP message of the alert (the evidence) into this directory")
	args, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	id, err := campaignID(*idFlag, args)
	if err != nil {
		return err
	}
	if id == "" {
		return usagef("the alert id is required")
	}
	st, closeDB, err := openAlertStore(ctx, *stateDSN)
	if err != nil {
		return err
	}
	defer closeDB()
	r, err := alert.BuildReport(ctx, st, id)
	if errors.Is(err, alert.ErrNotFound) {
		return usagef("%v in %s: check the id (ponte alert list) and --state", err, *stateDSN)
	}
	if err != nil {
		return err
	}
	if saved, err := st.SavedReport(ctx, id); err == nil && saved != "" {
		var old alert.Report
		if json.Unmarshal([]byte(saved), &old) == nil {
			r.Stage = old.Stage
		}
	}
	printAlertReport(stdout, r)
	if *csvOut != "" {
		if err := writeFileWith(*csvOut, func(w io.Writer) error { return r.WriteCSV(w, *unreached) }); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "CSV written to %s\n", *csvOut)
	}
	if *jsonOut != "" {
		if err := writeFileWith(*jsonOut, func(w io.Writer) error {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(r)
		}); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "JSON written to %s\n", *jsonOut)
	}
	if *capDir != "" {
		vs, err := st.Versions(ctx, id)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(*capDir, 0o755); err != nil {
			return err
		}
		for _, v := range vs {
			p := fmt.Sprintf("%s/v%d-%s.xml", strings.TrimRight(*capDir, "/"), v.Version, strings.ToLower(v.MsgType))
			if err := os.WriteFile(p, []byte(v.CAP), 0o644); err != nil {
				return err
			}
		}
		fmt.Fprintf(stdout, "%d CAP messages written to %s\n", len(vs), *capDir)
	}
	return nil
}

func writeFileWith(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

// printAlertReport prints the report's counts and the first people not
// reached.
func printAlertReport(w io.Writer, r *alert.Report) {
	fmt.Fprintf(w, "alert %s (%s), %s: %d recipients, %d reached, %d not reached\n", r.Alert.ID, r.Alert.Tenant, r.Alert.State,
		len(r.People), r.Reached, r.Unreached)
	for _, v := range r.Versions {
		fmt.Fprintf(w, "  v%d %-6s %s  %s\n", v.Version, v.MsgType, v.At.In(rome.Location).Format("02/01 15:04:05"), v.Headline)
	}
	for _, c := range r.Channels {
		fmt.Fprintf(w, "  %-10s %-22s %d\n", c.Channel, c.State, c.Count)
	}
	if !r.FirstSent.IsZero() {
		fmt.Fprintf(w, "  messages sent between %s and %s\n", r.FirstSent.In(rome.Location).Format("15:04:05.000"), r.LastSent.In(rome.Location).Format("15:04:05.000"))
	}
	shown := 0
	for _, p := range r.People {
		if p.Reached {
			continue
		}
		if shown == 10 {
			fmt.Fprintf(w, "  … and %d more: --csv FILE --unreached lists them all\n", r.Unreached-shown)
			break
		}
		fmt.Fprintf(w, "  not reached: %-24s tel %-14s %s  (%s)\n", orDash(p.Name), orDash(p.Phone), orDash(p.Email), strings.Join(p.Attempts, "; "))
		shown++
	}
}

func alertList(ctx context.Context, args []string) error {
	fs := newFlags("alert list", "alert list [--tenant T] [--state DSN]")
	stateDSN := stateFlag(fs)
	tenantID := tenantFlag(fs)
	limit := fs.Int("limit", 50, "at most this many alerts")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	st, closeDB, err := openAlertStore(ctx, *stateDSN)
	if err != nil {
		return err
	}
	defer closeDB()
	rs, err := st.List(ctx, *tenantID, *limit)
	if err != nil {
		return err
	}
	for _, r := range rs {
		fmt.Fprintf(stdout, "%-24s %-10s %-22s v%d %6d recipients  %s  %s\n", r.ID, r.Tenant, r.State, r.Version, max(r.Recipients, 0),
			r.CreatedAt.In(rome.Location).Format("02/01/2006 15:04"), r.Origin)
	}
	if len(rs) == 0 {
		fmt.Fprintln(stdout, "no alerts")
	}
	return nil
}

func alertFeedCheckCmd(ctx context.Context, args []string) error {
	fs := newFlags("alert feed check", "alert feed check URL [--zones EMR-B1,EMR-B2] [--istat 037006,…]")
	zones := fs.String("zones", "", "comma-separated alert zone ids to match")
	istat := fs.String("istat", "", "comma-separated ISTAT comune codes to match")
	args, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(args) != 1 {
		return usagef("give the feed's URL as the one argument")
	}
	split := func(s string) []string {
		var out []string
		for _, x := range strings.Split(s, ",") {
			if x = strings.TrimSpace(x); x != "" {
				out = append(out, x)
			}
		}
		return out
	}
	return alertFeedCheck(ctx, stdout, args[0], split(*zones), split(*istat))
}

// followFeeds starts, once per tenant with alerts.feeds, the workflow
// that polls them (a running one is kept: serve may start many times).
func followFeeds(ctx context.Context, c client.Client, ts []*tenant.Tenant, log *slog.Logger) error {
	for _, t := range ts {
		if t.Alerts == nil || len(t.Alerts.Feeds) == 0 {
			continue
		}
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: alert.FeedWorkflowID(t.ID), TaskQueue: alert.Queue,
			WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING}, alert.FeedWorkflowName, alert.FeedInput{TenantID: t.ID})
		if err != nil {
			return fmt.Errorf("following the CAP feeds of %s: %w", t.ID, err)
		}
		log.Info("following CAP feeds", "tenant", t.ID, "feeds", len(t.Alerts.Feeds), "workflow", run.GetID())
	}
	return nil
}
