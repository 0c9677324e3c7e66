package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// `ponte mocks` keeps its flags and defaults, and prints one line per mock.
func TestMocksCommand(t *testing.T) {
	var help, errOut bytes.Buffer
	if code := run([]string{"mocks", "--help"}, &help, &errOut); code != exitOK {
		t.Fatalf("--help: exit %d: %s", code, errOut.String())
	}
	for _, flag := range []string{"gpd-port 18081", "io-port 18082", "smtp-port 18025", "nodo-port 18083", "idp-port 18084", "cie-port 18086", "tributi-port 18085", "smtp-http-port 18026"} {
		if !strings.Contains(help.String(), "[--"+flag+"]") {
			t.Errorf("usage lacks [--%s]:\n%s", flag, help.String())
		}
	}
	var out bytes.Buffer
	stdout = &out
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // print the lines and return
	ca := filepath.Join(t.TempDir(), "ca.pem")
	args := []string{"--smtp-ca", ca, "--tributi-debtors", "3"}
	for _, f := range []string{"gpd-port", "io-port", "smtp-port", "smtp-http-port", "nodo-port", "idp-port", "cie-port", "tributi-port"} {
		args = append(args, "--"+f, "0")
	}
	if err := runMocks(ctx, args); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := []string{
		`^pagoPA GPD mock   http://127\.0\.0\.1:\d+   \(inspect: http://127\.0\.0\.1:\d+/__mock/positions, http://127\.0\.0\.1:\d+/__mock/stats\)$`,
		`^App IO mock       http://127\.0\.0\.1:\d+/api/v1   \(inspect: http://127\.0\.0\.1:\d+/__mock/messages, `,
		`^SMTP mock         127\.0\.0\.1:\d+   \(user tributi; certificate written to ` + regexp.QuoteMeta(ca) + `; inspect: http://127\.0\.0\.1:\d+/__mock/messages\)$`,
		`^Nodo simulator    http://127\.0\.0\.1:\d+   \(pay: POST http://127\.0\.0\.1:\d+/__mock/pay; `,
		`^SPID IdP mock     http://127\.0\.0\.1:\d+   \(metadata: `,
		`^CIE IdP mock      http://127\.0\.0\.1:\d+   \(metadata: `,
		`^Tributi mock      http://127\.0\.0\.1:\d+   \(REST: `,
		`/__mock/faults`,
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), out.String())
	}
	for i, re := range want {
		if !regexp.MustCompile(re).MatchString(lines[i]) {
			t.Errorf("line %d %q does not match %s", i, lines[i], re)
		}
	}
	if b, err := os.ReadFile(ca); err != nil || !bytes.Contains(b, []byte("BEGIN CERTIFICATE")) {
		t.Errorf("SMTP CA file: %v %q", err, b)
	}
}
