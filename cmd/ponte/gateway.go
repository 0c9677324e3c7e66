package main

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"

	"go.temporal.io/sdk/client"

	"github.com/ponte-pa/ponte/connectors/pagopa/nodo"
	"github.com/ponte-pa/ponte/internal/gateway"
	"github.com/ponte-pa/ponte/internal/gateway/open311"
	"github.com/ponte-pa/ponte/internal/metrics"
	"github.com/ponte-pa/ponte/internal/store"
	"github.com/ponte-pa/ponte/internal/tenant"
	"github.com/ponte-pa/ponte/workflows/reconcile"
	"github.com/ponte-pa/ponte/workflows/reports"
)

// mountGateway serves the citizens' pages of every tenant with a spid block
// (SPID login under /t/<id>/) on mux, and keeps their IdP metadata fresh
// until ctx ends. listenAddr is where the HTTP gateway listens. mount, when
// set, adds more of each tenant's applications (gateway.Options.Mount).
func mountGateway(ctx context.Context, mux *http.ServeMux, ts []*tenant.Tenant, db *store.DB, m *metrics.Metrics, listenAddr string, log *slog.Logger,
	mount func(*http.ServeMux, *gateway.Site)) error {
	gw, err := gateway.New(ctx, ts, gateway.Options{DB: db, Logger: log, OnLogin: m.Login, Mount: mount})
	if err != nil {
		return err
	}
	go gw.Run(ctx)
	mux.Handle("/", gw)
	for _, s := range gw.Sites() {
		log.Info("SPID login", "tenant", s.Tenant.ID, "url", s.LandingURL(), "idps", len(s.Registry.List()),
			"metadata", s.SP.BaseURL()+"/spid/metadata")
		if mount != nil && s.Tenant.Alerts != nil {
			log.Info("alert operators' page", "tenant", s.Tenant.ID, "url", strings.TrimRight(s.SP.BaseURL(), "/")+"/allerte/",
				"operators", len(s.Tenant.Alerts.Operators))
		}
		if u, err := url.Parse(s.SP.BaseURL()); err == nil && isLoopback(u.Hostname()) && u.Host != listenAddr {
			log.Warn("the SP's baseURL (sp.yaml) is a loopback address other than this gateway's: IdPs will send citizens elsewhere",
				"tenant", s.Tenant.ID, "baseURL", s.SP.BaseURL(), "gateway", listenAddr)
		}
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// reportsIntake returns what mounts, for a tenant with a reports section,
// the Open311 GeoReport v2 intake of citizen reports at
// /t/<id>/open311/v2/ (internal/gateway/open311), keeping reports in db.
func reportsIntake(ctx context.Context, db *store.DB, log *slog.Logger, c client.Client) (func(*http.ServeMux, *gateway.Site), error) {
	st, err := reports.NewStore(ctx, db)
	if err != nil {
		return nil, err
	}
	opts := open311.Options{Store: st, Logger: log}
	if c != nil {
		opts.OnReceived = reports.OnReceived(c)
	}
	in, err := open311.New(opts)
	if err != nil {
		return nil, err
	}
	if c == nil {
		return in.Mount, nil
	}
	poke := func(ctx context.Context, tenantID, id string) error { return reports.Poke(ctx, c, tenantID, id) }
	return func(mux *http.ServeMux, s *gateway.Site) {
		in.Mount(mux, s)
		// The CRM's signed status events wake a report's lifecycle.
		if r := s.Tenant.Reports; r != nil && r.CRMWebhook != nil {
			h, err := reports.CRMEvents(s.Tenant, poke, log)
			if err != nil {
				log.Error("CRM webhook not mounted", "tenant", s.Tenant.ID, "err", err)
				return
			}
			mux.Handle("POST "+s.Path()+reports.WebhookPath, h)
		}
	}, nil
}

// mountNodo serves, for every tenant, the EC SOAP endpoint the pagoPA Nodo
// calls (SOAP 1.1, nodo-ec-soap.md) at nodo.TenantPath(id). paSendRTV2
// receipts are stored for reconciliation (a receipt delivered twice gets
// PAA_RECEIPT_DUPLICATA). The tenants' debt positions live on GPD, which
// answers the Nodo's paVerifyPaymentNotice/paGetPaymentV2 itself: asked
// here, they get PAA_PAGAMENTO_SCONOSCIUTO.
func mountNodo(mux *http.ServeMux, ts []*tenant.Tenant, st *reconcile.Store, log *slog.Logger) error {
	for _, t := range ts {
		path, err := nodo.MountTenant(mux, t.ID, t.FiscalCode, &nodo.ReceiptBackend{Receipts: st}, nodo.Options{StationID: t.PagoPA.StationID, Logger: log})
		if err != nil {
			return err
		}
		log.Info("pagoPA EC endpoint (paSendRTV2 receipts)", "tenant", t.ID, "path", path)
	}
	return nil
}
