package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/ponte-pa/ponte/internal/store/storetest"
	"github.com/ponte-pa/ponte/internal/tenant"
	appiomock "github.com/ponte-pa/ponte/mocks/appio"
	"github.com/ponte-pa/ponte/mocks/mockset"
	"github.com/ponte-pa/ponte/workflows/campaign"
)

// clusterDebtors is the size of the campaign of TestClusterOnPostgres: the
// 20,000 of issue 14.
const clusterDebtors = 20000

// TestClusterOnPostgres runs Ponte as it runs in production, each part in
// its own process: a Temporal server persisting to PostgreSQL (`ponte
// temporal-server`, databases of its own created by Temporal's schema
// tool), two `ponte worker` and one `ponte serve` gateway against it, all
// on one PostgreSQL state store (a fresh schema). A 20,000-debtor campaign
// runs against the mocks (in this process, so they outlive any kill); one
// worker is killed with SIGKILL once about 30% of the positions exist.
// The campaign must complete with one debt position and one App IO message
// per debtor, never two, and both workers must have done some of it.
func TestClusterOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the ponte binary and runs a cluster of four processes")
	}
	admin, stateSchema := storetest.PostgresSchema(t) // skips, or fails in CI, without PostgreSQL
	bin := ponteBinary(t)

	// Temporal's two databases, dropped at the end (after the server is
	// killed: cleanups run last-in first-out).
	prefix := strings.Replace(storetest.NewSchemaName(t), "ponte_test_", "temporal_test_", 1)
	t.Cleanup(func() {
		for _, db := range []string{prefix, prefix + "_visibility"} {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			_, err := admin.ExecContext(ctx, `DROP DATABASE IF EXISTS `+db+` WITH (FORCE)`)
			cancel()
			if err != nil {
				t.Errorf("dropping database %s: %v", db, err)
			}
		}
	})

	dir := t.TempDir()
	mocks, err := mockset.Start(mockset.Options{Config: mockset.Config{appiomock.Kind: appiomock.Options{DefaultKnown: true}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mocks.Close)
	path, err := tenant.WriteSample(dir, map[string]string{"GPDURL": mocks.GPDURL, "IOURL": mocks.IOURL})
	if err != nil {
		t.Fatal(err)
	}
	fcs, err := writeDebtorsCSV(filepath.Join(dir, "debtors.csv"), clusterDebtors, 0, 20)
	if err != nil {
		t.Fatal(err)
	}
	tn, err := tenant.Load(path)
	if err != nil {
		t.Fatal(err)
	}

	tport := freePort(t)
	hostPort := fmt.Sprintf("127.0.0.1:%d", tport)
	began := time.Now()
	startProc(t, "temporal-server", bin, "temporal-server", "--postgres", storetest.PostgresDSN(),
		"--db-prefix", prefix, "--port", strconv.Itoa(tport))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := dialNamespace(ctx, t, hostPort)
	defer c.Close()
	t.Logf("Temporal on PostgreSQL (%s, %s_visibility) answering after %s", prefix, prefix, time.Since(began).Round(time.Millisecond))

	state := storetest.SchemaDSN(stateSchema)
	common := []string{"--temporal", hostPort, "--tenants", path, "--state", state, "--io-rate-limit", "0", "--log-level", "warn"}
	m1, m2 := fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t))
	w1 := startProc(t, "worker-1", bin, append([]string{"worker", "--metrics", m1}, common...)...)
	w2 := startProc(t, "worker-2", bin, append([]string{"worker", "--metrics", m2}, common...)...)
	// The gateway serves only the channels queue, which this campaign (every
	// debtor on App IO) does not use: the campaign's work is the workers'.
	gw := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	startProc(t, "gateway", bin, append([]string{"serve", "--http", gw, "--queues", "ponte-channels"}, common...)...)
	for _, addr := range []string{m1, m2, gw} {
		waitReady(ctx, t, addr)
	}

	in := campaign.Input{CampaignID: "cluster", TenantID: tn.ID, Source: firstSourceName(tn), Subject: "TARI 2026",
		DueDate: time.Now().AddDate(0, 0, 30).Format("2006-01-02"), BatchSize: 500, Parallel: 4}
	start := time.Now()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: campaign.WorkflowID(tn.ID, in.CampaignID), TaskQueue: campaign.QueueWorkflows}, campaign.WorkflowName, in)
	if err != nil {
		t.Fatal(err)
	}

	// Kill worker 1 once about 30% of the positions exist.
	kctx, kcancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer kcancel()
	for len(mocks.GPD.Positions(tn.FiscalCode)) < clusterDebtors*3/10 {
		if kctx.Err() != nil {
			t.Fatalf("%d of %d positions after 3 minutes", len(mocks.GPD.Positions(tn.FiscalCode)), clusterDebtors)
		}
		w1.checkRunning(t)
		time.Sleep(200 * time.Millisecond)
	}
	w2.checkRunning(t)
	before := positionsCreated(kctx, t, m1)
	w1.kill(t)
	atKill := len(mocks.GPD.Positions(tn.FiscalCode))
	t.Logf("worker-1 killed after %s with %d of %d positions on GPD (%d created by worker-1)", time.Since(start).Round(time.Millisecond), atKill, clusterDebtors, before)

	fctx, fcancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer fcancel()
	var p campaign.Progress
	if err := run.Get(fctx, &p); err != nil {
		t.Fatalf("campaign: %v", err)
	}
	wall := time.Since(start)
	after := positionsCreated(fctx, t, m2)
	t.Logf("campaign of %d debtors done in %s (%.0f debtors/s) across a SIGKILL: %d published, %d messages sent, %d to check; positions created by worker-1 %d, worker-2 %d",
		clusterDebtors, wall.Round(time.Millisecond), float64(clusterDebtors)/wall.Seconds(), p.PositionsPublished, p.MessagesSent, p.MessagesUnknown, before, after)

	if p.PositionsPublished != clusterDebtors {
		t.Errorf("published %d, want %d", p.PositionsPublished, clusterDebtors)
	}
	// A message whose submit was in flight at the kill is "to check", never
	// re-sent blindly.
	if p.MessagesSent+p.MessagesUnknown != clusterDebtors {
		t.Errorf("messages sent %d + to check %d, want %d", p.MessagesSent, p.MessagesUnknown, clusterDebtors)
	}
	checkNoDuplicates(t, &env{mocks: mocks, tenant: tn}, clusterDebtors)
	if got := len(mocks.IO.Messages()); got < p.MessagesSent || got > p.MessagesSent+p.MessagesUnknown {
		t.Errorf("IO mock holds %d messages, campaign says %d sent and %d to check", got, p.MessagesSent, p.MessagesUnknown)
	}
	want := map[string]bool{}
	for _, fc := range fcs {
		want[fc] = true
	}
	perDebtor := map[string]int{}
	for _, pos := range mocks.GPD.Positions(tn.FiscalCode) {
		if !want[pos.FiscalCode] {
			t.Errorf("position %s for %s, who is not a debtor of the campaign", pos.IUPD, pos.FiscalCode)
		}
		perDebtor[pos.FiscalCode]++
	}
	for fc := range want {
		if perDebtor[fc] != 1 {
			t.Errorf("%d positions for debtor %s, want 1", perDebtor[fc], fc)
		}
	}
	if before == 0 {
		t.Error("worker-1 created no position before it was killed")
	}
	if after == 0 {
		t.Error("worker-2 created no position")
	}
	// Every position missing at the kill was created by worker-2 (those
	// worker-1 made between the scrape and the kill are counted by neither).
	if after < clusterDebtors-atKill {
		t.Errorf("worker-2 counted %d positions created, but %d were missing when worker-1 was killed", after, clusterDebtors-atKill)
	}
	waitReady(fctx, t, gw)
}

