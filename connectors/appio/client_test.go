package appio

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ponte-pa/ponte/connectors/appio/appiotest"
	appiomock "github.com/ponte-pa/ponte/mocks/appio"
	"github.com/ponte-pa/ponte/schemas/contracts/contractstest"

	"github.com/ponte-pa/ponte/connectors/failure"
)

const (
	keyPayments = "k-payments-0123456789abcdef"
	keyAlerts   = "k-alerts-0123456789abcdef"
	keyDisabled = "k-disabled-0123456789abcdef"
)

// fakeClock is a settable clock; step > 0 advances it on every reading.
type fakeClock struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.t
	c.t = c.t.Add(c.step)
	return now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	client *Client
	mock   *appiomock.Server
	spec   *contractstest.Transport
	url    string
	clock  *fakeClock
}

func defaultMockOptions(clock *fakeClock) appiomock.Options {
	return appiomock.Options{
		Services: map[string]appiomock.Service{
			keyPayments: {ID: "01SVCPAYMENTS", Name: "Pagamenti", Allowed: true},
			keyAlerts:   {ID: "01SVCALERTS", Name: "Allerte", Allowed: true},
			keyDisabled: {ID: "01SVCDISABLED", Name: "Disattivato", Allowed: false},
		},
		Profiles: map[string]appiomock.ProfileSpec{
			fcAllowed:  {SenderAllowed: true, Languages: []string{"it_IT", "en_GB"}},
			fcOptedOut: {SenderAllowed: false},
			fcFailing:  {SenderAllowed: true, Outcome: appiomock.StatusFailed},
			fcThrottle: {SenderAllowed: true, Outcome: appiomock.StatusThrottled},
		},
		Now: clock.Now,
	}
}

// newEnv starts the mock on loopback and a client whose traffic is checked
// against the spec in both directions.
func newEnv(t testing.TB, edit func(*appiomock.Options), copts Options) *env {
	t.Helper()
	clock := newFakeClock()
	opts := defaultMockOptions(clock)
	if edit != nil {
		edit(&opts)
	}
	mock := appiomock.New(opts)
	ts := httptest.NewServer(mock)
	t.Cleanup(ts.Close)
	base := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(base.CloseIdleConnections)
	spec := appiotest.NewTransport(t, base)
	copts.BaseURL = ts.URL + "/api/v1"
	copts.HTTPClient = &http.Client{Transport: spec, Timeout: 10 * time.Second}
	if copts.RetryWaitMin == 0 {
		copts.RetryWaitMin, copts.RetryWaitMax = time.Millisecond, 2*time.Millisecond
	}
	return &env{client: NewClient(copts), mock: mock, spec: spec, url: ts.URL, clock: clock}
}

func asAPIError(t *testing.T, err error) *APIError {
	t.Helper()
	var ae *APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an *APIError", err, err)
	}
	return ae
}

func TestGetProfile(t *testing.T) {
	e := newEnv(t, nil, Options{})
	ctx := context.Background()

	p, err := e.client.GetProfile(ctx, keyPayments, fcAllowed)
	if err != nil {
		t.Fatal(err)
	}
	if !p.SenderAllowed || strings.Join(p.PreferredLanguages, ",") != "it_IT,en_GB" {
		t.Errorf("profile = %+v, want allowed with it_IT,en_GB", p)
	}

	p, err = e.client.GetProfile(ctx, keyPayments, fcOptedOut)
	if err != nil {
		t.Fatal(err)
	}
	if p.SenderAllowed {
		t.Errorf("opted-out citizen has SenderAllowed = true")
	}

	_, err = e.client.GetProfile(ctx, keyPayments, fcNotOnIO)
	ae := asAPIError(t, err)
	if ae.Kind != KindNotFound || ae.Status != 404 || ae.Op != OpGetProfile {
		t.Errorf("got %+v, want KindNotFound 404 getProfile", ae)
	}
	if !errors.Is(err, ErrNotOnIO) {
		t.Errorf("errors.Is(err, ErrNotOnIO) = false for %v", err)
	}
	if ae.Problem == nil || ae.Problem.Status != 404 {
		t.Errorf("Problem = %+v, want the 404 ProblemJson", ae.Problem)
	}
	if failure.IsRetryable(err) {
		t.Error("404 is retryable")
	}
	if req, resp := e.spec.Checked(); req != 3 || resp != 3 {
		t.Errorf("spec checked %d requests and %d responses, want 3 and 3", req, resp)
	}
}

