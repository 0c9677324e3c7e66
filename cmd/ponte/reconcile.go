package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/ponte-pa/ponte/workflows/reconcile"
)

var reconcileCommands = []*command{
	{name: "run", summary: "reconcile once: match the receipts of GPD and of the Nodo (paSendRTV2) to unpaid items, mark them paid, write back to the source, report anomalies", run: reconcileRun},
	{name: "start", summary: "reconcile periodically (a workflow that sleeps and continues as new)", run: reconcileStart},
	{name: "status", summary: "progress of the running reconciliation", run: reconcileStatus},
	{name: "stop", summary: "stop the periodic reconciliation", run: reconcileStop},
}

const reconcileNotes = `
All talk to Temporal: --temporal host:port (default 127.0.0.1:7233, what 'ponte serve --dev' listens on),
--namespace and, for a cluster with mTLS, --tls-ca, --tls-cert, --tls-key and --tls-server-name, as for
'ponte worker'. Reports are written by the workers, under their report directory
(ponte serve --dev: .ponte/dev/reports/<tenant>/).`

// reconcileFlags registers the flags every reconcile subcommand has: the
// cluster flags and --tenant.
func reconcileFlags(fs *flag.FlagSet) (*temporalFlags, *string) {
	return addTemporalFlags(fs, devFrontend), tenantFlag(fs)
}

// reconcileInputFlags registers the flags of run and start: --campaign and --batch.
func reconcileInputFlags(fs *flag.FlagSet) (campaignID *string, batch *int) {
	campaignID = fs.String("campaign", "", "only this campaign (default: every campaign of the tenant)")
	batch = fs.Int("batch", 500, "open positions per fetch activity")
	return campaignID, batch
}

// parseReconcile parses a reconcile subcommand's flags, which take no arguments.
func parseReconcile(fs *flag.FlagSet, args []string, tenantID *string, batch *int) error {
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs(pos); err != nil {
		return err
	}
	if *tenantID == "" {
		return usagef("--tenant is required")
	}
	if batch != nil && *batch <= 0 {
		return usagef("--batch must be positive")
	}
	return nil
}

func reconcileRun(ctx context.Context, args []string) error {
	fs := newFlags("reconcile run", "reconcile run --tenant T [--campaign ID]")
	tf, tenantID := reconcileFlags(fs)
	campaignID, batch := reconcileInputFlags(fs)
	if err := parseReconcile(fs, args, tenantID, batch); err != nil {
		return err
	}
	c, err := dialTemporal(tf)
	if err != nil {
		return err
	}
	defer c.Close()
	in := reconcile.Input{TenantID: *tenantID, CampaignID: *campaignID, BatchSize: *batch}
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
}

func reconcileStart(ctx context.Context, args []string) error {
	fs := newFlags("reconcile start", "reconcile start --tenant T --every 24h [--campaign ID]")
	tf, tenantID := reconcileFlags(fs)
	campaignID, batch := reconcileInputFlags(fs)
	every := fs.Duration("every", 0, "period between runs, at least 1m (e.g. 24h)")
	if err := parseReconcile(fs, args, tenantID, batch); err != nil {
		return err
	}
	if *every < time.Minute {
		return usagef("start needs --every of at least 1m (e.g. --every 24h)")
	}
	c, err := dialTemporal(tf)
	if err != nil {
		return err
	}
	defer c.Close()
	in := reconcile.Input{TenantID: *tenantID, CampaignID: *campaignID, BatchSize: *batch, Every: *every}
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: reconcile.PeriodicWorkflowID(*tenantID), TaskQueue: reconcile.QueueWorkflows,
		WorkflowExecutionErrorWhenAlreadyStarted: true}, reconcile.WorkflowName, in)
	if err != nil {
		return fmt.Errorf("starting the periodic reconciliation of %s: %w", *tenantID, err)
	}
	fmt.Fprintf(stdout, "periodic reconciliation started every %s: workflow %s run %s\n", *every, run.GetID(), run.GetRunID())
	return nil
}

func reconcileStatus(ctx context.Context, args []string) error {
	fs := newFlags("reconcile status", "reconcile status --tenant T [--periodic]")
	tf, tenantID := reconcileFlags(fs)
	periodic := fs.Bool("periodic", false, "the periodic reconciliation instead of a run-once")
	if err := parseReconcile(fs, args, tenantID, nil); err != nil {
		return err
	}
	c, err := dialTemporal(tf)
	if err != nil {
		return err
	}
	defer c.Close()
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

func reconcileStop(ctx context.Context, args []string) error {
	fs := newFlags("reconcile stop", "reconcile stop --tenant T")
	tf, tenantID := reconcileFlags(fs)
	if err := parseReconcile(fs, args, tenantID, nil); err != nil {
		return err
	}
	c, err := dialTemporal(tf)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.CancelWorkflow(ctx, reconcile.PeriodicWorkflowID(*tenantID), ""); err != nil {
		return fmt.Errorf("stopping the periodic reconciliation of %s: %w", *tenantID, err)
	}
	fmt.Fprintf(stdout, "periodic reconciliation of %s stopped\n", *tenantID)
	return nil
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
