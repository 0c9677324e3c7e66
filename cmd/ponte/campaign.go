package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/ponte-pa/ponte/internal/store"
	"github.com/ponte-pa/ponte/workflows/campaign"
)

func runCampaign(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stdout, `Usage: ponte campaign <start|status|pause|resume|report> [flags]

  start   --tenant T --source S --id ID --subject "TARI 2026" [--due YYYY-MM-DD] [--wait]
  status  --tenant T --id ID       progress counts (a Temporal query)
  pause   --tenant T --id ID       stop starting new batches
  resume  --tenant T --id ID
  report  --tenant T --id ID --state DSN   per-debtor outcome table from the state store

All take --temporal host:port (default 127.0.0.1:7233, what 'ponte serve --dev' listens on) and --namespace.`)
		if len(args) == 0 {
			return usagef("missing subcommand")
		}
		return nil
	}
	sub, args := args[0], args[1:]
	fs := newFlags("campaign "+sub, "campaign "+sub+" --tenant T --id ID …")
	hostPort := fs.String("temporal", "127.0.0.1:7233", "host:port of the Temporal frontend")
	ns := fs.String("namespace", "default", "Temporal namespace")
	tenantID := fs.String("tenant", "", "tenant id (as in its config)")
	id := fs.String("id", "", "campaign id, unique per tenant (e.g. tari-2026)")
	source := fs.String("source", "", "start: name of the tenant's legacy source")
	subject := fs.String("subject", "", "start: subject in Italian (e.g. \"TARI 2026\")")
	subjectEN := fs.String("subject-en", "", "start: subject in English")
	due := fs.String("due", "", "start: due date YYYY-MM-DD for every debtor (default: the source's per-debtor date)")
	batch := fs.Int("batch", 100, "start: debtors per batch activity")
	wait := fs.Bool("wait", false, "start: wait for the campaign to finish, printing progress")
	stateDSN := fs.String("state", ".ponte/dev/state.db", "report: the state store the workers use")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *tenantID == "" || *id == "" {
		return usagef("--tenant and --id are required")
	}
	wfID := campaign.WorkflowID(*tenantID, *id)
	if sub == "report" {
		db, err := store.Open(ctx, *stateDSN)
		if err != nil {
			return err
		}
		defer db.Close()
		st, err := campaign.NewStore(ctx, db)
		if err != nil {
			return err
		}
		return printReport(ctx, stdout, st, *id)
	}
	c, err := client.Dial(client.Options{HostPort: *hostPort, Namespace: *ns,
		Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		return fmt.Errorf("connecting to Temporal at %s: %w (is 'ponte serve --dev' running?)", *hostPort, err)
	}
	defer c.Close()
	switch sub {
	case "start":
		if *source == "" || *subject == "" {
			return usagef("start needs --source and --subject")
		}
		if *due != "" {
			if _, err := time.Parse("2006-01-02", *due); err != nil {
				return usagef("--due %q: use YYYY-MM-DD", *due)
			}
		}
		in := campaign.Input{CampaignID: *id, TenantID: *tenantID, Source: *source, Subject: *subject, SubjectEN: *subjectEN, DueDate: *due, BatchSize: *batch}
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: wfID, TaskQueue: campaign.QueueWorkflows}, campaign.WorkflowName, in)
		if err != nil {
			return fmt.Errorf("starting campaign %s: %w", wfID, err)
		}
		fmt.Fprintf(stdout, "campaign started: workflow %s run %s\n", run.GetID(), run.GetRunID())
		if !*wait {
			return nil
		}
		p, err := waitCampaign(ctx, c, run, stdout)
		if err != nil {
			return err
		}
		printProgress(stdout, p)
		return nil
	case "status":
		p, err := queryProgress(ctx, c, wfID)
		if err != nil {
			return err
		}
		printProgress(stdout, p)
		return nil
	case "pause", "resume":
		sig := campaign.SignalPause
		if sub == "resume" {
			sig = campaign.SignalResume
		}
		if err := c.SignalWorkflow(ctx, wfID, "", sig, nil); err != nil {
			return fmt.Errorf("%s %s: %w", sub, wfID, err)
		}
		fmt.Fprintf(stdout, "%s sent to %s\n", sub, wfID)
		return nil
	default:
		return usagef("unknown subcommand %q: use start, status, pause, resume or report", sub)
	}
}

func queryProgress(ctx context.Context, c client.Client, wfID string) (campaign.Progress, error) {
	var p campaign.Progress
	v, err := c.QueryWorkflow(ctx, wfID, "", campaign.QueryProgress)
	if err != nil {
		return p, fmt.Errorf("query %s: %w", wfID, err)
	}
	return p, v.Get(&p)
}

