package pagopatest

import (
	"net/http/httptest"
	"testing"
)

func TestSkip(t *testing.T) {
	for path, want := range map[string]bool{
		"/__mock/positions":                  true,
		"/payments/01234567890/receipts":     true,
		"/organizations/X/debtpositions":     false,
		"/organizations/X/debtpositions/__m": false,
	} {
		if got := Skip(httptest.NewRequest("GET", path, nil)); got != want {
			t.Errorf("Skip(%s) = %v, want %v", path, got, want)
		}
	}
}
