// Command ponte is the one Ponte binary: demo, server, worker, mocks and the
// operator tools, as subcommands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"

	_ "time/tzdata" // due dates are computed in Europe/Rome on any machine

	// The CRM kinds (rest, open311) of reports.CRMs that tenants'
	// reports.routes name. Not linked from internal/tenant: the kinds
	// implement workflows/reports' CRM, and that package imports tenant
	// (it sets tenant.CRMKinds, the check of routes at load).
	_ "github.com/ponte-pa/ponte/connectors/crm"
)

// Exit codes.
const (
	exitOK     = 0
	exitFail   = 1
	exitUsage  = 2
	appVersion = "0.1.0-dev"
)

// usageError marks errors in the command line or the config: exit code 2.
// usage, when set, is printed after the error (the usage of the command).
type usageError struct {
	err   error
	usage string
}

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, args ...any) error { return usageError{err: fmt.Errorf(format, args...)} }

// command is a command of the ponte binary: either one that runs (run, which
// parses its own flags with newFlags and parseFlags) or a group whose first
// argument names one of its subcommands (ponte campaign start …).
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string) error
	subs    []*command
	// notes follow the list of subcommands in a group's help.
	notes string
	// help follows a command's flags in its --help: kinds, fields, an example.
	help func() string

	path string // "campaign start", set by init
}

var commands []*command

func init() {
	commands = []*command{
		{name: "demo", summary: "run the whole payment-notice slice on embedded Temporal, mocks and a sample comune", run: runDemo},
		{name: "serve", summary: "run workers and the HTTP gateway (--dev: embedded Temporal in a local file)", run: runServe},
		{name: "worker", summary: "run workers only, against a Temporal cluster", run: runWorker},
		{name: "temporal-server", summary: "run a single-node Temporal server on PostgreSQL in its own process (schemas created with Temporal's schema tool), to try workers against a separate cluster", run: runTemporalServer},
		{name: "mocks", summary: "start every mock (GPD, App IO, SMTP, Nodo, SPID IdP, tributi, webhook receiver, SMS gateway, CAP alert feed, CRM, Open311 server) and print their URLs", run: runMocks},
		{name: "config", summary: "config validate|sample: check tenant config files, write the sample comune", subs: configCommands, notes: configNotes},
		{name: "campaign", summary: "campaign start|status|pause|resume|cancel|report|print: run and watch payment campaigns", subs: campaignCommands, notes: campaignNotes},
		{name: "alert", summary: "alert send|status|update|cancel|confirm|report|list|feed: Protezione Civile alerts to residents on App IO, SMS, e-mail and webhooks (CAP 1.2)", subs: alertCommands, notes: alertNotes},
		{name: "info", summary: "info send|status|pause|resume|cancel|report|consent export: information campaigns to the people who consented to their topic, with unsubscribe and consent evidence", subs: infoCommands, notes: infoNotes},
		{name: "reports", summary: "reports list|show|status: citizen reports (segnalazioni) and their lifecycle: list and read them, follow a report's workflow or set its state by hand", subs: reportsCommands, notes: reportsNotes},
		{name: "reconcile", summary: "reconcile run|start|status|stop --tenant X: match pagoPA receipts, mark paid, write back, report", subs: reconcileCommands, notes: reconcileNotes},
		{name: "onboard", summary: "onboard import: create the tenant configs of many comuni from IndicePA's open data and a CSV of their pagoPA, App IO and SMTP settings; onboard check: readiness checklists per comune; onboard history: progress week by week", subs: onboardCommands, notes: onboardNotes},
		{name: "source", summary: "source check --tenant X --source Y: count valid/invalid records, write the reject report", subs: sourceCommands},
		{name: "notice", summary: "notice nav|parse|pdf: build/validate notice numbers, render payment notice PDFs", subs: noticeCommands, notes: noticeNotes},
		{name: "spid", summary: "spid keygen|metadata|check-cert: SPID/CIE Service Provider tools", subs: spidCommands},
		{name: "conformance", summary: "conformance run|list: check a comune's SPID SP, Nodo EC endpoint, GPD or App IO client against the platforms' rules, with JUnit XML for CI", subs: conformanceCommands, notes: conformanceNotes},
		{name: "bench", summary: "bench campaign|spid: measure a whole campaign against the mocks (debtors/s, RSS), or SPID logins at the ACS (logins/s)", subs: benchCommands},
		{name: "version", summary: "print the version", run: runVersion},
	}
	var setPaths func(prefix string, cs []*command)
	setPaths = func(prefix string, cs []*command) {
		for _, c := range cs {
			c.path = strings.TrimSpace(prefix + " " + c.name)
			setPaths(c.path, c.subs)
		}
	}
	setPaths("", commands)
}

// findCommand returns the command at path ("campaign start"), or nil.
func findCommand(path string) *command {
	cs := commands
	var c *command
	for _, name := range strings.Fields(path) {
		c = nil
		for _, x := range cs {
			if x.name == name {
				c = x
			}
		}
		if c == nil {
			return nil
		}
		cs = c.subs
	}
	return c
}

// runGroup runs the subcommand of group that args name (for tests that
// call a group directly, as 'ponte <group> args…' would).
func runGroup(ctx context.Context, group string, args []string) error {
	_, err := findCommand(group).exec(ctx, args)
	return err
}

