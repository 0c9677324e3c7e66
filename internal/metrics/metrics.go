// Package metrics defines Ponte's Prometheus metrics, on a registry of its
// own (never the global default), and serves them at /metrics with the
// Temporal SDK's metrics (see Temporal). Activities and connectors count
// through the methods of *Metrics, which do nothing on a nil *Metrics, so
// code and tests that run without metrics need no checks. Workflow code
// never counts: a replay would count again.
package metrics

import (
	"context"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds Ponte's own metrics and the registry they are on.
type Metrics struct {
	// Registry is where every metric of this process is registered.
	Registry *prometheus.Registry

	positions   *prometheus.CounterVec
	messages    *prometheus.CounterVec
	rateWaits   prometheus.Counter
	logins      *prometheus.CounterVec
	anomalies   *prometheus.CounterVec
	temporalCol *temporalCollector
}

// Outcomes of a debt position (ponte_gpd_positions_total's outcome label).
const (
	PositionCreated = "created"
	PositionFailed  = "failed"
)

// New makes the metrics on a fresh registry, with the Go runtime's and the
// process's collectors.
func New() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		positions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ponte_gpd_positions_total",
			Help: "Debt positions a campaign created and published on GPD (outcome created) or GPD refused for good (outcome failed).",
		}, []string{"tenant", "outcome"}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ponte_messages_total",
			Help: "Messages that reached a final state in the outbox, by channel (appio, email, …) and outcome (sent, failed, unknown, not_on_io, …).",
		}, []string{"tenant", "channel", "outcome"}),
		rateWaits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ponte_appio_rate_limit_waits_total",
			Help: "App IO requests that waited for the client-side rate limiter (--io-rate-limit) before being sent.",
		}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ponte_logins_total",
			Help: "SPID/CIE logins at the gateway's ACS: outcome accepted, or refused with a reason (invalid_response, idp_error, too_large, internal).",
		}, []string{"tenant", "outcome", "reason"}),
		anomalies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ponte_reconcile_anomalies_total",
			Help: "New reconciliation anomalies found, by kind.",
		}, []string{"tenant", "kind"}),
		temporalCol: newTemporalCollector(),
	}
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.positions, m.messages, m.rateWaits, m.logins, m.anomalies, m.temporalCol)
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// Position counts one debt position of tenant: PositionCreated or PositionFailed.
func (m *Metrics) Position(tenant, outcome string) {
	if m != nil {
		m.positions.WithLabelValues(tenant, outcome).Inc()
	}
}

// Message counts one message of tenant that reached the final state
// outcome on channel; a message no channel could take (outcome
// no_address: to print and post) has channel "none".
func (m *Metrics) Message(tenant, channel, outcome string) {
	if m == nil {
		return
	}
	if channel == "" {
		channel = "none"
	}
	m.messages.WithLabelValues(tenant, channel, outcome).Inc()
}

// RateLimitWait counts one App IO request that had to wait for the rate limiter.
func (m *Metrics) RateLimitWait() {
	if m != nil {
		m.rateWaits.Inc()
	}
}

// Login counts one login at tenant's ACS; reason is "" when accepted.
func (m *Metrics) Login(tenant string, accepted bool, reason string) {
	if m == nil {
		return
	}
	outcome := "refused"
	if accepted {
		outcome, reason = "accepted", ""
	}
	m.logins.WithLabelValues(tenant, outcome, reason).Inc()
}

// Anomaly counts one new reconciliation anomaly of kind.
func (m *Metrics) Anomaly(tenant, kind string) {
	if m != nil {
		m.anomalies.WithLabelValues(tenant, kind).Inc()
	}
}

// BacklogRow is one line of the outbox backlog: how many messages of a kind
// of scope (the part of the scope before ':', e.g. "campaign") and slot
// ("io", "fallback", "reminder-1") are in state.
type BacklogRow struct {
	Kind, Slot, State string
	Count             int64
}

// Backlog registers the gauge ponte_outbox_backlog, read by read at every
// scrape (with the scrape's context). Its labels are bounded: scope kind,
// slot and state, never a campaign.
func (m *Metrics) Backlog(read func(context.Context) ([]BacklogRow, error)) error {
	if m == nil {
		return nil
	}
	return m.Registry.Register(&backlogCollector{read: read})
}

var backlogDesc = prometheus.NewDesc("ponte_outbox_backlog",
	"Messages in the outbox not final yet (sending, retry) or waiting for a person (unknown), by scope kind, slot and state; read from the state store at scrape time.",
	[]string{"kind", "slot", "state"}, nil)

var backlogErrDesc = prometheus.NewDesc("ponte_outbox_backlog_up",
	"1 when the last read of ponte_outbox_backlog from the state store succeeded, else 0.", nil, nil)

type backlogCollector struct {
	read func(context.Context) ([]BacklogRow, error)
}

func (c *backlogCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- backlogDesc
	ch <- backlogErrDesc
}

func (c *backlogCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	rows, err := c.read(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(backlogErrDesc, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(backlogErrDesc, prometheus.GaugeValue, 1)
	for _, r := range rows {
		ch <- prometheus.MustNewConstMetric(backlogDesc, prometheus.GaugeValue, float64(r.Count), r.Kind, r.Slot, r.State)
	}
}
