package main

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ponte-pa/ponte/connectors/pagopa"
	"github.com/ponte-pa/ponte/connectors/pagopa/nodo"
	"github.com/ponte-pa/ponte/internal/conformance"
)

// TestConformanceRun runs `ponte conformance run --suite nodo-ec` against
// Ponte's EC endpoint holding an open notice: exit 0 and a JUnit report;
// a second run finds the notice paid (the suite pays it) and exits 1 with
// the failed cases; bad options exit 2.
func TestConformanceRun(t *testing.T) {
	const org, station = "01234567890", "01234567890_01"
	iuv, err := pagopa.NewIUV("01", "0000000000042")
	if err != nil {
		t.Fatal(err)
	}
	mem := nodo.NewMemoryBackend(nil)
	if err := mem.Add(nodo.MemoryNotice{OrgFiscalCode: org, NAV: "3" + iuv, Payment: nodo.Payment{AmountCents: 6780,
		DueDate: time.Date(2030, 12, 31, 0, 0, 0, 0, time.UTC), Description: "TARI 2030", CompanyName: "Comune di Esempio",
		Debtor:    pagopa.Party{Type: "F", FiscalCode: "RSSMRA80A01H501U", Name: "Mario Rossi"},
		Transfers: []pagopa.ReceiptTransfer{{ID: 1, AmountCents: 6780, OrgFiscalCode: org, IBAN: "IT60X0542811101000000123456", Remittance: "TARI", Category: "9/0101100IM/"}}}}); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	if _, err := nodo.MountTenant(mux, "esempio", org, mem, nodo.Options{StationID: station, Logger: slog.New(slog.DiscardHandler)}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	junit := filepath.Join(t.TempDir(), "nodo-ec.xml")
	args := []string{"conformance", "run", "--suite", "nodo-ec", "--target", srv.URL + nodo.TenantPath("esempio"),
		"--opt", "ec=" + org, "--opt", "station=" + station, "--opt", "nav=3" + iuv, "--opt", "amount=67.80", "--junit", junit}
	var out, errOut bytes.Buffer
	if code := run(args, &out, &errOut); code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errOut.String())
	}
	for _, s := range []string{"PASS  verify/ok  [", "SKIP  verify/wrong-broker", "PASS  nodo-ec: 16 passed, 0 failed, 2 skipped of 18 cases", "(conforme: 16 superati"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("output lacks %q:\n%s", s, out.String())
		}
	}
	b, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `<testsuite name="nodo-ec `) || !strings.Contains(string(b), `tests="18" failures="0" skipped="2"`) {
		t.Errorf("JUnit report:\n%s", b)
	}

	out.Reset()
	errOut.Reset()
	if code := run(args, &out, &errOut); code != exitFail {
		t.Fatalf("second run: exit %d, want 1\n%s%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "FAIL  verify/ok") || !strings.Contains(errOut.String(), "cases failed") {
		t.Errorf("second run:\n%s%s", out.String(), errOut.String())
	}

	for _, bad := range [][]string{
		{"conformance", "run", "--suite", "nodo-ec", "--target", srv.URL},
		{"conformance", "run", "--suite", "no-such-suite", "--target", srv.URL},
		{"conformance", "run", "--target", srv.URL},
		{"conformance", "run", "--suite", "nodo-ec", "--target", srv.URL, "--opt", "ec"},
	} {
		out.Reset()
		errOut.Reset()
		if code := run(bad, &out, &errOut); code != exitUsage {
			t.Errorf("%q: exit %d, want 2\n%s%s", bad, code, out.String(), errOut.String())
		}
	}
}

func TestConformanceList(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"conformance", "list"}, &out, &errOut); code != exitOK {
		t.Fatalf("exit %d\n%s", code, errOut.String())
	}
	for _, s := range []string{"appio-client\n", "gpd-client\n", "nodo-ec\n", "    soap/1.2 ", "coverage/create-and-publish"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("list lacks %q:\n%s", s, out.String())
		}
	}
}

// TestCIExamplesRunRealSuites: the pipelines in deploy/ci run each suite
// with flags `ponte conformance run` has.
func TestCIExamplesRunRealSuites(t *testing.T) {
	cmdRe := regexp.MustCompile(`(?s)ponte conformance run (.*?--junit \S+)`)
	flagRe := regexp.MustCompile(`--([a-z-]+)`)
	suiteRe := regexp.MustCompile(`--suite (\S+)`)
	known := map[string]bool{"suite": true, "target": true, "opt": true, "junit": true, "case-timeout": true}
	for _, f := range []string{"github-actions.yml", "gitlab-ci.yml"} {
		b, err := os.ReadFile(filepath.Join("../../deploy/ci", f))
		if err != nil {
			t.Fatal(err)
		}
		var suites []string
		for _, m := range cmdRe.FindAllStringSubmatch(string(b), -1) {
			for _, fm := range flagRe.FindAllStringSubmatch(m[1], -1) {
				if !known[fm[1]] {
					t.Errorf("%s: unknown flag --%s", f, fm[1])
				}
			}
			for _, sm := range suiteRe.FindAllStringSubmatch(m[1], -1) {
				if _, err := conformance.Lookup(sm[1]); err != nil {
					t.Errorf("%s: %v", f, err)
				}
				suites = append(suites, sm[1])
			}
		}
		slices.Sort(suites)
		if want := []string{"appio-client", "gpd-client", "nodo-ec"}; !slices.Equal(suites, want) {
			t.Errorf("%s runs suites %q, want %q", f, suites, want)
		}
	}
}
