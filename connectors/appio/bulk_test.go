package appio

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ponte-pa/ponte/connectors/appio/appiotest"
	"github.com/ponte-pa/ponte/connectors/channels"
	"github.com/ponte-pa/ponte/internal/store"
	"github.com/ponte-pa/ponte/internal/store/storetest"
	appiomock "github.com/ponte-pa/ponte/mocks/appio"
	"github.com/ponte-pa/ponte/schemas/contracts/contractstest"
)

// bulkFiscalCode makes the i-th of many distinct valid fiscal codes.
func bulkFiscalCode(i int) string {
	var b [6]byte
	for k := 5; k >= 0; k-- {
		b[k] = byte('A' + i%26)
		i /= 26
	}
	return string(b[:]) + "80A01H501Z"
}

// bulkWorker is one simulated worker process: its own database handle,
// limiter, outbox and client.
type bulkWorker struct {
	client *Client
	outbox *channels.Outbox
	spec   *contractstest.Transport
}

type bulkResult struct {
	sends, retries, retryFound int
	ids                        map[string]string // fiscal code -> id
	errs                       []error
}

// runBulk sends n messages through workers × conc goroutines, each through
// the outbox, retrying every 10th, and returns what the senders saw. Each
// message has its own context (a paced send may wait for its turn).
func runBulk(workers []*bulkWorker, conc, n int) bulkResult {
	res := bulkResult{ids: map[string]string{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w, wk := range workers {
		jobs := make(chan int)
		for range conc {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range jobs {
					ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
					vm := validMessage()
					fc := bulkFiscalCode(i)
					k := channels.Key{Scope: "bulk", Item: int64(i), Slot: "io"}
					d := channels.Delivery{Key: k, Sender: &Sender{Client: wk.client, Key: keyPayments},
						Message: channels.Message{Key: k.String(), To: channels.Recipient{FiscalCode: fc}, Subject: vm.Content.Subject, Markdown: vm.Content.Markdown}}
					send := func() (channels.Result, error) {
						rs, err := wk.outbox.Run(ctx, channels.Batch{Send: []channels.Delivery{d}})
						if err != nil {
							return channels.Result{}, err
						}
						return rs[0], rs[0].Err
					}
					r, err := send()
					var again channels.Result
					var againErr error
					if err == nil && i%10 == 0 {
						// A forced retry, as after a crash between the send
						// and the activity's completion.
						again, againErr = send()
					}
					mu.Lock()
					switch {
					case err != nil:
						res.errs = append(res.errs, fmt.Errorf("message %d: %w", i, err))
					case r.Before || r.State != channels.StateSent:
						res.errs = append(res.errs, fmt.Errorf("message %d: first attempt found %+v", i, r))
					default:
						res.sends++
						res.ids[fc] = r.MessageID
					}
					if i%10 == 0 && err == nil {
						res.retries++
						switch {
						case againErr != nil:
							res.errs = append(res.errs, fmt.Errorf("retry of %d: %w", i, againErr))
						case !again.Before || again.State != channels.StateSent || again.MessageID != r.MessageID:
							res.errs = append(res.errs, fmt.Errorf("retry of %d: got %+v, want the first attempt's id %s", i, again, r.MessageID))
						default:
							res.retryFound++
						}
					}
					mu.Unlock()
					cancel()
				}
			}()
		}
		go func() {
			defer close(jobs)
			for i := w; i < n; i += len(workers) {
				jobs <- i
			}
		}()
	}
	wg.Wait()
	return res
}

// windowFraction computes, from arrival times, the fraction of the
// capacity (limit per window) used over the whole windows between the
// first and the last arrival, and the largest count in any sliding window.
func windowFraction(at []time.Time, limit int, window time.Duration) (fraction float64, maxInWindow int) {
	if len(at) == 0 {
		return 0, 0
	}
	slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
	full := int(at[len(at)-1].Sub(at[0]) / window)
	if full == 0 {
		return 0, len(at)
	}
	end := at[0].Add(time.Duration(full) * window)
	n := 0
	for _, t := range at {
		if t.Before(end) {
			n++
		}
	}
	j := 0
	for i, t := range at {
		for !at[j].After(t.Add(-window)) {
			j++
		}
		maxInWindow = max(maxInWindow, i-j+1)
	}
	return float64(n) / float64(full*limit), maxInWindow
}

// newBulkWorkers makes nWorkers simulated worker processes, each with its
// own handle on db (its own connections), limiter and outbox.
func newBulkWorkers(t testing.TB, db *store.DB, url string, nWorkers, limit int, window time.Duration) []*bulkWorker {
	t.Helper()
	var out []*bulkWorker
	for range nWorkers {
		h := storetest.Reopen(t, db)
		lim, err := NewSQLLimiter(h.DB, h.Dialect, limit, window)
		if err != nil {
			t.Fatal(err)
		}
		ob, err := channels.NewOutbox(storetest.Ctx(t), h)
		if err != nil {
			t.Fatal(err)
		}
		base := http.DefaultTransport.(*http.Transport).Clone()
		base.MaxIdleConnsPerHost = 64
		t.Cleanup(base.CloseIdleConnections)
		spec := appiotest.NewTransport(t, base)
		c := NewClient(Options{BaseURL: url + "/api/v1", HTTPClient: &http.Client{Transport: spec, Timeout: 30 * time.Second}, Limiter: lim})
		out = append(out, &bulkWorker{client: c, outbox: ob, spec: spec})
	}
	return out
}

// The limit of the mock (and of App IO, by default) scaled down 20 times
// in time: 100 requests per 250 ms instead of per 5 s.
const (
	bulkLimit  = 100
	bulkWindow = 250 * time.Millisecond
)

// TestBulkSendWithinRateLimit sends messages from 4 simulated workers (8
// concurrent senders each, like a campaign batch) sharing one SQL limiter,
// against the mock enforcing the same limit, on each dialect: 2,000 on
// SQLite, 500 on PostgreSQL (two transactions per request on one row: on a
// loaded 2-core machine that is tens of requests a second, not 400).
// It checks what holds however fast or slow the machine is: the mock never
// sees more than the limit in any window (grants count from the answer, so
// a request delayed on its way cannot crowd the next window), and every
// message is sent exactly once. How close the senders come to the limit is
// a matter of speed: BenchmarkLimitedBulk reports it.
func TestBulkSendWithinRateLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 2,500 messages paced at 400/s at most (20 s or more); skipped with -short")
	}
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		n := 2000
		if db.Dialect == store.Postgres {
			n = 500
		}
		mock := appiomock.New(appiomock.Options{DefaultKnown: true, RateLimit: bulkLimit, RateWindow: bulkWindow})
		ts := httptest.NewServer(mock)
		t.Cleanup(ts.Close)
		workers := newBulkWorkers(t, db, ts.URL, 4, bulkLimit, bulkWindow)
		res := runBulk(workers, 8, n)

		for i, err := range res.errs {
			if i == 10 {
				t.Errorf("… %d errors in all", len(res.errs))
				break
			}
			t.Error(err)
		}
		st := mock.Stats()
		if st.RateLimited != 0 {
			t.Errorf("mock answered 429 %d times, want 0", st.RateLimited)
		}
		if res.sends != n || st.Requests != n || st.Messages != n {
			t.Errorf("sends %d, mock requests %d, messages %d: want %d each (retries must send nothing)", res.sends, st.Requests, st.Messages, n)
		}
		if res.retries != n/10 || res.retryFound != n/10 {
			t.Errorf("%d forced retries, %d found the first attempt; want %d both", res.retries, res.retryFound, n/10)
		}
		// Zero duplicates: every recipient got exactly one message, the one
		// the outbox recorded.
		perFC := map[string]int{}
		for _, m := range mock.Messages() {
			perFC[m.FiscalCode]++
			if res.ids[m.FiscalCode] != m.ID {
				t.Errorf("message %s to %s not the one recorded (%s)", m.ID, m.FiscalCode, res.ids[m.FiscalCode])
			}
		}
		for fc, k := range perFC {
			if k != 1 {
				t.Errorf("%s received %d messages", fc, k)
			}
		}
		if len(perFC) != n {
			t.Errorf("%d distinct recipients, want %d", len(perFC), n)
		}
		checked := 0
		for _, w := range workers {
			req, resp := w.spec.Checked()
			if req != resp {
				t.Errorf("spec transport checked %d requests but %d responses", req, resp)
			}
			checked += req
		}
		if checked != n {
			t.Errorf("%d requests checked against the spec, want %d", checked, n)
		}
		var at []time.Time
		for _, r := range mock.Requests() {
			at = append(at, r.At)
		}
		if _, peak := windowFraction(at, bulkLimit, bulkWindow); peak > bulkLimit {
			t.Errorf("peak %d requests in a %s window, limit %d", peak, bulkWindow, bulkLimit)
		}
	})
}
