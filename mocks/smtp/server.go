// Package smtpmock is a real SMTP server for tests and the demo: EHLO,
// STARTTLS (self-signed certificate), AUTH PLAIN, MAIL/RCPT/DATA; it records
// every message it accepts and has the fault knobs of every mock (Faults),
// mapped to SMTP: a failure is a reply code to MAIL FROM, a dropped
// connection is closed at MAIL FROM, a lost response is a message accepted
// with no "250" after DATA. Its HTTP handler serves the inspection API:
// GET /__mock/messages, POST /__mock/reset, /__mock/faults.
package smtpmock

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/ponte-pa/ponte/mocks/fault"
)

// Options configure the server.
type Options struct {
	// Username/Password, when set, are required (AUTH PLAIN) before MAIL.
	Username, Password string
	// NoTLS disables STARTTLS (to test a client's refusal to send in clear).
	NoTLS bool
	// MaxSize bounds a message (default 10 MiB).
	MaxSize int
}

// Message is an accepted email, parsed.
type Message struct {
	From        string       `json:"from"`
	To          string       `json:"to"`
	Subject     string       `json:"subject"`
	MessageID   string       `json:"messageId"`
	Text        string       `json:"text"`
	Attachments []Attachment `json:"attachments"`
	TLS         bool         `json:"tls"`
	Raw         []byte       `json:"raw"`
	At          time.Time    `json:"at"`
}

// Attachment is a file found in a message.
type Attachment struct {
	Name        string `json:"name"`
	ContentType string `json:"contentType"`
	Data        []byte `json:"data"`
}

// Server is a running SMTP mock.
type Server struct {
	o   Options
	l   net.Listener
	tls *tls.Config

	faults fault.Injector
	mu     sync.Mutex
	msgs   []Message
	wg     sync.WaitGroup
}

// Start listens on addr ("127.0.0.1:0" for a free port).
func Start(addr string, o Options) (*Server, error) {
	if o.MaxSize == 0 {
		o.MaxSize = 10 << 20
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{o: o, l: l}
	if !o.NoTLS {
		if s.tls, err = selfSigned(); err != nil {
			_ = l.Close()
			return nil, err
		}
	}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Addr is host:port of the server.
func (s *Server) Addr() string { return s.l.Addr().String() }

// ClientTLS is a TLS config that trusts this server's certificate.
func (s *Server) ClientTLS() *tls.Config {
	if s.tls == nil {
		return nil
	}
	pool := x509.NewCertPool()
	pool.AddCert(s.tls.Certificates[0].Leaf)
	return &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

// CertPEM is the server's self-signed certificate in PEM, for a client's CA
// file (nil when TLS is off).
func (s *Server) CertPEM() []byte {
	if s.tls == nil {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.tls.Certificates[0].Certificate[0]})
}

// Close stops accepting and waits for sessions to end.
func (s *Server) Close() error {
	err := s.l.Close()
	s.wg.Wait()
	return err
}

// Faults are the mock's fault knobs; one mail transaction is one request
// (see the package documentation).
func (s *Server) Faults() *fault.Injector { return &s.faults }

// Messages returns the accepted messages in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Reset forgets messages and faults.
func (s *Server) Reset() {
	s.mu.Lock()
	s.msgs = nil
	s.mu.Unlock()
	s.faults.Reset()
}

// ServeHTTP serves the inspection API: GET /__mock/messages, POST
// /__mock/reset and the fault control at /__mock/faults.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.faults.Middleware(http.HandlerFunc(s.serveInspect), fault.HTTPOptions{}).ServeHTTP(w, r)
}

func (s *Server) serveInspect(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/__mock/messages" && r.Method == http.MethodGet:
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s.Messages())
	case r.URL.Path == "/__mock/reset" && r.Method == http.MethodPost:
		s.Reset()
		w.WriteHeader(http.StatusNoContent)
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.l.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(time.Minute))
			s.session(c)
		}()
	}
}

