package channels_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ponte-pa/ponte/connectors/channels"
	"github.com/ponte-pa/ponte/connectors/failure"
	"github.com/ponte-pa/ponte/internal/store"
	"github.com/ponte-pa/ponte/internal/store/storetest"
)

// fakeSender answers each send with the next scripted error for its key
// (nil: sent) and counts the sends.
type fakeSender struct {
	mu     sync.Mutex
	script map[string][]error
	sends  map[string]int
	block  chan struct{} // when set, Send waits on it
}

func (f *fakeSender) Kind() string                      { return "fake" }
func (f *fakeSender) Reaches(r channels.Recipient) bool { return r.FiscalCode != "" }
func (f *fakeSender) Send(ctx context.Context, m channels.Message) (string, error) {
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sends == nil {
		f.sends = map[string]int{}
	}
	f.sends[m.Key]++
	if s := f.script[m.Key]; len(s) > 0 {
		f.script[m.Key] = s[1:]
		if s[0] != nil {
			return "", s[0]
		}
	}
	return "id-" + m.Key, nil
}

func (f *fakeSender) count(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sends[key]
}

func key(i int64) channels.Key { return channels.Key{Scope: "test:c1", Item: i, Slot: "io"} }

func delivery(s channels.Sender, i int64) channels.Delivery {
	k := key(i)
	return channels.Delivery{Key: k, Sender: s, Message: channels.Message{Key: k.String(), Subject: "s", Text: "t"}}
}

