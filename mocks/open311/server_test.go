package open311mock

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// get decodes a GeoReport v2 answer (an array, or an object for a
// service definition).
func get(t *testing.T, u string, out any) int {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("GET %s: %d, not JSON: %v", u, resp.StatusCode, err)
	}
	return resp.StatusCode
}

func post(t *testing.T, u string, f url.Values) (int, []map[string]any) {
	t.Helper()
	resp, err := http.PostForm(u, f)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("POST %s: %d, not JSON: %v", u, resp.StatusCode, err)
	}
	return resp.StatusCode, out
}

func TestGeoReport(t *testing.T) {
	s := New(Options{ReferenceAttribute: "ponte_ref"})
	srv := httptest.NewServer(s)
	defer srv.Close()

	var services []map[string]any
	if code := get(t, srv.URL+"/services.json", &services); code != http.StatusOK || len(services) != 3 || services[2]["metadata"] != true {
		t.Fatalf("services: %d %v", code, services)
	}
	var def struct {
		ServiceCode string `json:"service_code"`
		Attributes  []struct{ Code string }
	}
	if code := get(t, srv.URL+"/services/004.json", &def); code != http.StatusOK || def.ServiceCode != "004" || len(def.Attributes) != 1 || def.Attributes[0].Code != "ponte_ref" {
		t.Fatalf("definition: %d %+v", code, def)
	}
	form := url.Values{"api_key": {DefaultAPIKey}, "service_code": {"004"}, "lat": {"44.4991"}, "long": {"11.3522"},
		"description": {"Lampione spento"}, "attribute[ponte_ref]": {"SR-1"}}
	errs := []struct {
		name   string
		change func(url.Values)
		code   int
		desc   string
	}{
		{"bad key", func(f url.Values) { f.Set("api_key", "nope") }, http.StatusForbidden, "api_key"},
		{"unknown service", func(f url.Values) { f.Set("service_code", "999") }, http.StatusBadRequest, "999"},
		{"bad coordinates", func(f url.Values) { f.Set("lat", "91") }, http.StatusBadRequest, "WGS84"},
		{"no location", func(f url.Values) { f.Del("lat"); f.Del("long") }, http.StatusBadRequest, "location"},
	}
	for _, e := range errs {
		f := url.Values{}
		for k, v := range form {
			f[k] = append([]string(nil), v...)
		}
		e.change(f)
		code, out := post(t, srv.URL+"/requests.json", f)
		if code != e.code || len(out) != 1 || !strings.Contains(out[0]["description"].(string), e.desc) {
			t.Errorf("%s: %d %v", e.name, code, out)
		}
	}
	code, out := post(t, srv.URL+"/requests.json", form)
	if code != http.StatusCreated || len(out) != 1 || out[0]["service_request_id"] != "1001" {
		t.Fatalf("create: %d %v", code, out)
	}
	if code, again := post(t, srv.URL+"/requests.json", form); code != http.StatusCreated || again[0]["service_request_id"] != "1001" {
		t.Fatalf("same reference: %d %v", code, again)
	}
	if n := len(s.Requests()); n != 1 || s.Posts() != 2 {
		t.Fatalf("%d requests after %d posts", n, s.Posts())
	}
	if err := s.SetStatus("1001", "closed", "Riparato"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetStatus("1001", "done", ""); err == nil {
		t.Error("status done accepted")
	}
	var one []map[string]any
	if code := get(t, srv.URL+"/requests/1001.json", &one); code != http.StatusOK || len(one) != 1 || one[0]["status"] != "closed" || one[0]["status_notes"] != "Riparato" || one[0]["lat"] != 44.4991 {
		t.Fatalf("request: %d %v", code, one)
	}
	var list []map[string]any
	if code := get(t, srv.URL+"/requests.json?status=open", &list); code != http.StatusOK || len(list) != 0 {
		t.Fatalf("open requests: %d %v", code, list)
	}
	if code := get(t, srv.URL+"/requests/1001.xml", &list); code != http.StatusBadRequest {
		t.Fatalf("xml: %d", code)
	}
}

func TestTokens(t *testing.T) {
	s := New(Options{TokenOnly: true, TokenReads: 2})
	srv := httptest.NewServer(s)
	defer srv.Close()
	code, out := post(t, srv.URL+"/requests.json", url.Values{"api_key": {DefaultAPIKey}, "service_code": {"001"}, "address_string": {"Via Roma 1"}})
	if code != http.StatusCreated || out[0]["token"] != "tok-1" || out[0]["service_request_id"] != nil {
		t.Fatalf("create: %d %v", code, out)
	}
	for i := 0; i < 2; i++ {
		var errs []map[string]any
		if code := get(t, srv.URL+"/tokens/tok-1.json", &errs); code != http.StatusNotFound {
			t.Fatalf("read %d: %d %v", i, code, errs)
		}
	}
	var got []map[string]any
	if code := get(t, srv.URL+"/tokens/tok-1.json", &got); code != http.StatusOK || got[0]["service_request_id"] != "1001" {
		t.Fatalf("third read: %d %v", code, got)
	}
}

func TestFaults(t *testing.T) {
	s := New(Options{})
	srv := httptest.NewServer(s)
	defer srv.Close()
	s.Faults().FailNext(1, http.StatusServiceUnavailable)
	var out []map[string]any
	if code := get(t, srv.URL+"/services.json", &out); code != http.StatusServiceUnavailable || out[0]["code"] != float64(503) {
		t.Fatalf("injected: %d %v", code, out)
	}
	if code := get(t, srv.URL+"/services.json", &out); code != http.StatusOK {
		t.Fatalf("after: %d", code)
	}
}