func TestSubmitAndGetMessage(t *testing.T) {
	e := newEnv(t, nil, Options{})
	ctx := context.Background()
	m := validMessage()
	m.FeatureLevelType = FeatureAdvanced
	id, err := e.client.SubmitMessage(ctx, keyPayments, m)
	if err != nil {
		t.Fatal(err)
	}
	if len(id) != 26 {
		t.Errorf("id = %q, want a 26-character ULID", id)
	}

	got := e.mock.Messages()
	if len(got) != 1 {
		t.Fatalf("mock holds %d messages, want 1", len(got))
	}
	d := got[0]
	if d.ID != id || d.ServiceID != "01SVCPAYMENTS" || d.FiscalCode != fcAllowed ||
		d.Subject != m.Content.Subject || d.Markdown != m.Content.Markdown {
		t.Errorf("delivered = %+v", d)
	}
	if d.PaymentData == nil || d.PaymentData.Amount != 12345 || d.PaymentData.NoticeNumber != "301000000000000144" ||
		d.PaymentData.PayeeFiscalCode != orgFC || d.PaymentData.InvalidAfterDueDate {
		t.Errorf("delivered payment data = %+v", d.PaymentData)
	}
	if d.DueDate == nil || !d.DueDate.Equal(*m.Content.DueDate) {
		t.Errorf("delivered due date = %v, want %v", d.DueDate, m.Content.DueDate)
	}

	st, err := e.client.GetMessage(ctx, keyPayments, fcAllowed, id)
	if err != nil {
		t.Fatal(err)
	}
	if st.ID != id || st.FiscalCode != fcAllowed || st.SenderServiceID != "01SVCPAYMENTS" ||
		st.Status != StatusProcessed || st.FeatureLevelType != FeatureAdvanced || st.TimeToLive != 3600 {
		t.Errorf("status = %+v", st)
	}
	if st.Notification.Email != NotificationSent || st.Notification.Webhook != NotificationSent {
		t.Errorf("notification = %+v, want SENT on both channels", st.Notification)
	}
	if st.ReadStatus != "UNREAD" || st.PaymentStatus != "NOT_PAID" {
		t.Errorf("read/payment status = %q/%q, want UNREAD/NOT_PAID for ADVANCED", st.ReadStatus, st.PaymentStatus)
	}
	if want := newFakeClock().t; !st.CreatedAt.Equal(want) {
		t.Errorf("created_at = %v", st.CreatedAt)
	}
	if st.Content == nil || st.Content.PaymentData == nil || st.Content.PaymentData.Payee.FiscalCode != orgFC ||
		st.Content.DueDate == nil || !st.Content.DueDate.Equal(*m.Content.DueDate) {
		t.Errorf("content = %+v", st.Content)
	}

	// Another service may not read it; an unknown id is a 404 that is not
	// "not on IO".
	_, err = e.client.GetMessage(ctx, keyAlerts, fcAllowed, id)
	if ae := asAPIError(t, err); ae.Kind != KindForbidden || ae.Status != 403 {
		t.Errorf("other service: got %v, want KindForbidden", err)
	}
	_, err = e.client.GetMessage(ctx, keyPayments, fcAllowed, "01NOSUCHMESSAGE0000000000")
	if ae := asAPIError(t, err); ae.Kind != KindNotFound || errors.Is(err, ErrNotOnIO) {
		t.Errorf("unknown id: got %v, want KindNotFound that is not ErrNotOnIO", err)
	}
}

