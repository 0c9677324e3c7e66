package metrics_test

import (
	"context"
	"errors"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/ponte-pa/ponte/internal/metrics"
)

// value is the value of the series of name with exactly labels (a
// histogram's sample count), and whether it exists.
func value(t *testing.T, m *metrics.Metrics, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	series:
		for _, s := range f.GetMetric() {
			if len(s.GetLabel()) != len(labels) {
				continue
			}
			for _, l := range s.GetLabel() {
				if v, ok := labels[l.GetName()]; !ok || v != l.GetValue() {
					continue series
				}
			}
			return read(s), true
		}
	}
	return 0, false
}

func read(s *dto.Metric) float64 {
	switch {
	case s.Counter != nil:
		return s.GetCounter().GetValue()
	case s.Gauge != nil:
		return s.GetGauge().GetValue()
	case s.Histogram != nil:
		return float64(s.GetHistogram().GetSampleCount())
	}
	return -1
}

// TestTemporalHandler: the SDK's counters, gauges and timers land on the
// registry with their tags as labels, the same name with different tag
// sets included, and WithTags adds to the tags it was made with.
func TestTemporalHandler(t *testing.T) {
	m := metrics.New()
	h := m.Temporal().WithTags(map[string]string{"namespace": "default"})
	q := h.WithTags(map[string]string{"task_queue": "ponte-appio"})
	q.Counter("temporal_request").Inc(2)
	q.Counter("temporal_request").Inc(3)
	h.Counter("temporal_request").Inc(1)
	q.Gauge("temporal_worker_task_slots_available").Update(7)
	q.Gauge("temporal_worker_task_slots_available").Update(5)
	q.Timer("temporal_activity_execution_latency").Record(20 * time.Millisecond)
	q.Timer("temporal_activity_execution_latency").Record(3 * time.Second)
	h.Counter("temporal.odd-name").Inc(1)

	both := map[string]string{"namespace": "default", "task_queue": "ponte-appio"}
	tests := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"temporal_request", both, 5},
		{"temporal_request", map[string]string{"namespace": "default"}, 1},
		{"temporal_worker_task_slots_available", both, 5},
		{"temporal_activity_execution_latency", both, 2},
		{"temporal_odd_name", map[string]string{"namespace": "default"}, 1},
	}
	for _, tt := range tests {
		got, ok := value(t, m, tt.name, tt.labels)
		if !ok || got != tt.want {
			t.Errorf("%s%v = %v (found %v), want %v", tt.name, tt.labels, got, ok, tt.want)
		}
	}
}

// TestOwnMetrics: Ponte's counters by their labels, the backlog read at
// gather time (and its _up at 0 when the read fails), and a nil *Metrics
// that counts nothing without panicking.
func TestOwnMetrics(t *testing.T) {
	m := metrics.New()
	m.Position("esempio", metrics.PositionCreated)
	m.Position("esempio", metrics.PositionCreated)
	m.Position("esempio", metrics.PositionFailed)
	m.Message("esempio", "appio", "sent")
	m.Message("esempio", "email", "failed")
	m.Message("esempio", "", "no_address")
	m.Login("esempio", true, "ignored")
	m.Login("esempio", false, "idp_error")
	m.Anomaly("esempio", "duplicate")
	m.RateLimitWait()
	var fail error
	if err := m.Backlog(func(context.Context) ([]metrics.BacklogRow, error) {
		return []metrics.BacklogRow{{Kind: "campaign", Slot: "io", State: "retry", Count: 4}}, fail
	}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"ponte_gpd_positions_total", map[string]string{"tenant": "esempio", "outcome": "created"}, 2},
		{"ponte_gpd_positions_total", map[string]string{"tenant": "esempio", "outcome": "failed"}, 1},
		{"ponte_messages_total", map[string]string{"tenant": "esempio", "channel": "appio", "outcome": "sent"}, 1},
		{"ponte_messages_total", map[string]string{"tenant": "esempio", "channel": "email", "outcome": "failed"}, 1},
		{"ponte_messages_total", map[string]string{"tenant": "esempio", "channel": "none", "outcome": "no_address"}, 1},
		{"ponte_logins_total", map[string]string{"tenant": "esempio", "outcome": "accepted", "reason": ""}, 1},
		{"ponte_logins_total", map[string]string{"tenant": "esempio", "outcome": "refused", "reason": "idp_error"}, 1},
		{"ponte_reconcile_anomalies_total", map[string]string{"tenant": "esempio", "kind": "duplicate"}, 1},
		{"ponte_appio_rate_limit_waits_total", map[string]string{}, 1},
		{"ponte_outbox_backlog", map[string]string{"kind": "campaign", "slot": "io", "state": "retry"}, 4},
		{"ponte_outbox_backlog_up", map[string]string{}, 1},
	}
	for _, tt := range tests {
		got, ok := value(t, m, tt.name, tt.labels)
		if !ok || got != tt.want {
			t.Errorf("%s%v = %v (found %v), want %v", tt.name, tt.labels, got, ok, tt.want)
		}
	}
	fail = errors.New("database is closed")
	if got, ok := value(t, m, "ponte_outbox_backlog_up", map[string]string{}); !ok || got != 0 {
		t.Errorf("backlog_up after a failed read = %v (found %v), want 0", got, ok)
	}
	if _, ok := value(t, m, "ponte_outbox_backlog", map[string]string{"kind": "campaign", "slot": "io", "state": "retry"}); ok {
		t.Error("backlog reported from a failed read")
	}

	var none *metrics.Metrics
	none.Position("t", metrics.PositionCreated)
	none.Message("t", "appio", "sent")
	none.Login("t", true, "")
	none.Anomaly("t", "k")
	none.RateLimitWait()
	if err := none.Backlog(nil); err != nil {
		t.Errorf("nil Backlog: %v", err)
	}
	if none.Temporal() == nil {
		t.Error("nil Temporal handler")
	}
}
