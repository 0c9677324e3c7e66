package appio

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ponte-pa/ponte/connectors/appio/appiotest"
	"github.com/ponte-pa/ponte/internal/store"
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
// limiter, ledger and client.
type bulkWorker struct {
	client *Client
	ledger *Ledger
	spec   *contractstest.Transport
}

type bulkResult struct {
	sends, retries, retryFound int
	ids                        map[string]string // fiscal code -> id
	errs                       []error
}

// runBulk sends n messages through workers × conc goroutines, retrying
// every 10th through the ledger, and returns what the senders saw.
func runBulk(ctx context.Context, workers []*bulkWorker, conc, n int) bulkResult {
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
					m := validMessage()
					m.FiscalCode = bulkFiscalCode(i)
					bk := LedgerKey("bulk", m.FiscalCode, "payments")
					id, prev, err := wk.client.SubmitOnce(ctx, wk.ledger, keyPayments, bk, m)
					var again *Entry
					var againID string
					var againErr error
					if err == nil && i%10 == 0 {
						// A forced retry, as after a crash between the send
						// and the activity's completion.
						againID, again, againErr = wk.client.SubmitOnce(ctx, wk.ledger, keyPayments, bk, m)
					}
					mu.Lock()
					switch {
					case err != nil:
						res.errs = append(res.errs, fmt.Errorf("message %d: %w", i, err))
					case prev != nil:
						res.errs = append(res.errs, fmt.Errorf("message %d: first attempt found %+v", i, prev))
					default:
						res.sends++
						res.ids[m.FiscalCode] = id
					}
					if i%10 == 0 && err == nil {
						res.retries++
						switch {
						case againErr != nil:
							res.errs = append(res.errs, fmt.Errorf("retry of %d: %w", i, againErr))
						case again == nil || again.State != LedgerSent || againID != id || again.MessageID != id:
							res.errs = append(res.errs, fmt.Errorf("retry of %d: got (%q, %+v), want the first attempt's id %s", i, againID, again, id))
						default:
							res.retryFound++
						}
					}
					mu.Unlock()
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

func newBulkWorkers(t testing.TB, dbPath, url string, nWorkers, limit int, window time.Duration) []*bulkWorker {
	t.Helper()
	var out []*bulkWorker
	for range nWorkers {
		db, err := store.Open(context.Background(), "sqlite:"+dbPath)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		lim, err := NewSQLLimiter(db.DB, db.Dialect, limit, window)
		if err != nil {
			t.Fatal(err)
		}
		led, err := NewLedger(db.DB, db.Dialect)
		if err != nil {
			t.Fatal(err)
		}
		base := http.DefaultTransport.(*http.Transport).Clone()
		base.MaxIdleConnsPerHost = 64
		t.Cleanup(base.CloseIdleConnections)
		spec := appiotest.NewTransport(t, base)
		c := NewClient(Options{BaseURL: url + "/api/v1", HTTPClient: &http.Client{Transport: spec, Timeout: 30 * time.Second}, Limiter: lim})
		out = append(out, &bulkWorker{client: c, ledger: led, spec: spec})
	}
	return out
}

// The limit of the mock (and of App IO, by default) scaled down 20 times
// in time: 100 requests per 250 ms instead of per 5 s.
const (
	bulkLimit  = 100
	bulkWindow = 250 * time.Millisecond
	// bulkGuard lengthens the limiter's window over the server's, to absorb
	// the jitter between a grant and the request's arrival.
	bulkGuard = 0
)

// TestBulkSendWithinRateLimit sends 5,000 messages from 4 simulated
// workers (8 concurrent senders each, like a campaign batch) sharing one
// SQL limiter on a SQLite file, against the mock enforcing the same limit.
func TestBulkSendWithinRateLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 5,000 messages paced at 400/s (about 13 s); skipped with -short")
	}
	const n = 5000
	mock := appiomock.New(appiomock.Options{DefaultKnown: true, RateLimit: bulkLimit, RateWindow: bulkWindow})
	ts := httptest.NewServer(mock)
	t.Cleanup(ts.Close)
	workers := newBulkWorkers(t, filepath.Join(t.TempDir(), "state.db"), ts.URL, 4, bulkLimit, bulkWindow+bulkGuard)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res := runBulk(ctx, workers, 8, n)

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
	// Zero duplicates: every recipient got exactly one message, the one the
	// ledger recorded.
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
	reqs := mock.Requests()
	for _, r := range reqs {
		at = append(at, r.At)
		if r.Status == 429 {
			t.Logf("429 at %s", r.At.Sub(reqs[0].At))
		}
	}
	frac, peak := windowFraction(at, bulkLimit, bulkWindow)
	t.Logf("achieved %.3f of the mock's capacity (%d per %s), peak %d in a sliding window", frac, bulkLimit, bulkWindow, peak)
	if peak > bulkLimit {
		t.Errorf("peak %d requests in a %s window, limit %d", peak, bulkWindow, bulkLimit)
	}
	if frac < 0.95 {
		t.Errorf("achieved %.3f of the capacity, want ≥ 0.95", frac)
	}
}