func TestStatusProgression(t *testing.T) {
	e := newEnv(t, func(o *appiomock.Options) { o.ProcessAfter = time.Minute }, Options{})
	ctx := context.Background()
	ids := map[string]string{}
	for _, fc := range []string{fcAllowed, fcOptedOut, fcNotOnIO, fcFailing, fcThrottle} {
		m := validMessage()
		m.FiscalCode = fc
		m.Content.RequireSecureChannels = fc == fcAllowed
		id, err := e.client.SubmitMessage(ctx, keyPayments, m)
		if err != nil {
			t.Fatalf("submit to %s: %v", fc, err)
		}
		ids[fc] = id
	}
	for fc, id := range ids {
		st, err := e.client.GetMessage(ctx, keyPayments, fc, id)
		if err != nil {
			t.Fatal(err)
		}
		if st.Status != StatusAccepted || st.Final() || st.Notification != (NotificationStatus{}) {
			t.Errorf("%s before ProcessAfter: %+v, want ACCEPTED without notification", fc, st)
		}
	}
	e.clock.Advance(time.Minute)
	want := map[string]string{
		fcAllowed:  StatusProcessed,
		fcOptedOut: StatusRejected, // sender not allowed
		fcNotOnIO:  StatusRejected, // recipient does not exist
		fcFailing:  StatusFailed,
		fcThrottle: StatusThrottled,
	}
	for fc, id := range ids {
		st, err := e.client.GetMessage(ctx, keyPayments, fc, id)
		if err != nil {
			t.Fatal(err)
		}
		if st.Status != want[fc] {
			t.Errorf("%s: status %s, want %s", fc, st.Status, want[fc])
		}
		if st.Final() != (want[fc] != StatusThrottled) {
			t.Errorf("%s: Final() = %v", fc, st.Final())
		}
	}
	st, err := e.client.GetMessage(ctx, keyPayments, fcAllowed, ids[fcAllowed])
	if err != nil {
		t.Fatal(err)
	}
	if st.Notification.Email != "" || st.Notification.Webhook != NotificationSent {
		t.Errorf("require_secure_channels: notification %+v, want webhook only", st.Notification)
	}
	if s := e.mock.Stats(); s.Rejected != 2 || s.Messages != 5 {
		t.Errorf("stats = %+v, want 5 messages, 2 rejected", s)
	}
}

func TestWaitFinal(t *testing.T) {
	// Every reading of the mock's clock moves it 10s on: the message turns
	// PROCESSED after a few polls, without real waiting.
	e := newEnv(t, func(o *appiomock.Options) { o.ProcessAfter = time.Minute }, Options{})
	e.clock.step = 10 * time.Second
	ctx := context.Background()
	id, err := e.client.SubmitMessage(ctx, keyPayments, validMessage())
	if err != nil {
		t.Fatal(err)
	}
	before := e.mock.Stats().Requests
	st, err := e.client.WaitFinal(ctx, keyPayments, fcAllowed, id, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != StatusProcessed {
		t.Errorf("status = %s, want PROCESSED", st.Status)
	}
	if polls := e.mock.Stats().Requests - before; polls < 2 {
		t.Errorf("WaitFinal polled %d times, want several (ACCEPTED first)", polls)
	}

	// A 429 while polling is waited out (for RetryAfter, 5s here), not
	// returned: cancel the context during that wait and check that the
	// error reports both the cancellation and the 429.
	e.mock.Faults().FailNext(1, http.StatusTooManyRequests)
	got429 := &logSignal{msg: "appio: call failed", seen: make(chan struct{})}
	c := NewClient(Options{BaseURL: e.url + "/api/v1", HTTPClient: e.spec.Client(), Logger: slog.New(got429)})
	ctx3, cancel3 := context.WithCancel(ctx)
	defer cancel3()
	go func() {
		// The client logs the 429 as it classifies it, then waits
		// RetryAfter (5s): cancelling shortly after the log lands inside
		// that wait, however long the response took to arrive.
		<-got429.seen
		time.Sleep(500 * time.Millisecond)
		cancel3()
	}()
	_, err = c.WaitFinal(ctx3, keyPayments, fcAllowed, id, time.Millisecond)
	if !errors.Is(err, context.Canceled) || KindOf(err) != KindRetryable {
		t.Errorf("WaitFinal after cancel during 429 wait: %v, want KindRetryable wrapping context.Canceled", err)
	}
	if !strings.Contains(err.Error(), "429") {
		t.Errorf("error %q does not mention the last 429", err)
	}
}

func TestWaitFinalContextEnds(t *testing.T) {
	e := newEnv(t, nil, Options{})
	ctx := context.Background()
	m := validMessage()
	m.FiscalCode = fcThrottle
	id, err := e.client.SubmitMessage(ctx, keyPayments, m)
	if err != nil {
		t.Fatal(err)
	}
	// The deadline passes once the client is polling (its second GET is
	// written, so the first THROTTLED answer is in), whatever the speed.
	dctx := newDeadlineCtx(ctx)
	var gets atomic.Int32
	tctx := httptrace.WithClientTrace(dctx, &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) {
		if gets.Add(1) == 2 {
			dctx.expire()
		}
	}})
	st, err := e.client.WaitFinal(tctx, keyPayments, fcThrottle, id, 5*time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) || !failure.IsRetryable(err) {
		t.Fatalf("err = %v, want retryable wrapping DeadlineExceeded", err)
	}
	if st == nil || st.Status != StatusThrottled {
		t.Errorf("last status = %+v, want THROTTLED", st)
	}
}

