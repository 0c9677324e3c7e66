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
)

// Exit codes.
const (
	exitOK     = 0
	exitFail   = 1
	exitUsage  = 2
	appVersion = "0.1.0-dev"
)

// usageError marks errors in the command line or the config: exit code 2.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string) error
}

var commands []command

func init() {
	commands = []command{
		{"demo", "run the whole payment-notice slice on embedded Temporal, mocks and a sample comune", runDemo},
		{"serve", "run workers and the HTTP gateway (--dev: embedded Temporal in a local file)", runServe},
		{"worker", "run workers only, against a Temporal cluster", runWorker},
		{"mocks", "start every mock (GPD, App IO, SMTP, Nodo, SPID IdP, tributi) and print their URLs", runMocks},
		{"config", "config validate FILE…: check tenant config files", runConfig},
		{"campaign", "campaign start|status|pause|resume|cancel|report|print: run and watch payment campaigns", runCampaign},
		{"reconcile", "reconcile run|start|status|stop --tenant X: match pagoPA receipts, mark paid, write back, report", runReconcile},
		{"source", "source check --tenant X --source Y: count valid/invalid records, write the reject report", runSource},
		{"notice", "notice nav|parse|pdf: build/validate notice numbers, render payment notice PDFs", runNotice},
		{"spid", "spid keygen|metadata|check-cert: SPID/CIE Service Provider tools", runSPID},
		{"bench", "bench campaign: measure a whole campaign against the mocks (debtors/s, RSS)", runBench},
		{"version", "print the version", runVersion},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

var stdout io.Writer = os.Stdout

func run(args []string, out, errOut io.Writer) int {
	stdout = out
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(out)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	var cmd *command
	for i := range commands {
		if commands[i].name == args[0] {
			cmd = &commands[i]
		}
	}
	if cmd == nil {
		fmt.Fprintf(errOut, "ponte: unknown command %q\n\n", args[0])
		printUsage(errOut)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := cmd.run(ctx, args[1:])
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, new(usageError)):
		fmt.Fprintf(errOut, "ponte %s: %v\n", cmd.name, err)
		return exitUsage
	default:
		fmt.Fprintf(errOut, "ponte %s: %v\n", cmd.name, err)
		return exitFail
	}
}

func printUsage(w io.Writer) {
	fmt.Fprintf(w, "Ponte %s — connects a comune's systems to pagoPA, App IO and SPID.\n\nUsage: ponte <command> [flags]\n\nCommands:\n", appVersion)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'ponte <command> --help' for its flags. Start with: go run ./cmd/ponte demo\n")
}

// newFlags makes a flag set whose errors become usage errors.
func newFlags(name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet("ponte "+name, flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: ponte %s\n\n", usage)
		fs.PrintDefaults()
	}
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
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
	if err := parse(fs, args); err != nil {
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
