package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ponte-pa/ponte/connectors/legacy"
	"github.com/ponte-pa/ponte/internal/tenant"
	"github.com/ponte-pa/ponte/schemas"
)

const sourceUsage = "source check --tenant FILE_OR_ID --source NAME [--tenants DIR] [--reject-report rejects.csv|rejects.json] [--show N]"

var sourceCommands = []*command{
	{name: "check", summary: "read a tenant's legacy source as a campaign would, without side effects: valid/invalid counts, the first rejects, and every reject in a report (CSV or JSON, it/en)", run: runSourceCheck},
}

// runSourceCheck implements `ponte source check`: it reads a tenant's legacy source from
// start to end without side effects (an inbox moves no file), prints how many records
// are valid and the first rejects, and writes every reject to a report. Exit codes: 0
// when the source was read (rejects included), 2 for command-line and config errors, 1
// when the source could not be read.
func runSourceCheck(ctx context.Context, args []string) error {
	fs := newFlags("source check", sourceUsage)
	tenantRef := fs.String("tenant", "", "tenant config file, or a tenant id to find in --tenants")
	sourceName := fs.String("source", "", "name of the source in the tenant config (sources:)")
	tenantsDir := fs.String("tenants", "", "directory of tenant configs, to find --tenant by id")
	reportPath := fs.String("reject-report", "", "write every reject to this file (.csv or .json)")
	show := fs.Int("show", 10, "rejects to print")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if *tenantRef == "" || *sourceName == "" {
		return usagef("--tenant and --source are required (usage: ponte %s)", sourceUsage)
	}
	if err := noArgs(pos); err != nil {
		return err
	}
	format := ""
	if *reportPath != "" {
		switch strings.ToLower(filepath.Ext(*reportPath)) {
		case ".csv":
			format = "csv"
		case ".json":
			format = "json"
		default:
			return usagef("--reject-report %s: the file name must end in .csv or .json", *reportPath)
		}
	}
	t, err := findTenant(*tenantRef, *tenantsDir)
	if err != nil {
		return err
	}
	src, err := t.OpenSource(*sourceName)
	if err != nil {
		return usageError{err: err}
	}
	src = legacy.ForPreview(src)

	var report *legacy.RejectReport
	var reportFile *os.File
	if format != "" {
		if reportFile, err = os.Create(*reportPath); err != nil {
			return fmt.Errorf("reject report: %w", err)
		}
		defer reportFile.Close()
		if report, err = legacy.NewRejectReport(reportFile, format); err != nil {
			return err
		}
	}
	var first []legacy.Reject
	st, readErr := src.Read(ctx, func(legacy.Debtor) error { return nil }, func(r legacy.Reject) error {
		if len(first) < *show {
			first = append(first, r)
		}
		if report != nil {
			return report.Write(r)
		}
		return nil
	})
	fmt.Fprintf(stdout, "tenant %s, source %s (%s)\n", t.ID, *sourceName, src.Name())
	fmt.Fprintf(stdout, "read %d, valid %d, rejected %d\n", st.Read, st.Valid, st.Rejected)
	fmt.Fprintf(stdout, "letti %d, validi %d, scartati %d\n", st.Read, st.Valid, st.Rejected)
	for _, r := range first {
		field := r.Field
		if field == "" {
			field = "-"
		}
		fmt.Fprintf(stdout, "  %s line %d %s [%s]: %s / %s\n", r.Source, r.Line, field, r.Rule, r.MessageIT, r.MessageEN)
	}
	if st.Rejected > len(first) {
		fmt.Fprintf(stdout, "  … %d more / altri %d\n", st.Rejected-len(first), st.Rejected-len(first))
	}
	if report != nil {
		if err := report.Close(); err != nil {
			return fmt.Errorf("reject report: %w", err)
		}
		if err := reportFile.Close(); err != nil {
			return fmt.Errorf("reject report: %w", err)
		}
		fmt.Fprintf(stdout, "reject report: %s (%d rejects)\n", *reportPath, report.Count())
	}
	if readErr != nil {
		var ve *schemas.ValidationError
		var he *legacy.HeaderError
		if errors.As(readErr, &ve) || errors.As(readErr, &he) {
			return usageError{err: readErr}
		}
		return fmt.Errorf("reading source %s: %w", *sourceName, readErr)
	}
	return nil
}

// findTenant loads a tenant from a file path, or by id from a directory of configs.
func findTenant(ref, dir string) (*tenant.Tenant, error) {
	if fi, err := os.Stat(ref); err == nil && fi.Mode().IsRegular() {
		t, err := tenant.Load(ref)
		if err != nil {
			return nil, usageError{err: err}
		}
		return t, nil
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("--tenant %s: %w", ref, err)
	}
	if dir == "" {
		return nil, usagef("--tenant %s: no such file; to find a tenant by id, give --tenants DIR", ref)
	}
	ts, loadErr := tenant.LoadDir(dir)
	for _, t := range ts {
		if t.ID == ref {
			return t, nil
		}
	}
	if loadErr != nil {
		return nil, usageError{err: fmt.Errorf("tenant %q not found in %s; some configs did not load: %w", ref, dir, loadErr)}
	}
	ids := make([]string, len(ts))
	for i, t := range ts {
		ids[i] = t.ID
	}
	return nil, usagef("tenant %q not found in %s (tenants: %s)", ref, dir, strings.Join(ids, ", "))
}
