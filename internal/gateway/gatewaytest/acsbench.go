package gatewaytest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/ponte-pa/ponte/connectors/spid"
	"github.com/ponte-pa/ponte/internal/gateway"
	"github.com/ponte-pa/ponte/internal/store"
	"github.com/ponte-pa/ponte/internal/tenant"
	"github.com/ponte-pa/ponte/mocks/spididp"
)

// ACSBench is the sample comune's gateway on a loopback port with the mock
// IdP, set up to measure the ACS over HTTP: Prepare has the IdP sign
// responses ahead of time (that is the IdP's work, not ours), Login
// registers the pending request in the shared store and posts the response
// as the browser would, and checks that the hand-off token came back.
// BenchmarkACS and `ponte bench spid` use it.
type ACSBench struct {
	IdP     *spididp.Server
	Gateway *gateway.Gateway
	Site    *gateway.Site
	// Store is a request store on the gateway's database, where Login
	// registers each pending request.
	Store  spid.RequestStore
	Client *http.Client

	acs     string
	db      *store.DB
	srv     *http.Server
	closers []func() error
}

// ACSBenchOptions configure StartACSBench.
type ACSBenchOptions struct {
	// Dir is where the sample tenant is written (required).
	Dir string
	// DB is the gateway's state store (required).
	DB *store.DB
	// Tune changes the loaded tenant before the gateway is built (e.g. its
	// SPID token algorithm); nil leaves the sample as it is.
	Tune func(*tenant.Tenant)
}

// BenchLogin is one login to post: the request to register and the IdP's
// signed answer to it.
type BenchLogin struct {
	Pending  spid.PendingRequest
	Response string // base64, as in the SAMLResponse form field
}

