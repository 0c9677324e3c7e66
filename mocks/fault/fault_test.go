package fault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestNextOrderAndCounts(t *testing.T) {
	var inj Injector // ready at its zero value
	if f := inj.Next(); f.Kind != None || f.Latency != 0 {
		t.Fatalf("zero value: %+v", f)
	}
	inj.DropNext(1)
	inj.FailNextWith(2, Failure{Status: 503, RetryAfter: 3})
	inj.SetErrorRate(1, 7)
	inj.SetLatency(time.Millisecond)
	want := []Fault{
		{Latency: time.Millisecond, Kind: Drop},
		{Latency: time.Millisecond, Kind: Fail, Failure: Failure{Status: 503, RetryAfter: 3}},
		{Latency: time.Millisecond, Kind: Fail, Failure: Failure{Status: 503, RetryAfter: 3}},
		{Latency: time.Millisecond, Kind: Fail}, // drawn by the error rate
	}
	for n, w := range want {
		if got := inj.Next(); got != w {
			t.Errorf("request %d: %+v, want %+v", n, got, w)
		}
	}
	if st := inj.Stats(); st != (Stats{Failed: 2, Errors: 1, Dropped: 1, Delayed: 4, Injected: 4}) {
		t.Errorf("stats %+v", st)
	}
	inj.Reset()
	if f, st := inj.Next(), inj.Stats(); f != (Fault{}) || st != (Stats{}) || inj.Knobs() != (Knobs{}) {
		t.Errorf("after Reset: %+v %+v %+v", f, st, inj.Knobs())
	}
}

func TestErrorRateIsReproducible(t *testing.T) {
	pattern := func(seed uint64) string {
		var inj Injector
		inj.SetErrorRate(0.5, seed)
		var b strings.Builder
		for range 200 {
			if inj.Next().Kind == Fail {
				b.WriteByte('x')
			} else {
				b.WriteByte('.')
			}
		}
		return b.String()
	}
	a, b, c := pattern(42), pattern(42), pattern(43)
	if a != b {
		t.Errorf("same seed, different failures:\n%s\n%s", a, b)
	}
	if a == c {
		t.Error("different seeds fail the same requests")
	}
	if n := strings.Count(a, "x"); n < 50 || n > 150 {
		t.Errorf("%d of 200 failed at rate 0.5", n)
	}
}

func ptr[T any](v T) *T { return &v }

func TestApply(t *testing.T) {
	tests := []struct {
		name    string
		before  func(*Injector)
		s       Settings
		want    Knobs
		wantErr string
	}{
		{"failNext defaults to 500", nil, Settings{FailNext: ptr(2)}, Knobs{FailNext: 2, FailStatus: 500}, ""},
		{"failNext keeps the status set", func(i *Injector) { i.FailNext(0, 429) }, Settings{FailNext: ptr(1)}, Knobs{FailNext: 1, FailStatus: 429}, ""},
		{"everything", nil, Settings{FailNext: ptr(1), FailStatus: ptr(429), FailBody: ptr("slow down"), FailContentType: ptr("text/plain"),
			RetryAfter: ptr(5), LatencyMS: ptr(int64(40)), ErrorRate: ptr(0.2), Seed: ptr(uint64(7)), DropNext: ptr(3), LoseNext: ptr(4)},
			Knobs{FailNext: 1, FailStatus: 429, FailBody: "slow down", FailContentType: "text/plain", RetryAfter: 5, LatencyMS: 40, ErrorRate: 0.2, Seed: 7, DropNext: 3, LoseNext: 4}, ""},
		{"absent fields are kept", func(i *Injector) { i.DropNext(2); i.SetErrorRate(0.1, 9) }, Settings{LoseNext: ptr(1)}, Knobs{DropNext: 2, LoseNext: 1, ErrorRate: 0.1, Seed: 9}, ""},
		{"status out of range", nil, Settings{FailNext: ptr(1), FailStatus: ptr(250)}, Knobs{}, "failStatus"},
		{"negative count", nil, Settings{DropNext: ptr(-1)}, Knobs{}, "dropNext"},
		{"rate over 1", nil, Settings{ErrorRate: ptr(1.5)}, Knobs{}, "errorRate"},
		{"negative latency", nil, Settings{LatencyMS: ptr(int64(-5))}, Knobs{}, "latencyMs"},
		{"an error changes nothing", nil, Settings{DropNext: ptr(1), LoseNext: ptr(-1)}, Knobs{}, "loseNext"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var inj Injector
			if tt.before != nil {
				tt.before(&inj)
			}
			err := inj.Apply(tt.s)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if got := inj.Knobs(); got != tt.want {
				t.Errorf("knobs %+v, want %+v", got, tt.want)
			}
		})
	}
}

