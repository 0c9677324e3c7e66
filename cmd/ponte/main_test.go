package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ponte-pa/ponte/internal/metrics"
	"github.com/ponte-pa/ponte/workflows/reports"
)

func TestUsageAndExitCodes(t *testing.T) {
	cases := []struct {
		args     []string
		code     int
		contains string
	}{
		{nil, exitUsage, "Usage: ponte <command>"},
		{[]string{"help"}, exitOK, "Commands:"},
		{[]string{"--help"}, exitOK, "Commands:"},
		{[]string{"nope"}, exitUsage, `unknown command "nope"`},
		{[]string{"version"}, exitOK, "ponte " + appVersion},
		{[]string{"demo", "--help"}, exitOK, "--keep"},
		{[]string{"serve"}, exitUsage, "--temporal host:port"},
		{[]string{"serve", "--dev", "--temporal", "x:1"}, exitUsage, "drop --temporal"},
		{[]string{"worker"}, exitUsage, "--temporal host:port is required"},
		{[]string{"temporal-server"}, exitUsage, "--postgres is required"},
		{[]string{"temporal-server", "--postgres", "x", "--shards", "0"}, exitUsage, "--shards must be between"},
		{[]string{"bench", "campaign", "--workers", "1,2"}, exitUsage, "--workers and --temporal go together"},
		{[]string{"bench", "campaign", "--workers", "1,2", "--temporal", "x:1"}, exitUsage, "--workers needs --state"},
		{[]string{"bench", "campaign", "--workers", "0", "--temporal", "x:1", "--state", "s"}, exitUsage, "give worker counts between 1 and 64"},
		{[]string{"config"}, exitUsage, "ponte config: missing subcommand"},
		{[]string{"config", "--help"}, exitOK, "Usage: ponte config <validate|sample>"},
		{[]string{"campaign"}, exitUsage, "Usage: ponte campaign <start|status|pause|resume|cancel|report|print>"},
		{[]string{"campaign", "--help"}, exitOK, "report  the final per-debtor report"},
		{[]string{"campaign", "bogus"}, exitUsage, `ponte campaign: unknown subcommand "bogus"`},
		{[]string{"reconcile", "-h"}, exitOK, "Usage: ponte reconcile <run|start|status|stop>"},
		{[]string{"campaign", "start", "--csv", "x"}, exitUsage, "ponte campaign start: unknown flag --csv"},
		{[]string{"campaign", "report", "tari", "extra"}, exitUsage, "give the campaign id once"},
		{[]string{"campaign", "start", "--tenant", "t", "--id", "x"}, exitUsage, "start needs --definition FILE, or --source and --subject"},
		{[]string{"campaign", "start", "--tenant", "t", "--id", "x", "--source", "s", "--subject", "S", "--due", "31/12/2026"}, exitUsage, "use YYYY-MM-DD"},
		{[]string{"reconcile", "start", "--tenant", "t"}, exitUsage, "--every of at least 1m"},
		{[]string{"reconcile", "stop", "--tenant", "t", "extra"}, exitUsage, "unexpected arguments"},
		{[]string{"demo", "extra"}, exitUsage, "unexpected arguments"},
		// Flags may follow arguments; after "--" everything is an argument.
		{[]string{"config", "validate", "testdata/does-not-exist.yaml", "--strict"}, exitUsage, "unknown flag --strict"},
		{[]string{"config", "validate", "--", "--strict.yaml"}, exitUsage, "--strict.yaml: "},
		{[]string{"notice", "nav", "--aux", "x"}, exitUsage, `invalid value "x" for flag --aux`},
		{[]string{"config", "validate"}, exitUsage, "no files"},
		{[]string{"config", "validate", "testdata/does-not-exist.yaml"}, exitUsage, "does-not-exist.yaml"},
		{[]string{"campaign", "status"}, exitUsage, "--tenant and --id are required"},
		{[]string{"demo", "--bogus"}, exitUsage, "ponte demo: unknown flag --bogus"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(c.args, &out, &errOut)
			if code != c.code {
				t.Errorf("exit code %d, want %d\nstdout: %s\nstderr: %s", code, c.code, out.String(), errOut.String())
			}
			if all := out.String() + errOut.String(); !strings.Contains(all, c.contains) {
				t.Errorf("output lacks %q:\n%s", c.contains, all)
			}
		})
	}
}

