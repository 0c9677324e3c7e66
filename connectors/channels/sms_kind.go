package channels

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
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
	// Headers are sent with every request, the send and the status
	// polls: gateways that want a second credential beside the token
	// (Skebby's user_key) or a fixed header.
	Headers map[string]SMSHeader `json:"headers,omitempty"`
	// ReferenceStyle is how .Reference is made from the message's key:
	// "key" (default) the key as it is, "hash" 32 lowercase hex digits of
	// its SHA-256, for gateways that restrict their client reference.
	ReferenceStyle string `json:"referenceStyle,omitempty"`
}

// SMSHeader is the value of one extra header: a secret reference
// resolved like the token, or plain text for what is not secret. The
// schema allows exactly one of the two.
type SMSHeader struct {
	Secret string  `json:"secret,omitempty"`
	Value  *string `json:"value,omitempty"`
}

// Reference styles.
const (
	ReferenceKey  = "key"
	ReferenceHash = "hash"
)

// SMSReference is the client reference a message with this key carries in
// the given style; the same key gives the same reference on every retry.
func SMSReference(style, key string) string {
	if style == ReferenceHash {
		sum := sha256.Sum256([]byte(key))
		return hex.EncodeToString(sum[:16])
	}
	return key
}

// checkSMS finds what the schema cannot: the body template must parse and
// render JSON, and an extra header must not replace one the kind sets.
func checkSMS(raw json.RawMessage, _ registry.Env) []registry.Problem {
	var c SMSConfig
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil
	}
	var probs []registry.Problem
	if c.BodyTemplate != "" {
		if _, err := smsBody(c.BodyTemplate); err != nil {
			probs = append(probs, registry.Problem{Pointer: "/bodyTemplate", Rule: "template", Message: err.Error(),
				Hint: "write the JSON the gateway expects, with {{.To}}, {{.From}}, {{.Text}}, {{.Reference}} and {{.Encoding}} where the values go (they are inserted JSON-quoted)"})
		}
	}
	names := make([]string, 0, len(c.Headers))
	for name := range c.Headers {
		names = append(names, name)
	}
	slices.Sort(names)
	auth := cmp.Or(c.AuthHeader, "Authorization")
	for _, name := range names {
		if http.CanonicalHeaderKey(name) == http.CanonicalHeaderKey(auth) || http.CanonicalHeaderKey(name) == "Content-Type" {
			probs = append(probs, registry.Problem{Pointer: schemas.JoinPointer("/headers", name), Rule: "header",
				Message: fmt.Sprintf("header %q is set by the channel itself (the token's header, or the JSON content type)", name),
				Hint:    "carry the token with token, authHeader and authPrefix; list here only the other headers the gateway wants"})
		}
	}
	return probs
}

// smsBody parses a body template and checks that it renders JSON.
func smsBody(text string) (*template.Template, error) {
	t, err := template.New("body").Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, smsFields{To: `"+390000000000"`, From: `"X"`, Text: `"t"`, Reference: `"r"`, Encoding: `"gsm"`}); err != nil {
		return nil, err
	}
	if !json.Valid(b.Bytes()) {
		return nil, fmt.Errorf("the template does not render JSON: %s", b.String())
	}
	return t, nil
}