func newOutbox(t *testing.T, db *store.DB) *channels.Outbox {
	t.Helper()
	o, err := channels.NewOutbox(storetest.Ctx(t), db)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// TestOutboxStateMachine walks every transition: sent once whatever happens
// after, retry sent again, permanent failed, ambiguous unknown, an attempt
// that died "sending" recovered as unknown and never sent, and outcomes a
// caller records never overwriting a final state.
func TestOutboxStateMachine(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		o := newOutbox(t, db)
		ctx := storetest.Ctx(t)
		f := &fakeSender{script: map[string][]error{
			key(1).String(): {failure.Retryablef("503")},
			key(2).String(): {failure.Permanentf("400 bad message")},
			key(3).String(): {failure.Mark(failure.Ambiguous, errors.New("connection reset after write"))},
		}}
		run := func() []channels.Result {
			t.Helper()
			res, err := o.Run(ctx, channels.Batch{
				Record: []channels.Outcome{{Key: key(4), State: "not_on_io", Error: "404"}},
				Send:   []channels.Delivery{delivery(f, 0), delivery(f, 1), delivery(f, 2), delivery(f, 3)},
			})
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		res := run()
		want := []string{channels.StateSent, channels.StateRetry, channels.StateFailed, channels.StateUnknown}
		for i, r := range res {
			if r.State != want[i] || r.Before {
				t.Errorf("first run, message %d: %+v, want %s", i, r, want[i])
			}
		}
		if res[0].MessageID != "id-"+key(0).String() || !failure.IsRetryable(res[1].Err) {
			t.Errorf("first run results %+v", res)
		}
		// Second run: only the retry is sent again; the rest were final.
		res = run()
		if res[1].State != channels.StateSent || res[1].Before {
			t.Errorf("retried message: %+v", res[1])
		}
		for _, i := range []int{0, 2, 3} {
			if !res[i].Before || res[i].State != want[i] {
				t.Errorf("second run, message %d: %+v, want %s from before", i, res[i], want[i])
			}
		}
		for i, n := range []int{1, 2, 1, 1} {
			if got := f.count(key(int64(i)).String()); got != n {
				t.Errorf("message %d sent %d times, want %d", i, got, n)
			}
		}
		es, err := o.Entries(ctx, "test:c1", "io", 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if e := es[1]; e.Attempts != 2 || e.State != channels.StateSent || e.Channel != "fake" {
			t.Errorf("entry 1 = %+v, want sent after 2 attempts", e)
		}
		if e := es[4]; e.State != "not_on_io" || e.Error != "404" || !e.Final() {
			t.Errorf("recorded outcome = %+v", e)
		}
		// A recorded outcome does not overwrite a final state.
		if _, err := o.Run(ctx, channels.Batch{Record: []channels.Outcome{{Key: key(0), State: "not_on_io"}}}); err != nil {
			t.Fatal(err)
		}
		if es, err = o.Entries(ctx, "test:c1", "io", 0, 1); err != nil || es[0].State != channels.StateSent {
			t.Errorf("sent message overwritten by an outcome: %+v %v", es, err)
		}

		// An attempt that died mid-send leaves "sending": recovered as
		// unknown and never sent again.
		if err := o.Set(ctx, channels.Entry{Key: key(7), Channel: "fake", State: channels.StateSending, Attempts: 1}); err != nil {
			t.Fatal(err)
		}
		n, err := o.Recover(ctx, "test:c1", "io", 0, 10)
		if err != nil || n != 1 {
			t.Fatalf("Recover = %d, %v; want 1", n, err)
		}
		res, err = o.Run(ctx, channels.Batch{Send: []channels.Delivery{delivery(f, 7)}})
		if err != nil {
			t.Fatal(err)
		}
		if !res[0].Before || res[0].State != channels.StateUnknown || f.count(key(7).String()) != 0 {
			t.Errorf("died-while-sending message: %+v, sent %d times", res[0], f.count(key(7).String()))
		}
		es, err = o.Entries(ctx, "test:c1", "io", 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		counts := map[string]int{}
		for _, e := range es {
			counts[e.State]++
		}
		if fmt.Sprint(counts) != "map[failed:1 not_on_io:1 sent:2 unknown:2]" {
			t.Errorf("counts = %v", counts)
		}
	})
}

// TestOutboxSendsOnceAcrossWorkers runs the same batch from several
// goroutines sharing the database, as workers sharing a state store do:
// every message is sent exactly once.
func TestOutboxSendsOnceAcrossWorkers(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		o := newOutbox(t, db)
		f := &fakeSender{}
		var ds []channels.Delivery
		for i := range int64(20) {
			ds = append(ds, delivery(f, i))
		}
		var wg sync.WaitGroup
		var sent atomic.Int64
		errs := make(chan error, 4)
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := o.Run(storetest.Ctx(t), channels.Batch{Send: ds, Concurrency: 4})
				if err != nil {
					errs <- err
					return
				}
				for _, r := range res {
					if !r.Before && r.State == channels.StateSent {
						sent.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if sent.Load() != 20 {
			t.Errorf("%d sends reported, want 20", sent.Load())
		}
		for i := range int64(20) {
			if n := f.count(key(i).String()); n != 1 {
				t.Errorf("message %d sent %d times", i, n)
			}
		}
	})
}

// TestOutboxCancelledBeforeSending puts messages a cancelled batch never
// handed to the channel back to retry, so the next attempt sends them.
func TestOutboxCancelledBeforeSending(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		o := newOutbox(t, db)
		f := &fakeSender{block: make(chan struct{})}
		ctx, cancel := context.WithCancel(storetest.Ctx(t))
		cancel()
		res, err := o.Run(ctx, channels.Batch{Send: []channels.Delivery{delivery(f, 0), delivery(f, 1)}})
		if err == nil {
			// The claim itself may fail on a cancelled context; both are fine
			// as long as nothing is left "sending".
			for _, r := range res {
				if r.State != channels.StateRetry {
					t.Errorf("cancelled message: %+v, want retry", r)
				}
			}
		}
		es, err := o.Entries(storetest.Ctx(t), "test:c1", "io", 0, 2)
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range es {
			if e.State == channels.StateSending {
				t.Errorf("message %d left sending", i)
			}
		}
		close(f.block)
		res, err = o.Run(storetest.Ctx(t), channels.Batch{Send: []channels.Delivery{delivery(f, 0), delivery(f, 1)}})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.State != channels.StateSent {
				t.Errorf("after the cancel: %+v, want sent", r)
			}
		}
	})
}