func TestErrorKinds(t *testing.T) {
	ctx := context.Background()
	t.Run("401 unknown key", func(t *testing.T) {
		e := newEnv(t, nil, Options{})
		_, err := e.client.GetProfile(ctx, "k-unknown", fcAllowed)
		if ae := asAPIError(t, err); ae.Kind != KindUnauthorized || ae.Status != 401 || failure.IsRetryable(err) {
			t.Errorf("got %v, want KindUnauthorized", err)
		}
		_, err = e.client.SubmitMessage(ctx, "k-unknown", validMessage())
		if ae := asAPIError(t, err); ae.Kind != KindUnauthorized || ae.Ambiguous {
			t.Errorf("submit: got %v, want KindUnauthorized, not ambiguous", err)
		}
	})
	t.Run("403 service not allowed", func(t *testing.T) {
		e := newEnv(t, nil, Options{})
		_, err := e.client.SubmitMessage(ctx, keyDisabled, validMessage())
		if ae := asAPIError(t, err); ae.Kind != KindForbidden || ae.Status != 403 {
			t.Errorf("got %v, want KindForbidden", err)
		}
		if n := len(e.mock.Messages()); n != 0 {
			t.Errorf("mock stored %d messages", n)
		}
	})
	t.Run("400 with detail surfaced", func(t *testing.T) {
		e := newEnv(t, nil, Options{})
		e.spec.AllowInvalidRequests(true)
		m := validMessage()
		m.Content.Subject = "too short"
		_, err := e.client.submit(ctx, keyPayments, m, false) // skip local validation
		ae := asAPIError(t, err)
		if ae.Kind != KindValidation || ae.Status != 400 || ae.Problem == nil {
			t.Fatalf("got %+v, want KindValidation 400 with a problem", ae)
		}
		if ae.Problem.Title != "Invalid NewMessage" || !strings.Contains(ae.Problem.Detail, "content.subject") {
			t.Errorf("problem = %+v, want the field in the detail", ae.Problem)
		}
		if !strings.Contains(err.Error(), "content.subject") {
			t.Errorf("Error() = %q does not surface the detail", err)
		}
		// The spec agrees that the request was invalid.
		if v := e.spec.RequestViolations(); len(v) != 1 || !strings.Contains(v[0].Error(), "subject") {
			t.Errorf("spec violations = %v, want one about subject", v)
		}
	})
	t.Run("local validation sends nothing", func(t *testing.T) {
		e := newEnv(t, nil, Options{})
		m := validMessage()
		m.Content.PaymentData.NoticeNumber = "123"
		_, err := e.client.SubmitMessage(ctx, keyPayments, m)
		var ve *ValidationError
		if KindOf(err) != KindValidation || !errors.As(err, &ve) || ve.Field != "content.payment_data.notice_number" {
			t.Errorf("got %v, want KindValidation wrapping a ValidationError on notice_number", err)
		}
		_, err = e.client.GetProfile(ctx, keyPayments, "not-a-fiscal-code")
		if KindOf(err) != KindValidation {
			t.Errorf("GetProfile bad fiscal code: %v, want KindValidation", err)
		}
		_, err = e.client.GetProfile(ctx, "", fcAllowed)
		if KindOf(err) != KindValidation {
			t.Errorf("GetProfile without key: %v, want KindValidation", err)
		}
		if n := e.mock.Stats().Requests; n != 0 {
			t.Errorf("mock saw %d requests, want 0", n)
		}
	})
	t.Run("429 from rate limit carries Retry-After", func(t *testing.T) {
		e := newEnv(t, func(o *appiomock.Options) { o.RateLimit, o.RateWindow = 2, 30*time.Second }, Options{})
		for i := range 2 {
			if _, err := e.client.GetProfile(ctx, keyPayments, fcAllowed); err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
		}
		_, err := e.client.GetProfile(ctx, keyPayments, fcAllowed)
		ae := asAPIError(t, err)
		if ae.Kind != KindRateLimited || ae.RetryAfter != 30*time.Second || !failure.IsRetryable(err) {
			t.Errorf("got %+v, want KindRateLimited with RetryAfter 30s", ae)
		}
		// Limits are per key; the window ends with the (fake) clock.
		if _, err := e.client.GetProfile(ctx, keyAlerts, fcAllowed); err != nil {
			t.Errorf("other key limited too: %v", err)
		}
		e.clock.Advance(30 * time.Second)
		if _, err := e.client.GetProfile(ctx, keyPayments, fcAllowed); err != nil {
			t.Errorf("after the window: %v", err)
		}
		if s := e.mock.Stats(); s.Requests != 5 || s.RateLimited != 1 {
			t.Errorf("stats = %+v, want 5 requests (429 not retried), 1 rate limited", s)
		}
	})
	t.Run("429 without Retry-After defaults to 5s, submit not retried", func(t *testing.T) {
		e := newEnv(t, nil, Options{})
		e.mock.Faults().FailNext(1, http.StatusTooManyRequests)
		_, err := e.client.SubmitMessage(ctx, keyPayments, validMessage())
		ae := asAPIError(t, err)
		if ae.Kind != KindRateLimited || ae.RetryAfter != DefaultRetryAfter || ae.Ambiguous {
			t.Errorf("got %+v, want KindRateLimited, RetryAfter 5s, not ambiguous", ae)
		}
		if s := e.mock.Stats(); s.Requests != 1 || s.Messages != 0 {
			t.Errorf("stats = %+v, want 1 request and no message", s)
		}
	})
	t.Run("5xx retried on GET", func(t *testing.T) {
		e := newEnv(t, nil, Options{})
		e.mock.Faults().FailNext(2, http.StatusServiceUnavailable)
		p, err := e.client.GetProfile(ctx, keyPayments, fcAllowed)
		if err != nil || !p.SenderAllowed {
			t.Fatalf("GetProfile after two 503 = %v, %v; want success on the third attempt", p, err)
		}
		if n := e.mock.Stats().Requests; n != 3 {
			t.Errorf("mock saw %d requests, want 3", n)
		}
	})
	t.Run("5xx retries exhausted", func(t *testing.T) {
		e := newEnv(t, nil, Options{})
		e.mock.Faults().FailNext(3, http.StatusInternalServerError)
		_, err := e.client.GetProfile(ctx, keyPayments, fcAllowed)
		if ae := asAPIError(t, err); ae.Kind != KindRetryable || ae.Status != 500 {
			t.Errorf("got %v, want KindRetryable 500", err)
		}
		if n := e.mock.Stats().Requests; n != 3 {
			t.Errorf("mock saw %d requests, want 1 + RetryMax(2)", n)
		}
	})
	t.Run("retries disabled", func(t *testing.T) {
		e := newEnv(t, nil, Options{RetryMax: -1})
		e.mock.Faults().FailNext(1, http.StatusInternalServerError)
		if _, err := e.client.GetProfile(ctx, keyPayments, fcAllowed); KindOf(err) != KindRetryable {
			t.Errorf("got %v, want KindRetryable", err)
		}
		if n := e.mock.Stats().Requests; n != 1 {
			t.Errorf("mock saw %d requests, want 1", n)
		}
	})
	t.Run("5xx not retried on POST", func(t *testing.T) {
		e := newEnv(t, nil, Options{})
		e.mock.Faults().FailNext(1, http.StatusInternalServerError)
		_, err := e.client.SubmitMessage(ctx, keyPayments, validMessage())
		if ae := asAPIError(t, err); ae.Kind != KindRetryable || ae.Status != 500 || ae.Ambiguous {
			t.Errorf("got %+v, want KindRetryable 500, not ambiguous", ae)
		}
		if n := e.mock.Stats().Requests; n != 1 {
			t.Errorf("mock saw %d requests, want 1", n)
		}
		e.mock.Faults().FailNext(1, http.StatusGatewayTimeout)
		_, err = e.client.SubmitMessage(ctx, keyPayments, validMessage())
		if !failure.IsAmbiguous(err) || failure.IsRetryable(err) {
			t.Errorf("504 on submit: %v, want retryable and ambiguous", err)
		}
	})
	t.Run("dropped connection retried on GET", func(t *testing.T) {
		e := newEnv(t, nil, Options{})
		e.mock.Faults().DropNext(1)
		if _, err := e.client.GetProfile(ctx, keyPayments, fcAllowed); err != nil {
			t.Fatalf("GetProfile after a drop: %v", err)
		}
		if s, f := e.mock.Stats(), e.mock.Faults().Stats(); s.Requests != 2 || f.Dropped != 1 {
			t.Errorf("stats = %+v, faults %+v; want 2 requests, 1 dropped", s, f)
		}
	})
	t.Run("ambiguous POST: response lost after commit", func(t *testing.T) {
		e := newEnv(t, nil, Options{})
		e.mock.Faults().LoseNext(1)
		id, err := e.client.SubmitMessage(ctx, keyPayments, validMessage())
		ae := asAPIError(t, err)
		if id != "" || ae.Kind != KindRetryable || !ae.Ambiguous || !failure.IsAmbiguous(err) || ae.Status != 0 {
			t.Errorf("got id %q, %+v; want ambiguous KindRetryable without status", id, ae)
		}
		if msgs := e.mock.Messages(); len(msgs) != 1 {
			t.Errorf("mock stored %d messages, want 1 (the commit happened)", len(msgs))
		}
		if n := e.mock.Stats().Requests; n != 1 {
			t.Errorf("mock saw %d requests, want 1 (no blind resend)", n)
		}
	})
	t.Run("POST not sent is not ambiguous", func(t *testing.T) {
		dead := httptest.NewServer(http.NotFoundHandler())
		url := dead.URL
		dead.Close()
		c := NewClient(Options{BaseURL: url + "/api/v1"})
		_, err := c.SubmitMessage(ctx, keyPayments, validMessage())
		ae := asAPIError(t, err)
		if ae.Kind != KindRetryable || ae.Ambiguous {
			t.Errorf("connection refused: %+v, want KindRetryable, not ambiguous", ae)
		}
	})
	t.Run("POST timeout after write is ambiguous", func(t *testing.T) {
		e := newEnv(t, nil, Options{})
		e.mock.Faults().SetLatency(time.Hour)
		// The deadline passes once the request is written, however long
		// writing it takes (a timer could fire before the write, which is
		// not ambiguous).
		dctx := newDeadlineCtx(ctx)
		tctx := httptrace.WithClientTrace(dctx, &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { dctx.expire() }})
		_, err := e.client.SubmitMessage(tctx, keyPayments, validMessage())
		if !failure.IsAmbiguous(err) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("got %v, want ambiguous wrapping DeadlineExceeded", err)
		}
	})
}

