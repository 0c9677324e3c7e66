package clients_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ponte-pa/ponte/connectors/appio"
	"github.com/ponte-pa/ponte/connectors/pagopa"
	"github.com/ponte-pa/ponte/internal/conformance"
	"github.com/ponte-pa/ponte/internal/conformance/clients"
)

// The clients under test run as the suite runs a comune's own test
// command: this test binary, started again with PONTE_CONFORMANCE_CLIENT
// naming the client to play, reading the mock's URL from GPD_URL / IO_URL.
func TestMain(m *testing.M) {
	if mode := os.Getenv("PONTE_CONFORMANCE_CLIENT"); mode != "" {
		base := os.Getenv("GPD_URL")
		if strings.HasPrefix(mode, "io-") {
			base = os.Getenv("IO_URL")
		}
		if err := playClient(context.Background(), mode, base); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

const (
	org     = "01234567890"
	citizen = "RSSMRA80A01H501U"
)

func position(n int) (pagopa.PaymentPosition, error) {
	iuv, err := pagopa.NewIUV("01", fmt.Sprintf("%013d", n))
	if err != nil {
		return pagopa.PaymentPosition{}, err
	}
	due := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Second)
	return pagopa.PaymentPosition{
		IUPD: fmt.Sprintf("TARI-2026-%06d", n), Type: pagopa.TypePerson,
		FiscalCode: citizen, FullName: "Mario Rossi", CompanyName: "Comune di Prova", OfficeName: "Ufficio Tributi", Country: "IT",
		PaymentOption: []pagopa.PaymentOption{{
			IUV: iuv, Amount: 12050, Description: "TARI 2026 rata unica", DueDate: due,
			Transfer: []pagopa.Transfer{{IDTransfer: "1", Amount: 12050, RemittanceInformation: "TARI 2026", Category: "9/0101100IM/", IBAN: "IT60X0542811101000000123456"}},
		}},
	}, nil
}

const markdown = "Gentile contribuente, è disponibile l'avviso di pagamento della TARI 2026: puoi pagarlo con pagoPA dall'app IO."

// playClient plays the client mode against the mock at base.
func playClient(ctx context.Context, mode, base string) error {
	switch mode {
	case "gpd-good":
		c := pagopa.NewGPDClient(pagopa.GPDOptions{BaseURL: base, SubscriptionKey: "test-key"})
		p1, err := position(1)
		if err != nil {
			return err
		}
		if _, err := c.Create(ctx, org, p1, true); err != nil {
			return err
		}
		p2, err := position(2)
		if err != nil {
			return err
		}
		if _, err := c.Create(ctx, org, p2, false); err != nil {
			return err
		}
		if _, err := c.Publish(ctx, org, p2.IUPD); err != nil {
			return err
		}
		_, err = c.Get(ctx, org, p1.IUPD)
		return err
	case "gpd-bad":
		// A hand-made client: the debtor's type is "persona", which the
		// contract's enum (F, G) does not have; it never publishes.
		body := `{"iupd":"TARI-2026-000009","type":"persona","fiscalCode":"` + citizen + `","fullName":"Mario Rossi","companyName":"Comune di Prova",` +
			`"paymentOption":[{"iuv":"01000000000000963","amount":12050,"description":"TARI","isPartialPayment":false,"dueDate":"2030-12-31T00:00:00",` +
			`"transfer":[{"idTransfer":"1","amount":12050,"remittanceInformation":"TARI","category":"9/0101100IM/","iban":"IT60X0542811101000000123456"}]}]}`
		return post(ctx, base+"/organizations/"+org+"/debtpositions", "Ocp-Apim-Subscription-Key", body)
	case "io-good":
		c := appio.NewClient(appio.Options{BaseURL: base})
		p, err := c.GetProfile(ctx, "test-key", citizen)
		if err != nil {
			return err
		}
		if !p.SenderAllowed {
			return errors.New("profile does not allow messages")
		}
		_, err = c.SubmitMessage(ctx, "test-key", appio.NewMessage{FiscalCode: citizen,
			Content: appio.MessageContent{Subject: "Avviso TARI 2026", Markdown: markdown}})
		return err
	case "io-bad":
		// No profile lookup, and a subject of 5 characters (10..120).
		body := `{"fiscal_code":"` + citizen + `","content":{"subject":"Tassa","markdown":"` + markdown + `"}}`
		return post(ctx, base+"/messages", "Ocp-Apim-Subscription-Key", body)
	}
	return fmt.Errorf("no client %q", mode)
}

// post sends body and, like a careless client, ignores the answer's status.
func post(ctx context.Context, url, keyHeader, body string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(keyHeader, "test-key")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

func command(mode string) string {
	return "PONTE_CONFORMANCE_CLIENT=" + mode + " '" + os.Args[0] + "'"
}

func runSuite(t *testing.T, name, target string, opts map[string]string) (*conformance.Report, string) {
	t.Helper()
	s, err := conformance.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	if opts["record"] == "" {
		opts["record"] = t.TempDir()
	}
	var log bytes.Buffer
	rep, err := conformance.Run(context.Background(), s, &conformance.Target{URL: target, Options: opts, Log: &log}, 0)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	return rep, log.String()
}

// outcome is a report as case name → "" (passed), "SKIP" or the error.
func outcome(rep *conformance.Report) map[string]string {
	out := map[string]string{}
	for _, r := range rep.Results {
		switch {
		case r.Skipped:
			out[r.Case.Name] = "SKIP"
		case r.Err != nil:
			out[r.Case.Name] = r.Err.Error()
		default:
			out[r.Case.Name] = ""
		}
	}
	return out
}

func TestPonteClientsConform(t *testing.T) {
	for _, tc := range []struct {
		suite, mode string
		calls       []string // the recorded calls' cases, in order
	}{
		{clients.GPD, "gpd-good", []string{
			"call/001 POST /organizations/01234567890/debtpositions createPosition",
			"call/002 POST /organizations/01234567890/debtpositions createPosition",
			"call/003 POST /organizations/01234567890/debtpositions/TARI-2026-000002/publish publishPosition",
			"call/004 GET /organizations/01234567890/debtpositions/TARI-2026-000001 getOrganizationDebtPositionByIUPD"}},
		{clients.AppIO, "io-good", []string{
			"call/001 GET /api/v1/profiles/{fiscal_code} getProfile",
			"call/002 POST /api/v1/messages submitMessageforUserWithFiscalCodeInBody"}},
	} {
		t.Run(tc.suite, func(t *testing.T) {
			rep, log := runSuite(t, tc.suite, "http://127.0.0.1:0", map[string]string{"command": command(tc.mode)})
			got := outcome(rep)
			var calls []string
			for _, r := range rep.Results {
				if strings.HasPrefix(r.Case.Name, "call/") {
					calls = append(calls, r.Case.Name)
				}
				if r.Err != nil {
					t.Errorf("%s: %v", r.Case.Name, r.Err)
				}
			}
			if !slices.Equal(calls, tc.calls) {
				t.Errorf("call cases %q, want %q\n%s", calls, tc.calls, log)
			}
			for _, name := range []string{"client/command", "client/calls"} {
				if v, ok := got[name]; !ok || v != "" {
					t.Errorf("%s: %q (present %v)", name, v, ok)
				}
			}
		})
	}
}

func TestBrokenClientsFail(t *testing.T) {
	for _, tc := range []struct {
		suite, mode string
		want        map[string]string // failing case → what its error says
	}{
		{clients.GPD, "gpd-bad", map[string]string{
			"call/001 POST /organizations/01234567890/debtpositions createPosition": "#1 gpd POST /organizations/01234567890/debtpositions (createPosition): request: ",
			"coverage/create-and-publish":                                           "no debt position was both created and published (1 createPosition calls",
		}},
		{clients.AppIO, "io-bad", map[string]string{
			"call/001 POST /api/v1/messages submitMessageforUserWithFiscalCodeInBody": "request: ",
			"coverage/profile-before-message":                                         "1 of 1 messages were sent with no profile lookup of their fiscal code before them: call/001",
		}},
	} {
		t.Run(tc.suite, func(t *testing.T) {
			rep, log := runSuite(t, tc.suite, "127.0.0.1:0", map[string]string{"command": command(tc.mode)})
			got := outcome(rep)
			for name, msg := range tc.want {
				if e, ok := got[name]; !ok || e == "" || !strings.Contains(e, msg) {
					t.Errorf("%s: %q (present %v), want a failure saying %q\n%s", name, e, ok, msg, log)
				}
			}
			if rep.Failed() != len(tc.want) {
				t.Errorf("%d cases failed, want %d: %v", rep.Failed(), len(tc.want), got)
			}
		})
	}
	t.Run("subject", func(t *testing.T) {
		rep, log := runSuite(t, clients.AppIO, "127.0.0.1:0", map[string]string{"command": command("io-bad")})
		e := outcome(rep)["call/001 POST /api/v1/messages submitMessageforUserWithFiscalCodeInBody"]
		if !strings.Contains(e, "subject") {
			t.Errorf("the bad message's case does not name the subject: %s\n%s", e, log)
		}
	})
}

// TestCommandFails: a test command that fails, having called nothing,
// fails with its output.
func TestCommandFails(t *testing.T) {
	rep, log := runSuite(t, clients.GPD, "127.0.0.1:0", map[string]string{"command": "echo no GPD_URL here; exit 3"})
	got := outcome(rep)
	if e := got["client/command"]; !strings.Contains(e, "exit status 3") || !strings.Contains(e, "no GPD_URL here") {
		t.Errorf("client/command: %q\n%s", e, log)
	}
	if e := got["client/calls"]; !strings.Contains(e, "no call reached the gpd mock") {
		t.Errorf("client/calls: %q\n%s", e, log)
	}
}

// TestWaitEndsOnDone is the CI shape where the client runs beside the
// suite: it calls the mock at --target, then posts DonePath.
func TestWaitEndsOnDone(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	base := "http://" + addr
	clientErr := make(chan error, 1)
	go func() {
		ctx := context.Background()
		for {
			resp, err := http.Get(base + "/__mock/stats")
			if err == nil {
				if err := resp.Body.Close(); err != nil {
					clientErr <- err
					return
				}
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err := playClient(ctx, "io-good", base+"/api/v1"); err != nil {
			clientErr <- err
			return
		}
		clientErr <- post(ctx, base+clients.DonePath, "X-Any", "")
	}()
	start := time.Now()
	rep, log := runSuite(t, clients.AppIO, base, map[string]string{"wait": "10m"})
	if err := <-clientErr; err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 5*time.Minute {
		t.Errorf("the wait did not end on %s", clients.DonePath)
	}
	if rep.Failed() != 0 || len(rep.Results) != 4 {
		t.Errorf("%d results, %d failed: %v\n%s", len(rep.Results), rep.Failed(), outcome(rep), log)
	}
}

func TestOptionErrors(t *testing.T) {
	for _, tc := range []struct {
		target string
		opts   map[string]string
		want   string
	}{
		{"http://127.0.0.1:18081", map[string]string{}, "needs --opt command=…"},
		{"http://127.0.0.1:18081", map[string]string{"wait": "soon"}, "positive duration"},
		{"https://gpd.example.it/v1", map[string]string{"wait": "1s"}, "http://host:port"},
		{"127.0.0.1", map[string]string{"wait": "1s"}, "http://host:port"},
	} {
		s, err := conformance.Lookup(clients.GPD)
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Cases(context.Background(), &conformance.Target{URL: tc.target, Options: tc.opts})
		if !errors.Is(err, conformance.ErrOption) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %v: %v, want an option error saying %q", tc.target, tc.opts, err, tc.want)
		}
	}
}