// StartACSBench starts the mock IdP and the gateway.
func StartACSBench(ctx context.Context, o ACSBenchOptions) (_ *ACSBench, err error) {
	if o.Dir == "" || o.DB == nil {
		return nil, errors.New("gatewaytest: ACS bench needs a directory and a state store")
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	b := &ACSBench{db: o.DB}
	defer func() {
		if err != nil {
			_ = b.Close()
		}
	}()
	idp, err := spididp.Start(spididp.Options{Logger: quiet})
	if err != nil {
		return nil, err
	}
	b.IdP = idp
	b.closers = append(b.closers, idp.Close)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	public := "http://" + l.Addr().String()
	path, err := tenant.WriteSample(o.Dir, map[string]string{
		"GPDURL": "http://127.0.0.1:9/gpd", "IOURL": "http://127.0.0.1:9/api/v1", "IdPURL": idp.URL(), "PublicURL": public})
	if err != nil {
		l.Close()
		return nil, err
	}
	tn, err := tenant.Load(path)
	if err != nil {
		l.Close()
		return nil, err
	}
	if o.Tune != nil {
		o.Tune(tn)
	}
	gw, err := gateway.New(ctx, []*tenant.Tenant{tn}, gateway.Options{DB: o.DB, Logger: quiet})
	if err != nil {
		l.Close()
		return nil, err
	}
	b.Gateway = gw
	b.srv = &http.Server{Handler: gw, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = b.srv.Serve(l) }()
	b.closers = append(b.closers, b.srv.Close)
	b.Site = gw.Site(tn.ID)
	if b.Site == nil {
		return nil, fmt.Errorf("gatewaytest: no site for tenant %s", tn.ID)
	}
	md, err := b.Site.SP.Metadata()
	if err != nil {
		return nil, err
	}
	if err := idp.RegisterSP(md); err != nil {
		return nil, err
	}
	if b.Store, err = spid.NewSQLStore(ctx, o.DB); err != nil {
		return nil, err
	}
	b.acs = strings.TrimRight(b.Site.SP.BaseURL(), "/") + "/spid/acs"
	b.Client = &http.Client{
		Transport:     &http.Transport{MaxIdleConnsPerHost: 64},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return b, nil
}

// Prepare builds n logins, each with a fresh request and the IdP's signed
// response to it.
func (b *ACSBench) Prepare(n int) ([]BenchLogin, error) {
	sp := b.Site.SP
	user := spididp.DefaultUsers()[0]
	out := make([]BenchLogin, 0, n)
	for range n {
		now := time.Now()
		p := spid.PendingRequest{
			ID: "_" + randHex(16), IdP: b.IdP.EntityID(), Level: 2, ACSIndex: 0, AttrIndex: 0,
			IssueInstant: now.UTC().Truncate(time.Millisecond), Expires: now.Add(10 * time.Minute),
			RelayState: "rs_" + randHex(16), ReturnTo: "/t/" + b.Site.Tenant.ID + "/app/",
		}
		raw, err := b.IdP.BuildResponse(spididp.ResponseParams{
			Request: spididp.RequestInfo{ID: p.ID, Level: 2, RelayState: p.RelayState}, ACS: b.acs,
			Audience: sp.EntityID(), User: user, Attributes: []string{"name", "familyName", "fiscalNumber", "email"},
		})
		if err != nil {
			return nil, err
		}
		out = append(out, BenchLogin{Pending: p, Response: base64.StdEncoding.EncodeToString(raw)})
	}
	return out, nil
}

// Login registers l's request and posts its response to the ACS; it fails
// unless the ACS answers with the redirect to the application and the
// hand-off token cookie.
func (b *ACSBench) Login(ctx context.Context, l BenchLogin) error {
	if err := b.Store.Put(ctx, l.Pending); err != nil {
		return err
	}
	return b.Post(ctx, l)
}

// Post posts l's response to the ACS (the request must be registered) and
// fails unless the hand-off token comes back.
func (b *ACSBench) Post(ctx context.Context, l BenchLogin) error {
	_, err := PostResponse(ctx, b.Client, b.acs, l)
	return err
}

// ACSURL is the SP's ACS URL.
func (b *ACSBench) ACSURL() string { return b.acs }

// PostResponse posts l's response to the ACS at acsURL as the browser's
// self-submitting form does and returns the hand-off token. An answer
// other than the redirect to the application with the token cookie is an
// error (*ACSError when the ACS refused the response).
func PostResponse(ctx context.Context, c *http.Client, acsURL string, l BenchLogin) (string, error) {
	form := url.Values{"SAMLResponse": {l.Response}, "RelayState": {l.Pending.RelayState}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, acsURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusSeeOther {
		ae := &ACSError{Status: resp.StatusCode, Body: string(body)}
		if m := codeRe.FindStringSubmatch(ae.Body); m != nil {
			ae.Code = m[1]
		}
		return "", ae
	}
	for _, c := range resp.Cookies() {
		if strings.HasPrefix(c.Name, "ponte_spid") && c.Value != "" {
			return c.Value, nil
		}
	}
	return "", errors.New("ACS: no token cookie in the answer")
}

// ACSError is the ACS refusing a response: its HTTP status and the error
// code shown on the error page.
type ACSError struct {
	Status int
	Code   string
	Body   string
}

func (e *ACSError) Error() string { return fmt.Sprintf("ACS: HTTP %d, code %q", e.Status, e.Code) }

var codeRe = regexp.MustCompile(`<code id="code">([^<]*)</code>`)

// FillReplayCache adds n live entries to the replay cache, as a busy hour of
// logins leaves it (two IDs a login, kept for an hour).
func (b *ACSBench) FillReplayCache(ctx context.Context, n int) error {
	until := time.Now().Add(time.Hour).Unix()
	const rows = 500
	for done := 0; done < n; {
		k := min(rows, n-done)
		tx, err := b.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		q := "INSERT INTO spid_seen (id, expires_at) VALUES " + strings.TrimSuffix(strings.Repeat("(?, ?),", k), ",")
		args := make([]any, 0, 2*k)
		for range k {
			args = append(args, "fill:"+randHex(12), until)
		}
		if _, err := tx.ExecContext(ctx, b.db.Rebind(q), args...); err != nil {
			_ = tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
		done += k
	}
	return nil
}

// Close stops the gateway and the IdP.
func (b *ACSBench) Close() error {
	var errs []error
	for i := len(b.closers) - 1; i >= 0; i-- {
		errs = append(errs, b.closers[i]())
	}
	b.closers = nil
	return errors.Join(errs...)
}

func randHex(n int) string {
	p := make([]byte, n)
	_, _ = rand.Read(p) // crypto/rand.Read never fails
	return hex.EncodeToString(p)
}

// ProcessCPU is the CPU time (user and system) this process has used, 0
// when the system does not tell: the measure of logins per core that
// BenchmarkACS and `ponte bench spid` report, which other processes sharing
// the cores inflate far less than wall time.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
