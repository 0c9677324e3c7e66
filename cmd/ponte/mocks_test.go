package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// `ponte mocks` keeps its flags and defaults, and prints one line per mock.
func TestMocksCommand(t *testing.T) {
	var help, errOut bytes.Buffer
	if code := run([]string{"mocks", "--help"}, &help, &errOut); code != exitOK {
		t.Fatalf("--help: exit %d: %s", code, errOut.String())
	}
	for _, flag := range []string{"gpd-port 18081", "io-port 18082", "smtp-port 18025", "nodo-port 18083", "idp-port 18084", "cie-port 18086", "tributi-port 18085", "smtp-http-port 18026", "webhook-port 18087", "sms-port 18088", "capfeed-port 18089", "crm-port 18090", "open311-port 18091"} {
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
	for _, f := range []string{"gpd-port", "io-port", "smtp-port", "smtp-http-port", "nodo-port", "idp-port", "cie-port", "tributi-port", "webhook-port", "sms-port", "capfeed-port", "crm-port", "open311-port"} {
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
		`^Webhook receiver  http://127\.0\.0\.1:\d+   \(secret "demo-webhook-secret-not-secret"; inspect: `,
		`^SMS gateway mock  http://127\.0\.0\.1:\d+   \(token "demo-sms-token-not-secret"; send: `,
		`^CAP feed mock     http://127\.0\.0\.1:\d+   \(Atom: http://127\.0\.0\.1:\d+/feed\.atom, RSS: http://127\.0\.0\.1:\d+/rss\.xml; publish: POST http://127\.0\.0\.1:\d+/__mock/publish; inspect: http://127\.0\.0\.1:\d+/__mock/published\)$`,
		`^CRM mock          http://127\.0\.0\.1:\d+   \(token "demo-crm-token-not-secret"; tickets: http://127\.0\.0\.1:\d+/api/tickets; status: POST http://127\.0\.0\.1:\d+/__mock/tickets/\{id\}/status; inspect: http://127\.0\.0\.1:\d+/__mock/tickets\)$`,
		`^Open311 mock      http://127\.0\.0\.1:\d+   \(api_key "demo-open311-key-not-secret"; services: http://127\.0\.0\.1:\d+/services\.json; status: POST http://127\.0\.0\.1:\d+/__mock/requests/\{id\}/status; inspect: http://127\.0\.0\.1:\d+/__mock/requests\)$`,
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

// `ponte mocks --record DIR` records what a system under test sends, and
// fails on stop when a call broke a contract, naming it.
func TestMocksRecord(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	stdout = &out
	dir := t.TempDir()
	args := []string{"--record", dir, "--smtp-ca", filepath.Join(t.TempDir(), "ca.pem"), "--gpd-port", strconv.Itoa(port)}
	for _, f := range []string{"io-port", "smtp-port", "smtp-http-port", "nodo-port", "idp-port", "cie-port", "tributi-port", "webhook-port", "sms-port", "capfeed-port", "crm-port", "open311-port"} {
		args = append(args, "--"+f, "0")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- runMocks(ctx, args) }()

	url := fmt.Sprintf("http://127.0.0.1:%d/organizations/80012345676/debtpositions", port)
	body := `{"iupd":"X-1","type":"F","fiscalCode":"RSSMRA80A01H501U","fullName":"Mario Rossi","switchToExpired":false,` +
		`"paymentOption":[{"iuv":"01000000000000144","amount":1000,"isPartialPayment":false,"dueDate":"2099-06-30T23:59:59+02:00",` +
		`"transfer":[{"idTransfer":"1","amount":1000,"remittanceInformation":"TARI","category":"9/0101100IM/","iban":"IT60X0542811101000000123456"}]}]}`
	var status int
	for i := 0; i < 200 && status == 0; i++ { // the mocks start in the background
		req, err := http.NewRequest("POST", url, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Ocp-Apim-Subscription-Key", "k")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		status = resp.StatusCode
		resp.Body.Close()
	}
	if status != http.StatusBadRequest {
		t.Fatalf("create with an offset date: status %d, want 400", status)
	}
	cancel()
	err = <-done
	if err == nil || !strings.Contains(err.Error(), "1 recorded calls broke") {
		t.Fatalf("runMocks = %v, want the broken call reported", err)
	}
	if !strings.Contains(out.String(), "createPosition") || !strings.Contains(out.String(), "dueDate") {
		t.Errorf("output does not name the call and the rule:\n%s", out.String())
	}
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"violations": 1`)) {
		t.Errorf("summary.json:\n%s", b)
	}
}
