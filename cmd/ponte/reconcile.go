package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/ponte-pa/ponte/workflows/reconcile"
)

func runReconcile(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stdout, `Usage: ponte reconcile <run|start|status|stop> --tenant T [flags]

  run     --tenant T [--campaign ID]   reconcile once: fetch receipts of unpaid positions from GPD,
                                       match them and the receipts pushed by the Nodo (paSendRTV2),
                                       mark items paid, write back to the source's sink, report
                                       anomalies; prints the counts and where the daily report is
  start   --tenant T --every 24h       run periodically (a workflow that sleeps and continues as new)
  status  --tenant T [--periodic]      progress of the running reconciliation
  stop    --tenant T                   stop the periodic reconciliation

All take --temporal host:port (default 127.0.0.1:7233, what 'ponte serve --dev' listens on) and --namespace.
Reports are written by the workers, under their report directory (ponte serve --dev: .ponte/dev/reports/<tenant>/).`)
		if len(args) == 0 {
			return usagef("missing subcommand")
		}
		return nil
	}
	sub, args := args[0], args[1:]
	fs := newFlags("reconcile "+sub, "reconcile "+sub+" --tenant T …")
	hostPort := fs.String("temporal", "127.0.0.1:7233", "host:port of the Temporal frontend")
	ns := fs.String("namespace", "default", "Temporal namespace")
	tenantID := fs.String("tenant", "", "tenant id (as in its config)")
	campaignID := fs.String("campaign", "", "run, start: only this campaign (default: every campaign of the tenant)")
	every := fs.Duration("every", 0, "start: period between runs (e.g. 24h)")
	batch := fs.Int("batch", 500, "open positions per fetch activity")
	periodic := fs.Bool("periodic", false, "status: the periodic reconciliation instead of a run-once")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	if *tenantID == "" {
		return usagef("--tenant is required")
	}
	if *batch <= 0 {
		return usagef("--batch must be positive")
	}
	in := reconcile.Input{TenantID: *tenantID, CampaignID: *campaignID, BatchSize: *batch}
	switch sub {
	case "run", "status", "stop":
	case "start":
		if *every < time.Minute {
			return usagef("start needs --every of at least 1m (e.g. --every 24h)")
		}
		in.Every = *every
	default:
		return usagef("unknown subcommand %q: use run, start, status or stop", sub)
	}
	c, err := dialTemporal(*hostPort, *ns)
	if err != nil {
		return err
	}
	defer c.Close()
	switch sub {
	case "run":
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: reconcile.WorkflowID(*tenantID), TaskQueue: reconcile.QueueWorkflows,
			WorkflowExecutionErrorWhenAlreadyStarted: true}, reconcile.WorkflowName, in)
		if err != nil {
			var already *serviceerror.WorkflowExecutionAlreadyStarted
			if errors.As(err, &already) {
				return fmt.Errorf("a reconciliation of tenant %s is already running: wait for it ('ponte reconcile status --tenant %s')", *tenantID, *tenantID)
			}
			return fmt.Errorf("starting the reconciliation of %s: %w", *tenantID, err)
		}
		var res reconcile.Result
		if err := run.Get(ctx, &res); err != nil {
			return fmt.Errorf("reconciliation of %s failed: %w", *tenantID, err)
		}
		printReconcile(stdout, res)
		return nil
	case "start":
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: reconcile.PeriodicWorkflowID(*tenantID), TaskQueue: reconcile.QueueWorkflows,
			WorkflowExecutionErrorWhenAlreadyStarted: true}, reconcile.WorkflowName, in)
		if err != nil {
			return fmt.Errorf("starting the periodic reconciliation of %s: %w", *tenantID, err)
		}
		fmt.Fprintf(stdout, "periodic reconciliation started every %s: workflow %s run %s\n", *every, run.GetID(), run.GetRunID())
		return nil
	case "stop":
		if err := c.CancelWorkflow(ctx, reconcile.PeriodicWorkflowID(*tenantID), ""); err != nil {
			return fmt.Errorf("stopping the periodic reconciliation of %s: %w", *tenantID, err)
		}
		fmt.Fprintf(stdout, "periodic reconciliation of %s stopped\n", *tenantID)
		return nil
	default: // status
		id := reconcile.WorkflowID(*tenantID)
		if *periodic {
			id = reconcile.PeriodicWorkflowID(*tenantID)
		}
		v, err := c.QueryWorkflow(ctx, id, "", reconcile.QueryProgress)
		if err != nil {
			return fmt.Errorf("query %s: %w", id, err)
		}
		var res reconcile.Result
		if err := v.Get(&res); err != nil {
			return err
		}
		printReconcile(stdout, res)
		return nil
	}
}

func printReconcile(w io.Writer, r reconcile.Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	scope := "all campaigns"
	if r.CampaignID != "" {
		scope = "campaign " + r.CampaignID
	}
	fmt.Fprintf(tw, "tenant\t%s (%s)\n", r.TenantID, scope)
	fmt.Fprintf(tw, "date\t%s\tphase %s\n", r.Date, r.Phase)
	fmt.Fprintf(tw, "unpaid positions checked on GPD\t%d\t(receipts found %d, new %d)\n", r.Fetch.Checked, r.Fetch.Found, r.Fetch.New)
	fmt.Fprintf(tw, "receipts matched\t%d of %d\t(negative outcomes %d)\n", r.Match.Matched, r.Match.Receipts, r.Match.KO)
	fmt.Fprintf(tw, "newly paid / partially paid\t%d / %d\n", r.Match.NewlyPaid, r.Match.NewlyPartial)
	fmt.Fprintf(tw, "anomalies found\t%d\t(unknown IUV, amount mismatch, duplicate payment: see the report)\n", r.Match.Anomalies)
	fmt.Fprintf(tw, "written back to the source\t%d\t(refused %d, no sink %d, held partial %d)\n", r.WriteBack.Written, r.WriteBack.Failed, r.WriteBack.NoSink, r.WriteBack.Held)
	t := r.Report.Totals
	fmt.Fprintf(tw, "items\t%d\t(paid %d, partially paid %d, unpaid %d, cancelled %d, other %d)\n", t.Items, t.Paid, t.PartiallyPaid, t.Unpaid, t.Cancelled, t.Other)
	if r.Report.CSV != "" {
		fmt.Fprintf(tw, "report (CSV)\t%s\n", r.Report.CSV)
		fmt.Fprintf(tw, "report (JSON)\t%s\n", r.Report.JSON)
	}
	_ = tw.Flush()
}
