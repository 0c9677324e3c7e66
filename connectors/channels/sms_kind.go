package channels

import (
	"bytes"
	"cmp"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/ponte-pa/ponte/connectors/registry"
	"github.com/ponte-pa/ponte/schemas"
)

// KindSMS is the SMS channel: an HTTP gateway.
const KindSMS = "sms"

//go:embed channel-sms.schema.json
var smsSchema []byte

const defaultSMSBody = `{"to":{{.To}},"from":{{.From}},"text":{{.Text}},"reference":{{.Reference}}}`

func init() {
	schemas.Register("channel-sms.schema.json", smsSchema)
	Kinds.Register(registry.Kind[Sender]{
		Name:   KindSMS,
		Doc:    "SMS through an HTTP gateway (JSON body from a template, the message id from the answer)",
		Schema: "channel-sms.schema.json",
		Check:  checkSMS,
		Open:   openSMS,
	})
}

// SMSConfig is an SMS channel in a tenant config.
type SMSConfig struct {
	Kind   string `json:"kind"`
	URL    string `json:"url"`
	Sender string `json:"sender"`
	// Token is a secret reference (env:NAME or file:path).
	Token        string  `json:"token"`
	AuthHeader   string  `json:"authHeader,omitempty"`
	AuthPrefix   *string `json:"authPrefix,omitempty"`
	BodyTemplate string  `json:"bodyTemplate,omitempty"`
	IDField      string  `json:"idField,omitempty"`
	MaxSegments  int     `json:"maxSegments,omitempty"`
	// StatusURL, with {id} where the gateway's message id goes, is polled
	// for delivery receipts; StatusField names the state in its JSON
	// answer, Delivered and Failed the values that mean each.
	StatusURL   string   `json:"statusUrl,omitempty"`
	StatusField string   `json:"statusField,omitempty"`
	Delivered   []string `json:"delivered,omitempty"`
	Failed      []string `json:"failed,omitempty"`
}

// checkSMS finds what the schema cannot: the body template must parse and
// render JSON.
func checkSMS(raw json.RawMessage, _ registry.Env) []registry.Problem {
	var c SMSConfig
	if err := json.Unmarshal(raw, &c); err != nil || c.BodyTemplate == "" {
		return nil
	}
	if _, err := smsBody(c.BodyTemplate); err != nil {
		return []registry.Problem{{Pointer: "/bodyTemplate", Rule: "template", Message: err.Error(),
			Hint: "write the JSON the gateway expects, with {{.To}}, {{.From}}, {{.Text}} and {{.Reference}} where the values go (they are inserted JSON-quoted)"}}
	}
	return nil
}

// smsBody parses a body template and checks that it renders JSON.
func smsBody(text string) (*template.Template, error) {
	t, err := template.New("body").Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, smsFields{To: `"+390000000000"`, From: `"X"`, Text: `"t"`, Reference: `"r"`}); err != nil {
		return nil, err
	}
	if !json.Valid(b.Bytes()) {
		return nil, fmt.Errorf("the template does not render JSON: %s", b.String())
	}
	return t, nil
}

type smsFields struct{ To, From, Text, Reference string }

func openSMS(raw json.RawMessage, env registry.Env) (Sender, error) {
	var c SMSConfig
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	tok, err := env.Secret(c.Token)
	if err != nil {
		return nil, fmt.Errorf("sms %s: token: %w", c.URL, err)
	}
	body, err := smsBody(cmp.Or(c.BodyTemplate, defaultSMSBody))
	if err != nil {
		return nil, fmt.Errorf("sms %s: bodyTemplate: %w", c.URL, err)
	}
	prefix := "Bearer "
	if c.AuthPrefix != nil {
		prefix = *c.AuthPrefix
	}
	hc := env.HTTP
	if hc == nil {
		hc = &http.Client{}
	}
	return &SMSSender{URL: c.URL, From: c.Sender, AuthHeader: cmp.Or(c.AuthHeader, "Authorization"), Auth: prefix + tok,
		IDField: cmp.Or(c.IDField, "id"), MaxSegments: cmp.Or(c.MaxSegments, 4), body: body, HTTP: hc,
		StatusURL: c.StatusURL, StatusField: cmp.Or(c.StatusField, "status"),
		Delivered: orList(c.Delivered, "delivered"), Failed: orList(c.Failed, "failed", "undelivered", "rejected", "expired")}, nil
}

func orList(l []string, def ...string) []string {
	if len(l) > 0 {
		return l
	}
	return def
}

// SMSSender sends text messages through one gateway.
type SMSSender struct {
	URL, From        string
	AuthHeader, Auth string
	IDField          string
	MaxSegments      int
	HTTP             *http.Client
	body             *template.Template
	Timeout          time.Duration
	// StatusURL ("" when the gateway gives no receipts) and how to read it.
	StatusURL, StatusField string
	Delivered, Failed      []string
}

var _ Sender = (*SMSSender)(nil)

// Kind implements Sender.
func (*SMSSender) Kind() string { return KindSMS }

// Reaches implements Sender: the recipient needs a phone number.
func (*SMSSender) Reaches(r Recipient) bool { return strings.HasPrefix(r.Phone, "+") }