func TestConfigValidateSample(t *testing.T) {
	// The demo writes the sample comune; the validator accepts it.
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	m := metrics.New()
	res, err := demoRun(ctx, &out, demoOptions{Dir: filepath.Join(dir, "demo"), InMemory: true, Metrics: m})
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	if code := run([]string{"config", "validate", filepath.Join(dir, "demo", "tenant.yaml")}, &out, &errOut); code != exitOK {
		t.Fatalf("config validate of the sample: exit %d\n%s%s", code, out.String(), errOut.String())
	}

	// The demo's story adds up: 20 rows, 2 rejected, every valid debtor has a
	// published position, and the IO outcomes are the seeded ones.
	p := res.Progress
	if p.Read != p.Valid+p.Rejected || p.Rejected != 2 || p.Valid < 15 {
		t.Errorf("read %d = valid %d + rejected %d?", p.Read, p.Valid, p.Rejected)
	}
	if p.PositionsPublished != p.Valid || res.GPDPositions != p.Valid {
		t.Errorf("published %d, on GPD %d, valid %d", p.PositionsPublished, res.GPDPositions, p.Valid)
	}
	// Not on IO: one unregistered citizen and the one company in the sample.
	if p.NotOnIO != 2 || p.SenderNotAllowed != 1 || p.MessagesSent != p.Valid-3 || res.IOMessages != p.MessagesSent {
		t.Errorf("IO: sent %d (mock %d), not on IO %d, not allowed %d", p.MessagesSent, res.IOMessages, p.NotOnIO, p.SenderNotAllowed)
	}
	// The three debtors App IO cannot reach get the notice by email.
	if p.EmailsSent != 3 || res.Emails != 3 || p.NeedPrint != 0 {
		t.Errorf("fallback: emails sent %d (relay %d), to print %d", p.EmailsSent, res.Emails, p.NeedPrint)
	}
	if len(res.Rejects) < 2 {
		t.Errorf("rejects: %+v", res.Rejects)
	}
	if rc := res.Reconcile; res.PaidOnGPD != 3 || rc.Match.NewlyPaid != 3 || rc.Report.Totals.Paid != 3 ||
		rc.Report.Totals.Unpaid != p.PositionsPublished-3 || rc.Match.Anomalies != 0 {
		t.Errorf("paid %d on GPD; reconciliation %+v", res.PaidOnGPD, rc)
	} else if _, err := os.Stat(rc.Report.CSV); err != nil {
		t.Errorf("reconciliation report: %v", err)
	}
	// Every call to GPD and App IO was recorded and kept the contracts.
	if r := res.Recorded; !r.Conforms() || r.Mocks["gpd"].Calls < p.Valid || r.Mocks["appio"].Calls < p.MessagesSent {
		t.Errorf("recording: %+v", r)
	}
	// The alert: 12 residents, one with no contact (rejected), one only on
	// App IO who turned the service off (not reached, listed), everyone
	// else reached on some channel; the cancel tells each one reached.
	if a := res.Alert; a == nil || a.Progress.Stage.Recipients != 11 || a.Report.Reached != 10 || a.Report.Unreached != 1 ||
		a.Revoked != 10 || a.Webhooks != 2 || a.SMS == 0 {
		t.Errorf("alert: %+v", a)
	} else if a.Report.People[10].Reached || a.Report.People[10].FiscalCode != "CNTMRC70B18G273M" {
		t.Errorf("the one not reached: %+v", a.Report.People[10])
	}
	if p.RemindersWorkflowID == "" {
		t.Error("the demo campaign has reminders, but no reminders workflow was started")
	}
	// The citizen report: filed through Open311, forwarded to the CRM mock
	// once, taken in charge and resolved there, an e-mail at each change.
	if r := res.Report; r == nil || r.Progress.State != reports.StateResolved || r.Progress.Ticket == "" || r.Status != "closed" ||
		len(r.Progress.History) != 3 || len(r.Messages) != 3 ||
		!strings.Contains(r.Messages[0], "inoltrata") || !strings.Contains(r.Messages[1], "presa in carico") || !strings.Contains(r.Messages[2], "risolta") {
		t.Errorf("citizen report: %+v", r)
	}
	for _, want := range []string{"NOTICE CODE (NAV)", "Rejected rows (", "Totals", "Checked on the mocks:", "Protezione Civile alert", "not reached: Marco Conti", "Alert cancelled:", "Citizen report (Open311", "GET requests/", "status closed", "E-mails to " + demoReporter, "Conformance (every call"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "demo", "debtors.csv")); err != nil {
		t.Errorf("sample debtors file: %v", err)
	}
	checkDemoMetrics(t, m, res)
}
