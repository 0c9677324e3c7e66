// Package channels sends messages over the channels that reach citizens when
// App IO cannot: email through the comune's SMTP relay (with attachments, such
// as the printable payment notice), and later SMS gateways and webhooks.
package channels

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strings"
	"time"

	"github.com/ponte-pa/ponte/connectors/failure"
)

// SMTPOptions configure an SMTP sender. The zero value of every optional field
// is the safe choice: STARTTLS required, 30 s timeout.
type SMTPOptions struct {
	// Addr is host:port of the relay (587 for submission with STARTTLS).
	Addr string
	// From is the sender address, e.g. "Comune di Esempio <tributi@comune.esempio.it>".
	From string
	// Username and Password for AUTH PLAIN (empty: no authentication).
	Username, Password string
	// TLSConfig for STARTTLS; nil verifies the relay's certificate against
	// the system roots with Addr's host as server name.
	TLSConfig *tls.Config
	// AllowPlaintext permits relays that do not offer STARTTLS. Only for
	// local test servers: credentials and citizens' data would travel in clear.
	AllowPlaintext bool
	Timeout        time.Duration
	// Hostname sent in EHLO (default "localhost").
	Hostname string
}

// Attachment is a file sent with an email.
type Attachment struct {
	Name        string `json:"name"`
	ContentType string `json:"contentType"`
	Data        []byte `json:"data"`
}

// Email is one message to one recipient.
type Email struct {
	To          string
	Subject     string
	Text        string
	Attachments []Attachment
	// MessageID, when set, makes resends recognisable by the relay and the
	// recipient's client (derive it from the business key).
	MessageID string
}

// ErrorKind classifies send failures once, for the retry policy.
type ErrorKind int

// Error kinds.
const (
	// KindInvalid: bad address or message; resending cannot help.
	KindInvalid ErrorKind = iota + 1
	// KindRejected: the relay refused permanently (5xx).
	KindRejected
	// KindTemporary: connection failure or 4xx; retry later.
	KindTemporary
	// KindConfig: TLS not offered, authentication failed: fix the config.
	KindConfig
	// KindAmbiguous: the connection failed after the whole message was
	// handed over, before the relay confirmed it: it may have been queued.
	KindAmbiguous
)

// SendError is a classified email failure.
type SendError struct {
	Kind ErrorKind
	Op   string
	Err  error
}

func (e *SendError) Error() string { return "email: " + e.Op + ": " + e.Err.Error() }
func (e *SendError) Unwrap() error { return e.Err }

// Failure classifies the error for the one error model (package failure):
// 4xx replies and connection failures before the message was handed over
// are Retryable; a failure after it (no final reply) is Ambiguous; 5xx
// replies, bad addresses and configuration problems are Permanent.
func (e *SendError) Failure() failure.Info {
	switch e.Kind {
	case KindTemporary:
		return failure.Info{Class: failure.Retryable}
	case KindAmbiguous:
		return failure.Info{Class: failure.Ambiguous}
	}
	return failure.Info{Class: failure.Permanent}
}

// SMTPSender sends emails through one relay.
type SMTPSender struct{ o SMTPOptions }

// NewSMTPSender checks the options and returns a sender.
func NewSMTPSender(o SMTPOptions) (*SMTPSender, error) {
	if _, _, err := net.SplitHostPort(o.Addr); err != nil {
		return nil, &SendError{Kind: KindConfig, Op: "config", Err: fmt.Errorf("smtp address %q: use host:port (e.g. smtp.example.it:587)", o.Addr)}
	}
	if _, err := mail.ParseAddress(o.From); err != nil {
		return nil, &SendError{Kind: KindConfig, Op: "config", Err: fmt.Errorf("from address %q: %v", o.From, err)}
	}
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Hostname == "" {
		o.Hostname = "localhost"
	}
	return &SMTPSender{o: o}, nil
}

