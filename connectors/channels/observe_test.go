package channels_test

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"

	"github.com/ponte-pa/ponte/connectors/channels"
	"github.com/ponte-pa/ponte/connectors/failure"
	"github.com/ponte-pa/ponte/internal/store"
	"github.com/ponte-pa/ponte/internal/store/storetest"
)

type observed struct {
	mu  sync.Mutex
	got []string
}

func (o *observed) Message(tenant, channel, state string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.got = append(o.got, fmt.Sprintf("%s/%s/%s", tenant, channel, state))
}

func (o *observed) take() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	g := o.got
	o.got = nil
	sort.Strings(g)
	return g
}

// TestOutboxObserverAndBacklog: the Observer hears every message that
// reaches a final state exactly once (a retry only when it finally ends,
// a recorded outcome once, nothing for a message already final), and
// Backlog counts what is left by scope kind, slot and state.
func TestOutboxObserverAndBacklog(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := storetest.Ctx(t)
		o := newOutbox(t, db)
		obs := &observed{}
		o.Observer = obs
		s := &fakeSender{script: map[string][]error{
			key(1).String(): {failure.Retryablef("503")},
			key(2).String(): {failure.Permanentf("400")},
			key(3).String(): {failure.Mark(failure.Ambiguous, errors.New("timeout after sending"))},
		}}
		rec := channels.Outcome{Key: key(4), Channel: "fake", State: "not_on_io"}
		batch := channels.Batch{Tenant: "t1", Record: []channels.Outcome{rec},
			Send: []channels.Delivery{delivery(s, 0), delivery(s, 1), delivery(s, 2), delivery(s, 3)}}
		steps := []struct {
			name        string
			want        []string
			wantBacklog []channels.BacklogRow
		}{
			{"first run", []string{"t1/fake/failed", "t1/fake/not_on_io", "t1/fake/sent", "t1/fake/unknown"},
				[]channels.BacklogRow{{Kind: "test", Slot: "io", State: "retry", Count: 1}, {Kind: "test", Slot: "io", State: "unknown", Count: 1}}},
			{"the retry is sent; nothing else counted again", []string{"t1/fake/sent"},
				[]channels.BacklogRow{{Kind: "test", Slot: "io", State: "unknown", Count: 1}}},
			{"all final: nothing counted", nil,
				[]channels.BacklogRow{{Kind: "test", Slot: "io", State: "unknown", Count: 1}}},
		}
		for _, st := range steps {
			if _, err := o.Run(ctx, batch); err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			if got := obs.take(); !slices.Equal(got, st.want) {
				t.Errorf("%s: observed %q, want %q", st.name, got, st.want)
			}
			b, err := o.Backlog(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(b, st.wantBacklog) {
				t.Errorf("%s: backlog %+v, want %+v", st.name, b, st.wantBacklog)
			}
		}
	})
}
