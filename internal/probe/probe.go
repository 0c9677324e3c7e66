// Package probe checks, online, that the outside systems a tenant's
// configuration names answer and accept it: each source gives its first
// record, GPD takes the subscription key, each channel's system (the SMTP
// relay, App IO) accepts its credentials. Nothing is created or sent.
// `ponte config validate --online` prints what it finds; onboarding checks
// build on it.
package probe

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/ponte-pa/ponte/connectors/appio"
	"github.com/ponte-pa/ponte/connectors/channels"
	"github.com/ponte-pa/ponte/connectors/legacy"
	"github.com/ponte-pa/ponte/connectors/pagopa"
	"github.com/ponte-pa/ponte/internal/tenant"
	"github.com/ponte-pa/ponte/internal/wfkit"
)

// Timeout bounds each check.
const Timeout = 15 * time.Second

// Result is the outcome of one check.
type Result struct {
	// Check names what was checked: "source tributi", "gpd", "channel email", …
	Check string
	OK    bool
	// Detail says what answered (ok) or what failed and what to do.
	Detail string
	Took   time.Duration
}

// errFirst stops a source after its first record.
var errFirst = errors.New("probe: first record read")

// Tenant runs every check of t, one after the other, each bounded by
// Timeout, and returns them in a stable order: sources by name, GPD, then
// the channels in configuration order.
func Tenant(ctx context.Context, t *tenant.Tenant) []Result {
	conns := &wfkit.Connectors{}
	var out []Result
	run := func(check string, f func(ctx context.Context) (string, error)) {
		cctx, cancel := context.WithTimeout(ctx, Timeout)
		defer cancel()
		start := time.Now()
		detail, err := f(cctx)
		r := Result{Check: check, OK: err == nil, Detail: detail, Took: time.Since(start)}
		if err != nil {
			r.Detail = err.Error()
			if cctx.Err() != nil && ctx.Err() == nil {
				r.Detail = fmt.Sprintf("no answer within %s: %v", Timeout, err)
			}
		}
		out = append(out, r)
	}
	for _, name := range sortedSources(t) {
		run("source "+name, func(ctx context.Context) (string, error) {
			src, err := conns.Source(t, name)
			if err != nil {
				return "", err
			}
			var first string
			_, err = src.Read(ctx, func(d legacy.Debtor) error {
				first = fmt.Sprintf("first valid record at line %d", d.Line)
				return errFirst
			}, func(r legacy.Reject) error {
				if first == "" {
					first = fmt.Sprintf("first record (line %d) rejected: %s", r.Line, r.MessageEN)
				}
				return nil
			})
			if errors.Is(err, errFirst) || (err == nil && first != "") {
				return "readable; " + first, nil
			}
			if err == nil {
				return "readable, but it holds no record", nil
			}
			return "", err
		})
	}
	if t.PagoPA.GPD.BaseURL != "" {
		run("gpd", func(ctx context.Context) (string, error) {
			g, err := conns.GPD(t)
			if err != nil {
				return "", err
			}
			if _, err := g.List(ctx, t.FiscalCode, pagopa.ListOptions{Limit: 1}); err != nil {
				return "", err
			}
			return "the subscription key is accepted (one page of debt positions listed)", nil
		})
	}
	for _, purpose := range slices.Sorted(maps.Keys(t.AppIO.Services)) {
		run("appio "+purpose, func(ctx context.Context) (string, error) {
			s, err := conns.AppIO(t, purpose)
			if err != nil {
				return "", err
			}
			if err := s.Verify(ctx); err != nil {
				return "", err
			}
			return fmt.Sprintf("the service key is accepted (profile lookup of the test user %s)", appio.TestFiscalCode), nil
		})
	}
	senders, err := conns.Channels(t)
	if err != nil {
		out = append(out, Result{Check: "channels", Detail: err.Error()})
		return out
	}
	for i, s := range senders {
		v, ok := s.(channels.Verifier)
		if !ok {
			continue
		}
		run(fmt.Sprintf("channel %s (channels/%d)", s.Kind(), i), func(ctx context.Context) (string, error) {
			if err := v.Verify(ctx); err != nil {
				return "", err
			}
			return "accepts the configured credentials", nil
		})
	}
	return out
}

func sortedSources(t *tenant.Tenant) []string {
	return slices.Sorted(maps.Keys(t.Sources))
}
