package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/ponte-pa/ponte/internal/conformance"

	// The conformance suites register themselves by name (conformance.Register):
	// a new suite is one more import here.
	_ "github.com/ponte-pa/ponte/internal/conformance/clients"
	_ "github.com/ponte-pa/ponte/internal/conformance/nodoec"
	_ "github.com/ponte-pa/ponte/internal/conformance/spidsp"
)

var conformanceCommands = []*command{
	{name: "run", summary: "run a conformance suite against a system under test: PASS/FAIL/SKIP per case with its rule, JUnit XML, exit 1 when a case fails", run: runConformanceRun,
		help: conformanceRunHelp},
	{name: "list", summary: "list the conformance suites, their options and the rule of each case", run: runConformanceList},
}

const conformanceNotes = `A comune's CI runs these before anything goes live (deploy/ci/ has GitHub Actions and
GitLab CI examples). Exit codes: 0 every case passed or was skipped, 1 a case failed or the
suite could not run, 2 a usage error (unknown suite, a missing or bad --opt).
La CI di un comune li esegue prima di andare in produzione (esempi in deploy/ci/).`

func conformanceRunHelp() string {
	var b strings.Builder
	b.WriteString("Suites and their --opt keys:\n")
	for _, s := range conformance.Suites() {
		fmt.Fprintf(&b, "\n  %s\n      %s\n", s.Name, strings.ReplaceAll(strings.TrimSpace(s.Doc), "\n", "\n      "))
	}
	b.WriteString("\nExample:\n  ponte conformance run --suite nodo-ec --target https://ec.example.it/t/comune/pagopa/nodo \\\n" +
		"    --opt ec=01234567890 --opt station=01234567890_01 --opt nav=301000000000000123 --opt amount=120.50 --junit nodo-ec.xml\n")
	return b.String()
}

// runConformanceRun is `ponte conformance run`.
func runConformanceRun(ctx context.Context, args []string) error {
	fs := newFlags("conformance run", "conformance run --suite NAME --target URL [--junit report.xml] [--opt key=value …] [--case-timeout 1m]")
	suite := fs.String("suite", "", "the suite to run (see 'ponte conformance list')")
	target := fs.String("target", "", "the system under test: its URL (an EC endpoint, an SP), or for client suites the address the mock listens on")
	junit := fs.String("junit", "", "write the report as JUnit XML to this file, for the CI to show")
	var opts multiFlag
	fs.Var(&opts, "opt", "a suite option `key=value` (repeatable; each suite's keys are in this help)")
	perCase := fs.Duration("case-timeout", time.Minute, "bound on each case")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs(pos); err != nil {
		return err
	}
	if *suite == "" || *target == "" {
		return usagef("--suite and --target are required")
	}
	s, err := conformance.Lookup(*suite)
	if err != nil {
		return usageError{err: err}
	}
	options, err := parseOpts(opts)
	if err != nil {
		return err
	}
	tg := &conformance.Target{URL: *target, Options: options, Log: stdout}
	fmt.Fprintf(stdout, "conformance suite %s against %s\n", s.Name, *target)
	rep, err := conformance.Run(ctx, s, tg, *perCase)
	if err != nil {
		if errors.Is(err, conformance.ErrOption) {
			return usageError{err: err}
		}
		return err
	}
	var passed, skipped int
	var took time.Duration
	for _, r := range rep.Results {
		took += r.Duration
		switch {
		case r.Skipped:
			skipped++
		case r.Err == nil:
			passed++
		}
	}
	failed := rep.Failed()
	verdict, it := "PASS", "conforme"
	if failed > 0 {
		verdict, it = "FAIL", "non conforme"
	}
	fmt.Fprintf(stdout, "%s  %s: %d passed, %d failed, %d skipped of %d cases in %s (%s: %d superati, %d falliti, %d saltati)\n",
		verdict, s.Name, passed, failed, skipped, len(rep.Results), took.Round(time.Millisecond), it, passed, failed, skipped)
	if *junit != "" {
		if err := writeJUnit(*junit, rep); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "JUnit report: %s\n", *junit)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d cases failed / %d casi su %d non superati", failed, len(rep.Results), failed, len(rep.Results))
	}
	return nil
}

func writeJUnit(path string, rep *conformance.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := rep.WriteJUnit(f); err != nil {
		return errors.Join(err, f.Close())
	}
	return f.Close()
}

// parseOpts reads --opt key=value flags; a key given twice is an error.
func parseOpts(opts []string) (map[string]string, error) {
	out := map[string]string{}
	for _, o := range opts {
		k, v, ok := strings.Cut(o, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, usagef("--opt %q: want key=value", o)
		}
		if _, dup := out[k]; dup {
			return nil, usagef("--opt %s given twice", k)
		}
		out[k] = v
	}
	return out, nil
}

// runConformanceList is `ponte conformance list`.
func runConformanceList(_ context.Context, args []string) error {
	fs := newFlags("conformance list", "conformance list [SUITE]")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usagef("unexpected arguments %q", pos[1:])
	}
	suites := conformance.Suites()
	if len(pos) == 1 {
		s, err := conformance.Lookup(pos[0])
		if err != nil {
			return usageError{err: err}
		}
		suites = []conformance.Suite{s}
	}
	for i, s := range suites {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		fmt.Fprintf(stdout, "%s\n  %s\n", s.Name, strings.ReplaceAll(strings.TrimSpace(s.Doc), "\n", "\n  "))
		if s.List == nil {
			fmt.Fprintln(stdout, "  (its cases come from the target)")
			continue
		}
		cases := s.List()
		width := 0
		for _, c := range cases {
			width = max(width, len(c.Name))
		}
		fmt.Fprintln(stdout, "  cases:")
		for _, c := range cases {
			fmt.Fprintf(stdout, "    %-*s  %s\n", width, c.Name, c.Rule)
		}
	}
	return nil
}
