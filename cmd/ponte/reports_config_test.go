package main

import (
	"os"
	"strings"
	"testing"

	"github.com/ponte-pa/ponte/internal/tenant"
)

// TestReportRoutesValidatedByCRMKind: in the binary the CRM kinds are
// linked, so a route's config is judged at load by its kind's schema
// (with the route's kind in it), and the problem names the route.
func TestReportRoutesValidatedByCRMKind(t *testing.T) {
	dir := t.TempDir()
	path, err := tenant.WriteSample(dir, map[string]string{"GPDURL": "http://127.0.0.1:1", "IOURL": "http://127.0.0.1:2/api/v1"})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	with := func(route string) []byte {
		out := strings.Replace(string(data), "  pollInterval: 15m\n", "  pollInterval: 15m\n  routes:\n    - "+route+"\n", 1)
		if out == string(data) {
			t.Fatal("the sample has no reports.pollInterval")
		}
		return []byte(out)
	}
	tn, err := tenant.LoadBytes(path, with(`{service: "*", kind: open311, config: {url: "https://crm.example.it/open311/v2", apiKey: "env:CRM_KEY"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if rt, ok := tn.Reports.Route("buca-stradale"); !ok || rt.Kind != "open311" {
		t.Errorf("route %+v %v", rt, ok)
	}
	_, err = tenant.LoadBytes(path, with(`{service: "*", kind: open311, config: {url: "https://crm.example.it/open311/v2"}}`))
	if err == nil || !strings.Contains(err.Error(), "/reports/routes/0/config") || !strings.Contains(err.Error(), "apiKey") {
		t.Errorf("a route without its api key: %v", err)
	}
	_, err = tenant.LoadBytes(path, with(`{service: "*", kind: sap}`))
	if err == nil || !strings.Contains(err.Error(), "/reports/routes/0/kind") || !strings.Contains(err.Error(), "rest") {
		t.Errorf("an unknown kind: %v", err)
	}
}
