package runtime_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/ponte-pa/ponte/internal/runtime"
)

// TestReadyz: /readyz answers 200 listing every check when Temporal, the
// state store and the tenants are there, and 503 naming the failing check
// when the state store is closed or no tenant is loaded.
func TestReadyz(t *testing.T) {
	tests := []struct {
		name        string
		tenants     []string
		closeStore  bool
		wantStatus  int
		wantFailing []string
	}{
		{"all ready", []string{"../tenant/testdata/valid.yaml"}, false, http.StatusOK, nil},
		{"state store closed", []string{"../tenant/testdata/valid.yaml"}, true, http.StatusServiceUnavailable, []string{"state_store"}},
		{"no tenants", nil, false, http.StatusServiceUnavailable, []string{"tenants"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt, err := runtime.Start(context.Background(), runtime.Config{Tenants: tt.tenants})
			if err != nil {
				t.Fatal(err)
			}
			defer rt.Close()
			if tt.closeStore {
				if err := rt.DB.Close(); err != nil {
					t.Fatal(err)
				}
			}
			rec := httptest.NewRecorder()
			rt.ReadyHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
			if rec.Code != tt.wantStatus {
				t.Errorf("status %d, want %d; body %s", rec.Code, tt.wantStatus, rec.Body)
			}
			var body struct {
				Ready   bool
				Failing []string
				Checks  []runtime.Check
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			if !slices.Equal(body.Failing, tt.wantFailing) {
				t.Errorf("failing %v, want %v", body.Failing, tt.wantFailing)
			}
			if body.Ready != (tt.wantStatus == http.StatusOK) {
				t.Errorf("ready %v with status %d", body.Ready, rec.Code)
			}
			var names []string
			for _, c := range body.Checks {
				names = append(names, c.Name)
				if c.OK == slices.Contains(tt.wantFailing, c.Name) {
					t.Errorf("check %+v, failing should be %v", c, tt.wantFailing)
				}
			}
			if want := []string{"temporal", "state_store", "tenants"}; !slices.Equal(names, want) {
				t.Errorf("checks %v, want %v", names, want)
			}
		})
	}
}
