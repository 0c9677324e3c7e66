package cap

import (
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/ponte-pa/ponte/connectors/failure"
	capfeedmock "github.com/ponte-pa/ponte/mocks/capfeed"
	"github.com/ponte-pa/ponte/mocks/fault"
)

// The reader against the regional alert system's mock: both feeds give
// the bulletins, newest first, matched to the comune by zone and ISTAT
// code, with the Italian colour, risk and phase read back.
func TestReadFeedFromTheMock(t *testing.T) {
	sys := capfeedmock.New(capfeedmock.Options{})
	srv := httptest.NewServer(sys)
	defer srv.Close()
	first, err := sys.Publish(capfeedmock.Publication{Zones: []string{"EMR-B1"}, ISTAT: []string{"037006"}, Colour: "arancione", Risk: "idraulico", Phase: "preallarme"})
	if err != nil {
		t.Fatal(err)
	}
	second, err := sys.Publish(capfeedmock.Publication{MsgType: "Update", References: first, Zones: []string{"EMR-C2"}, Colour: "rosso", Risk: "neve"})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/feed.atom", "/rss.xml"} {
		items, errs, err := ReadFeed(t.Context(), srv.Client(), srv.URL+path)
		if err != nil || len(errs) != 0 || len(items) != 2 {
			t.Fatalf("%s: items %v, errors %v, err %v", path, ids(items), errs, err)
		}
		upd, alert := items[0], items[1]
		if upd.Alert.Identifier != second || alert.Alert.Identifier != first || alert.URL != srv.URL+"/cap/"+first+".xml" || alert.ID != alert.URL || upd.Updated.IsZero() {
			t.Errorf("%s: items %+v, %+v", path, upd, alert)
		}
		if got := Matches(alert.Alert, []string{"EMR-B1"}, nil); !slices.Equal(got, []string{"EMR-B1"}) {
			t.Errorf("%s: zone: %v", path, got)
		}
		if got := Matches(alert.Alert, nil, []string{"37006"}); !slices.Equal(got, []string{"37006"}) {
			t.Errorf("%s: ISTAT: %v", path, got)
		}
		if got := Matches(upd.Alert, []string{"EMR-B1"}, []string{"037006"}); got != nil {
			t.Errorf("%s: the update is for EMR-C2, matched %v", path, got)
		}
		if got := ItalianOf(alert.Alert.Info[0]); got != (Italian{Arancione, Idraulico, Preallarme}) {
			t.Errorf("%s: Italian %+v", path, got)
		}
		if got := ItalianOf(upd.Alert.Info[1]); got != (Italian{Colour: Rosso, Risk: Neve}) {
			t.Errorf("%s: Italian of the update %+v", path, got)
		}
		if want := "allertameteo@regione.esempio.it," + first + ","; len(upd.Alert.References) <= len(want) || upd.Alert.References[:len(want)] != want {
			t.Errorf("%s: references %q", path, upd.Alert.References)
		}
	}
	// The system's faults reach the reader classified.
	sys.Faults().FailNextWith(1, fault.Failure{Status: 503, RetryAfter: 20})
	if _, _, err := ReadFeed(t.Context(), srv.Client(), srv.URL+"/feed.atom"); !failure.IsRetryable(err) || failure.RetryAfter(err) != 20*time.Second {
		t.Errorf("503: %v (%+v)", err, failure.Of(err))
	}
}
