package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ponte-pa/ponte/internal/fixtures"
	appiomock "github.com/ponte-pa/ponte/mocks/appio"
	legacymock "github.com/ponte-pa/ponte/mocks/legacy"
	"github.com/ponte-pa/ponte/mocks/mockset"
	"github.com/ponte-pa/ponte/mocks/record"
	"github.com/ponte-pa/ponte/mocks/registry"
	smtpmock "github.com/ponte-pa/ponte/mocks/smtp"
)

// runMocks serves every registered mock (mocks/registry) on its port: one
// --<name>-port flag per port a mock declares, one line per mock.
func runMocks(ctx context.Context, args []string) error {
	kinds, err := registry.Kinds()
	if err != nil {
		return err
	}
	var synopsis []string
	for _, k := range kinds {
		for _, p := range k.Ports {
			synopsis = append(synopsis, fmt.Sprintf("[--%s %d]", p.Flag, p.Default))
		}
	}
	fs := newFlags("mocks", "mocks [--host 127.0.0.1] "+strings.Join(synopsis, " ")+" [--smtp-ca smtp-ca.pem] [--tributi-debtors 20] [--io-all-known] [--record DIR]")
	host := fs.String("host", "127.0.0.1", "address to listen on")
	ports := map[string]*int{}
	for _, k := range kinds {
		for _, p := range k.Ports {
			ports[p.Flag] = fs.Int(p.Flag, p.Default, p.Usage)
		}
	}
	smtpCA := fs.String("smtp-ca", "smtp-ca.pem", "where to write the SMTP mock's certificate, for the caFile of a tenant's email channel")
	legacyN := fs.Int("tributi-debtors", 20, "how many synthetic debtors the tributi mock serves")
	ioAll := fs.Bool("io-all-known", true, "every valid fiscal code has an App IO profile that accepts messages")
	recordDir := fs.String("record", "", "record every call made to the mocks in DIR (one <mock>.jsonl each: request, response, the official contract's verdict); on stop, write DIR/summary.json, list the calls that broke the GPD or App IO contract and exit 1 if any did")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs(pos); err != nil {
		return err
	}
	opts := mockset.Options{Host: *host, Ports: map[string]int{}, Logger: newLogger(slog.LevelInfo), Config: mockset.Config{
		appiomock.Kind: appiomock.Options{DefaultKnown: *ioAll},
		smtpmock.Kind: smtpmock.Config{CAFile: *smtpCA,
			Options: smtpmock.Options{Username: mockset.SampleSMTPUser, Password: mockset.SampleSMTPPassword}},
		legacymock.Kind: legacymock.Options{Debtors: fixtures.TributiRecords(fixtures.Debtors(*legacyN, 1))},
	}}
	for flag, p := range ports {
		opts.Ports[flag] = *p
	}
	if *recordDir != "" {
		if opts.Record, err = record.New(*recordDir); err != nil {
			return err
		}
	}
	set, err := mockset.Start(opts)
	if err != nil {
		return err
	}
	for _, r := range set.Running() {
		fmt.Fprintf(stdout, "%-17s %s   %s\n", r.Title, r.URL, r.Details)
	}
	fmt.Fprintln(stdout, "Every mock's faults: GET/POST/DELETE <mock>/__mock/faults. Any non-empty subscription key is accepted. Ctrl-C to stop.")
	if opts.Record != nil {
		fmt.Fprintf(stdout, "Recording every call in %s; on stop, the calls that broke a contract are listed (exit 1 if any).\n", *recordDir)
	}
	<-ctx.Done()
	set.Close()
	if opts.Record == nil {
		return nil
	}
	return reportRecording(opts.Record)
}

// reportRecording closes a recording, writes its summary beside it and
// prints it; it fails when a recorded call broke its contract, so that a
// CI job running `ponte mocks --record` fails with it.
func reportRecording(rec *record.Recorder) error {
	if err := rec.Close(); err != nil {
		return err
	}
	s, err := record.Summarize(rec.Dir())
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(rec.Dir(), record.SummaryFile)
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return err
	}
	printRecording(stdout, s)
	fmt.Fprintf(stdout, "  summary    %s\n", path)
	if !s.Conforms() {
		return fmt.Errorf("%d recorded calls broke the platforms' contracts (see %s)", len(s.Violations), path)
	}
	return nil
}

func trimAPI(u string) string {
	return strings.TrimSuffix(u, appiomock.BasePath)
}

// printRecording prints a recording's verdict per mock, then every rule a
// recorded call broke: what `ponte mocks --record` and the demo show.
func printRecording(w io.Writer, s record.Summary) {
	for _, name := range slices.Sorted(maps.Keys(s.Mocks)) {
		c := s.Mocks[name]
		verdict := fmt.Sprintf("%d broke the contract", c.Violations)
		switch {
		case c.Unjudged == c.Calls:
			verdict = "no embedded contract: recorded, not judged"
		case c.Violations == 0 && c.Unjudged > 0:
			verdict = fmt.Sprintf("all kept the contract (%d outside it, not judged)", c.Unjudged)
		case c.Violations == 0:
			verdict = "all kept the contract"
		}
		fmt.Fprintf(w, "  %-9s %5d calls   %s\n", name, c.Calls, verdict)
	}
	for _, e := range s.Violations {
		for _, line := range e.Describe() {
			fmt.Fprintln(w, "  "+line)
		}
	}
}