func (s *Server) session(c net.Conn) {
	var (
		r       = bufio.NewReader(c)
		w       = bufio.NewWriter(c)
		isTLS   bool
		authed  = s.o.Username == ""
		from    string
		to      []string
		reply   = func(format string, a ...any) { fmt.Fprintf(w, format+"\r\n", a...); _ = w.Flush() }
		maxLine = 4096
	)
	reply("220 ponte-smtp-mock ready")
	for {
		line, err := readLine(r, maxLine)
		if err != nil {
			return
		}
		cmd, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(cmd) {
		case "EHLO", "HELO":
			fmt.Fprintf(w, "250-ponte-smtp-mock\r\n250-SIZE %d\r\n", s.o.MaxSize)
			if s.tls != nil && !isTLS {
				w.WriteString("250-STARTTLS\r\n")
			}
			w.WriteString("250 AUTH PLAIN\r\n")
			_ = w.Flush()
		case "STARTTLS":
			if s.tls == nil || isTLS {
				reply("502 STARTTLS not available")
				continue
			}
			reply("220 go ahead")
			tc := tls.Server(c, s.tls)
			if err := tc.Handshake(); err != nil {
				return
			}
			c, isTLS = tc, true
			r, w = bufio.NewReader(tc), bufio.NewWriter(tc)
			authed, from, to = s.o.Username == "", "", nil
		case "AUTH":
			mech, resp, _ := strings.Cut(arg, " ")
			if !strings.EqualFold(mech, "PLAIN") || resp == "" {
				reply("504 only AUTH PLAIN with an initial response")
				continue
			}
			b, err := base64.StdEncoding.DecodeString(resp)
			parts := strings.Split(string(b), "\x00")
			if err != nil || len(parts) != 3 || parts[1] != s.o.Username || parts[2] != s.o.Password {
				reply("535 authentication failed")
				continue
			}
			authed = true
			reply("235 authenticated")
		case "MAIL":
			if !authed {
				reply("530 authentication required")
				continue
			}
			f := s.faults.SMTPTransaction()
			if f.Delay > 0 {
				time.Sleep(f.Delay)
			}
			if f.Drop {
				return
			}
			if f.Reply != "" {
				reply("%s", f.Reply)
				continue
			}
			from, to = addrArg(arg), nil
			reply("250 ok")
		case "RCPT":
			if from == "" {
				reply("503 MAIL first")
				continue
			}
			to = append(to, addrArg(arg))
			reply("250 ok")
		case "DATA":
			if len(to) == 0 {
				reply("503 RCPT first")
				continue
			}
			reply("354 end with <CRLF>.<CRLF>")
			raw, err := readData(r, s.o.MaxSize)
			if err != nil {
				reply("552 %v", err)
				return
			}
			m := parse(raw)
			m.From, m.To, m.TLS, m.At = from, strings.Join(to, ","), isTLS, time.Now()
			s.mu.Lock()
			s.msgs = append(s.msgs, m)
			s.mu.Unlock()
			if s.faults.SMTPLose() {
				return
			}
			reply("250 queued")
			from, to = "", nil
		case "RSET":
			from, to = "", nil
			reply("250 ok")
		case "NOOP":
			reply("250 ok")
		case "QUIT":
			reply("221 bye")
			return
		default:
			reply("500 unknown command")
		}
	}
}

func readLine(r *bufio.Reader, max int) (string, error) {
	var b []byte
	for {
		chunk, isPrefix, err := r.ReadLine()
		if err != nil {
			return "", err
		}
		b = append(b, chunk...)
		if len(b) > max {
			return "", errors.New("line too long")
		}
		if !isPrefix {
			return string(b), nil
		}
	}
}

func readData(r *bufio.Reader, max int) ([]byte, error) {
	var b bytes.Buffer
	for {
		line, err := readLine(r, 1000)
		if err != nil {
			return nil, err
		}
		if line == "." {
			return b.Bytes(), nil
		}
		line = strings.TrimPrefix(line, ".")
		b.WriteString(line + "\r\n")
		if b.Len() > max {
			return nil, errors.New("message too large")
		}
	}
}

func addrArg(arg string) string {
	_, a, _ := strings.Cut(arg, ":")
	a = strings.TrimSpace(a)
	if i := strings.IndexByte(a, ' '); i > 0 {
		a = a[:i]
	}
	return strings.Trim(a, "<>")
}

// parse extracts subject, text and attachments; a message it cannot parse is
// still recorded raw.
func parse(raw []byte) Message {
	m := Message{Raw: raw}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return m
	}
	dec := new(mime.WordDecoder)
	if subj, err := dec.DecodeHeader(msg.Header.Get("Subject")); err == nil {
		m.Subject = subj
	}
	m.MessageID = strings.Trim(msg.Header.Get("Message-ID"), "<>")
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mt, "multipart/") {
		b, _ := io.ReadAll(msg.Body)
		m.Text = string(b)
		return m
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			return m
		}
		b, _ := io.ReadAll(p) // multipart decodes quoted-printable itself
		if p.Header.Get("Content-Transfer-Encoding") == "base64" {
			d, err := base64.StdEncoding.DecodeString(strings.NewReplacer("\r", "", "\n", "").Replace(string(b)))
			if err == nil {
				b = d
			}
		}
		if name := p.FileName(); name != "" {
			m.Attachments = append(m.Attachments, Attachment{Name: name, ContentType: p.Header.Get("Content-Type"), Data: b})
		} else if m.Text == "" {
			m.Text = string(b)
		}
	}
}

func selfSigned() (*tls.Config, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "ponte-smtp-mock"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}}, MinVersion: tls.VersionTLS12}, nil
}
