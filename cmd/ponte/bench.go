package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/ponte-pa/ponte/internal/fixtures"
	"github.com/ponte-pa/ponte/internal/runtime"
	"github.com/ponte-pa/ponte/internal/tenant"
	appiomock "github.com/ponte-pa/ponte/mocks/appio"
	"github.com/ponte-pa/ponte/mocks/mockset"
	"github.com/ponte-pa/ponte/workflows/campaign"
)

var benchCommands = []*command{
	{name: "campaign", summary: "run a whole payment-notice campaign on the embedded server against the mocks (limits off) and print debtors/s, wall time, peak RSS and history size", run: benchCampaign},
	{name: "alert", summary: "send one Protezione Civile alert to N generated residents (App IO, SMS, e-mail) on the embedded server against the mocks (limits off): time to the first 10,000 messages and to the end, peak RSS", run: benchAlert},
	{name: "spid", summary: "log the mock IdP's citizens in at the gateway's ACS over HTTP (request registered, signed response posted, token issued) and print logins/s; GOMAXPROCS=1 for the figure per core", run: benchSPID},
	{name: "spid-client", summary: "the load process of bench spid: post the logins it prepared to the ACS and report the CPU used (bench spid starts it)", run: benchSPIDClient},
}

func benchCampaign(ctx context.Context, args []string) error {
	fs := newFlags("bench campaign", "bench campaign [--debtors N] [--batch N] [--parallel N] [--concurrency N] [--mem-limit MiB] [--dir D]\n       ponte bench campaign --workers 1,2 --temporal host:port --state postgres://… [--debtors N]")
	n := fs.Int("debtors", 10000, "number of debtors")
	batch := fs.Int("batch", 500, "debtors per batch activity")
	parallel := fs.Int("parallel", 4, "batches in flight")
	conc := fs.Int("concurrency", 32, "calls in flight inside one batch")
	dir := fs.String("dir", "", "work directory (default: a temporary one, removed at the end)")
	profilePath := fs.String("cpuprofile", "", "write a CPU profile of the run to this file (go tool pprof)")
	state := fs.String("state", "", "state store DSN (default: SQLite file in the work directory)")
	memLimit := fs.Int("mem-limit", 0, "soft memory limit in MiB for the Go runtime, like GOMEMLIMIT (0 = none)")
	workers := fs.String("workers", "", "with --temporal: run the campaign once per count (e.g. 1,2), each time by that many 'ponte worker' processes, and print debtors/s per count")
	hostPort := fs.String("temporal", "", "with --workers: host:port of the Temporal cluster's frontend (e.g. one 'ponte temporal-server' runs)")
	namespace := fs.String("namespace", "default", "with --workers: Temporal namespace")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs(pos); err != nil {
		return err
	}
	if *n <= 0 || *batch <= 0 || *parallel <= 0 || *conc <= 0 {
		return usagef("--debtors, --batch, --parallel and --concurrency must be positive")
	}
	if (*workers == "") != (*hostPort == "") {
		return usagef("--workers and --temporal go together: worker processes need a cluster to reach (start one with 'ponte temporal-server')")
	}
	if *workers != "" && *state == "" {
		return usagef("--workers needs --state: the worker processes must share one state store (postgres://…)")
	}
	work, cleanup, err := benchDir(*dir, "ponte-bench-")
	if err != nil {
		return err
	}
	defer cleanup()
	if *workers != "" {
		counts, err := parseWorkers(*workers)
		if err != nil {
			return err
		}
		b := &clusterBench{hostPort: *hostPort, namespace: *namespace, state: *state, debtors: *n, batch: *batch, parallel: *parallel, work: work}
		return b.run(ctx, counts)
	}
	if *memLimit > 0 {
		debug.SetMemoryLimit(int64(*memLimit) << 20)
	}
	mocks, err := mockset.Start(mockset.Options{Config: mockset.Config{appiomock.Kind: appiomock.Options{DefaultKnown: true}}})
	if err != nil {
		return err
	}
	defer mocks.Close()
	path, err := tenant.WriteSample(work, map[string]string{"GPDURL": mocks.GPDURL, "IOURL": mocks.IOURL})
	if err != nil {
		return err
	}
	genStart := time.Now()
	if _, err := fixtures.WriteDebtorsCSV(filepath.Join(work, "debtors.csv"), *n, 0, 42); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "generated %d debtors in %s\n", *n, time.Since(genStart).Round(time.Millisecond))
	t, err := tenant.Load(path)
	if err != nil {
		return err
	}
	rt, stop, err := benchRuntime(ctx, work, *state, path, *conc, *profilePath)
	if err != nil {
		return err
	}
	defer stop()
	in := campaign.Input{CampaignID: "bench", TenantID: t.ID, Source: firstSource(t), Subject: "TARI 2026 bench",
		DueDate: time.Now().AddDate(0, 0, 30).Format("2006-01-02"), BatchSize: *batch, Parallel: *parallel}
	start := time.Now()
	run, err := rt.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: campaign.WorkflowID(t.ID, "bench"), TaskQueue: campaign.QueueWorkflows}, campaign.WorkflowName, in)
	if err != nil {
		return err
	}
	p, err := waitCampaign(ctx, rt.Client, run, stdout)
	if err != nil {
		return err
	}
	wall := time.Since(start)
	events, bytes := historySize(ctx, rt.Client, run)
	fmt.Fprintf(stdout, "\ndebtors          %d (published %d, IO sent %d)\n", *n, p.PositionsPublished, p.MessagesSent)
	fmt.Fprintf(stdout, "wall time        %s\n", wall.Round(time.Millisecond))
	fmt.Fprintf(stdout, "throughput       %.0f debtors/s end to end\n", float64(*n)/wall.Seconds())
	fmt.Fprintf(stdout, "peak RSS         %s (whole process: embedded Temporal, workers, state store and the mocks)\n", peakRSS())
	goruntime.GC()
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	fmt.Fprintf(stdout, "live Go heap     %.0f MiB after the run (the mocks keep every position and message in memory)\n", float64(ms.HeapAlloc)/(1<<20))
	fmt.Fprintf(stdout, "history          %d events, %.1f KiB (%d batches of %d)\n", events, float64(bytes)/1024, p.Batches, *batch)
	fmt.Fprintf(stdout, "GPD mock         %d positions; App IO mock %d messages\n", len(mocks.GPD.Positions(t.FiscalCode)), len(mocks.IO.Messages()))
	return nil
}

