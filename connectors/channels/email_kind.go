package channels

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ponte-pa/ponte/connectors/registry"
	"github.com/ponte-pa/ponte/schemas"
)

// KindEmail is the email channel: the comune's SMTP relay.
const KindEmail = "email"

//go:embed channel-email.schema.json
var emailSchema []byte

func init() {
	schemas.Register("channel-email.schema.json", emailSchema)
	Kinds.Register(registry.Kind[Sender]{
		Name:   KindEmail,
		Doc:    "email through the comune's SMTP relay (STARTTLS and authentication)",
		Schema: "channel-email.schema.json",
		Check:  checkEmail,
		Open:   openEmail,
	})
}

// EmailConfig is an email channel in a tenant config.
type EmailConfig struct {
	Kind     string `json:"kind"`
	Addr     string `json:"addr"`
	From     string `json:"from"`
	Username string `json:"username,omitempty"`
	// Password is a secret reference (env:NAME or file:path).
	Password string `json:"password,omitempty"`
	// CAFile is relative to the tenant config's directory.
	CAFile string `json:"caFile,omitempty"`
}

const caHint = "point caFile at the PEM certificate of the CA that signed the relay's certificate (with 'ponte mocks': ponte mocks --smtp-ca <this path>)"

// checkEmail finds what the schema cannot: the CA file must exist and hold
// a PEM certificate.
func checkEmail(raw json.RawMessage, env registry.Env) []registry.Problem {
	var c EmailConfig
	if err := json.Unmarshal(raw, &c); err != nil || c.CAFile == "" {
		return nil
	}
	if _, err := readCA(c.CAFile, env.Dir); err != nil {
		return []registry.Problem{{Pointer: "/caFile", Rule: err.rule, Message: err.msg, Hint: caHint}}
	}
	return nil
}

type caError struct{ rule, msg string }

func readCA(path, dir string) (*x509.CertPool, *caError) {
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, &caError{"file", fmt.Sprintf("cannot read %s: %v", path, err)}
	}
	pool := x509.NewCertPool()
	if !bytes.Contains(b, []byte("-----BEGIN CERTIFICATE-----")) || !pool.AppendCertsFromPEM(b) {
		return nil, &caError{"pem", path + " holds no PEM certificate"}
	}
	return pool, nil
}

func openEmail(raw json.RawMessage, env registry.Env) (Sender, error) {
	var c EmailConfig
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	o := SMTPOptions{Addr: c.Addr, From: c.From, Username: c.Username, Timeout: 30 * time.Second}
	if c.Username != "" && c.Password != "" {
		if env.Secret == nil {
			return nil, &SendError{Kind: KindConfig, Op: "config", Err: fmt.Errorf("password %s: no secret resolver", c.Password)}
		}
		pw, err := env.Secret(c.Password)
		if err != nil {
			return nil, &SendError{Kind: KindConfig, Op: "config", Err: fmt.Errorf("password: %w", err)}
		}
		o.Password = pw
	}
	if c.CAFile != "" {
		pool, cerr := readCA(c.CAFile, env.Dir)
		if cerr != nil {
			return nil, &SendError{Kind: KindConfig, Op: "config", Err: fmt.Errorf("caFile: %s", cerr.msg)}
		}
		host := c.Addr[:strings.LastIndexByte(c.Addr, ':')]
		o.TLSConfig = &tls.Config{RootCAs: pool, ServerName: host, MinVersion: tls.VersionTLS12}
	}
	s, err := NewSMTPSender(o)
	if err != nil {
		return nil, err
	}
	return &EmailSender{SMTP: s}, nil
}

// EmailSender is the email channel's Sender over an SMTP relay.
type EmailSender struct{ SMTP *SMTPSender }

// Kind implements Sender.
func (*EmailSender) Kind() string { return KindEmail }

// Reaches implements Sender: the recipient needs an email address.
func (*EmailSender) Reaches(r Recipient) bool { return strings.TrimSpace(r.Email) != "" }

// Verify implements Verifier: a session with the relay (STARTTLS, AUTH)
// that sends nothing.
func (s *EmailSender) Verify(ctx context.Context) error { return s.SMTP.Verify(ctx) }

// Send implements Sender. The Message-ID is m.ID, or one derived from
// m.Key, so that a relay and a mail client recognise a resend.
func (s *EmailSender) Send(ctx context.Context, m Message) (string, error) {
	id := m.ID
	if id == "" && m.Key != "" {
		id = strings.NewReplacer("/", ".", ":", ".", " ", "_").Replace(m.Key) + "@ponte"
	}
	err := s.SMTP.Send(ctx, Email{To: m.To.Email, Subject: m.Subject, Text: m.Text, Attachments: m.Attachments, MessageID: id})
	if err != nil {
		return "", err
	}
	return id, nil
}
