package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/ponte-pa/ponte/internal/fixtures"
	appiomock "github.com/ponte-pa/ponte/mocks/appio"
	legacymock "github.com/ponte-pa/ponte/mocks/legacy"
	"github.com/ponte-pa/ponte/mocks/mockset"
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
	fs := newFlags("mocks", "mocks [--host 127.0.0.1] "+strings.Join(synopsis, " ")+" [--smtp-ca smtp-ca.pem] [--tributi-debtors 20] [--io-all-known]")
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
	set, err := mockset.Start(opts)
	if err != nil {
		return err
	}
	defer set.Close()
	for _, r := range set.Running() {
		fmt.Fprintf(stdout, "%-17s %s   %s\n", r.Title, r.URL, r.Details)
	}
	fmt.Fprintln(stdout, "Every mock's faults: GET/POST/DELETE <mock>/__mock/faults. Any non-empty subscription key is accepted. Ctrl-C to stop.")
	<-ctx.Done()
	return nil
}

func trimAPI(u string) string {
	return strings.TrimSuffix(u, appiomock.BasePath)
}
