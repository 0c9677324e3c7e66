package spid

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"
)

// AggregateLoader keeps a Registry filled from a signed metadata aggregate
// (AgID's registry of SPID IdPs) published at URL. A verified copy is kept
// in CacheFile; when the registry is unreachable or serves something that
// does not verify, the last good copy stays in use.
type AggregateLoader struct {
	URL     string
	Client  *http.Client
	Trusted []*x509.Certificate
	// CacheFile holds the last good aggregate ("" = no disk copy).
	CacheFile string
	// Extra IdPs are always present (AgID validator, local test IdP).
	Extra []*IdP
	// MaxBytes bounds the download (default 16 MiB).
	MaxBytes int64
	Logger   *slog.Logger
}

func (l *AggregateLoader) log() *slog.Logger {
	if l.Logger != nil {
		return l.Logger
	}
	return slog.Default()
}

func (l *AggregateLoader) fetch(ctx context.Context) ([]byte, error) {
	c := l.Client
	if c == nil {
		c = &http.Client{Timeout: 30 * time.Second}
	}
	max := l.MaxBytes
	if max <= 0 {
		max = 16 << 20
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.URL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("spid: aggregate: HTTP %d", resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("spid: aggregate larger than %d bytes", max)
	}
	return b, nil
}

// Load fetches and verifies the aggregate once and replaces the registry's
// list. On failure it falls back to CacheFile when reg is still empty, and
// otherwise leaves reg untouched; the error is returned either way.
func (l *AggregateLoader) Load(ctx context.Context, reg *Registry) error {
	b, err := l.fetch(ctx)
	var idps []*IdP
	if err == nil {
		idps, err = ParseSignedAggregate(b, l.Trusted)
	}
	if err == nil {
		reg.Replace(append(idps, l.Extra...))
		if l.CacheFile != "" {
			tmp := l.CacheFile + ".tmp"
			if werr := os.WriteFile(tmp, b, 0o644); werr == nil {
				_ = os.Rename(tmp, l.CacheFile)
			}
		}
		return nil
	}
	l.log().Warn("spid: IdP registry refresh failed, keeping the last good copy", "err", err)
	if len(reg.List()) == 0 && l.CacheFile != "" {
		if cb, cerr := os.ReadFile(l.CacheFile); cerr == nil {
			if cached, cerr := ParseSignedAggregate(cb, l.Trusted); cerr == nil {
				reg.Replace(append(cached, l.Extra...))
			}
		}
	}
	if len(reg.List()) == 0 && len(l.Extra) > 0 {
		reg.Replace(l.Extra)
	}
	return err
}

// Run calls Load now and then every interval until ctx ends.
func (l *AggregateLoader) Run(ctx context.Context, reg *Registry, every time.Duration) {
	_ = l.Load(ctx, reg)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = l.Load(ctx, reg)
		}
	}
}
