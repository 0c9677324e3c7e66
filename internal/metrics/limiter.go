package metrics

import (
	"context"
	"time"

	"github.com/ponte-pa/ponte/connectors/appio"
)

// waited is how long a grant must take to count as a wait: a grant at once
// still costs a round trip to the state store.
const waited = 50 * time.Millisecond

// CountWaits wraps an App IO limiter so that every request held by it
// (longer than a store round trip) counts in ponte_appio_rate_limit_waits_total.
// It keeps the limiter's Acquire when it has one. With nil m it returns lim.
func CountWaits(lim appio.Limiter, m *Metrics) appio.Limiter {
	if m == nil || lim == nil {
		return lim
	}
	if al, ok := lim.(appio.AnswerLimiter); ok {
		return &countingAnswerLimiter{countingLimiter{al, m}, al}
	}
	return &countingLimiter{lim, m}
}

type countingLimiter struct {
	lim appio.Limiter
	m   *Metrics
}

func (c *countingLimiter) Wait(ctx context.Context, key string) error {
	start := time.Now()
	err := c.lim.Wait(ctx, key)
	if time.Since(start) >= waited {
		c.m.RateLimitWait()
	}
	return err
}

type countingAnswerLimiter struct {
	countingLimiter
	al appio.AnswerLimiter
}

func (c *countingAnswerLimiter) Acquire(ctx context.Context, key string) (func(), error) {
	start := time.Now()
	release, err := c.al.Acquire(ctx, key)
	if time.Since(start) >= waited {
		c.m.RateLimitWait()
	}
	return release, err
}
