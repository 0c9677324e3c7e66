package mockset

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestStartServesEveryMock starts the whole set on free ports, as the tests
// and the demo do, and checks that each mock answers on its URL.
func TestStartServesEveryMock(t *testing.T) {
	s, err := Start(Options{IODefaultKnown: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checks := map[string]string{
		"gpd":      s.GPDURL + "/__mock/stats",
		"appio":    strings.TrimSuffix(s.IOURL, "/api/v1") + "/__mock/stats",
		"nodo":     s.NodoURL + "/__mock/payments",
		"spid-idp": s.IdPURL + "/metadata",
		"cie-idp":  s.CIEURL + "/metadata",
		"tributi":  s.LegacyURL + "/__mock/stats",
	}
	for name, u := range checks {
		resp, err := http.Get(u)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: GET %s = %d", name, u, resp.StatusCode)
		}
	}
	c, err := net.DialTimeout("tcp", s.SMTPAddr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || !strings.HasPrefix(line, "220") {
		t.Errorf("SMTP greeting %q, %v", line, err)
	}
	if got := len(s.URLs()); got != 7 {
		t.Errorf("URLs() lists %d mocks, want 7", got)
	}
	if s.IdP.EntityID() != s.IdPURL {
		t.Errorf("IdP entityID %q, want its URL %q", s.IdP.EntityID(), s.IdPURL)
	}
}
