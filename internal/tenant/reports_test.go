package tenant

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// TestReportsConfig: the sample's reports section loads (taxonomy, client
// key, area, limits); mistakes the schema cannot see (a code used twice, a
// list without values, values on a string, swapped corners) and a plain
// api key instead of a reference are refused at load with pointer and line.
func TestReportsConfig(t *testing.T) {
	dir := t.TempDir()
	path, err := WriteSample(dir, map[string]string{"GPDURL": "http://127.0.0.1:1", "IOURL": "http://127.0.0.1:2/api/v1"})
	if err != nil {
		t.Fatal(err)
	}
	tn, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	r := tn.Reports
	if r == nil || len(r.Services) != 3 || len(r.Clients) != 1 {
		t.Fatalf("reports %+v", r)
	}
	s, ok := r.Service("buca-stradale")
	if !ok || s.Name.In("en") != "Pothole" || s.Group.IT != "Strade" || len(s.Attributes) != 2 || !s.Attributes[0].Required ||
		s.Attributes[1].Datatype != "multivaluelist" || len(s.Attributes[1].Values) != 3 || !s.Attributes[1].IsVariable() {
		t.Errorf("buca-stradale %+v", s)
	}
	if _, ok := r.Service("nope"); ok {
		t.Error("unknown service found")
	}
	key, err := r.Clients[0].APIKey.Resolve()
	if err != nil || key != "demo-open311-key-not-secret" {
		t.Errorf("api key %q, %v", key, err)
	}
	if r.PhotoBytes() != 5<<20 || r.PhotoPixels() != DefaultPhotoPixels || r.MaxDescription() != 2000 ||
		!r.Area.Contains(44.06, 12.57) || r.Area.Contains(45.46, 9.19) {
		t.Errorf("limits %+v area %+v", r.Photos, r.Area)
	}
	var none *Reports
	if none.PhotoBytes() != DefaultPhotoBytes || none.MaxDescription() != DefaultDescriptionMax {
		t.Error("nil defaults")
	}

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(data), "    - code: rifiuti-abbandonati\n", "    - code: buca-stradale\n", 1)
	bad = strings.Replace(bad, "          datatype: singlevaluelist\n          required: true\n          description: {it: \"Che cosa", "          datatype: singlevaluelist\n          required: true\n          bogus: 1\n          description: {it: \"Che cosa", 1)
	bad = strings.Replace(bad, "        - code: numero_palo\n          datatype: string\n", "        - code: numero_palo\n          datatype: string\n          values: [{key: a, name: {it: A}}]\n", 1)
	bad = strings.Replace(bad, "        - code: ingombranti\n          datatype: singlevaluelist\n", "        - code: ingombranti\n          datatype: multivaluelist\n", 1)
	bad = strings.Replace(bad, "            - {key: si, name: {it: \"Sì\", en: \"Yes\"}}\n            - {key: \"no\", name: {it: \"No\", en: \"No\"}}\n", "", 1)
	bad = strings.Replace(bad, "{south: 44.00, west: 12.50, north: 44.12, east: 12.64}", "{south: 44.12, west: 12.50, north: 44.00, east: 12.64}", 1)
	bad = strings.Replace(bad, "apiKey: file:secrets/open311-app.key", "apiKey: demo-open311-key-not-secret", 1)
	if bad == string(data) {
		t.Fatal("the sample changed: no replacement applied")
	}
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(path)
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("Load: %v, want a ConfigError", err)
	}
	msg := err.Error()
	for _, want := range []string{
		`/reports/services/2/code: unique: service code "buca-stradale" is used twice`,
		"/reports/services/0/attributes/0/bogus: additionalProperties",
		"/reports/services/2/attributes/0: values: a multivaluelist attribute needs values",
		"/reports/services/0/attributes/1/values: values: values are only for",
		"/reports/area/south: area: south (44.12) must be less than north (44)",
		"/reports/clients/0/apiKey",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	for _, p := range ce.Problems {
		if p.Line == 0 {
			t.Errorf("problem without a line: %+v", p)
		}
	}
}

// TestReportsLifecycleConfig: routes fall back to "*", SLA to "*",
// duplicates and poll interval to their defaults.
func TestReportsLifecycleConfig(t *testing.T) {
	r := &Reports{
		Routes: []ReportRoute{{Service: "*", Kind: "rest"}, {Service: "buca", Kind: "open311"}},
		SLA:    map[string]ReportSLA{"*": {TakeInCharge: "72h"}, "buca": {TakeInCharge: "1h", Resolve: "24h"}},
	}
	if rt, ok := r.Route("buca"); !ok || rt.Kind != "open311" {
		t.Errorf("route buca %+v %v", rt, ok)
	}
	if rt, ok := r.Route("rifiuti"); !ok || rt.Kind != "rest" {
		t.Errorf("route rifiuti %+v %v", rt, ok)
	}
	if tic, res := r.Deadlines("buca"); tic != time.Hour || res != 24*time.Hour {
		t.Errorf("deadlines buca %v %v", tic, res)
	}
	if tic, res := r.Deadlines("rifiuti"); tic != 72*time.Hour || res != 0 {
		t.Errorf("deadlines rifiuti %v %v", tic, res)
	}
	if m, age := r.Nearby(); m != DefaultDuplicateMetres || age != 7*24*time.Hour {
		t.Errorf("nearby %v %v", m, age)
	}
	if r.Purpose() != "reports" || r.Poll() != DefaultReportsPoll {
		t.Errorf("purpose %q poll %v", r.Purpose(), r.Poll())
	}
	var none *Reports
	if _, ok := none.Route("x"); ok {
		t.Error("a route without reports config")
	}
}