func historySize(ctx context.Context, c client.Client, run client.WorkflowRun) (events, size int) {
	it := c.GetWorkflowHistory(ctx, run.GetID(), run.GetRunID(), false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			break
		}
		events++
		size += len(ev.String())
	}
	return events, size
}

// peakRSS reads the process's peak resident set size (Linux).
func peakRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "n/a"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				if kb, err := strconv.Atoi(f[1]); err == nil {
					return fmt.Sprintf("%.0f MiB", float64(kb)/1024)
				}
			}
		}
	}
	return "n/a"
}

// benchDir is the bench's work directory: dir, or a temporary one that
// done removes.
func benchDir(dir, prefix string) (work string, done func(), err error) {
	if dir != "" {
		return dir, func() {}, nil
	}
	d, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", nil, err
	}
	return d, func() { os.RemoveAll(d) }, nil
}

// cpuProfile starts a CPU profile into path ("" profiles nothing); stop
// ends it.
func cpuProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// benchRuntime starts the embedded server and the workers for the tenant
// at path, with the state store dsn (default: a SQLite file in work), and
// the CPU profile; stop ends all three.
func benchRuntime(ctx context.Context, work, dsn, path string, conc int, profile string) (*runtime.Runtime, func(), error) {
	if dsn == "" {
		dsn = filepath.Join(work, "state.db")
	}
	rt, err := runtime.Start(ctx, runtime.Config{Tenants: []string{path}, StateDSN: dsn})
	if err != nil {
		return nil, nil, err
	}
	if err := rt.StartWorkers(ctx, runtime.WorkerOptions{Concurrency: conc}); err != nil {
		rt.Close()
		return nil, nil, err
	}
	stopProfile, err := cpuProfile(profile)
	if err != nil {
		rt.Close()
		return nil, nil, err
	}
	return rt, func() { stopProfile(); rt.Close() }, nil
}