// waitCampaign prints progress while the campaign runs: a redrawn line on a
// terminal, one plain line every few seconds otherwise (CI logs).
func waitCampaign(ctx context.Context, c client.Client, run client.WorkflowRun, w io.Writer) (campaign.Progress, error) {
	done := make(chan error, 1)
	var result campaign.Progress
	go func() { done <- run.Get(ctx, &result) }()
	tty := false
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	last := time.Time{}
	for {
		select {
		case err := <-done:
			if tty {
				fmt.Fprintln(w)
			}
			if err != nil {
				return result, fmt.Errorf("campaign %s failed: %w", run.GetID(), err)
			}
			return result, nil
		case <-tick.C:
			if !tty && time.Since(last) < 3*time.Second {
				continue
			}
			last = time.Now()
			p, err := queryProgress(ctx, c, run.GetID())
			if err != nil {
				continue
			}
			line := progressLine(p)
			if tty {
				fmt.Fprintf(w, "\r\033[K%s", line)
			} else {
				fmt.Fprintln(w, line)
			}
		}
	}
}

func progressLine(p campaign.Progress) string {
	const width = 24
	frac := 0.0
	if p.Batches > 0 {
		frac = float64(p.PositionBatches+p.MessageBatches) / float64(2*p.Batches)
	}
	n := int(frac * width)
	bar := strings.Repeat("#", n) + strings.Repeat(".", width-n)
	paused := ""
	if p.Paused {
		paused = " PAUSED"
	}
	return fmt.Sprintf("[%s] %3.0f%% %-9s read %d, valid %d, rejected %d, positions %d, IO sent %d%s",
		bar, frac*100, p.Phase, p.Read, p.Valid, p.Rejected, p.PositionsPublished, p.MessagesSent, paused)
}

func printProgress(w io.Writer, p campaign.Progress) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "phase\t%s\n", p.Phase)
	fmt.Fprintf(tw, "rows read\t%d\t(valid %d + rejected %d)\n", p.Read, p.Valid, p.Rejected)
	fmt.Fprintf(tw, "debt positions published\t%d\t(failed %d)\n", p.PositionsPublished, p.PositionsFailed)
	fmt.Fprintf(tw, "App IO messages sent\t%d\n", p.MessagesSent)
	fmt.Fprintf(tw, "not on App IO\t%d\t(fallback channel needed)\n", p.NotOnIO)
	fmt.Fprintf(tw, "IO messages not allowed by citizen\t%d\n", p.SenderNotAllowed)
	fmt.Fprintf(tw, "IO messages failed / to check\t%d / %d\n", p.MessagesFailed, p.MessagesUnknown)
	fmt.Fprintf(tw, "fallback emails sent / failed\t%d / %d\n", p.EmailsSent, p.EmailsFailed)
	fmt.Fprintf(tw, "notices to print and post\t%d\t(no email address or relay)\n", p.NeedPrint)
	if !p.FinishedAt.IsZero() {
		fmt.Fprintf(tw, "duration\t%s\n", p.FinishedAt.Sub(p.StartedAt).Round(time.Millisecond))
	}
	_ = tw.Flush()
}

func printReport(ctx context.Context, w io.Writer, st *campaign.Store, id string) error {
	items, err := st.AllItems(ctx, id)
	if err != nil {
		return err
	}
	rejects, err := st.Rejects(ctx, id)
	if err != nil {
		return err
	}
	if len(items) == 0 && len(rejects) == 0 {
		return errors.New("no campaign " + id + " in this state store (check --state)")
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "LINE\tFISCAL CODE\tDEBTOR\tAMOUNT €\tNOTICE CODE (NAV)\tPOSITION\tAPP IO\tFALLBACK\tNOTE")
	for _, it := range items {
		note := it.PositionError
		if note == "" {
			note = it.IOError
		}
		if it.IOMessageID != "" {
			note = "IO message " + it.IOMessageID
		}
		if it.FallbackError != "" {
			note = it.FallbackError
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d,%02d\t%s\t%s\t%s\t%s\t%s\n", it.Line, it.FiscalCode,
			clipS(strings.TrimSpace(it.Name+" "+it.Surname), 24), it.AmountCents/100, it.AmountCents%100,
			it.NAV, it.State, orDash(it.IOState), orDash(it.FallbackState), clipS(note, 90))
	}
	_ = tw.Flush()
	if len(rejects) > 0 {
		fmt.Fprintf(w, "\nRejected rows (%d) — fix them in the source and run a new campaign for them:\n", len(rejects))
		for _, r := range rejects {
			fmt.Fprintf(w, "  %s line %d, field %s = %q: %s\n    (it) %s\n", r.Source, r.Line, r.Field, r.Value, r.MessageEN, r.MessageIT)
		}
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func clipS(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