// Send delivers one email. It never logs the password or the message body.
func (s *SMTPSender) Send(ctx context.Context, m Email) error {
	to, err := mail.ParseAddress(m.To)
	if err != nil {
		return &SendError{Kind: KindInvalid, Op: "recipient", Err: fmt.Errorf("%q is not an email address", m.To)}
	}
	from, _ := mail.ParseAddress(s.o.From)
	msg, err := buildMIME(s.o.From, to.String(), m)
	if err != nil {
		return &SendError{Kind: KindInvalid, Op: "message", Err: err}
	}
	c, err := s.session(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Mail(from.Address); err != nil {
		return classify("MAIL FROM", err)
	}
	if err := c.Rcpt(to.Address); err != nil {
		return classify("RCPT TO", err)
	}
	w, err := c.Data()
	if err != nil {
		return classify("DATA", err)
	}
	if _, err := w.Write(msg); err != nil {
		return &SendError{Kind: KindTemporary, Op: "DATA", Err: err}
	}
	if err := w.Close(); err != nil {
		var reply *textproto.Error
		if !errors.As(err, &reply) {
			// The message went out and the relay's answer to it did not
			// come back: it may be queued for delivery.
			return &SendError{Kind: KindAmbiguous, Op: "end of DATA", Err: err}
		}
		return classify("DATA", err)
	}
	_ = c.Quit()
	return nil
}

// Verify opens a session with the relay as Send does — connect, EHLO,
// STARTTLS with the configured trust, AUTH — and quits without sending:
// the relay accepts this sender's settings.
func (s *SMTPSender) Verify(ctx context.Context) error {
	c, err := s.session(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Quit()
}

// session connects to the relay, says EHLO, starts TLS (or refuses to go
// on in clear) and authenticates.
func (s *SMTPSender) session(ctx context.Context) (*smtp.Client, error) {
	deadline := time.Now().Add(s.o.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	d := net.Dialer{Deadline: deadline}
	conn, err := d.DialContext(ctx, "tcp", s.o.Addr)
	if err != nil {
		return nil, &SendError{Kind: KindTemporary, Op: "connect", Err: err}
	}
	_ = conn.SetDeadline(deadline)
	host, _, _ := net.SplitHostPort(s.o.Addr)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		_ = conn.Close()
		return nil, &SendError{Kind: KindTemporary, Op: "greeting", Err: err}
	}
	fail := func(err error) (*smtp.Client, error) {
		c.Close()
		return nil, err
	}
	if err := c.Hello(s.o.Hostname); err != nil {
		return fail(classify("EHLO", err))
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		cfg := s.o.TLSConfig
		if cfg == nil {
			cfg = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		}
		if err := c.StartTLS(cfg); err != nil {
			return fail(&SendError{Kind: KindConfig, Op: "STARTTLS", Err: err})
		}
	} else if !s.o.AllowPlaintext {
		return fail(&SendError{Kind: KindConfig, Op: "STARTTLS", Err: errors.New("the relay does not offer STARTTLS; refusing to send citizens' data in clear")})
	}
	if s.o.Username != "" {
		if err := c.Auth(plainAuth{user: s.o.Username, pass: s.o.Password, allowInsecure: s.o.AllowPlaintext}); err != nil {
			return fail(&SendError{Kind: KindConfig, Op: "AUTH", Err: err})
		}
	}
	return c, nil
}

// classify maps an SMTP reply to a kind: 4xx temporary, 5xx permanent.
func classify(op string, err error) error {
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "4"):
		return &SendError{Kind: KindTemporary, Op: op, Err: err}
	case strings.HasPrefix(msg, "5"):
		return &SendError{Kind: KindRejected, Op: op, Err: err}
	default:
		return &SendError{Kind: KindTemporary, Op: op, Err: err}
	}
}

// plainAuth is AUTH PLAIN that, unlike smtp.PlainAuth, can be allowed on a
// plaintext connection to a local test server.
type plainAuth struct {
	user, pass    string
	allowInsecure bool
}

func (a plainAuth) Start(si *smtp.ServerInfo) (string, []byte, error) {
	if !si.TLS && !a.allowInsecure {
		return "", nil, errors.New("refusing AUTH over an unencrypted connection")
	}
	return "PLAIN", []byte("\x00" + a.user + "\x00" + a.pass), nil
}

func (a plainAuth) Next([]byte, bool) ([]byte, error) { return nil, nil }

func buildMIME(from, to string, m Email) ([]byte, error) {
	if strings.ContainsAny(m.Subject, "\r\n") {
		return nil, errors.New("subject contains a line break")
	}
	var b bytes.Buffer
	hdr := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	hdr("From", from)
	hdr("To", to)
	hdr("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	hdr("Date", time.Now().Format(time.RFC1123Z))
	if m.MessageID != "" {
		if strings.ContainsAny(m.MessageID, "\r\n<>") {
			return nil, errors.New("message id contains forbidden characters")
		}
		hdr("Message-ID", "<"+m.MessageID+">")
	}
	hdr("MIME-Version", "1.0")
	boundary := randomBoundary()
	hdr("Content-Type", `multipart/mixed; boundary="`+boundary+`"`)
	b.WriteString("\r\n")
	fmt.Fprintf(&b, "--%s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n", boundary)
	qp := quotedprintable.NewWriter(&b)
	if _, err := qp.Write([]byte(m.Text)); err != nil {
		return nil, err
	}
	_ = qp.Close()
	b.WriteString("\r\n")
	for _, a := range m.Attachments {
		if strings.ContainsAny(a.Name, "\r\n\"") {
			return nil, fmt.Errorf("attachment name %q contains forbidden characters", a.Name)
		}
		ct := a.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		fmt.Fprintf(&b, "--%s\r\nContent-Type: %s\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"%s\"\r\n\r\n", boundary, ct, a.Name)
		enc := base64.StdEncoding.EncodeToString(a.Data)
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc + "\r\n")
	}
	fmt.Fprintf(&b, "--%s--\r\n", boundary)
	return b.Bytes(), nil
}

func randomBoundary() string {
	var r [12]byte
	_, _ = rand.Read(r[:])
	return "ponte-" + base64.RawURLEncoding.EncodeToString(r[:])
}
