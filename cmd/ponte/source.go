package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/ponte-pa/ponte/connectors/legacy"
	"github.com/ponte-pa/ponte/internal/tenant"
	"github.com/ponte-pa/ponte/schemas"
)

const sourceUsage = "source check --tenant FILE_OR_ID --source NAME [--tenants DIR] [--reject-report rejects.csv|rejects.json] [--show N]"

var sourceCommands = []*command{
	{name: "check", summary: "read a tenant's legacy source as a campaign would, without side effects: valid/invalid counts, the first records as they will be used, the first rejects and warnings (wrong encoding, duplicates), and every reject in a report (CSV or JSON, it/en)", run: runSourceCheck, help: sourceCheckHelp},
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
	show := fs.Int("show", 10, "valid records (decoded, as a campaign will use them), rejects and warnings to print")
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
	var shown []legacy.Debtor
	type warning struct {
		line       int
		key, field string
		it, en     string
	}
	var warnings []warning
	nWarn := 0
	st, readErr := src.Read(ctx, func(d legacy.Debtor) error {
		if len(shown) < *show {
			shown = append(shown, d)
		}
		for _, w := range d.Warnings {
			nWarn++
			if len(warnings) < *show {
				warnings = append(warnings, warning{d.Line, d.Key, w.Field, w.MessageIT, w.MessageEN})
			}
		}
		for _, f := range []struct{ name, v string }{{"name", d.Name}, {"surname", d.Surname}, {"description", d.Description}} {
			if why := legacy.SuspectText(f.v); why != "" {
				nWarn++
				if len(warnings) < *show {
					warnings = append(warnings, warning{d.Line, d.Key, f.name, "testo forse decodificato male: " + clipText(f.v) + " — controllare encoding", f.name + " " + why + ": " + clipText(f.v)})
				}
				break
			}
		}
		return nil
	}, func(r legacy.Reject) error {
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
	if len(shown) > 0 {
		fmt.Fprintf(stdout, "first %d valid records, as a campaign will use them / primi record validi:\n", len(shown))
		for _, d := range shown {
			name := strings.TrimSpace(d.Name + " " + d.Surname)
			fmt.Fprintf(stdout, "  line %d [%s] %s %s, %s euro, due %s, %q", d.Line, d.Key, d.FiscalCode, name, euro(d.AmountCents), d.DueDate, clipText(d.Description))
			if d.Email != "" {
				fmt.Fprintf(stdout, ", %s", d.Email)
			}
			if d.IBAN != "" {
				fmt.Fprintf(stdout, ", IBAN %s", d.IBAN)
			}
			if d.Phone != "" {
				fmt.Fprintf(stdout, ", %s", d.Phone)
			}
			fmt.Fprintln(stdout)
		}
	}
	if nWarn > 0 {
		fmt.Fprintf(stdout, "warnings %d / avvisi %d:\n", nWarn, nWarn)
		for _, w := range warnings {
			fmt.Fprintf(stdout, "  line %d [%s] %s: %s / %s\n", w.line, w.key, w.field, w.it, w.en)
		}
		if nWarn > len(warnings) {
			fmt.Fprintf(stdout, "  … %d more / altri %d\n", nWarn-len(warnings), nWarn-len(warnings))
		}
	}
	if len(first) > 0 {
		fmt.Fprintln(stdout, "rejects / scarti:")
	}
	for _, r := range first {
		field := r.Field
		if field == "" {
			field = "-"
		}
		key := ""
		if r.Key != "" {
			key = " [" + r.Key + "]"
		}
		fmt.Fprintf(stdout, "  %s line %d%s %s [%s]: %s / %s\n", r.Source, r.Line, key, field, r.Rule, r.MessageIT, r.MessageEN)
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

// clipText keeps a value short enough for one line of output.
func clipText(s string) string {
	if utf8.RuneCountInString(s) > 60 {
		return string([]rune(s)[:60]) + "…"
	}
	return s
}

// euro writes cents as 1234,56.
func euro(c int64) string { return fmt.Sprintf("%d,%02d", c/100, c%100) }

// sourceCheckHelp lists every source kind with its fields, from the kinds'
// schemas, and an example.
func sourceCheckHelp() string {
	var b strings.Builder
	b.WriteString("Source kinds and their config fields (* required):\n")
	for _, k := range legacy.Kinds() {
		name, _ := legacy.ConfigSchema(k)
		raw, ok := schemas.Raw(name)
		if !ok {
			continue
		}
		var sch struct {
			Title      string                     `json:"title"`
			Required   []string                   `json:"required"`
			Properties map[string]json.RawMessage `json:"properties"`
		}
		if err := json.Unmarshal(raw, &sch); err != nil {
			continue
		}
		fields := make([]string, 0, len(sch.Properties))
		for f := range sch.Properties {
			if slices.Contains(sch.Required, f) {
				f += "*"
			}
			fields = append(fields, f)
		}
		slices.Sort(fields)
		fmt.Fprintf(&b, "  %s: %s (%s)\n    %s\n", k, sch.Title, name, strings.Join(fields, ", "))
	}
	b.WriteString(`Record fields a source maps: ` + "externalId (optional), fiscalCode, name, surname, email, amount, dueDate, description, iban, phone" + `.
Without externalId a record is known by its identity fields or its line; duplicates
(fields + reject|warn|allow) says when two records are the same debt; exact
duplicate rows are always rejected.

Example source (tenant.yaml):
  sources:
    tributi-csv:
      kind: csv
      config:
        path: export-tari.csv
        delimiter: ";"
        encoding: windows-1252
        dateFormat: YYYYMMDD
        duplicates: {fields: [fiscalCode, amount, anno], action: reject}
Example check:
  ponte source check --tenant my-comune/tenant.yaml --source tributi-csv --show 5 --reject-report scarti.csv`)
	return b.String()
}