// TestOutboxKeyTwiceInABatch gives a batch the same keys more than once:
// it does what the records and claims one at a time, in order, do (the
// first claim of a key sends it, a later one finds it sending; an outcome
// recorded first is found by the claim after it).
func TestOutboxKeyTwiceInABatch(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		o := newOutbox(t, db)
		ctx := storetest.Ctx(t)
		f := &fakeSender{}
		res, err := o.Run(ctx, channels.Batch{
			Record: []channels.Outcome{
				{Key: key(10), State: channels.StateRetry, Error: "try later"}, // then claimed below
				{Key: key(12), State: "not_on_io"},
				{Key: key(13), State: "not_on_io"},
				{Key: key(13), State: "no_address"}, // final already: left alone
			},
			Send: []channels.Delivery{delivery(f, 10), delivery(f, 11), delivery(f, 10), delivery(f, 12), delivery(f, 11)},
		})
		if err != nil {
			t.Fatal(err)
		}
		want := []struct {
			state  string
			before bool
		}{{channels.StateSent, false}, {channels.StateSent, false}, {channels.StateSending, true}, {"not_on_io", true}, {channels.StateSending, true}}
		for i, w := range want {
			if r := res[i]; r.State != w.state || r.Before != w.before || r.Key != res[i].Key {
				t.Errorf("result %d: %+v, want %s before=%v", i, r, w.state, w.before)
			}
		}
		for _, i := range []int64{10, 11} {
			if n := f.count(key(i).String()); n != 1 {
				t.Errorf("message %d sent %d times, want 1", i, n)
			}
		}
		if n := f.count(key(12).String()); n != 0 {
			t.Errorf("message 12 sent %d times after its outcome", n)
		}
		es, err := o.Entries(ctx, "test:c1", "io", 10, 14)
		if err != nil {
			t.Fatal(err)
		}
		got := fmt.Sprintf("%s/%d %s/%d %s %s", es[10].State, es[10].Attempts, es[11].State, es[11].Attempts, es[12].State, es[13].State)
		if want := "sent/1 sent/1 not_on_io not_on_io"; got != want {
			t.Errorf("entries %s, want %s", got, want)
		}
	})
}

// TestOutboxSlots reads the messages of some slots over a range of items,
// in one query: other slots, scopes and items are left out.
func TestOutboxSlots(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		o := newOutbox(t, db)
		ctx := storetest.Ctx(t)
		for _, e := range []channels.Entry{
			{Key: channels.Key{Scope: "s", Item: 1, Slot: "io"}, State: "sent"},
			{Key: channels.Key{Scope: "s", Item: 1, Slot: "fallback"}, State: "no_address"},
			{Key: channels.Key{Scope: "s", Item: 1, Slot: "reminder-1"}, State: "sent"},
			{Key: channels.Key{Scope: "s", Item: 2, Slot: "fallback"}, State: "retry"},
			{Key: channels.Key{Scope: "s", Item: 3, Slot: "io"}, State: "sent"}, // past the range
			{Key: channels.Key{Scope: "other", Item: 1, Slot: "io"}, State: "failed"},
		} {
			if err := o.Set(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		got, err := o.Slots(ctx, "s", []string{"io", "fallback"}, 0, 3)
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for item, es := range got {
			for _, e := range es {
				lines = append(lines, fmt.Sprintf("%s/%d/%s=%s", e.Scope, item, e.Slot, e.State))
			}
		}
		sort.Strings(lines)
		if want := "[s/1/fallback=no_address s/1/io=sent s/2/fallback=retry]"; fmt.Sprint(lines) != want {
			t.Errorf("Slots = %v, want %s", lines, want)
		}
		if got, err := o.Slots(ctx, "s", nil, 0, 3); err != nil || len(got) != 0 {
			t.Errorf("no slots: %v, %v", got, err)
		}
	})
}

// TestOutboxSchema checks the outbox's schema version, and its table's
// fillfactor on PostgreSQL (room on each page for HOT updates).
func TestOutboxSchema(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		newOutbox(t, db)
		v, err := db.Versions(storetest.Ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if v[channels.Migrations] != 2 {
			t.Errorf("versions %v, want %s at 2", v, channels.Migrations)
		}
		if db.Dialect != store.Postgres {
			return
		}
		var opts string
		if err := db.QueryRowContext(storetest.Ctx(t), `SELECT COALESCE(array_to_string(reloptions, ','), '') FROM pg_class
			WHERE oid = 'outbox'::regclass`).Scan(&opts); err != nil {
			t.Fatal(err)
		}
		if opts != "fillfactor=50" {
			t.Errorf("outbox's options = %q, want fillfactor=50", opts)
		}
		// A second start finds nothing to do.
		newOutbox(t, db)
	})
}
