package gateway_test

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/ponte-pa/ponte/internal/gateway"
	"github.com/ponte-pa/ponte/internal/gateway/gatewaytest"
)

// TestLoginsCounted: every response posted to the ACS is counted once, as
// accepted or refused with the reason, by tenant.
func TestLoginsCounted(t *testing.T) {
	var (
		mu  sync.Mutex
		got []string
	)
	e := start(t, nil, gateway.Options{OnLogin: func(tenant string, accepted bool, reason string) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, fmt.Sprintf("%s %v %s", tenant, accepted, reason))
	}})
	tests := []struct {
		defect, user string
		want         string
	}{
		{"", "mario", "esempio true "},
		{"audience:wrong", "mario", "esempio false invalid_response"},
		{"", "anna-does-not-exist", "esempio false idp_error"}, // nr19 from the IdP form
	}
	for _, tt := range tests {
		t.Run(tt.defect+tt.user, func(t *testing.T) {
			e.idp.SetDefect(tt.defect)
			defer e.idp.SetDefect("")
			mu.Lock()
			got = nil
			mu.Unlock()
			_, _, err := gatewaytest.NewBrowser().LoginWithSPID(ctx(t), e.site.LandingURL(), "", tt.user, "password")
			var le *gatewaytest.LoginError
			if err != nil && !errors.As(err, &le) {
				t.Fatalf("login: %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if want := []string{tt.want}; !slices.Equal(got, want) {
				t.Errorf("counted %q, want %q", got, want)
			}
		})
	}
}

func TestLoginReason(t *testing.T) {
	tests := []struct {
		status   int
		accepted bool
		reason   string
	}{
		{303, true, ""},
		{400, false, "invalid_response"},
		{401, false, "idp_error"},
		{413, false, "too_large"},
		{500, false, "internal"},
	}
	for _, tt := range tests {
		if a, r := gateway.LoginReason(tt.status); a != tt.accepted || r != tt.reason {
			t.Errorf("LoginReason(%d) = %v %q, want %v %q", tt.status, a, r, tt.accepted, tt.reason)
		}
	}
}
