package webhookmock

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sign is written from the header's description, apart from the sender's
// code: t=<unix>,v1=hex(HMAC-SHA256(secret, "<t>.<body>")).
func sign(secret string, t time.Time, body string) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "." + body))
	return "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

func TestReceiver(t *testing.T) {
	now := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	s := New(Options{Now: func() time.Time { return now }})
	srv := httptest.NewServer(s)
	defer srv.Close()
	post := func(id, sig, body string) int {
		t.Helper()
		req, err := http.NewRequest("POST", srv.URL+"/sirene", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Ponte-Event-Id", id)
		req.Header.Set("X-Ponte-Signature", sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	body := `{"eventId":"e1","subject":"Allerta rossa"}`
	for _, tt := range []struct {
		name, id, sig, body string
		want                int
	}{
		{"signed", "e1", sign(DefaultSecret, now, body), body, 204},
		{"the same event again", "e1", sign(DefaultSecret, now.Add(time.Second), body), body, 200},
		{"another secret", "e2", sign("another-secret-xxxxxxxx", now, body), body, 401},
		{"body changed", "e2", sign(DefaultSecret, now, body), strings.Replace(body, "rossa", "gialla", 1), 401},
		{"ten minutes old", "e2", sign(DefaultSecret, now.Add(-10*time.Minute), body), body, 401},
		{"no signature", "e2", "", body, 401},
		{"no event id", "", sign(DefaultSecret, now, body), body, 400},
		{"not JSON", "e3", sign(DefaultSecret, now, "hello"), "hello", 400},
	} {
		if got := post(tt.id, tt.sig, tt.body); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
	d := s.Deliveries()
	if len(d) != 1 || d[0].EventID != "e1" || d[0].Redelivered != 1 || d[0].Path != "/sirene" {
		t.Errorf("deliveries %+v", d)
	}
	if st := s.Stats(); st != (Stats{Accepted: 1, Duplicates: 1, BadSignature: 3, Stale: 1}) {
		t.Errorf("stats %+v", st)
	}
	// The fault kit: the next delivery fails with 503.
	s.Faults().FailNext(1, 503)
	if got := post("e4", sign(DefaultSecret, now, body), body); got != 503 {
		t.Errorf("injected fault: %d", got)
	}
}
