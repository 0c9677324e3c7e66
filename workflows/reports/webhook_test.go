package reports

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ponte-pa/ponte/connectors/channels"
	"github.com/ponte-pa/ponte/internal/tenant"
)

// TestCRMEvents: a signed event pokes the lifecycle of the report named at
// the configured path; a bad or old signature, a body without the id and
// a report with no lifecycle are refused, and nothing is poked.
func TestCRMEvents(t *testing.T) {
	t.Setenv("PONTE_TEST_CRM_SECRET", "crm-secret")
	tn := &tenant.Tenant{ID: "esempio", Reports: &tenant.Reports{CRMWebhook: &tenant.ReportWebhook{Secret: tenant.NewSecret("env:PONTE_TEST_CRM_SECRET", "")}}}
	var poked []string
	h, err := CRMEvents(tn, func(_ context.Context, tenantID, id string) error {
		if id == "gone" {
			return errors.New("workflow not found")
		}
		poked = append(poked, tenantID+"/"+id)
		return nil
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	post := func(body, sig string) int {
		t.Helper()
		r := httptest.NewRequest(http.MethodPost, "/t/esempio"+WebhookPath, strings.NewReader(body))
		r.Header.Set(channels.HeaderSignature, sig)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if _, err := io.Copy(io.Discard, w.Result().Body); err != nil {
			t.Fatal(err)
		}
		return w.Code
	}
	sign := func(body string, at time.Time) string {
		return channels.SignWebhook([]byte("crm-secret"), at, []byte(body))
	}
	good := `{"eventId":"T-1-2","ticket":{"id":"T-1","externalId":"r123","status":"IN_PROGRESS"}}`
	for _, c := range []struct {
		name, body, sig string
		want            int
	}{
		{"signed", good, sign(good, time.Now()), http.StatusAccepted},
		{"wrong secret", good, channels.SignWebhook([]byte("other"), time.Now(), []byte(good)), http.StatusUnauthorized},
		{"old timestamp", good, sign(good, time.Now().Add(-time.Hour)), http.StatusUnauthorized},
		{"no signature", good, "", http.StatusUnauthorized},
		{"not JSON", "x", sign("x", time.Now()), http.StatusBadRequest},
		{"no id", `{"ticket":{"id":"T-1"}}`, sign(`{"ticket":{"id":"T-1"}}`, time.Now()), http.StatusUnprocessableEntity},
		{"no lifecycle", `{"ticket":{"externalId":"gone"}}`, sign(`{"ticket":{"externalId":"gone"}}`, time.Now()), http.StatusNotFound},
	} {
		if got := post(c.body, c.sig); got != c.want {
			t.Errorf("%s: HTTP %d, want %d", c.name, got, c.want)
		}
	}
	if len(poked) != 1 || poked[0] != "esempio/r123" {
		t.Errorf("poked %v, want only esempio/r123", poked)
	}
	if v, ok := lookup(map[string]any{"a": []any{map[string]any{"b": 7.0}}}, "a.0.b"); !ok || v != "7" {
		t.Errorf("lookup through a list: %q %v", v, ok)
	}
}