// proc is a child process of a test, killed at its end.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

// startProc starts bin with args, its output in a file of the test's
// temporary directory (shown if the test fails), killed at the end.
func startProc(t *testing.T, name, bin string, args ...string) *proc {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{name: name, cmd: exec.Command(bin, args...), log: logPath, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		if err := f.Close(); err != nil {
			p.err = errors.Join(p.err, err)
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill(t)
		if t.Failed() {
			b, err := os.ReadFile(p.log)
			if err != nil {
				t.Error(err)
			}
			if len(b) > 8000 {
				b = b[len(b)-8000:]
			}
			t.Logf("last output of %s:\n%s", p.name, b)
		}
	})
	return p
}

// kill ends the process with SIGKILL and waits (a minute at most) for it.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("killing %s: %v", p.name, err)
	}
	select {
	case <-p.done:
	case <-time.After(time.Minute):
		t.Errorf("%s still running a minute after SIGKILL", p.name)
	}
}

// checkRunning fails the test if the process has exited.
func (p *proc) checkRunning(t *testing.T) {
	t.Helper()
	select {
	case <-p.done:
		b, err := os.ReadFile(p.log)
		t.Fatalf("%s exited: %v (%v)\n%s", p.name, p.err, err, b)
	default:
	}
}

// dialNamespace dials the frontend until the default namespace answers.
func dialNamespace(ctx context.Context, t *testing.T, hostPort string) client.Client {
	t.Helper()
	for {
		c, err := client.Dial(client.Options{HostPort: hostPort})
		if err == nil {
			if _, err = c.DescribeWorkflowExecution(ctx, "none", ""); err == nil || !strings.Contains(err.Error(), "amespace") {
				return c
			}
			c.Close()
		}
		select {
		case <-ctx.Done():
			t.Fatalf("Temporal on %s did not come up: %v", hostPort, err)
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// waitReady polls http://addr/readyz until it answers 200.
func waitReady(ctx context.Context, t *testing.T, addr string) {
	t.Helper()
	var last string
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/readyz", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			var b strings.Builder
			_, cerr := bufio.NewReader(resp.Body).WriteTo(&b)
			if err := resp.Body.Close(); err != nil {
				t.Error(err)
			}
			if resp.StatusCode == http.StatusOK && cerr == nil {
				return
			}
			last = fmt.Sprintf("%s: %s %v", resp.Status, b.String(), cerr)
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s/readyz not ready: %s", addr, last)
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// positionsCreated reads ponte_gpd_positions_total{outcome="created"}
// from a worker's /metrics: what that process alone did.
func positionsCreated(ctx context.Context, t *testing.T, addr string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("metrics of %s: %v", addr, err)
	}
	defer func() {
		if err := resp.Body.Close(); err != nil {
			t.Error(err)
		}
	}()
	total := 0.0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "ponte_gpd_positions_total{") || !strings.Contains(line, `outcome="created"`) {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			t.Fatalf("metrics of %s: %q: %v", addr, line, err)
		}
		total += v
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("metrics of %s: %v", addr, err)
	}
	return int(total)
}
