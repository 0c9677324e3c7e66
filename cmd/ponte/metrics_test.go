package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/ponte-pa/ponte/internal/metrics"
)

// checkDemoMetrics scrapes /metrics over HTTP after the demo campaign and
// checks that Ponte's counters say what the campaign's progress says
// happened, and that the Temporal SDK's metrics are there too.
func checkDemoMetrics(t *testing.T, m *metrics.Metrics, res *demoResult) {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "ponte_") {
			t.Log(line) // go test -v shows what an operator's curl would
		}
	}
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	const tenant = "esempio"
	pr := res.Progress
	// The alert's messages (and the cancel's) count in the same series; a
	// delivery receipt turns sent into delivered after the count.
	alertN := func(channel, state string) int {
		n := 0
		if res.Alert == nil {
			return 0
		}
		for _, c := range res.Alert.Report.Channels {
			if c.Channel == channel && (c.State == state || state == "sent" && c.State == "delivered") {
				n += c.Count
			}
		}
		return n
	}
	// The citizen report's e-mails, one per change of state.
	reportN := 0
	if res.Report != nil {
		reportN = len(res.Report.Messages)
	}
	tests := []struct {
		metric string
		labels map[string]string
		want   int
	}{
		{"ponte_gpd_positions_total", map[string]string{"tenant": tenant, "outcome": "created"}, pr.PositionsPublished},
		{"ponte_gpd_positions_total", map[string]string{"tenant": tenant, "outcome": "failed"}, pr.PositionsFailed},
		{"ponte_messages_total", map[string]string{"tenant": tenant, "channel": "appio", "outcome": "sent"}, pr.MessagesSent + alertN("appio", "sent")},
		{"ponte_messages_total", map[string]string{"tenant": tenant, "channel": "appio", "outcome": "not_on_io"}, pr.NotOnIO + alertN("appio", "not_on_io")},
		{"ponte_messages_total", map[string]string{"tenant": tenant, "channel": "appio", "outcome": "not_allowed"}, pr.SenderNotAllowed + alertN("appio", "not_allowed")},
		{"ponte_messages_total", map[string]string{"tenant": tenant, "channel": "appio", "outcome": "failed"}, pr.MessagesFailed},
		{"ponte_messages_total", map[string]string{"tenant": tenant, "channel": "email", "outcome": "sent"}, pr.EmailsSent + alertN("email", "sent") + reportN},
		{"ponte_messages_total", map[string]string{"tenant": tenant, "channel": "sms", "outcome": "sent"}, alertN("sms", "sent")},
		{"ponte_messages_total", map[string]string{"tenant": tenant, "channel": "webhook", "outcome": "sent"}, alertN("webhook", "sent")},
		{"ponte_messages_total", map[string]string{"tenant": tenant, "channel": "email", "outcome": "failed"}, pr.EmailsFailed},
		{"ponte_messages_total", map[string]string{"tenant": tenant, "channel": "none"}, pr.NeedPrint},
		{"ponte_reconcile_anomalies_total", map[string]string{"tenant": tenant}, res.Reconcile.Match.Anomalies},
	}
	for _, tt := range tests {
		if got := sum(fams[tt.metric], tt.labels); got != float64(tt.want) {
			t.Errorf("%s%v = %v, want %d", tt.metric, tt.labels, got, tt.want)
		}
	}
	if pr.PositionsPublished != pr.Valid {
		t.Errorf("positions published %d, valid rows %d", pr.PositionsPublished, pr.Valid)
	}
	var temporal int
	for name := range fams {
		if strings.HasPrefix(name, "temporal_") {
			temporal++
		}
	}
	if temporal == 0 {
		t.Error("no temporal_* metric: the SDK's metrics handler is not wired")
	}
	if f := fams["temporal_workflow_completed"]; sum(f, nil) < 1 {
		t.Errorf("temporal_workflow_completed = %v, want at least the campaign", sum(f, nil))
	}
}

// sum adds the values of the family's series that have every label of want.
func sum(f *dto.MetricFamily, want map[string]string) float64 {
	if f == nil {
		return 0
	}
	var total float64
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		ok := true
		for k, v := range want {
			ok = ok && labels[k] == v
		}
		if !ok {
			continue
		}
		switch {
		case m.Counter != nil:
			total += m.GetCounter().GetValue()
		case m.Gauge != nil:
			total += m.GetGauge().GetValue()
		case m.Untyped != nil:
			total += m.GetUntyped().GetValue()
		}
	}
	return total
}
