package reports

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ponte-pa/ponte/connectors/channels"
	"github.com/ponte-pa/ponte/internal/tenant"
)

// WebhookPath is where, under a tenant's /t/<id>, the CRM posts its
// signed status events.
const WebhookPath = "/reports/crm-events"

// DefaultWebhookReference is where the report's id is in an event's body
// when reports.crmWebhook.reference does not say.
const DefaultWebhookReference = "ticket.externalId"

// CRMEvents is the handler of a tenant's CRM webhook: it checks the
// signature (X-Ponte-Signature, as channels.SignWebhook writes it; a
// timestamp more than channels.WebhookTolerance old is refused, so a
// captured event cannot be replayed), finds the report's id at the
// configured path of the JSON body, and pokes its lifecycle, which then
// reads the ticket from the CRM as its poll would: the CRM's own answer,
// through the connector's mapping, decides the state, never the event.
// poke is reports.Poke with a Temporal client; a poke for a report with no
// running lifecycle answers 404.
func CRMEvents(t *tenant.Tenant, poke func(ctx context.Context, tenantID, reportID string) error, log *slog.Logger) (http.Handler, error) {
	cfg := t.Reports.CRMWebhook
	secret, err := cfg.Secret.Resolve()
	if err != nil {
		return nil, fmt.Errorf("tenant %s: reports.crmWebhook.secret: %w", t.ID, err)
	}
	ref := cfg.Reference
	if ref == "" {
		ref = DefaultWebhookReference
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 256<<10))
		if err != nil {
			http.Error(w, "body too large or unreadable", http.StatusRequestEntityTooLarge)
			return
		}
		if err := channels.VerifyWebhook([]byte(secret), r.Header.Get(channels.HeaderSignature), body, time.Now()); err != nil {
			log.Warn("CRM webhook refused", "tenant", t.ID, "err", err)
			http.Error(w, "bad signature: "+err.Error(), http.StatusUnauthorized)
			return
		}
		var doc any
		if err := json.Unmarshal(body, &doc); err != nil {
			http.Error(w, "body is not JSON", http.StatusBadRequest)
			return
		}
		id, ok := lookup(doc, ref)
		if !ok || id == "" {
			http.Error(w, fmt.Sprintf("no report id at %s in the event", ref), http.StatusUnprocessableEntity)
			return
		}
		if err := poke(r.Context(), t.ID, id); err != nil {
			log.Warn("CRM webhook for a report with no running lifecycle", "tenant", t.ID, "report", id, "err", err)
			http.Error(w, "no running lifecycle for report "+id, http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}), nil
}

// lookup follows a dotted path (map keys, list indexes) to a string or
// number.
func lookup(doc any, path string) (string, bool) {
	v := doc
	for _, k := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(x) {
				return "", false
			}
			v = x[i]
		default:
			return "", false
		}
	}
	switch x := v.(type) {
	case string:
		return x, true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	}
	return "", false
}
