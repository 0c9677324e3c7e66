package failure

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

type kindErr struct{ info Info }

func (e kindErr) Error() string { return "kind" }
func (e kindErr) Failure() Info { return e.info }

func TestOf(t *testing.T) {
	plain := errors.New("boom")
	tests := []struct {
		name string
		err  error
		want Info
	}{
		{"nil", nil, Info{}},
		{"unclassified is retryable", plain, Info{Class: Retryable}},
		{"cancelled context is permanent", fmt.Errorf("send: %w", context.Canceled), Info{Class: Permanent}},
		{"deadline is retryable", context.DeadlineExceeded, Info{Class: Retryable}},
		{"marked permanent", Mark(Permanent, plain), Info{Class: Permanent}},
		{"marked ambiguous, wrapped", fmt.Errorf("submit: %w", Mark(Ambiguous, plain)), Info{Class: Ambiguous}},
		{"retry after", After(3*time.Second, plain), Info{Class: Retryable, RetryAfter: 3 * time.Second}},
		{"connector error", kindErr{Info{Class: Permanent}}, Info{Class: Permanent}},
		{"outermost classifier wins", Mark(Permanent, kindErr{Info{Class: Ambiguous}}), Info{Class: Permanent}},
		{"formatted", Permanentf("row %d: %w", 3, plain), Info{Class: Permanent}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Of(tt.err); got != tt.want {
				t.Errorf("Of(%v) = %+v, want %+v", tt.err, got, tt.want)
			}
		})
	}
}

func TestPredicates(t *testing.T) {
	amb := Mark(Ambiguous, errors.New("lost answer"))
	if !IsAmbiguous(amb) || IsRetryable(amb) || IsPermanent(amb) {
		t.Errorf("ambiguous error misclassified: retryable=%v permanent=%v", IsRetryable(amb), IsPermanent(amb))
	}
	if IsRetryable(nil) || IsPermanent(nil) || IsAmbiguous(nil) || RetryAfter(nil) != 0 {
		t.Error("nil must be no failure at all")
	}
	if got := RetryAfter(fmt.Errorf("x: %w", After(time.Minute, errors.New("429")))); got != time.Minute {
		t.Errorf("RetryAfter = %v, want 1m", got)
	}
	if !errors.Is(Retryablef("wrap: %w", context.DeadlineExceeded), context.DeadlineExceeded) {
		t.Error("Retryablef must keep the wrapped error")
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"7", 7 * time.Second, true},
		{" 0 ", 0, true},
		{"Mon, 04 May 2026 10:01:00 GMT", time.Minute, true},
		{"Mon, 04 May 2026 09:00:00 GMT", 0, true},
		{"", 0, false},
		{"-3", 0, false},
		{"1.5", 0, false},
		{"999999999", 0, false},
		{"soon", 0, false},
	}
	for _, tt := range tests {
		got, ok := ParseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"5", "Mon, 04 May 2026 10:01:00 GMT", "", "-1", "9223372036854775807", "\x00"} {
		f.Add(s)
	}
	now := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := ParseRetryAfter(s, now)
		if d < 0 || d > 24*time.Hour || (!ok && d != 0) {
			t.Errorf("ParseRetryAfter(%q) = %v, %v", s, d, ok)
		}
	})
}
