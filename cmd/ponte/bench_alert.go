package main

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime/debug"
	"sort"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/ponte-pa/ponte/internal/fixtures"
	"github.com/ponte-pa/ponte/internal/tenant"
	appiomock "github.com/ponte-pa/ponte/mocks/appio"
	"github.com/ponte-pa/ponte/mocks/mockset"
	smsmock "github.com/ponte-pa/ponte/mocks/sms"
	smtpmock "github.com/ponte-pa/ponte/mocks/smtp"
	"github.com/ponte-pa/ponte/workflows/alert"
)

// benchAlert sends one alert to N generated residents of the sample
// comune (mixed channels: App IO, SMS, e-mail) on the embedded server
// against the mocks with no rate limits, and prints the time to the first
// 10,000 messages and to the end of the rounds.
func benchAlert(ctx context.Context, args []string) error {
	fs := newFlags("bench alert", "bench alert [--recipients N] [--batch N] [--parallel N] [--concurrency N] [--state DSN] [--dir D]")
	n := fs.Int("recipients", 100000, "number of residents")
	batch := fs.Int("batch", 500, "recipients per round activity")
	parallel := fs.Int("parallel", 8, "round activities in flight")
	conc := fs.Int("concurrency", 64, "messages in flight inside one activity")
	dir := fs.String("dir", "", "work directory (default: a temporary one, removed at the end)")
	profilePath := fs.String("cpuprofile", "", "write a CPU profile of the run to this file (go tool pprof)")
	state := fs.String("state", "", "state store DSN (default: SQLite file in the work directory)")
	memLimit := fs.Int("mem-limit", 0, "soft memory limit in MiB for the Go runtime, like GOMEMLIMIT (0 = none)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs(pos); err != nil {
		return err
	}
	if *n <= 0 || *batch <= 0 || *parallel <= 0 || *conc <= 0 {
		return usagef("--recipients, --batch, --parallel and --concurrency must be positive")
	}
	work, cleanup, err := benchDir(*dir, "ponte-bench-")
	if err != nil {
		return err
	}
	defer cleanup()
	if *memLimit > 0 {
		debug.SetMemoryLimit(int64(*memLimit) << 20)
	}
	mocks, err := mockset.Start(mockset.Options{Config: mockset.Config{
		appiomock.Kind: appiomock.Options{DefaultKnown: true, RequestLogSize: 1000},
		smtpmock.Kind:  mockset.SampleSMTP(work),
	}})
	if err != nil {
		return err
	}
	defer mocks.Close()
	path, err := tenant.WriteSample(work, map[string]string{"GPDURL": mocks.GPDURL, "IOURL": mocks.IOURL, "SMTPAddr": mocks.SMTPAddr,
		"SMSURL": mocks.URL(smsmock.Kind), "WebhookURL": mocks.WebhookURL})
	if err != nil {
		return err
	}
	genStart := time.Now()
	if err := fixtures.WriteResidentsCSV(filepath.Join(work, "residenti.csv"), fixtures.Residents(*n, 42), 0); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "generated %d residents in %s\n", *n, time.Since(genStart).Round(time.Millisecond))
	rt, stop, err := benchRuntime(ctx, work, *state, path, *conc, *profilePath)
	if err != nil {
		return err
	}
	defer stop()
	def, err := alert.ParseDefinition("alert.yaml", []byte(demoAlertDefinition))
	if err != nil {
		return err
	}
	id := "bench-" + time.Now().Format("150405")
	in := alert.Input{AlertID: id, TenantID: "esempio", Definition: def, Origin: "bench", BatchSize: *batch, Parallel: *parallel}
	wfID := alert.WorkflowID(in.TenantID, id)
	start := time.Now()
	run, err := rt.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: wfID, TaskQueue: alert.Queue}, alert.WorkflowName, in)
	if err != nil {
		return err
	}
	// Poll the progress: the time the sent messages passed 10,000, and
	// the time the rounds ended.
	var first10k, staged time.Duration
	var p alert.Progress
	for {
		if v, err := rt.Client.QueryWorkflow(ctx, wfID, "", alert.QueryProgress); err == nil && v.Get(&p) == nil {
			sent := 0
			for _, c := range p.Sent {
				sent += c
			}
			if staged == 0 && p.Stage.Recipients > 0 {
				staged = time.Since(start)
			}
			if first10k == 0 && sent >= min(10000, *n) {
				first10k = time.Since(start)
			}
			if p.Phase == alert.StateDone {
				break
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	all := time.Since(start)
	events, bytes := historySize(ctx, rt.Client, run)
	// The alert stays open for updates until it expires: end it here.
	if err := rt.Client.TerminateWorkflow(ctx, wfID, "", "bench over"); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nrecipients       %d (reached %d, not reached %d)\n", p.Stage.Recipients, p.Reached, p.Unreached)
	fmt.Fprintf(stdout, "staged in        %s (read, area, merge, store)\n", staged.Round(time.Millisecond))
	fmt.Fprintf(stdout, "first %-6d     %s after the start\n", min(10000, *n), first10k.Round(time.Millisecond))
	fmt.Fprintf(stdout, "all rounds done  %s (%.0f recipients/s end to end)\n", all.Round(time.Millisecond), float64(*n)/all.Seconds())
	kinds := make([]string, 0, len(p.Sent))
	for k := range p.Sent {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Fprintf(stdout, "  %-8s sent %d, failed %d\n", k, p.Sent[k], p.Failed[k])
	}
	fmt.Fprintf(stdout, "history          %d events, %.1f KiB (rounds %d, batches of %d)\n", events, float64(bytes)/1024, p.Round+1, *batch)
	fmt.Fprintf(stdout, "peak RSS         %s (whole process: embedded Temporal, workers, state store and the mocks)\n", peakRSS())
	return nil
}
