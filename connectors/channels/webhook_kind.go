package channels

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ponte-pa/ponte/connectors/registry"
	"github.com/ponte-pa/ponte/schemas"
)

// KindWebhook is the signed-webhook channel: an endpoint of a system
// (sirens, displays, the CRM, a chat-bot relay), not of a person.
const KindWebhook = "webhook"

// The headers of a webhook delivery. The signature is
// "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>": the
// timestamp is signed with the body, so a receiver that refuses old
// timestamps (VerifyWebhook) cannot be replayed; the event id is stable
// across retries, so a receiver can drop a delivery it already has.
const (
	HeaderSignature = "X-Ponte-Signature"
	HeaderEventID   = "X-Ponte-Event-Id"
)

// WebhookTolerance is how old a signed timestamp VerifyWebhook accepts.
const WebhookTolerance = 5 * time.Minute

//go:embed channel-webhook.schema.json
var webhookSchema []byte

func init() {
	schemas.Register("channel-webhook.schema.json", webhookSchema)
	Kinds.Register(registry.Kind[Sender]{
		Name:   KindWebhook,
		Doc:    "a signed webhook (HMAC-SHA256) to a system: sirens, displays, the CRM, a chat-bot relay",
		Schema: "channel-webhook.schema.json",
		Open:   openWebhook,
	})
}

// WebhookConfig is a webhook channel in a tenant config.
type WebhookConfig struct {
	Kind string `json:"kind"`
	Name string `json:"name,omitempty"`
	URL  string `json:"url"`
	// Secret is a secret reference (env:NAME or file:path).
	Secret  string `json:"secret"`
	Timeout string `json:"timeout,omitempty"`
}

func openWebhook(raw json.RawMessage, env registry.Env) (Sender, error) {
	var c WebhookConfig
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	secret, err := env.Secret(c.Secret)
	if err != nil {
		return nil, fmt.Errorf("webhook %s: secret: %w", c.URL, err)
	}
	if len(secret) < 16 {
		return nil, fmt.Errorf("webhook %s: the secret has %d bytes, at least 16 are needed for a signature worth the name", c.URL, len(secret))
	}
	timeout := 10 * time.Second
	if c.Timeout != "" {
		if timeout, err = time.ParseDuration(c.Timeout); err != nil {
			return nil, fmt.Errorf("webhook %s: timeout: %w", c.URL, err)
		}
	}
	hc := env.HTTP
	if hc == nil {
		hc = &http.Client{}
	}
	return &WebhookSender{Name: c.Name, URL: c.URL, Secret: []byte(secret), Timeout: timeout, HTTP: hc}, nil
}

// WebhookSender posts messages to one endpoint, signed.
type WebhookSender struct {
	Name    string
	URL     string
	Secret  []byte
	Timeout time.Duration
	HTTP    *http.Client
	// Now is the signing clock (nil: time.Now).
	Now func() time.Time
}

var _ Sender = (*WebhookSender)(nil)

// Kind implements Sender.
func (*WebhookSender) Kind() string { return KindWebhook }

// Reaches implements Sender: a webhook is a system's endpoint, never a
// person's, so it reaches no recipient; it is sent to as a target.
func (*WebhookSender) Reaches(Recipient) bool { return false }

// WebhookPayload is the JSON body of a delivery.
type WebhookPayload struct {
	EventID  string `json:"eventId"`
	Subject  string `json:"subject,omitempty"`
	Text     string `json:"text,omitempty"`
	Markdown string `json:"markdown,omitempty"`
	SentAt   string `json:"sentAt"`
	// Attachments carry the message's documents, e.g. the CAP alert as
	// application/cap+xml (base64 in JSON).
	Attachments []Attachment `json:"attachments,omitempty"`
}

// Send implements Sender: one signed POST; 2xx is delivered. The event id
// is m.Key (or m.ID), the same on every retry.
func (s *WebhookSender) Send(ctx context.Context, m Message) (string, error) {
	id := m.Key
	if id == "" {
		id = m.ID
	}
	if id == "" {
		return "", &HTTPError{Channel: KindWebhook, Op: "message", Err: errors.New("a webhook message needs a Key: the receiver drops duplicates by it")}
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	t := now()
	body, err := json.Marshal(WebhookPayload{EventID: id, Subject: m.Subject, Text: m.Text, Markdown: m.Markdown, SentAt: t.UTC().Format(time.RFC3339), Attachments: m.Attachments})
	if err != nil {
		return "", &HTTPError{Channel: KindWebhook, Op: "message", Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(body))
	if err != nil {
		return "", &HTTPError{Channel: KindWebhook, Op: "request", Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderEventID, id)
	req.Header.Set(HeaderSignature, SignWebhook(s.Secret, t, body))
	resp, err := s.HTTP.Do(req)
	if err != nil {
		// The body may have reached the endpoint before the failure: the
		// receiver drops a resend by the event id.
		return "", &HTTPError{Channel: KindWebhook, Op: "POST", Err: err, Ambiguous: true}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 == 2 {
		return id, nil
	}
	return "", answerError(KindWebhook, resp, fmt.Errorf("%s answered %s", s.URL, resp.Status))
}

// SignWebhook is the X-Ponte-Signature value of body sent at t.
func SignWebhook(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// VerifyWebhook checks a delivery's signature header against body, as a
// receiver written in Go would: the HMAC must match (compared in constant
// time) and the timestamp be within WebhookTolerance of now.
func VerifyWebhook(secret []byte, header string, body []byte, now time.Time) error {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return errors.New("webhook: the signature header is not t=<unix>,v1=<hex>")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > WebhookTolerance || d < -WebhookTolerance {
		return fmt.Errorf("webhook: the signature's timestamp is %s away from now (at most %s)", d.Round(time.Second), WebhookTolerance)
	}
	want := SignWebhook(secret, time.Unix(sec, 0), body)
	_, wantSig, _ := strings.Cut(want, ",v1=")
	for _, s := range sigs {
		if hmac.Equal([]byte(s), []byte(wantSig)) {
			return nil
		}
	}
	return errors.New("webhook: the signature does not match the body")
}