// TestNeverLogsKey runs calls that log at every level and checks that the
// subscription key and the fiscal code appear nowhere in the logs.
func TestNeverLogsKey(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := newEnv(t, nil, Options{Logger: log})
	ctx := context.Background()
	e.mock.Faults().FailNext(1, http.StatusBadGateway)
	if _, err := e.client.GetProfile(ctx, keyPayments, fcAllowed); err != nil {
		t.Fatal(err)
	}
	id, err := e.client.SubmitMessage(ctx, keyPayments, validMessage())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.GetMessage(ctx, keyPayments, fcAllowed, id); err != nil {
		t.Fatal(err)
	}
	e.mock.Faults().FailNext(1, http.StatusTooManyRequests)
	if _, err := e.client.GetProfile(ctx, keyPayments, fcAllowed); KindOf(err) != KindRateLimited {
		t.Fatalf("GetProfile answered 429: %v, want KindRateLimited", err)
	}
	e.mock.Faults().LoseNext(1)
	if _, err := e.client.SubmitMessage(ctx, keyPayments, validMessage()); !failure.IsAmbiguous(err) {
		t.Fatalf("SubmitMessage with its response lost: %v, want ambiguous", err)
	}
	e.mock.Faults().DropNext(100)
	_, err = e.client.GetProfile(ctx, keyPayments, fcAllowed)
	if KindOf(err) != KindRetryable || strings.Contains(err.Error(), fcAllowed) {
		t.Errorf("GetProfile on dropped connections: %v, want KindRetryable without the fiscal code", err)
	}
	out := buf.String()
	if !strings.Contains(out, "retrying read") || !strings.Contains(out, "submit failed") || !strings.Contains(out, "read failed") {
		t.Fatalf("expected retry and failure logs, got:\n%s", out)
	}
	for _, secret := range []string{keyPayments, fcAllowed} {
		if strings.Contains(out, secret) {
			t.Errorf("logs contain %q:\n%s", secret, out)
		}
	}
}

