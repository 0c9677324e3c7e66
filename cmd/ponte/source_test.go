package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ponte-pa/ponte/connectors/legacy"
	"github.com/ponte-pa/ponte/internal/tenant"
)

func sourceSample(t *testing.T) (dir, path string) {
	t.Helper()
	dir = t.TempDir()
	path, err := tenant.WriteSample(dir, map[string]string{"GPDURL": "http://127.0.0.1:1/gpd", "IOURL": "http://127.0.0.1:1/io"})
	if err != nil {
		t.Fatal(err)
	}
	return dir, path
}

func runSourceOut(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	old := stdout
	stdout = &out
	defer func() { stdout = old }()
	err := runGroup(context.Background(), "source", args)
	return out.String(), err
}

func TestSourceCheck(t *testing.T) {
	dir, path := sourceSample(t)
	report := filepath.Join(t.TempDir(), "rejects.json")
	out, err := runSourceOut(t, "check", "--tenant", path, "--source", "tributi-csv", "--reject-report", report)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "read 20, valid 18, rejected 2") || !strings.Contains(out, "letti 20, validi 18, scartati 2") || strings.Count(out, "csv:debtors.csv line") != 2 {
		t.Errorf("output:\n%s", out)
	}
	var rejects []legacy.Reject
	data, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &rejects); err != nil || len(rejects) != 2 || rejects[0].MessageIT == "" || rejects[0].MessageEN == "" {
		t.Errorf("report %s: %v", data, err)
	}

	// By id from a directory, CSV report, one reject shown.
	report = filepath.Join(t.TempDir(), "rejects.csv")
	out, err = runSourceOut(t, "check", "--tenant", "esempio", "--tenants", dir, "--source", "tributi-csv", "--reject-report", report, "--show", "1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "… 1 more") || !strings.Contains(out, "reject report: "+report+" (2 rejects)") {
		t.Errorf("output:\n%s", out)
	}
	if data, err := os.ReadFile(report); err != nil || strings.Count(string(data), "\n") != 3 {
		t.Errorf("csv report: %v\n%s", err, data)
	}
}

func TestSourceCheckErrors(t *testing.T) {
	dir, path := sourceSample(t)
	for _, tc := range []struct {
		name  string
		args  []string
		usage bool
		want  string
	}{
		{"no subcommand", nil, true, "missing subcommand"},
		{"missing flags", []string{"check", "--tenant", path}, true, "required"},
		{"bad report ext", []string{"check", "--tenant", path, "--source", "tributi-csv", "--reject-report", "r.txt"}, true, ".csv or .json"},
		{"unknown source", []string{"check", "--tenant", path, "--source", "nope"}, true, "no source"},
		{"unknown id", []string{"check", "--tenant", "altro", "--tenants", dir, "--source", "tributi-csv"}, true, "not found"},
		{"no dir", []string{"check", "--tenant", "esempio", "--source", "tributi-csv"}, true, "--tenants"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runSourceOut(t, tc.args...)
			if err == nil || errors.As(err, new(usageError)) != tc.usage || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v (usage error: %v), want %q", err, errors.As(err, new(usageError)), tc.want)
			}
		})
	}
	// The file went missing: an I/O failure, exit code 1.
	if err := os.Remove(filepath.Join(dir, "debtors.csv")); err != nil {
		t.Fatal(err)
	}
	_, err := runSourceOut(t, "check", "--tenant", path, "--source", "tributi-csv")
	if err == nil || errors.As(err, new(usageError)) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// TestSourceCheckShowsRecordsAndWarns: --show prints the first valid records as a
// campaign will use them, and a UTF-8 export declared windows-1252 is flagged.
func TestSourceCheckShowsRecordsAndWarns(t *testing.T) {
	_, path := sourceSample(t)
	out, err := runSourceOut(t, "check", "--tenant", path, "--source", "tributi-csv", "--show", "6")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "first 6 valid records") || !strings.Contains(out, "line 7 [TARI-2026-000006] BNCNCC80A01H501A Niccolò Bianco, 312,00 euro, due 2026-06-30") ||
		strings.Contains(out, "warnings") {
		t.Errorf("output:\n%s", out)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(data), "encoding: utf-8", "encoding: windows-1252", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = runSourceOut(t, "check", "--tenant", path, "--source", "tributi-csv", "--show", "6")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "warnings 1 / avvisi 1") || !strings.Contains(out, "line 7 [TARI-2026-000006] name: ") ||
		!strings.Contains(out, "set encoding: utf-8") || !strings.Contains(out, "NiccolÃ²") {
		t.Errorf("output:\n%s", out)
	}
}

func TestSourceCheckHelpListsKinds(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"source", "check", "--help"}, &out, &errOut); code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"csv: CSV debtors source", "sql: ", "query", "duplicates", "dateFormat", "Example source", "--show 5"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--help lacks %q:\n%s", want, out.String())
		}
	}
}
