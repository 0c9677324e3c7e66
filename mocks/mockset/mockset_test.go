package mockset

import (
	"bufio"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	appiomock "github.com/ponte-pa/ponte/mocks/appio"
	capfeedmock "github.com/ponte-pa/ponte/mocks/capfeed"
	crmmock "github.com/ponte-pa/ponte/mocks/crm"
	"github.com/ponte-pa/ponte/mocks/fault"
	"github.com/ponte-pa/ponte/mocks/gpd"
	legacymock "github.com/ponte-pa/ponte/mocks/legacy"
	nodomock "github.com/ponte-pa/ponte/mocks/nodo"
	open311mock "github.com/ponte-pa/ponte/mocks/open311"
	smsmock "github.com/ponte-pa/ponte/mocks/sms"
	smtpmock "github.com/ponte-pa/ponte/mocks/smtp"
	"github.com/ponte-pa/ponte/mocks/spididp"
	webhookmock "github.com/ponte-pa/ponte/mocks/webhook"
)

// TestStartServesEveryMock starts the whole set on free ports, as the tests
// and the demo do, and checks that every registered mock runs, answers its
// fault control at /__mock/faults, and is reachable by name.
func TestStartServesEveryMock(t *testing.T) {
	s, err := Start(Options{Config: Config{appiomock.Kind: appiomock.Options{DefaultKnown: true}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	names := []string{gpd.Kind, appiomock.Kind, smtpmock.Kind, nodomock.Kind, spididp.KindSPID, spididp.KindCIE, legacymock.Kind, webhookmock.Kind, smsmock.Kind, capfeedmock.Kind, crmmock.Kind, open311mock.Kind}
	if got := len(s.Running()); got != len(names) {
		t.Fatalf("%d mocks running, want %d", got, len(names))
	}
	for i, r := range s.Running() {
		if s.Mock(names[i]) != r.Mock || s.URL(names[i]) != r.URL || r.Title == "" || r.Details == "" {
			t.Errorf("mock %d is not %s: %+v", i, names[i], r)
		}
		resp, err := http.Get(r.Control + fault.Path)
		if err != nil {
			t.Errorf("%s: %v", r.Title, err)
			continue
		}
		var st fault.State
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("%s: GET %s%s = %d, %v", r.Title, r.Control, fault.Path, resp.StatusCode, err)
		}
	}
	// The typed shortcuts are the registered mocks.
	if s.GPD == nil || s.IO == nil || s.SMTP == nil || s.Nodo == nil || s.IdP == nil || s.CIE == nil || s.Legacy == nil || s.Webhook == nil {
		t.Fatalf("a shortcut is nil: %+v", s)
	}
	if s.GPDURL != s.URL(gpd.Kind) || !strings.HasSuffix(s.IOURL, "/api/v1") || s.IdP.EntityID() != s.IdPURL || s.CIE.EntityID() != s.CIEURL {
		t.Errorf("URLs: %v", s.URLs())
	}
	// Knobs set over HTTP reach the mock's Go API.
	resp, err := http.Post(s.GPDURL+fault.Path, "application/json", strings.NewReader(`{"dropNext":2}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if s.GPD.Faults().Knobs().DropNext != 2 {
		t.Errorf("POST %s did not reach the GPD mock: %+v", fault.Path, s.GPD.Faults().Knobs())
	}
	// The SMTP mock speaks SMTP on its URL.
	c, err := net.DialTimeout("tcp", s.SMTPAddr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || !strings.HasPrefix(line, "220") {
		t.Errorf("SMTP greeting %q, %v", line, err)
	}
	vars := s.SampleVars()
	for _, k := range []string{"GPDURL", "IOURL", "SMTPAddr", "IdPURL", "CIEIdPURL"} {
		if vars[k] == "" {
			t.Errorf("sample variable %s missing: %v", k, vars)
		}
	}
	// The Nodo simulator pays on the GPD mock of the set.
	if _, err := s.Nodo.PayGPD(t.Context(), "01234567890", "301000000000000144"); err == nil || !strings.Contains(err.Error(), "no payment option") {
		t.Errorf("Nodo → GPD: %v", err)
	}
}

func TestStartRefusesUnknownOrWrongConfig(t *testing.T) {
	for _, c := range []Config{{"nope": 1}, {gpd.Kind: appiomock.Options{}}} {
		if s, err := Start(Options{Config: c}); err == nil {
			s.Close()
			t.Errorf("Start with %v succeeded", c)
		}
	}
}
