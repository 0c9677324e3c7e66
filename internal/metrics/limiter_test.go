package metrics_test

import (
	"context"
	"testing"
	"time"

	"github.com/ponte-pa/ponte/connectors/appio"
	"github.com/ponte-pa/ponte/internal/metrics"
)

// holding is a limiter that holds every request for hold: like a full
// window of the SQL limiter. It keeps Acquire, as SQLLimiter does.
type holding struct{ hold time.Duration }

func (h holding) Wait(ctx context.Context, key string) error { time.Sleep(h.hold); return nil }
func (h holding) Acquire(ctx context.Context, key string) (func(), error) {
	time.Sleep(h.hold)
	return func() {}, nil
}

// TestCountWaits: a request the limiter held counts as a wait, through
// Wait and through Acquire, which the wrapper keeps; nil metrics leave the
// limiter as it was.
func TestCountWaits(t *testing.T) {
	m := metrics.New()
	lim := metrics.CountWaits(holding{hold: 60 * time.Millisecond}, m)
	al, ok := lim.(appio.AnswerLimiter)
	if !ok {
		t.Fatalf("%T lost Acquire", lim)
	}
	ctx := context.Background()
	if err := lim.Wait(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	release, err := al.Acquire(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	release()
	if got, ok := value(t, m, "ponte_appio_rate_limit_waits_total", map[string]string{}); !ok || got != 2 {
		t.Errorf("waits = %v (found %v), want 2", got, ok)
	}
	h := holding{}
	if got := metrics.CountWaits(h, nil); got != appio.Limiter(h) {
		t.Errorf("CountWaits(lim, nil) = %T, want the limiter itself", got)
	}
}
