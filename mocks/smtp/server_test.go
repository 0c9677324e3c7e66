package smtpmock

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/smtp"
	"strings"
	"testing"
)

func start(t *testing.T) *Server {
	t.Helper()
	s, err := Start("127.0.0.1:0", Options{NoTLS: true})
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

func send(s *Server, subject string) error {
	return smtp.SendMail(s.Addr(), nil, "ufficio@comune.example.it", []string{"mario@example.org"},
		[]byte("Subject: "+subject+"\r\n\r\nTesto\r\n"))
}

func TestFaultsMapToSMTP(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(*Server)
		wantErr   string // "" for success; "EOF" for a closed connection
		wantKept  int
		wantStats string
	}{
		{"accepted", nil, "", 1, `{"failed":0,"errors":0,"dropped":0,"lost":0,"delayed":0,"injected":0}`},
		{"reply code at MAIL FROM", func(s *Server) { s.Faults().FailNext(1, 451) }, "451", 0, `{"failed":1,"errors":0,"dropped":0,"lost":0,"delayed":0,"injected":1}`},
		{"permanent reply", func(s *Server) { s.Faults().FailNext(1, 550) }, "550", 0, `{"failed":1,"errors":0,"dropped":0,"lost":0,"delayed":0,"injected":1}`},
		{"error rate is transient", func(s *Server) { s.Faults().SetErrorRate(1, 2) }, "451", 0, `{"failed":0,"errors":1,"dropped":0,"lost":0,"delayed":0,"injected":1}`},
		{"dropped connection", func(s *Server) { s.Faults().DropNext(1) }, "EOF", 0, `{"failed":0,"errors":0,"dropped":1,"lost":0,"delayed":0,"injected":1}`},
		{"lost reply keeps the message", func(s *Server) { s.Faults().LoseNext(1) }, "EOF", 1, `{"failed":0,"errors":0,"dropped":0,"lost":1,"delayed":0,"injected":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t)
			if tt.setup != nil {
				tt.setup(s)
			}
			err := send(s, tt.name)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("send: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("send: %v, want an error with %q", err, tt.wantErr)
			}
			if n := len(s.Messages()); n != tt.wantKept {
				t.Errorf("%d messages kept, want %d", n, tt.wantKept)
			}
			b, err := json.Marshal(s.Faults().Stats())
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.wantStats {
				t.Errorf("stats %s, want %s", b, tt.wantStats)
			}
		})
	}
}

func TestInspectionHTTP(t *testing.T) {
	s := start(t)
	srv := httptest.NewServer(s)
	defer srv.Close()
	post := func(path, body string) *http.Response {
		t.Helper()
		resp, err := http.Post(srv.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := post("/__mock/faults", `{"failNext":1,"failStatus":452}`); resp.StatusCode != 200 {
		t.Fatalf("POST /__mock/faults: %d", resp.StatusCode)
	}
	if err := send(s, "refused"); err == nil || !strings.Contains(err.Error(), "452") {
		t.Fatalf("after POST /__mock/faults: %v", err)
	}
	if err := send(s, "Avviso TARI"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(srv.URL + "/__mock/messages")
	if err != nil {
		t.Fatal(err)
	}
	var msgs []Message
	err = json.NewDecoder(resp.Body).Decode(&msgs)
	resp.Body.Close()
	if err != nil || len(msgs) != 1 || msgs[0].Subject != "Avviso TARI" || msgs[0].To != "mario@example.org" {
		t.Fatalf("/__mock/messages: %v %+v", err, msgs)
	}
	s.Faults().DropNext(5)
	if resp := post("/__mock/reset", ""); resp.StatusCode != 204 || len(s.Messages()) != 0 || s.Faults().Knobs().DropNext != 0 {
		t.Errorf("reset: %d, %d messages, knobs %+v", resp.StatusCode, len(s.Messages()), s.Faults().Knobs())
	}
}
