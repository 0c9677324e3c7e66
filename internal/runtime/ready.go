package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// readyTimeout bounds each readiness check: a probe must answer quickly.
const readyTimeout = 2 * time.Second

// Check is the result of one readiness check.
type Check struct {
	Name  string `json:"name"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// Ready runs the readiness checks: Temporal reachable (the frontend's
// health check), the state store reachable (a ping), tenants loaded. Each
// check has its own short timeout.
func (r *Runtime) Ready(ctx context.Context) []Check {
	run := func(name string, fn func(context.Context) error) Check {
		cctx, cancel := context.WithTimeout(ctx, readyTimeout)
		defer cancel()
		if err := fn(cctx); err != nil {
			return Check{Name: name, Error: err.Error()}
		}
		return Check{Name: name, OK: true}
	}
	return []Check{
		run("temporal", func(ctx context.Context) error {
			if r.Client == nil {
				return fmt.Errorf("no client")
			}
			_, err := r.Client.CheckHealth(ctx, nil)
			return err
		}),
		run("state_store", func(ctx context.Context) error {
			if r.DB == nil {
				return fmt.Errorf("not open")
			}
			return r.DB.PingContext(ctx)
		}),
		run("tenants", func(context.Context) error {
			if len(r.Tenants()) == 0 {
				return fmt.Errorf("no tenant loaded")
			}
			return nil
		}),
	}
}

// ReadyHandler serves /readyz: 200 when every check passes, else 503 with
// the failing checks named first in the body ("failing") and every check
// listed ("checks"), as JSON.
func (r *Runtime) ReadyHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		checks := r.Ready(req.Context())
		body := struct {
			Ready   bool     `json:"ready"`
			Failing []string `json:"failing,omitempty"`
			Checks  []Check  `json:"checks"`
		}{Ready: true, Checks: checks}
		for _, c := range checks {
			if !c.OK {
				body.Ready = false
				body.Failing = append(body.Failing, c.Name)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if !body.Ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(body) // the status is already sent
	})
}