// exec runs c with the arguments that follow its name. It returns the path
// of the command that ran ("campaign start"), or of the group whose
// subcommand was missing or unknown.
func (c *command) exec(ctx context.Context, args []string) (string, error) {
	if c.subs == nil {
		return c.path, c.run(ctx, args)
	}
	if len(args) == 0 {
		return c.path, usageError{err: errors.New("missing subcommand"), usage: c.groupUsage()}
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, c.groupUsage())
		return c.path, flag.ErrHelp
	}
	for _, s := range c.subs {
		if s.name == args[0] {
			return s.exec(ctx, args[1:])
		}
	}
	return c.path, usageError{err: fmt.Errorf("unknown subcommand %q", args[0]), usage: c.groupUsage()}
}

func (c *command) groupUsage() string {
	var b strings.Builder
	names := make([]string, len(c.subs))
	width := 0
	for i, s := range c.subs {
		names[i] = s.name
		width = max(width, len(s.name))
	}
	fmt.Fprintf(&b, "Usage: ponte %s <%s> [flags]\n\nSubcommands:\n", c.path, strings.Join(names, "|"))
	for _, s := range c.subs {
		fmt.Fprintf(&b, "  %-*s  %s\n", width, s.name, s.summary)
	}
	if c.notes != "" {
		fmt.Fprintf(&b, "\n%s\n", strings.TrimSpace(c.notes))
	}
	fmt.Fprintf(&b, "\n'ponte %s <subcommand> --help' shows a subcommand's usage and flags.\n", c.path)
	return b.String()
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// stdout is where commands print; run sets it (tests pass a buffer).
var stdout io.Writer = os.Stdout

func run(args []string, out, errOut io.Writer) int {
	stdout = out
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) == 0 {
			printUsage(errOut)
			return exitUsage
		}
		printUsage(out)
		return exitOK
	}
	cmd := findCommand(args[0])
	if cmd == nil {
		fmt.Fprintf(errOut, "ponte: unknown command %q\n\n", args[0])
		printUsage(errOut)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	path, err := cmd.exec(ctx, args[1:])
	var ue usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(errOut, "ponte %s: %v\n", path, err)
		if ue.usage != "" {
			fmt.Fprintf(errOut, "\n%s", ue.usage)
		}
		return exitUsage
	default:
		fmt.Fprintf(errOut, "ponte %s: %v\n", path, err)
		return exitFail
	}
}

func printUsage(w io.Writer) {
	fmt.Fprintf(w, "Ponte %s — connects a comune's systems to pagoPA, App IO and SPID.\n\nUsage: ponte <command> [flags]\n\nCommands:\n", appVersion)
	width := 0
	for _, c := range commands {
		width = max(width, len(c.name))
	}
	for _, c := range commands {
		fmt.Fprintf(w, "  %-*s %s\n", width, c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'ponte <command> --help' for its usage and flags. Start with: go run ./cmd/ponte demo\n")
}

// newFlags makes the flag set of the command at path ("campaign start");
// synopsis is its usage line after "ponte ". Parse it with parseFlags.
func newFlags(path, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet("ponte "+path, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // parseFlags prints help and errors itself
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: ponte %s\n", synopsis)
		if c := findCommand(path); c != nil && c.summary != "" {
			fmt.Fprintf(w, "\n%s\n", c.summary)
		}
		printFlags(w, fs)
		if c := findCommand(path); c != nil && c.help != nil {
			fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.help()))
		}
	}
	return fs
}

// printFlags lists fs's flags as the command line spells them (--name).
func printFlags(w io.Writer, fs *flag.FlagSet) {
	n := 0
	fs.VisitAll(func(f *flag.Flag) {
		if n == 0 {
			fmt.Fprintf(w, "\nFlags:\n")
		}
		n++
		arg, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if arg != "" {
			line += " " + arg
		}
		switch f.DefValue {
		case "", "0", "false", "0s":
		default:
			usage += " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(w, "%s\n      %s\n", line, strings.ReplaceAll(usage, "\n", "\n      "))
	})
	if n == 0 {
		fmt.Fprintf(w, "\nNo flags.\n")
	}
}

// parseFlags parses args with fs: flags and arguments may come in any order
// ("--" ends the flags), and the arguments are returned. --help prints the
// usage on stdout and gives flag.ErrHelp; a bad or unknown flag is a usage
// error that names it and carries the usage.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			var b strings.Builder
			fs.SetOutput(&b)
			fs.Usage()
			fs.SetOutput(io.Discard)
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(stdout, b.String())
				return nil, err
			}
			return nil, usageError{err: flagError(err), usage: b.String()}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

// flagError rewrites the flag package's errors with flags spelled --name.
func flagError(err error) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		return fmt.Errorf("unknown flag --%s", name)
	}
	for _, s := range []string{"for flag -", "needs an argument: -"} {
		msg = strings.Replace(msg, s, s+"-", 1)
	}
	return errors.New(msg)
}

// noArgs refuses arguments where a command takes none.
func noArgs(args []string) error {
	if len(args) > 0 {
		return usagef("unexpected arguments %q", args)
	}
	return nil
}

// newLogger logs text on a terminal and JSON otherwise (CI, containers).
func newLogger(level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		return slog.New(slog.NewTextHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, opts))
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, usagef("--log-level %q: use debug, info, warn or error", s)
	}
	return l, nil
}

func runVersion(_ context.Context, args []string) error {
	fs := newFlags("version", "version")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs(pos); err != nil {
		return err
	}
	v := appVersion
	deps := map[string]string{}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if strings.HasPrefix(d.Path, "go.temporal.io/") {
				deps[d.Path] = d.Version
			}
		}
		fmt.Fprintf(stdout, "ponte %s (%s)\n", v, bi.GoVersion)
	} else {
		fmt.Fprintf(stdout, "ponte %s\n", v)
	}
	keys := make([]string, 0, len(deps))
	for k := range deps {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(stdout, "  %s %s\n", k, deps[k])
	}
	return nil
}

// multiFlag collects a repeatable flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
