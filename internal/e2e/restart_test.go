package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/ponte-pa/ponte/internal/tenant"
	appiomock "github.com/ponte-pa/ponte/mocks/appio"
	"github.com/ponte-pa/ponte/mocks/mockset"
	"github.com/ponte-pa/ponte/workflows/campaign"
)

// TestServeDevResumesAfterKill runs `ponte serve --dev` as a real process,
// starts a campaign, kills the process with SIGKILL in the middle twice (the
// second time with 20% of GPD and IO requests failing and lost responses),
// restarts it each time on the same data directory and checks that the
// campaign completes with no duplicate debt position or message.
func TestServeDevResumesAfterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the ponte binary and runs it twice")
	}
	bin := ponteBinary(t)

	const debtors = 150
	dir := t.TempDir()
	fcs, err := writeDebtorsCSV(filepath.Join(t.TempDir(), "x.csv"), debtors, 0, 11)
	if err != nil {
		t.Fatal(err)
	}
	profiles := map[string]appiomock.ProfileSpec{}
	for _, fc := range fcs {
		profiles[fc] = appiomock.ProfileSpec{SenderAllowed: true}
	}
	// The mocks live in the test process, so they survive the kill, as the
	// real platforms would. Latency makes the campaign last a few seconds.
	mocks, err := mockset.Start(mockset.Options{Config: mockset.Config{appiomock.Kind: appiomock.Options{Profiles: profiles}}})
	if err != nil {
		t.Fatal(err)
	}
	defer mocks.Close()
	mocks.GPD.Faults().SetLatency(40 * time.Millisecond)
	mocks.IO.Faults().SetLatency(40 * time.Millisecond)
	path, err := tenant.WriteSample(dir, map[string]string{"GPDURL": mocks.GPDURL, "IOURL": mocks.IOURL})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := writeDebtorsCSV(filepath.Join(dir, "debtors.csv"), debtors, 0, 11); err != nil {
		t.Fatal(err)
	}
	tn, err := tenant.Load(path)
	if err != nil {
		t.Fatal(err)
	}

	port := freePort(t)
	data := filepath.Join(dir, "data")
	var logs bytes.Buffer
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "serve", "--dev", "--data", data, "--tenants", path,
			"--temporal-port", fmt.Sprint(port), "--ui-port", "-1", "--http", "127.0.0.1:0", "--log-level", "warn")
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	// One context per step, each generous for a loaded 2-core machine: a
	// deadline is there to end a stuck test, never to judge speed.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	proc := start()
	defer func() {
		if err := proc.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			t.Error(err)
		}
		if _, err := proc.Process.Wait(); err != nil {
			t.Error(err)
		}
	}()
	c := dial(ctx, t, port)
	in := campaign.Input{CampaignID: "restart", TenantID: tn.ID, Source: firstSourceName(tn), Subject: "TARI 2026", BatchSize: 10, Parallel: 2}
	wfID := campaign.WorkflowID(in.TenantID, in.CampaignID)
	if _, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: wfID, TaskQueue: campaign.QueueWorkflows}, campaign.WorkflowName, in); err != nil {
		t.Fatal(err)
	}
	// Kill twice, each time once some but not all debt positions exist: the
	// second time while the restarted process is catching up.
	for i, threshold := range []int{30, 80} {
		wctx, wcancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer wcancel()
		for {
			n := len(mocks.GPD.Positions(tn.FiscalCode))
			if n >= threshold {
				break
			}
			if wctx.Err() != nil {
				t.Fatalf("campaign made no progress before kill %d; logs:\n%s", i+1, logs.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
		if i == 0 {
			// From here on, 20% of GPD and IO requests fail with 500, and
			// some GPD creates are applied but their response is lost.
			mocks.GPD.Faults().SetErrorRate(0.2, 7)
			mocks.IO.Faults().SetErrorRate(0.2, 7)
			mocks.GPD.Faults().LoseNext(3)
		}
		c.Close()
		if err := proc.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		if _, err := proc.Process.Wait(); err != nil {
			t.Fatal(err)
		}
		atKill := len(mocks.GPD.Positions(tn.FiscalCode))
		if atKill >= debtors {
			t.Fatalf("campaign finished before kill %d (%d positions): raise the mock latency", i+1, atKill)
		}
		t.Logf("kill %d with %d of %d positions created", i+1, atKill, debtors)
		proc = start()
		if i == 0 {
			c = dial(wctx, t, port)
		}
	}

	fctx, fcancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer fcancel()
	c = dial(fctx, t, port)
	defer c.Close()
	var p campaign.Progress
	if err := c.GetWorkflow(fctx, wfID, "").Get(fctx, &p); err != nil {
		t.Fatalf("campaign after restart: %v\nlogs:\n%s", err, logs.String())
	}
	if p.PositionsPublished != debtors {
		t.Errorf("published %d, want %d", p.PositionsPublished, debtors)
	}
	if p.MessagesSent+p.MessagesUnknown != debtors {
		t.Errorf("messages sent %d + to check %d, want %d", p.MessagesSent, p.MessagesUnknown, debtors)
	}
	e := &env{mocks: mocks, tenant: tn}
	checkNoDuplicates(t, e, debtors)
	// A message whose submit was in flight at a kill is "to check" (never
	// re-sent blindly): the IO mock holds every sent one, plus at most those.
	if got := len(mocks.IO.Messages()); got < p.MessagesSent || got > p.MessagesSent+p.MessagesUnknown {
		t.Errorf("IO mock holds %d messages, campaign says %d sent and %d to check", got, p.MessagesSent, p.MessagesUnknown)
	}
	t.Logf("after two kills: %d published, %d messages sent, %d to check; GPD stats %+v", p.PositionsPublished, p.MessagesSent, p.MessagesUnknown, mocks.GPD.Stats())
	if err := proc.Process.Signal(os.Interrupt); err != nil {
		t.Error(err)
	}
}

func dial(ctx context.Context, t *testing.T, port int) client.Client {
	t.Helper()
	for {
		c, err := client.Dial(client.Options{HostPort: fmt.Sprintf("127.0.0.1:%d", port)})
		if err == nil {
			if _, err = c.CheckHealth(ctx, nil); err == nil {
				return c
			}
			c.Close()
		}
		select {
		case <-ctx.Done():
			t.Fatalf("ponte serve --dev did not come up on port %d: %v", port, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
