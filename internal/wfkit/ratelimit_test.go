package wfkit

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ponte-pa/ponte/connectors/appio"
	"github.com/ponte-pa/ponte/connectors/channels"
	"github.com/ponte-pa/ponte/internal/tenant"
)

type countingLimiter struct{ waits atomic.Int32 }

func (l *countingLimiter) Wait(context.Context, string) error { l.waits.Add(1); return nil }

// TestChannelRateLimit: a channel with rateLimit in its config waits on
// its limiter before every message, keyed by tenant and channel, and
// still reports deliveries; one without is not wrapped.
func TestChannelRateLimit(t *testing.T) {
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodGet {
			_, err := w.Write([]byte(`{"status":"delivered"}`))
			if err != nil {
				t.Error(err)
			}
			return
		}
		w.WriteHeader(http.StatusCreated)
		if _, err := w.Write([]byte(`{"id":"m1"}`)); err != nil {
			t.Error(err)
		}
	}))
	defer gw.Close()
	t.Setenv("PONTE_TEST_SMS_TOKEN", "tok")
	sms := func(extra string) tenant.Channel {
		return tenant.Channel{Kind: "sms", Config: json.RawMessage(`{"kind":"sms","url":"` + gw.URL + `/messages","sender":"Comune","token":"env:PONTE_TEST_SMS_TOKEN","statusUrl":"` + gw.URL + `/messages/{id}"` + extra + `}`)}
	}
	tn := &tenant.Tenant{ID: "esempio", Channels: []tenant.Channel{sms(`,"rateLimit":{"requests":5,"window":"1s"}`), sms("")}}
	lim := &countingLimiter{}
	var got [2]int64
	c := Connectors{ChannelLimiter: func(limit int, window time.Duration) (appio.Limiter, error) {
		got = [2]int64{int64(limit), int64(window)}
		return lim, nil
	}}
	ss, err := c.Channels(tn)
	if err != nil {
		t.Fatal(err)
	}
	l, ok := ss[0].(*channels.Limited)
	if !ok || got != [2]int64{5, int64(time.Second)} {
		t.Fatalf("channel 0 is %T, limiter made for %v", ss[0], got)
	}
	if _, wrapped := ss[1].(*channels.Limited); wrapped {
		t.Error("a channel without rateLimit is limited")
	}
	ctx := context.Background()
	for range 3 {
		if _, err := l.Send(ctx, channels.Message{Key: "k", Text: "allerta", To: channels.Recipient{Phone: "+393331234567"}}); err != nil {
			t.Fatal(err)
		}
	}
	if n := lim.waits.Load(); n != 3 {
		t.Errorf("%d waits for 3 messages", n)
	}
	if !l.Tracking() {
		t.Error("the limited SMS channel no longer reports deliveries")
	}
	if st, err := l.Delivery(ctx, "m1"); err != nil || st != channels.DeliveryDelivered {
		t.Errorf("delivery %v, %v", st, err)
	}
}