// backend is a mock API behind the middleware: it counts the requests it
// applied and answers status.
type backend struct {
	t       testing.TB
	applied atomic.Int32
	status  int
}

func (b *backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.applied.Add(1)
	w.Header().Set("X-Backend", "yes")
	w.WriteHeader(b.status)
	if _, err := io.WriteString(w, "applied"); err != nil {
		b.t.Error(err)
	}
}

func problemJSON(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	if _, err := fmt.Fprintf(w, `{"status":%d,"detail":%q}`, status, detail); err != nil {
		panic(err) // the tests' clients read every answer
	}
}

func TestMiddleware(t *testing.T) {
	tests := []struct {
		name        string
		setup       func(*Injector)
		method      string
		path        string
		status      int // the backend's
		wantErr     bool
		wantStatus  int
		wantBody    string
		wantHeader  [2]string
		wantApplied int32
		wantStats   Stats
	}{
		{"no fault", nil, "POST", "/api", 201, false, 201, "applied", [2]string{"X-Backend", "yes"}, 1, Stats{}},
		{"failure in the mock's shape", func(i *Injector) { i.FailNext(1, 503) }, "GET", "/api", 200, false, 503, `{"status":503,"detail":"fault injected by the mock"}`,
			[2]string{"Content-Type", "application/problem+json"}, 0, Stats{Failed: 1, Injected: 1}},
		{"failure with body and Retry-After", func(i *Injector) {
			i.FailNextWith(1, Failure{Status: 429, Body: "<busy/>", ContentType: "text/xml", RetryAfter: 7})
		}, "POST", "/api", 201, false, 429, "<busy/>", [2]string{"Retry-After", "7"}, 0, Stats{Failed: 1, Injected: 1}},
		{"error rate fails with 500", func(i *Injector) { i.SetErrorRate(1, 1) }, "GET", "/api", 200, false, 500, `{"status":500,"detail":"fault injected by the mock"}`, [2]string{}, 0, Stats{Errors: 1, Injected: 1}},
		{"drop", func(i *Injector) { i.DropNext(1) }, "POST", "/api", 201, true, 0, "", [2]string{}, 0, Stats{Dropped: 1, Injected: 1}},
		{"lose a successful write", func(i *Injector) { i.LoseNext(1) }, "PUT", "/api", 200, true, 0, "", [2]string{}, 1, Stats{Lost: 1, Injected: 1}},
		{"reads are not lost", func(i *Injector) { i.LoseNext(1) }, "GET", "/api", 200, false, 200, "applied", [2]string{"X-Backend", "yes"}, 1, Stats{}},
		{"refused writes are not lost", func(i *Injector) { i.LoseNext(1) }, "POST", "/api", 409, false, 409, "applied", [2]string{"X-Backend", "yes"}, 1, Stats{}},
		{"the inspection API is exempt", func(i *Injector) { i.FailNext(1, 500) }, "GET", "/__mock/stats", 200, false, 200, "applied", [2]string{}, 1, Stats{}},
		{"latency alone", func(i *Injector) { i.SetLatency(time.Millisecond) }, "GET", "/api", 200, false, 200, "applied", [2]string{}, 1, Stats{Delayed: 1}},
		{"a read sent by POST is not lost", func(i *Injector) { i.LoseNext(1) }, "POST", "/api/read", 200, false, 200, "applied", [2]string{}, 1, Stats{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var inj Injector
			if tt.setup != nil {
				tt.setup(&inj)
			}
			be := &backend{t: t, status: tt.status}
			srv := httptest.NewServer(inj.Middleware(be, HTTPOptions{Problem: problemJSON,
				ChangesState: func(r *http.Request) bool { return r.Method != "GET" && r.URL.Path != "/api/read" }}))
			defer srv.Close()
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
			if tt.wantErr {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("got %d, want a broken connection", resp.StatusCode)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != tt.wantStatus || strings.TrimSpace(string(b)) != tt.wantBody {
					t.Errorf("answer %d %q, want %d %q", resp.StatusCode, b, tt.wantStatus, tt.wantBody)
				}
				if h := tt.wantHeader; h[0] != "" && resp.Header.Get(h[0]) != h[1] {
					t.Errorf("header %s = %q, want %q", h[0], resp.Header.Get(h[0]), h[1])
				}
			}
			if got := be.applied.Load(); got != tt.wantApplied {
				t.Errorf("backend applied %d requests, want %d", got, tt.wantApplied)
			}
			if st := inj.Stats(); st != tt.wantStats {
				t.Errorf("stats %+v, want %+v", st, tt.wantStats)
			}
		})
	}
}