// smsFields are what a body template sees, each already JSON-quoted.
// Encoding is "gsm" when the text fits the GSM 03.38 alphabet, else "ucs2"
// (what SMSSegments counts with): gateways that send GSM-7 unless told
// otherwise need it.
type smsFields struct{ To, From, Text, Reference, Encoding string }

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
	headers := make(http.Header, len(c.Headers))
	for name, h := range c.Headers {
		v := ""
		switch {
		case h.Value != nil:
			v = *h.Value
		default:
			if v, err = env.Secret(h.Secret); err != nil {
				return nil, fmt.Errorf("sms %s: header %s: %w", c.URL, name, err)
			}
		}
		headers.Set(name, v)
	}
	hc := env.HTTP
	if hc == nil {
		hc = &http.Client{}
	}
	return &SMSSender{URL: c.URL, From: c.Sender, AuthHeader: cmp.Or(c.AuthHeader, "Authorization"), Auth: prefix + tok,
		Header: headers, ReferenceStyle: cmp.Or(c.ReferenceStyle, ReferenceKey),
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
	// Header is sent with every request besides the token's (resolved
	// secrets among them: never log it).
	Header http.Header
	// ReferenceStyle turns a message's key into .Reference (SMSReference).
	ReferenceStyle string
	// IDField is a dotted path to the gateway's id in its answer, e.g. id
	// or data.messages.0.id (object keys, array indexes in decimal).
	IDField     string
	MaxSegments int
	HTTP        *http.Client
	body        *template.Template
	Timeout     time.Duration
	// StatusURL ("" when the gateway gives no receipts) and how to read
	// it: StatusField is a dotted path like IDField.
	StatusURL, StatusField string
	Delivered, Failed      []string
}

// setHeaders puts the token and the extra headers on a request.
func (s *SMSSender) setHeaders(req *http.Request) {
	for name, vs := range s.Header {
		req.Header[name] = vs
	}
	req.Header.Set(s.AuthHeader, s.Auth)
}

// decodeAnswer parses a JSON answer keeping numbers as they are written
// (an id of 20 digits must not become a float).
func decodeAnswer(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, fmt.Errorf("more than one JSON value")
	}
	return v, nil
}

// answerField reads a dotted path (recipients.0.status) in a decoded
// answer; ok is false when it is missing or not a string, number or bool.
func answerField(v any, path string) (string, bool) {
	f, ok := schemas.Walk(v, strings.Split(path, "."))
	if !ok {
		return "", false
	}
	switch x := f.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		return fmt.Sprint(x), true
	}
	return "", false
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
	enc := "gsm"
	if !IsGSM7(text) {
		enc = "ucs2"
	}
	var body bytes.Buffer
	if err := s.body.Execute(&body, smsFields{To: q(m.To.Phone), From: q(s.From), Text: q(text),
		Reference: q(SMSReference(s.ReferenceStyle, m.Key)), Encoding: q(enc)}); err != nil {
		return "", &HTTPError{Channel: KindSMS, Op: "message", Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, cmp.Or(s.Timeout, 15*time.Second))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, &body)
	if err != nil {
		return "", &HTTPError{Channel: KindSMS, Op: "request", Err: err}
	}
	s.setHeaders(req)
	req.Header.Set("Content-Type", "application/json")
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
	out, err := decodeAnswer(answer)
	if err != nil {
		return "", &HTTPError{Channel: KindSMS, Op: "answer", Err: fmt.Errorf("accepted, but the answer is not JSON: %.200s", answer), Ambiguous: true}
	}
	id, ok := answerField(out, s.IDField)
	if !ok || id == "" {
		return "", &HTTPError{Channel: KindSMS, Op: "answer", Err: fmt.Errorf("accepted, but the answer has no %q: %.200s", s.IDField, answer), Ambiguous: true}
	}
	return id, nil
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
	s.setHeaders(req)
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
	out, err := decodeAnswer(answer)
	if err != nil {
		return "", &HTTPError{Channel: KindSMS, Op: "status", Err: fmt.Errorf("status of %s is not JSON: %.200s", id, answer)}
	}
	// A missing state (a gateway that lists no recipient yet) is pending.
	st, _ := answerField(out, s.StatusField)
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

// IsGSM7 reports whether text can be sent in the GSM 03.38 alphabet
// (basic table and extension).
func IsGSM7(text string) bool {
	for _, r := range text {
		if !strings.ContainsRune(gsm7, r) && !strings.ContainsRune(gsm7Ext, r) {
			return false
		}
	}
	return true
}

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
