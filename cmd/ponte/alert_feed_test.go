package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ponte-pa/ponte/connectors/failure"
	capfeedmock "github.com/ponte-pa/ponte/mocks/capfeed"
	"github.com/ponte-pa/ponte/mocks/fault"
)

// The feed check against the regional alert system's mock: what each
// alert says and whether it concerns the comune, the entries that could
// not be read with what to do, and a feed that cannot be read at all.
func TestAlertFeedCheck(t *testing.T) {
	now := time.Date(2026, 10, 12, 12, 30, 0, 0, time.UTC)
	sys := capfeedmock.New(capfeedmock.Options{Now: func() time.Time { return now }})
	orange, err := sys.Publish(capfeedmock.Publication{Zones: []string{"EMR-B1"}, ISTAT: []string{"037006"}, Colour: "arancione", Risk: "idraulico", Phase: "preallarme",
		Headline: map[string]string{"it": "Piena del Reno"}})
	if err != nil {
		t.Fatal(err)
	}
	yellow, err := sys.Publish(capfeedmock.Publication{Zones: []string{"EMR-C2"}, Colour: "giallo", Risk: "vento"})
	if err != nil {
		t.Fatal(err)
	}
	busy, err := sys.Publish(capfeedmock.Publication{Zones: []string{"EMR-A1"}, Colour: "rosso", Risk: "neve"})
	if err != nil {
		t.Fatal(err)
	}
	// The mock, but one of its documents is on a busy server.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/cap/"+busy+".xml" {
			w.Header().Set("Retry-After", "20")
			http.Error(w, "occupato", http.StatusServiceUnavailable)
			return
		}
		sys.ServeHTTP(w, r)
	}))
	defer srv.Close()

	var out bytes.Buffer
	if err := alertFeedCheck(t.Context(), &out, srv.URL+"/feed.atom", []string{"EMR-B1"}, []string{"037006"}); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"Feed " + srv.URL + "/feed.atom: 2 alerts\n",
		"\n" + yellow + "  Alert  sent 2026-10-12T14:30:00+02:00\n  severity Moderate, urgency Unknown; allerta gialla, vento forte\n",
		"  area: Zona di allerta EMR-C2 (ZONA_ALLERTA=EMR-C2)\n  matches: no\n",
		"\n" + orange + "  Alert  sent 2026-10-12T14:30:00+02:00\n  severity Severe, urgency Expected; allerta arancione, rischio idraulico (piene dei fiumi, allagamenti), fase di preallarme\n  headline: Piena del Reno\n  expires 2026-10-13T14:30:00+02:00\n",
		"  area: Zona di allerta EMR-B1 (ZONA_ALLERTA=EMR-B1)\n  area: Comune (ISTAT 037006) (ISTAT=037006)\n  matches: yes (EMR-B1, 037006)\n  document: " + srv.URL + "/cap/" + orange + ".xml\n",
		"\nNot read: 1 entry\n  " + srv.URL + "/cap/" + busy + ".xml\n    cap: GET " + srv.URL + "/cap/" + busy + ".xml: HTTP 503 Service Unavailable: occupato\n" +
			"    what to do: the publisher's server is busy or failing: a later poll retries (it asked to wait 20s)\n",
		"\n2 alerts, 1 concerning the zones and comuni given; 1 entry not read\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the output lacks %q:\n%s", want, got)
		}
	}

	// Without zones or codes, nothing is said to match.
	out.Reset()
	if err := alertFeedCheck(t.Context(), &out, srv.URL+"/rss.xml", nil, nil); err != nil {
		t.Fatal(err)
	}
	if strings.Count(out.String(), "  matches: no zones or ISTAT codes given\n") != 2 {
		t.Errorf("without zones:\n%s", out.String())
	}

	// A feed that cannot be read is the error, classified, with what to do.
	for _, tt := range []struct {
		name, path string
		fail       func()
		retryable  bool
		says       string
	}{
		{"not there", "/feeds/allerte.atom", func() {}, false, "nothing at that URL"},
		{"failing", "/feed.atom", func() { sys.Faults().FailNextWith(1, fault.Failure{Status: 502}) }, true, "a later poll retries"},
		{"not a feed", "/__mock/published", func() {}, false, "not a CAP alert or feed"},
	} {
		tt.fail()
		out.Reset()
		err := alertFeedCheck(t.Context(), &out, srv.URL+tt.path, []string{"EMR-B1"}, nil)
		if err == nil || failure.IsRetryable(err) != tt.retryable || !strings.Contains(err.Error(), tt.says) {
			t.Errorf("%s: %v (retryable %v), want it to say %q", tt.name, err, failure.IsRetryable(err), tt.says)
		}
		if out.Len() != 0 {
			t.Errorf("%s: printed %q", tt.name, out.String())
		}
	}
}
