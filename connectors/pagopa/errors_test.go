package pagopa_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ponte-pa/ponte/connectors/failure"
	"github.com/ponte-pa/ponte/connectors/pagopa"
)

// TestErrorClasses checks how GPD answers map to the one error model.
func TestErrorClasses(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		retryAfter string
		wantKind   pagopa.ErrorKind
		want       failure.Info
	}{
		{"429 without hint waits the default", 429, "", pagopa.KindRateLimited, failure.Info{Class: failure.Retryable, RetryAfter: pagopa.DefaultRetryAfter}},
		{"429 with hint", 429, "30", pagopa.KindRateLimited, failure.Info{Class: failure.Retryable, RetryAfter: 30 * time.Second}},
		{"503", 503, "", pagopa.KindRetryable, failure.Info{Class: failure.Retryable}},
		{"400", 400, "", pagopa.KindValidation, failure.Info{Class: failure.Permanent}},
		{"401", 401, "", pagopa.KindUnauthorized, failure.Info{Class: failure.Permanent}},
		{"404", 404, "", pagopa.KindNotFound, failure.Info{Class: failure.Permanent}},
		{"409", 409, "", pagopa.KindConflict, failure.Info{Class: failure.Permanent}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				fmt.Fprintf(w, `{"title":%q,"status":%d,"detail":"d"}`, http.StatusText(tt.status), tt.status)
			}))
			defer srv.Close()
			c := pagopa.NewGPDClient(pagopa.GPDOptions{BaseURL: srv.URL, SubscriptionKey: "k", RetryMax: -1})
			_, err := c.Get(context.Background(), "01234567890", "IUPD-1")
			var ae *pagopa.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("Get: %v, want *APIError", err)
			}
			if ae.Kind != tt.wantKind {
				t.Errorf("kind = %v, want %v", ae.Kind, tt.wantKind)
			}
			if got := failure.Of(err); got != tt.want {
				t.Errorf("failure.Of = %+v, want %+v", got, tt.want)
			}
		})
	}
}
