package channels

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ponte-pa/ponte/connectors/failure"
	"github.com/ponte-pa/ponte/connectors/registry"
	webhookmock "github.com/ponte-pa/ponte/mocks/webhook"
)

const hookSecret = "a-secret-of-at-least-16-bytes"

// receiver is an endpoint that checks every delivery's signature and
// answers with the next status in its script (200 when it runs out).
type receiver struct {
	mu      sync.Mutex
	script  []int
	got     []WebhookPayload
	refused []string
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err := VerifyWebhook([]byte(hookSecret), r.Header.Get(HeaderSignature), body, time.Now()); err != nil {
		rc.refused = append(rc.refused, err.Error())
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	status := 200
	if len(rc.script) > 0 {
		status, rc.script = rc.script[0], rc.script[1:]
	}
	if status == 200 {
		var p WebhookPayload
		if err := json.Unmarshal(body, &p); err != nil || p.EventID != r.Header.Get(HeaderEventID) {
			http.Error(w, "bad payload", 400)
			return
		}
		rc.got = append(rc.got, p)
	}
	if status == 503 {
		w.Header().Set("Retry-After", "7")
	}
	w.WriteHeader(status)
}

func openHook(t *testing.T, url, secret string) Sender {
	t.Helper()
	raw := json.RawMessage(`{"kind":"webhook","name":"sirene","url":"` + url + `","secret":"env:HOOK_SECRET","timeout":"2s"}`)
	env := registry.Env{Secret: func(ref string) (string, error) { return secret, nil }}
	s, err := Kinds.Open(KindWebhook, raw, env)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestWebhookDeliveries(t *testing.T) {
	rc := &receiver{script: []int{200, 503, 400, 429}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	s := openHook(t, srv.URL, hookSecret)
	if s.Kind() != KindWebhook || s.Reaches(Recipient{FiscalCode: "RSSMRA80A01H501U", Email: "a@b.it"}) {
		t.Fatal("a webhook is no person's channel")
	}
	ctx := context.Background()
	msg := Message{Key: "alert:esempio:42/webhook/sirene", Subject: "Allerta arancione", Text: "Piena del fiume"}
	id, err := s.Send(ctx, msg)
	if err != nil || id != msg.Key {
		t.Fatalf("delivered: %q %v", id, err)
	}
	_, err = s.Send(ctx, msg)
	if !failure.IsRetryable(err) || failure.Of(err).RetryAfter != 7*time.Second {
		t.Errorf("503: %v %+v", err, failure.Of(err))
	}
	if _, err = s.Send(ctx, msg); !failure.IsPermanent(err) {
		t.Errorf("400: %v", err)
	}
	if _, err = s.Send(ctx, msg); !failure.IsRetryable(err) {
		t.Errorf("429: %v", err)
	}
	if _, err = s.Send(ctx, Message{Subject: "no key"}); !failure.IsPermanent(err) {
		t.Errorf("no key: %v", err)
	}
	if len(rc.got) != 1 || rc.got[0].EventID != msg.Key || rc.got[0].Subject != "Allerta arancione" || len(rc.refused) != 0 {
		t.Errorf("received %+v, refused %v", rc.got, rc.refused)
	}

	// A sender with another secret is refused by the receiver, for good.
	if _, err := openHook(t, srv.URL, "another-secret-of-16-bytes").Send(ctx, msg); !failure.IsPermanent(err) || len(rc.refused) != 1 {
		t.Errorf("wrong secret: %v, refused %v", err, rc.refused)
	}
}

// A connection cut before any answer may have delivered the message: the
// outbox must not count it failed, nor sent.
func TestWebhookNoAnswerIsAmbiguous(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	readErr := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			readErr <- err
			return
		}
		_, err = c.Read(make([]byte, 4096)) // read the request, answer nothing
		readErr <- errors.Join(err, c.Close())
	}()
	_, err = openHook(t, "http://"+l.Addr().String()+"/hook", hookSecret).Send(context.Background(), Message{Key: "k"})
	if rerr := <-readErr; rerr != nil {
		t.Fatalf("the endpoint did not read the request: %v", rerr)
	}
	if !failure.IsAmbiguous(err) {
		t.Fatalf("err = %v (%+v), want ambiguous", err, failure.Of(err))
	}
}

func TestVerifyWebhook(t *testing.T) {
	secret := []byte(hookSecret)
	body := []byte(`{"eventId":"e1"}`)
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	good := SignWebhook(secret, now, body)
	for _, tt := range []struct {
		name, header string
		body         []byte
		at           time.Time
		want         string
	}{
		{"good", good, body, now, ""},
		{"good, a minute later", good, body, now.Add(time.Minute), ""},
		{"another body", good, []byte(`{"eventId":"e2"}`), now, "does not match"},
		{"too old", good, body, now.Add(6 * time.Minute), "away from now"},
		{"from the future", good, body, now.Add(-6 * time.Minute), "away from now"},
		{"garbage", "sha256=abc", body, now, "not t=<unix>,v1=<hex>"},
		{"timestamp changed", strings.Replace(good, "t=", "t=1", 1), body, now, "away from now"},
		{"two signatures, one good (secret rotation)", good + ",v1=00", body, now, ""},
	} {
		err := VerifyWebhook(secret, tt.header, tt.body, tt.at)
		if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestWebhookConfig(t *testing.T) {
	env := registry.Env{Secret: func(string) (string, error) { return "short", nil }}
	if _, err := Kinds.Open(KindWebhook, json.RawMessage(`{"kind":"webhook","url":"https://x.example.it/h","secret":"env:S"}`), env); err == nil || !strings.Contains(err.Error(), "at least 16") {
		t.Errorf("short secret: %v", err)
	}
	env.Secret = func(string) (string, error) { return hookSecret, nil }
	for _, bad := range []string{
		`{"kind":"webhook","url":"http://sirene.example.it/h","secret":"env:S"}`, // clear text off loopback
		`{"kind":"webhook","url":"https://x.example.it/h"}`,                      // no secret
		`{"kind":"webhook","url":"https://x.example.it/h","secret":"env:S","timeout":"soon"}`,
	} {
		if _, err := Kinds.Open(KindWebhook, json.RawMessage(bad), env); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

// The sender and the receiver mock, written apart, agree on the signature;
// a resend after an injected failure is delivered once.
func TestWebhookAgainstTheReceiverMock(t *testing.T) {
	m := webhookmock.New(webhookmock.Options{})
	srv := httptest.NewServer(m)
	defer srv.Close()
	s := openHook(t, srv.URL+"/sirene", webhookmock.DefaultSecret)
	ctx := context.Background()
	msg := Message{Key: "alert:esempio:7/webhook/sirene", Subject: "Allerta rossa", Text: "Evacuare il piano terra"}
	m.Faults().FailNext(1, http.StatusServiceUnavailable)
	if _, err := s.Send(ctx, msg); !failure.IsRetryable(err) {
		t.Fatalf("injected 503: %v", err)
	}
	for range 2 { // the retry, and a duplicate resend
		if _, err := s.Send(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}
	d := m.Deliveries()
	if len(d) != 1 || d[0].EventID != msg.Key || d[0].Redelivered != 1 || len(m.Refused()) != 0 {
		t.Fatalf("deliveries %+v, refused %v", d, m.Refused())
	}
	var p WebhookPayload
	if err := json.Unmarshal(d[0].Body, &p); err != nil || p.Subject != "Allerta rossa" || p.Text != msg.Text {
		t.Errorf("payload %+v %v", p, err)
	}
}
