package channels

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ponte-pa/ponte/connectors/failure"
	smtpmock "github.com/ponte-pa/ponte/mocks/smtp"
)

func startMock(t *testing.T, o smtpmock.Options) *smtpmock.Server {
	t.Helper()
	s, err := smtpmock.Start("127.0.0.1:0", o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func TestSendWithSTARTTLSAuthAndAttachment(t *testing.T) {
	srv := startMock(t, smtpmock.Options{Username: "tributi", Password: "s3cret"})
	snd, err := NewSMTPSender(SMTPOptions{Addr: srv.Addr(), From: "Comune di Esempio <tributi@esempio.it>",
		Username: "tributi", Password: "s3cret", TLSConfig: srv.ClientTLS()})
	if err != nil {
		t.Fatal(err)
	}
	pdf := bytes.Repeat([]byte("%PDF-1.4 avviso "), 200)
	err = snd.Send(context.Background(), Email{To: "mario.rossi@example.it", Subject: "Avviso di pagamento TARI 2026 — Comune di Esempio",
		Text: "Gentile Mario Rossi,\nin allegato l'avviso. Importo: € 123,45\n", MessageID: "tari-2026.RSSMRA85T10A562S@ponte",
		Attachments: []Attachment{{Name: "avviso-301000000000000144.pdf", ContentType: "application/pdf", Data: pdf}}})
	if err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	m := msgs[0]
	if !m.TLS || m.From != "tributi@esempio.it" || m.To != "mario.rossi@example.it" {
		t.Errorf("envelope: tls=%v from=%q to=%q", m.TLS, m.From, m.To)
	}
	if m.Subject != "Avviso di pagamento TARI 2026 — Comune di Esempio" || m.MessageID != "tari-2026.RSSMRA85T10A562S@ponte" {
		t.Errorf("headers: subject=%q id=%q", m.Subject, m.MessageID)
	}
	if want := "Gentile Mario Rossi,\nin allegato l'avviso. Importo: € 123,45\n"; strings.ReplaceAll(m.Text, "\r\n", "\n") != want {
		t.Errorf("text %q, want %q", m.Text, want)
	}
	if len(m.Attachments) != 1 || m.Attachments[0].Name != "avviso-301000000000000144.pdf" || !bytes.Equal(m.Attachments[0].Data, pdf) {
		t.Errorf("attachment did not round-trip: %+v", m.Attachments)
	}
}

func TestSendFailuresAreClassified(t *testing.T) {
	cases := []struct {
		name  string
		opts  smtpmock.Options
		setup func(*smtpmock.Server)
		send  func(*smtpmock.Server) SMTPOptions
		to    string
		want  ErrorKind
	}{
		{name: "no STARTTLS offered", opts: smtpmock.Options{NoTLS: true}, want: KindConfig},
		{name: "wrong password", opts: smtpmock.Options{Username: "u", Password: "right"}, want: KindConfig,
			send: func(s *smtpmock.Server) SMTPOptions {
				return SMTPOptions{Addr: s.Addr(), From: "a@b.it", Username: "u", Password: "wrong", TLSConfig: s.ClientTLS()}
			}},
		{name: "451 is temporary", setup: func(s *smtpmock.Server) { s.Faults().FailNext(1, 451) }, want: KindTemporary},
		{name: "550 is rejected", setup: func(s *smtpmock.Server) { s.Faults().FailNext(1, 550) }, want: KindRejected},
		{name: "dropped connection is temporary", setup: func(s *smtpmock.Server) { s.Faults().DropNext(1) }, want: KindTemporary},
		{name: "bad recipient", to: "not an address", want: KindInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := startMock(t, c.opts)
			if c.setup != nil {
				c.setup(srv)
			}
			o := SMTPOptions{Addr: srv.Addr(), From: "a@b.it", TLSConfig: srv.ClientTLS()}
			if c.send != nil {
				o = c.send(srv)
			}
			snd, err := NewSMTPSender(o)
			if err != nil {
				t.Fatal(err)
			}
			to := c.to
			if to == "" {
				to = "x@y.it"
			}
			err = snd.Send(context.Background(), Email{To: to, Subject: "s", Text: "t"})
			var se *SendError
			if !errors.As(err, &se) || se.Kind != c.want {
				t.Fatalf("got %v, want kind %d", err, c.want)
			}
			if failure.IsRetryable(err) != (c.want == KindTemporary) {
				t.Errorf("failure.IsRetryable = %v", failure.IsRetryable(err))
			}
			if len(srv.Messages()) != 0 {
				t.Errorf("a message was accepted")
			}
		})
	}
}

func TestHeaderInjectionRejected(t *testing.T) {
	srv := startMock(t, smtpmock.Options{})
	snd, err := NewSMTPSender(SMTPOptions{Addr: srv.Addr(), From: "a@b.it", TLSConfig: srv.ClientTLS()})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []Email{
		{To: "x@y.it", Subject: "hi\r\nBcc: victim@z.it", Text: "t"},
		{To: "x@y.it", Subject: "ok", Text: "t", Attachments: []Attachment{{Name: "a\".pdf"}}},
		{To: "x@y.it", Subject: "ok", Text: "t", MessageID: "x>\r\nBcc: v@z.it"},
	} {
		var se *SendError
		if err := snd.Send(context.Background(), m); !errors.As(err, &se) || se.Kind != KindInvalid {
			t.Errorf("%+v: got %v, want KindInvalid", m, err)
		}
	}
	if len(srv.Messages()) != 0 {
		t.Error("an injected message was accepted")
	}
}

func TestBadOptions(t *testing.T) {
	for _, o := range []SMTPOptions{{Addr: "nohostport", From: "a@b.it"}, {Addr: "127.0.0.1:25", From: "not-an-address"}} {
		if _, err := NewSMTPSender(o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}
