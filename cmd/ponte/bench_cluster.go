package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/ponte-pa/ponte/internal/fixtures"
	"github.com/ponte-pa/ponte/internal/tenant"
	appiomock "github.com/ponte-pa/ponte/mocks/appio"
	"github.com/ponte-pa/ponte/mocks/mockset"
	"github.com/ponte-pa/ponte/workflows/campaign"
)

// clusterBench is `bench campaign --workers N,M… --temporal host:port`:
// the same campaign run once per worker count, each time by that many
// `ponte worker` processes (this binary) against a Temporal cluster, so
// that what scales is what production scales.
type clusterBench struct {
	hostPort, namespace, state string
	debtors, batch, parallel   int
	work                       string
}

// parseWorkers reads --workers: a comma-separated list of positive counts.
func parseWorkers(s string) ([]int, error) {
	var ns []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 || n > 64 {
			return nil, usagef("--workers %q: give worker counts between 1 and 64, comma-separated (e.g. 1,2)", s)
		}
		ns = append(ns, n)
	}
	return ns, nil
}

func (b *clusterBench) run(ctx context.Context, counts []int) error {
	bin, err := os.Executable()
	if err != nil {
		return err
	}
	c, err := client.Dial(client.Options{HostPort: b.hostPort, Namespace: b.namespace, Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		return fmt.Errorf("Temporal at %s: %w", b.hostPort, err)
	}
	defer c.Close()
	type result struct {
		workers int
		wall    time.Duration
	}
	var results []result
	for round, n := range counts {
		wall, err := b.round(ctx, c, bin, round, n)
		if err != nil {
			return fmt.Errorf("%d worker(s): %w", n, err)
		}
		results = append(results, result{n, wall})
	}
	fmt.Fprintf(stdout, "\nworkers  wall time   debtors/s  (%d debtors, Temporal %s, state %s)\n", b.debtors, b.hostPort, redactedDSN(b.state))
	for _, r := range results {
		fmt.Fprintf(stdout, "%7d  %9s  %10.0f\n", r.workers, r.wall.Round(time.Millisecond), float64(b.debtors)/r.wall.Seconds())
	}
	return nil
}

// round runs one campaign with n worker processes, on mocks of its own.
func (b *clusterBench) round(ctx context.Context, c client.Client, bin string, round, n int) (time.Duration, error) {
	mocks, err := mockset.Start(mockset.Options{Config: mockset.Config{appiomock.Kind: appiomock.Options{DefaultKnown: true}}})
	if err != nil {
		return 0, err
	}
	defer mocks.Close()
	dir := filepath.Join(b.work, fmt.Sprintf("round-%d", round+1))
	path, err := tenant.WriteSample(dir, map[string]string{"GPDURL": mocks.GPDURL, "IOURL": mocks.IOURL})
	if err != nil {
		return 0, err
	}
	if _, err := fixtures.WriteDebtorsCSV(filepath.Join(dir, "debtors.csv"), b.debtors, 0, 42); err != nil {
		return 0, err
	}
	t, err := tenant.Load(path)
	if err != nil {
		return 0, err
	}
	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs {
			if err := p.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
				fmt.Fprintf(os.Stderr, "stopping worker %d: %v\n", p.Process.Pid, err)
			}
			done := make(chan struct{})
			go func() {
				// A worker stops cleanly on SIGTERM: anything else is worth a line.
				if err := p.Wait(); err != nil {
					fmt.Fprintf(os.Stderr, "worker %d: %v\n", p.Process.Pid, err)
				}
				close(done)
			}()
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				if err := p.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
					fmt.Fprintf(os.Stderr, "killing worker %d: %v\n", p.Process.Pid, err)
				}
				<-done
			}
		}
	}()
	var metrics []string
	for i := range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		addr := l.Addr().String()
		if err := l.Close(); err != nil {
			return 0, err
		}
		logf, err := os.Create(filepath.Join(dir, fmt.Sprintf("worker-%d.log", i+1)))
		if err != nil {
			return 0, err
		}
		defer logf.Close()
		cmd := exec.Command(bin, "worker", "--temporal", b.hostPort, "--namespace", b.namespace, "--tenants", path,
			"--state", b.state, "--io-rate-limit", "0", "--metrics", addr, "--log-level", "warn")
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			return 0, err
		}
		procs = append(procs, cmd)
		metrics = append(metrics, addr)
	}
	for _, addr := range metrics {
		if err := waitHTTPReady(ctx, "http://"+addr+"/readyz", 2*time.Minute); err != nil {
			return 0, fmt.Errorf("worker not ready (logs in %s): %w", dir, err)
		}
	}
	id := fmt.Sprintf("bench-%d-%d", time.Now().Unix(), round+1)
	in := campaign.Input{CampaignID: id, TenantID: t.ID, Source: firstSource(t), Subject: "TARI 2026 bench",
		DueDate: time.Now().AddDate(0, 0, 30).Format("2006-01-02"), BatchSize: b.batch, Parallel: b.parallel}
	fmt.Fprintf(stdout, "== %d worker(s), campaign %s\n", n, id)
	start := time.Now()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: campaign.WorkflowID(t.ID, id), TaskQueue: campaign.QueueWorkflows}, campaign.WorkflowName, in)
	if err != nil {
		return 0, err
	}
	p, err := waitCampaign(ctx, c, run, stdout)
	if err != nil {
		return 0, fmt.Errorf("%w (worker logs in %s)", err, dir)
	}
	wall := time.Since(start)
	fmt.Fprintf(stdout, "%d worker(s): %d published, %d sent in %s: %.0f debtors/s (GPD mock %d positions, App IO mock %d messages)\n",
		n, p.PositionsPublished, p.MessagesSent, wall.Round(time.Millisecond), float64(b.debtors)/wall.Seconds(),
		len(mocks.GPD.Positions(t.FiscalCode)), len(mocks.IO.Messages()))
	return wall, nil
}

// waitHTTPReady polls url until it answers 200, for at most limit.
func waitHTTPReady(ctx context.Context, url string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = errors.New(resp.Status)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", url, err)
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// redactedDSN hides a password in a postgres:// DSN; a file path is shown as is.
func redactedDSN(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		return u.Redacted()
	}
	return dsn
}