// Send implements Sender: one POST; the reference (m.Key) is the same on
// every retry, so a gateway that deduplicates by it sends once.
func (s *SMSSender) Send(ctx context.Context, m Message) (string, error) {
	if !s.Reaches(m.To) {
		return "", &HTTPError{Channel: KindSMS, Op: "recipient", Err: fmt.Errorf("no E.164 phone number (got %q)", m.To.Phone)}
	}
	text := m.Text
	if text == "" {
		text = m.Subject
	}
	if n := SMSSegments(text); n > s.MaxSegments {
		return "", &HTTPError{Channel: KindSMS, Op: "message", Err: fmt.Errorf("the text takes %d SMS segments, at most %d are allowed: shorten it", n, s.MaxSegments)}
	}
	q := func(v string) string { b, _ := json.Marshal(v); return string(b) }
	var body bytes.Buffer
	if err := s.body.Execute(&body, smsFields{To: q(m.To.Phone), From: q(s.From), Text: q(text), Reference: q(m.Key)}); err != nil {
		return "", &HTTPError{Channel: KindSMS, Op: "message", Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, cmp.Or(s.Timeout, 15*time.Second))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, &body)
	if err != nil {
		return "", &HTTPError{Channel: KindSMS, Op: "request", Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(s.AuthHeader, s.Auth)
	resp, err := s.HTTP.Do(req)
	if err != nil {
		return "", &HTTPError{Channel: KindSMS, Op: "POST", Err: err, Ambiguous: true}
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", &HTTPError{Channel: KindSMS, Op: "POST", Err: err, Ambiguous: true}
	}
	if resp.StatusCode/100 != 2 {
		return "", answerError(KindSMS, resp, fmt.Errorf("the gateway answered %s: %.200s", resp.Status, answer))
	}
	var out map[string]any
	if err := json.Unmarshal(answer, &out); err != nil {
		return "", &HTTPError{Channel: KindSMS, Op: "answer", Err: fmt.Errorf("accepted, but the answer is not JSON: %.200s", answer), Ambiguous: true}
	}
	id, ok := out[s.IDField]
	if !ok {
		return "", &HTTPError{Channel: KindSMS, Op: "answer", Err: fmt.Errorf("accepted, but the answer has no %q: %.200s", s.IDField, answer), Ambiguous: true}
	}
	return fmt.Sprint(id), nil
}

// Tracking says whether the gateway reports deliveries (statusUrl set).
func (s *SMSSender) Tracking() bool { return s.StatusURL != "" }

// Delivery implements Tracker: one GET of the status URL.
func (s *SMSSender) Delivery(ctx context.Context, id string) (DeliveryState, error) {
	if s.StatusURL == "" {
		return DeliveryDelivered, nil
	}
	ctx, cancel := context.WithTimeout(ctx, cmp.Or(s.Timeout, 15*time.Second))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.ReplaceAll(s.StatusURL, "{id}", url.PathEscape(id)), nil)
	if err != nil {
		return "", &HTTPError{Channel: KindSMS, Op: "status", Err: err}
	}
	req.Header.Set(s.AuthHeader, s.Auth)
	resp, err := s.HTTP.Do(req)
	if err != nil {
		return "", &HTTPError{Channel: KindSMS, Op: "status", Err: err}
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", &HTTPError{Channel: KindSMS, Op: "status", Err: err}
	}
	if resp.StatusCode/100 != 2 {
		return "", answerError(KindSMS, resp, fmt.Errorf("status of %s: the gateway answered %s: %.200s", id, resp.Status, answer))
	}
	var out map[string]any
	if err := json.Unmarshal(answer, &out); err != nil {
		return "", &HTTPError{Channel: KindSMS, Op: "status", Err: fmt.Errorf("status of %s is not JSON: %.200s", id, answer)}
	}
	st := fmt.Sprint(out[s.StatusField])
	switch {
	case slices.Contains(s.Delivered, st):
		return DeliveryDelivered, nil
	case slices.Contains(s.Failed, st):
		return DeliveryFailed, nil
	}
	return DeliveryPending, nil
}

// gsm7 is the GSM 03.38 basic character set (one septet each); the
// extension table's characters take two.
const (
	gsm7    = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsm7Ext = "^{}\\[~]|€\f"
)

// SMSSegments is how many SMS a text takes: in GSM-7, 160 septets alone or
// 153 per segment when concatenated; with any other character, UCS-2, 70
// alone or 67 per segment (counted in UTF-16 units).
func SMSSegments(text string) int {
	septets, gsm := 0, true
	for _, r := range text {
		switch {
		case strings.ContainsRune(gsm7, r):
			septets++
		case strings.ContainsRune(gsm7Ext, r):
			septets += 2
		default:
			gsm = false
		}
	}
	if gsm {
		if septets <= 160 {
			return 1
		}
		return (septets + 152) / 153
	}
	units := 0
	for _, r := range text {
		units++
		if r > 0xFFFF {
			units++
		}
	}
	if units <= 70 {
		return 1
	}
	return (units + 66) / 67
}
