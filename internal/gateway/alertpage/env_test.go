package alertpage_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ponte-pa/ponte/internal/fixtures"
	"github.com/ponte-pa/ponte/internal/gateway"
	"github.com/ponte-pa/ponte/internal/gateway/alertpage"
	"github.com/ponte-pa/ponte/internal/gateway/gatewaytest"
	"github.com/ponte-pa/ponte/internal/runtime"
	"github.com/ponte-pa/ponte/internal/tenant"
	appiomock "github.com/ponte-pa/ponte/mocks/appio"
	"github.com/ponte-pa/ponte/mocks/mockset"
	smsmock "github.com/ponte-pa/ponte/mocks/sms"
	smtpmock "github.com/ponte-pa/ponte/mocks/smtp"
	"github.com/ponte-pa/ponte/workflows/alert"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// pushToken is the sample comune's alerts.pushToken in these tests.
const pushToken = "push-token-for-tests-only"

type env struct {
	rt     *runtime.Runtime
	mocks  *mockset.Set
	st     *alert.Store
	base   string // the gateway's root URL
	page   string // the operators' page: base + /t/esempio/allerte
	people []fixtures.Resident
}

// start runs the mocks (the SPID IdP among them), the embedded Temporal
// server with the workers, and the gateway with the operators' page for
// the sample comune, whose residents are n people of fixtures.Residents.
func start(t *testing.T, n int) *env {
	t.Helper()
	ps := fixtures.Residents(n, 7)
	profiles := map[string]appiomock.ProfileSpec{}
	var sms smsmock.Options
	for _, p := range ps {
		if p.FiscalCode != "" && p.OnIO {
			profiles[p.FiscalCode] = appiomock.ProfileSpec{SenderAllowed: true}
		}
		if p.Phone != "" && !p.SMSWorks {
			sms.Unreachable = append(sms.Unreachable, p.Phone)
		}
	}
	dir := t.TempDir()
	mocks, err := mockset.Start(mockset.Options{Config: mockset.Config{appiomock.Kind: appiomock.Options{Profiles: profiles}, smsmock.Kind: sms,
		smtpmock.Kind: mockset.SampleSMTP(dir)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mocks.Close)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	public := "http://" + l.Addr().String()
	path, err := tenant.WriteSample(dir, map[string]string{"GPDURL": mocks.GPDURL, "IOURL": mocks.IOURL, "SMTPAddr": mocks.SMTPAddr,
		"SMSURL": mocks.URL(smsmock.Kind), "WebhookURL": mocks.WebhookURL, "IdPURL": mocks.IdPURL, "PublicURL": public})
	if err != nil {
		t.Fatal(err)
	}
	addPushToken(t, path)
	if err := fixtures.WriteResidentsCSV(filepath.Join(dir, "residenti.csv"), ps, 3); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rt, err := runtime.Start(ctx, runtime.Config{Tenants: []string{path}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.Close)
	if err := rt.StartWorkers(ctx, runtime.WorkerOptions{}); err != nil {
		t.Fatal(err)
	}
	st, err := alert.NewStore(ctx, rt.DB)
	if err != nil {
		t.Fatal(err)
	}
	pages, err := alertpage.New(ctx, alertpage.Options{Client: rt.Client, Store: st, DB: rt.DB, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	gw, err := gateway.New(ctx, rt.Tenants(), gateway.Options{DB: rt.DB, Logger: quiet, Mount: pages.Mount})
	if err != nil {
		t.Fatal(err)
	}
	site := gw.Site("esempio")
	if site == nil {
		t.Fatal("no site for the sample comune")
	}
	md, err := site.SP.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	if err := mocks.IdP.RegisterSP(md); err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: gw, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
	})
	return &env{rt: rt, mocks: mocks, st: st, base: public, page: public + "/t/esempio/allerte", people: ps}
}

// addPushToken gives the sample comune an alerts.pushToken in a secret file.
func addPushToken(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const op = "  operators: [RSSMRA85T10A562S]\n"
	if !strings.Contains(string(b), op) {
		t.Fatalf("the sample tenant has no %q line to add the push token after", op)
	}
	y := strings.Replace(string(b), op, op+"  pushToken: file:secrets/push.token\n", 1)
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(path), "secrets", "push.token"), []byte(pushToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// login logs user in through the operators' page: its login link, the
// landing page, the mock IdP; it returns the page the login ends on.
func (e *env) login(t *testing.T, b *gatewaytest.Browser, user string) *gatewaytest.Page {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := b.Get(ctx, e.page+"/")
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != http.StatusUnauthorized || len(p.Links("button")) == 0 {
		t.Fatalf("the page without a session: HTTP %d, want 401 with a login link\n%s", p.Status, p.Body)
	}
	landing, err := b.Get(ctx, p.Links("button")[0].URL)
	if err != nil {
		t.Fatal(err)
	}
	idps := landing.Links("spid-idp")
	if len(idps) == 0 {
		t.Fatalf("no IdP on the landing page %s", landing.URL)
	}
	end, err := b.FollowLogin(ctx, idps[0].URL, user, "password")
	var le *gatewaytest.LoginError
	if err != nil && (!errors.As(err, &le) || end == nil) {
		t.Fatal(err)
	}
	return end
}

// formOf finds the page's form whose action ends with suffix.
func formOf(t *testing.T, p *gatewaytest.Page, suffix string) *gatewaytest.Form {
	t.Helper()
	for _, f := range p.Forms() {
		if strings.HasSuffix(f.Action, suffix) && f.Method == http.MethodPost {
			return f
		}
	}
	t.Fatalf("no form posting to …%s on %s (HTTP %d)\n%s", suffix, p.URL, p.Status, p.Body)
	return nil
}

// progressView is the progress JSON of the alert page.
type progressView struct {
	Progress *alert.Progress `json:"progress"`
	Error    string          `json:"error"`
	Channels []struct {
		Channel      string
		Sent, Failed int
	} `json:"channels"`
	Unreached []struct {
		Name, Phone, Email, Attempts string
	} `json:"unreached"`
	UnreachedTotal int  `json:"unreachedTotal"`
	Final          bool `json:"final"`
}

// waitProgress polls the alert's progress JSON, as the page's script
// does, until its phase is phase.
func (e *env) waitProgress(t *testing.T, b *gatewaytest.Browser, id, phase string) progressView {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	var v progressView
	for time.Now().Before(deadline) {
		v = progressView{}
		resp, err := b.Client.Get(e.page + "/a/" + id + "/progress")
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(&v)
		if cerr := resp.Body.Close(); cerr != nil {
			t.Fatal(cerr)
		}
		if resp.StatusCode != http.StatusOK || err != nil {
			t.Fatalf("progress: HTTP %d, %v", resp.StatusCode, err)
		}
		if v.Progress != nil && v.Progress.Phase == phase {
			return v
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("alert %s never reached phase %s: %+v (%+v)", id, phase, v, v.Progress)
	return v
}