func TestErrorKindString(t *testing.T) {
	if KindRateLimited.String() != "rate limited" || ErrorKind(99).String() != "kind(99)" {
		t.Errorf("String() = %q, %q", KindRateLimited.String(), ErrorKind(99).String())
	}
}

func BenchmarkSubmitMessageAgainstMock(b *testing.B) {
	mock := appiomock.New(appiomock.Options{DefaultKnown: true})
	ts := httptest.NewServer(mock)
	defer ts.Close()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	defer tr.CloseIdleConnections()
	c := NewClient(Options{BaseURL: ts.URL + "/api/v1", HTTPClient: &http.Client{Transport: tr}})
	m := validMessage()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.SubmitMessage(ctx, keyPayments, m); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	if got := mock.Stats().Messages; got != b.N {
		b.Errorf("mock stored %d messages, want %d", got, b.N)
	}
}

// deadlineCtx is a context whose deadline passes when the test calls
// expire, instead of when a timer fires: the test decides what has happened
// by then, so the outcome does not depend on the machine's speed. The
// client's own httptrace hooks run before those of a trace already in the
// context, so a test hook that calls expire runs after the client's.
type deadlineCtx struct {
	context.Context
	done chan struct{}
	once sync.Once
}

func newDeadlineCtx(parent context.Context) *deadlineCtx {
	return &deadlineCtx{Context: parent, done: make(chan struct{})}
}

func (c *deadlineCtx) Done() <-chan struct{} { return c.done }

func (c *deadlineCtx) Err() error {
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

func (c *deadlineCtx) expire() { c.once.Do(func() { close(c.done) }) }

// logSignal is a slog handler that closes seen at the first record whose
// message is msg: a test learns that the client got that far.
type logSignal struct {
	msg  string
	once sync.Once
	seen chan struct{}
}

func (h *logSignal) Enabled(context.Context, slog.Level) bool { return true }

func (h *logSignal) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.once.Do(func() { close(h.seen) })
	}
	return nil
}

func (h *logSignal) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logSignal) WithGroup(string) slog.Handler      { return h }
