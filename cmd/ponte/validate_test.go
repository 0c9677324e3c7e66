package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ponte-pa/ponte/internal/tenant"
)

// TestConfigValidateOffline is a comune's tenant with each problem the issue found
// that the schema alone cannot see: each is reported with file, line and fix, and
// the exit code is 2. A second tenant with the same id and a campaign definition
// are checked in the same run.
func TestConfigValidateOffline(t *testing.T) {
	dir := t.TempDir()
	path, err := tenant.WriteSample(dir, map[string]string{"GPDURL": "http://127.0.0.1:1", "IOURL": "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	def := filepath.Join(dir, "tari.yaml")
	if err := os.WriteFile(def, []byte(strings.Replace(sampleCampaign(time.Now()), "source: tributi-csv", "source: tributi", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"config", "validate", path, def}, &out, &errOut); code != exitUsage {
		t.Fatalf("exit %d, want 2 (the definition names a source the tenant lacks)\n%s%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), path+": ok") || !strings.Contains(out.String(), def+":") || !strings.Contains(out.String(), `has no source "tributi"`) {
		t.Errorf("output:\n%s", out.String())
	}

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(data), "      path: debtors.csv\n", "      path: missing.csv\n", 1)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "secrets", "gpd.key")); err != nil {
		t.Fatal(err)
	}
	twin := filepath.Join(dir, "twin.yaml")
	if err := os.WriteFile(twin, []byte(strings.Replace(text, "path: missing.csv", "path: debtors.csv", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "secrets", "gpd.key"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errOut.Reset()
	if code := run([]string{"config", "validate", path, twin}, &out, &errOut); code != exitUsage {
		t.Fatalf("exit %d, want 2\n%s%s", code, out.String(), errOut.String())
	}
	// The lines of the two keys in the sample, counted from the file.
	lineOf := func(prefix string) int {
		for i, l := range strings.Split(text, "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), prefix) {
				return i + 1
			}
		}
		t.Fatalf("the sample has no line %q", prefix)
		return 0
	}
	keyLine, pathLine := lineOf("subscriptionKey:"), lineOf("path: missing.csv")
	for _, want := range []string{
		fmt.Sprintf("%s:%d: /pagopa/gpd/subscriptionKey: secret: secret file:secrets/gpd.key does not resolve", path, keyLine),
		"is empty; create the file with the secret in it",
		fmt.Sprintf("%s:%d: /sources/tributi-csv/config/path: file: ", path, pathLine),
		"missing.csv does not exist or cannot be read",
		twin + ":3: /id: unique: tenant id \"esempio\" is also the id of " + path,
		"2 of 2 files invalid",
	} {
		if !strings.Contains(out.String()+errOut.String(), want) {
			t.Errorf("missing %q in:\n%s%s", want, out.String(), errOut.String())
		}
	}

	out.Reset()
	if code := run([]string{"config", "validate", "--help"}, &out, &errOut); code != exitOK ||
		!strings.Contains(out.String(), "Source kinds: csv, fixedwidth, inbox, rest, soap, sql") || !strings.Contains(out.String(), "Example:") {
		t.Errorf("--help:\n%s", out.String())
	}
}

// TestConfigValidateAlertDefinition: config sample writes an alert
// definition that validates against its tenant; one naming a zone the
// tenant does not have is refused with file, line and pointer.
func TestConfigValidateAlertDefinition(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	if code := run([]string{"config", "sample", dir}, &out, &errOut); code != exitOK {
		t.Fatalf("config sample: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	tn, def := filepath.Join(dir, "tenant.yaml"), filepath.Join(dir, "alerts", "allerta-arancione.yaml")
	out.Reset()
	if code := run([]string{"config", "validate", tn, def}, &out, &errOut); code != exitOK ||
		!strings.Contains(out.String(), "ok (alert definition, arancione idraulico; checked against tenant esempio)") {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errOut.String())
	}
	bad := filepath.Join(dir, "alerts", "zona.yaml")
	if err := os.WriteFile(bad, []byte("colour: rosso\nrisk: vento\nheadline: {it: Vento forte}\narea:\n  zones: [EMR-Z9]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := run([]string{"config", "validate", tn, bad}, &out, &errOut); code != exitUsage ||
		!strings.Contains(out.String(), `zona.yaml:5: /area/zones/0: reference: tenant "esempio" has no alert zone "EMR-Z9"`) {
		t.Errorf("exit %d\n%s", code, out.String())
	}
}