// A client that gives up during the latency never reaches the backend.
func TestLatencyStopsWhenTheClientLeaves(t *testing.T) {
	var inj Injector
	inj.SetLatency(time.Hour)
	be := &backend{t: t, status: 200}
	srv := httptest.NewServer(inj.Middleware(be, HTTPOptions{}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		req, err := http.NewRequestWithContext(ctx, "POST", srv.URL+"/api", strings.NewReader("body"))
		if err != nil {
			done <- err
			return
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	for inj.Stats().Delayed == 0 { // the server holds the request
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("client: %v, want canceled", err)
	}
	srv.Close() // waits for the handler to return
	if be.applied.Load() != 0 {
		t.Error("the backend applied a request whose client had left")
	}
}

func TestControlOverHTTP(t *testing.T) {
	var inj Injector
	srv := httptest.NewServer(inj.Middleware(&backend{t: t, status: 200}, HTTPOptions{}))
	defer srv.Close()
	call := func(method, body string) (int, State) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+Path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var st State
		if resp.StatusCode == 200 {
			if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
				t.Fatal(err)
			}
		}
		return resp.StatusCode, st
	}
	if code, st := call("POST", `{"failNext":1,"failStatus":429,"retryAfter":2,"latencyMs":0,"loseNext":1}`); code != 200 ||
		st.Knobs != (Knobs{FailNext: 1, FailStatus: 429, RetryAfter: 2, LoseNext: 1}) {
		t.Fatalf("POST: %d %+v", code, st)
	}
	resp, err := http.Get(srv.URL + "/api")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "2" {
		t.Fatalf("injected answer %d %v", resp.StatusCode, resp.Header)
	}
	if code, st := call("GET", ""); code != 200 || st.FailNext != 0 || st.Stats.Failed != 1 || st.Stats.Injected != 1 {
		t.Errorf("GET: %d %+v", code, st)
	}
	for _, bad := range []string{`{`, `{"failNext":"two"}`, `{"nope":1}`, `{"errorRate":2}`} {
		if code, _ := call("POST", bad); code != 400 {
			t.Errorf("POST %s: %d, want 400", bad, code)
		}
	}
	if code, st := call("DELETE", ""); code != 200 || st != (State{}) {
		t.Errorf("DELETE: %d %+v", code, st)
	}
	if code, _ := call("PUT", "{}"); code != 405 {
		t.Errorf("PUT: %d, want 405", code)
	}
}

func TestSMTPTransaction(t *testing.T) {
	tests := []struct {
		name  string
		setup func(*Injector)
		want  SMTPAction
	}{
		{"nothing", nil, SMTPAction{}},
		{"reply code", func(i *Injector) { i.FailNext(1, 550) }, SMTPAction{Reply: "550 fault injected by the mock"}},
		{"own text", func(i *Injector) { i.FailNextWith(1, Failure{Status: 421, Body: "4.3.2 try later"}) }, SMTPAction{Reply: "421 4.3.2 try later"}},
		{"error rate is transient", func(i *Injector) { i.SetErrorRate(1, 3) }, SMTPAction{Reply: "451 fault injected by the mock"}},
		{"drop with latency", func(i *Injector) { i.DropNext(1); i.SetLatency(time.Second) }, SMTPAction{Drop: true, Delay: time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var inj Injector
			if tt.setup != nil {
				tt.setup(&inj)
			}
			if got := inj.SMTPTransaction(); got != tt.want {
				t.Errorf("%+v, want %+v", got, tt.want)
			}
		})
	}
	var inj Injector
	inj.LoseNext(1)
	if !inj.SMTPLose() || inj.SMTPLose() || inj.Stats().Lost != 1 {
		t.Errorf("SMTPLose: stats %+v", inj.Stats())
	}
}
