package open311_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/ponte-pa/ponte/internal/gateway"
	"github.com/ponte-pa/ponte/internal/gateway/open311"
	"github.com/ponte-pa/ponte/internal/store/storetest"
	"github.com/ponte-pa/ponte/internal/tenant"
	"github.com/ponte-pa/ponte/workflows/reports"
)

const apiKey = "demo-open311-key-not-secret" // the sample's secrets/open311-app.key

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type env struct {
	srv      *httptest.Server
	api      string // srv.URL + /t/esempio/open311/v2
	st       *reports.Store
	mu       sync.Mutex
	received []*reports.Report
}

// start serves the sample comune's intake on a test server, with photos
// limited to photoMax bytes. A request with the cookie "citizen" is from a
// citizen logged in with SPID, as gateway.Site.Citizen would read it.
func start(t testing.TB, photoMax int) *env {
	t.Helper()
	dir := t.TempDir()
	path, err := tenant.WriteSample(dir, map[string]string{"GPDURL": "http://127.0.0.1:1", "IOURL": "http://127.0.0.1:2/api/v1"})
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	y = bytes.Replace(y, []byte("maxBytes: 5242880"), []byte(fmt.Sprintf("maxBytes: %d", photoMax)), 1)
	if err := os.WriteFile(path, y, 0o600); err != nil {
		t.Fatal(err)
	}
	tn, err := tenant.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := reports.NewStore(context.Background(), storetest.SQLite(t))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{st: st}
	in, err := open311.New(open311.Options{Store: st, Logger: quiet, OnReceived: func(_ context.Context, r *reports.Report) error {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.received = append(e.received, r)
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	in.MountTenant(mux, tn, "/t/esempio", e.srv.URL+"/t/esempio", func(r *http.Request) (*gateway.Citizen, error) {
		c, err := r.Cookie("citizen")
		if err != nil {
			return nil, err
		}
		return &gateway.Citizen{FiscalNumber: c.Value, Name: "Mario", FamilyName: "Rossi", Level: 2}, nil
	})
	e.api = e.srv.URL + "/t/esempio" + open311.Path
	return e
}

// valid is a complete report of a pothole.
func valid() url.Values {
	return url.Values{"api_key": {apiKey}, "service_code": {"buca-stradale"}, "lat": {"44.0612"}, "long": {"12.5662"},
		"address_string": {"Via Roma 1"}, "description": {"Buca profonda davanti al civico 1"}, "email": {"anna@example.it"},
		"attribute[dimensione]": {"grande"}, "attribute[pericolo][]": {"auto", "bici"}}
}

type answer struct {
	status int
	ctype  string
	body   []byte
}

func (e *env) do(t *testing.T, req *http.Request) answer {
	t.Helper()
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header.Get("Content-Type"), b}
}

func (e *env) postForm(t *testing.T, format string, v url.Values) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.api+"/requests."+format, strings.NewReader(v.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return e.do(t, req)
}

// postMultipart files v with a photo in the part media.
func (e *env) postMultipart(t *testing.T, v url.Values, photo []byte, ctype string, cookie *http.Cookie) answer {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, vs := range v {
		for _, x := range vs {
			if err := mw.WriteField(k, x); err != nil {
				t.Fatal(err)
			}
		}
	}
	if photo != nil {
		h := make(map[string][]string)
		h["Content-Disposition"] = []string{`form-data; name="media"; filename="foto.jpg"`}
		h["Content-Type"] = []string{ctype}
		pw, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pw.Write(photo); err != nil {
			t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, e.api+"/requests.json", &b)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if cookie != nil {
		req.AddCookie(cookie)
	}
	return e.do(t, req)
}

func (e *env) get(t *testing.T, path string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.api+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return e.do(t, req)
}

type apiError struct {
	Code        int    `json:"code" xml:"code"`
	Description string `json:"description" xml:"description"`
}

// jpegWithEXIF is a JPEG with an APP1 EXIF segment carrying marker, right
// after SOI where cameras put it.
func jpegWithEXIF(t *testing.T, marker string) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7)
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	// "Exif\0\0" then a little-endian TIFF header whose only content is the
	// marker (as a GPS or device tag would be).
	payload := append([]byte("Exif\x00\x00II*\x00\x08\x00\x00\x00"), marker...)
	seg := []byte{0xFF, 0xE1, byte((len(payload) + 2) >> 8), byte(len(payload) + 2)}
	raw := b.Bytes()
	out := append([]byte{}, raw[:2]...)
	out = append(out, seg...)
	out = append(out, payload...)
	out = append(out, raw[2:]...)
	if _, err := jpeg.Decode(bytes.NewReader(out)); err != nil {
		t.Fatalf("the test JPEG does not decode: %v", err)
	}
	if !bytes.Contains(out, []byte("Exif")) || !bytes.Contains(out, []byte(marker)) {
		t.Fatal("the test JPEG has no EXIF")
	}
	return out
}

// noisePNG is a PNG that does not compress: about 3*w*h bytes.
func noisePNG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(1, 2))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256)), 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestMalformedReports: every malformed report gets its 4xx with the
// Open311 error array naming the field, in JSON or XML, and nothing of it
// is stored — neither the report nor its photo — and no hook runs.
func TestMalformedReports(t *testing.T) {
	e := start(t, 50_000)
	with := func(k, v string) url.Values {
		f := valid()
		if v == "" {
			f.Del(k)
		} else {
			f.Set(k, v)
		}
		return f
	}
	big := noisePNG(t, 200, 200)
	if len(big) <= 50_000 {
		t.Fatalf("noise PNG is only %d bytes", len(big))
	}
	cases := []struct {
		name      string
		form      url.Values
		photo     []byte
		ctype     string
		format    string
		status    int
		field     string // the description starts with it
		multipart bool
	}{
		{name: "bad api_key", form: with("api_key", "wrong"), status: 403, field: "api_key"},
		{name: "no api_key", form: with("api_key", ""), status: 403, field: "api_key"},
		{name: "bad api_key xml", form: with("api_key", "wrong"), format: "xml", status: 403, field: "api_key"},
		{name: "unknown service code", form: with("service_code", "graffiti"), status: 400, field: "service_code"},
		{name: "no service code", form: with("service_code", ""), status: 400, field: "service_code"},
		{name: "latitude out of range", form: with("lat", "91"), status: 400, field: "lat"},
		{name: "longitude not a number", form: with("long", "dodici"), status: 400, field: "long"},
		{name: "latitude NaN", form: with("lat", "NaN"), status: 400, field: "lat"},
		{name: "lat without long", form: with("long", ""), status: 400, field: "long"},
		{name: "outside the comune", form: with("lat", "45.4642"), status: 400, field: "lat"},
		{name: "no location", form: func() url.Values { f := with("lat", ""); f.Del("long"); f.Del("address_string"); return f }(), status: 400, field: "lat"},
		{name: "missing required attribute", form: with("attribute[dimensione]", ""), status: 400, field: "attribute[dimensione]"},
		{name: "missing required attribute xml", form: with("attribute[dimensione]", ""), format: "xml", status: 400, field: "attribute[dimensione]"},
		{name: "value not in the list", form: with("attribute[dimensione]", "enorme"), status: 400, field: "attribute[dimensione]"},
		{name: "two values for a singlevaluelist", form: func() url.Values { f := valid(); f.Add("attribute[dimensione]", "media"); return f }(), status: 400, field: "attribute[dimensione]"},
		{name: "unknown attribute", form: with("attribute[colore]", "rosso"), status: 400, field: "attribute[colore]"},
		{name: "description too long", form: with("description", strings.Repeat("è", 2001)), status: 400, field: "description"},
		{name: "media_url not http", form: with("media_url", "ftp://example.it/foto.jpg"), status: 400, field: "media_url"},
		{name: "media_url javascript", form: with("media_url", "javascript:alert(1)"), status: 400, field: "media_url"},
		{name: "bad email", form: with("email", "anna at example"), status: 400, field: "email"},
		{name: "anonymous without contact", form: with("email", ""), status: 400, field: "email"},
		{name: "oversized photo", form: valid(), photo: big, ctype: "image/png", status: 413, field: "media", multipart: true},
		{name: "wrong-type photo", form: valid(), photo: []byte("%PDF-1.4\n1 0 obj <<>> endobj\n"), ctype: "image/jpeg", status: 415, field: "media", multipart: true},
		{name: "GIF photo", form: valid(), photo: []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), ctype: "image/gif", status: 415, field: "media", multipart: true},
		{name: "truncated JPEG", form: valid(), photo: jpegWithEXIF(t, "x")[:300], ctype: "image/jpeg", status: 400, field: "media", multipart: true},
		{name: "good photo, bad report", form: with("service_code", "graffiti"), photo: jpegWithEXIF(t, "x"), ctype: "image/jpeg", status: 400, field: "service_code", multipart: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			format := c.format
			if format == "" {
				format = "json"
			}
			var a answer
			if c.multipart {
				a = e.postMultipart(t, c.form, c.photo, c.ctype, nil)
			} else {
				a = e.postForm(t, format, c.form)
			}
			if a.status != c.status {
				t.Fatalf("HTTP %d, want %d: %s", a.status, c.status, a.body)
			}
			var errs []apiError
			if format == "xml" {
				var x struct {
					XMLName xml.Name   `xml:"errors"`
					Errors  []apiError `xml:"error"`
				}
				if err := xml.Unmarshal(a.body, &x); err != nil {
					t.Fatalf("not the Open311 XML error format: %v\n%s", err, a.body)
				}
				errs = x.Errors
				if !strings.HasPrefix(string(a.body), `<?xml version="1.0" encoding="UTF-8"?>`) || !strings.HasPrefix(a.ctype, "text/xml") {
					t.Errorf("XML answer %q without declaration or content type", a.ctype)
				}
			} else if err := json.Unmarshal(a.body, &errs); err != nil {
				t.Fatalf("not the Open311 JSON error format: %v\n%s", err, a.body)
			}
			if len(errs) == 0 || errs[0].Code != c.status {
				t.Fatalf("errors %+v, want the first with code %d", errs, c.status)
			}
			found := false
			for _, er := range errs {
				found = found || strings.HasPrefix(er.Description, c.field+": ")
				if !strings.Contains(er.Description, " / ") {
					t.Errorf("description %q is not in Italian / English", er.Description)
				}
			}
			if !found {
				t.Errorf("no error names %s: %+v", c.field, errs)
			}
		})
	}
	n, err := e.st.Count(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 || len(e.received) != 0 {
		t.Errorf("%d reports stored, %d hooks called after malformed reports; want none", n, len(e.received))
	}
	// The same report, well formed, is taken: the cases failed for their
	// own reason.
	if a := e.postForm(t, "json", valid()); a.status != http.StatusCreated {
		t.Errorf("valid report: HTTP %d %s", a.status, a.body)
	}
}

// TestPhotoLosesEXIF: a JPEG uploaded with an EXIF segment is stored and
// served back re-encoded, without it; the reporter logged in with SPID is
// recorded by fiscal code; the hook sees the stored report.
func TestPhotoLosesEXIF(t *testing.T) {
	e := start(t, 5<<20)
	const marker = "GPS 44.0612N 12.5662E Pixel-9 RSSMRA85T10A562S"
	photo := jpegWithEXIF(t, marker)
	f := valid()
	f.Del("email") // logged in: no contact needed
	a := e.postMultipart(t, f, photo, "image/jpeg", &http.Cookie{Name: "citizen", Value: "RSSMRA85T10A562S"})
	if a.status != http.StatusCreated {
		t.Fatalf("HTTP %d %s", a.status, a.body)
	}
	var created []struct {
		ID    string `json:"service_request_id"`
		Token string `json:"token"`
	}
	if err := json.Unmarshal(a.body, &created); err != nil || len(created) != 1 || created[0].ID == "" {
		t.Fatalf("answer %s: %v", a.body, err)
	}
	id := created[0].ID
	rep, err := e.st.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Reporter.FiscalCode != "RSSMRA85T10A562S" || rep.Reporter.LastName != "Rossi" || rep.Client != "app-comune" || rep.MediaID == "" ||
		strings.Join(rep.Attributes["pericolo"], ",") != "auto,bici" || rep.State != reports.StateReceived {
		t.Errorf("stored %+v", rep)
	}
	if len(e.received) != 1 || e.received[0].ID != id {
		t.Errorf("hook calls %v", e.received)
	}
	g := e.get(t, "/requests/"+id+".json")
	var got []struct {
		MediaURL string  `json:"media_url"`
		Lat      float64 `json:"lat"`
		Email    string  `json:"email"`
	}
	if err := json.Unmarshal(g.body, &got); err != nil || g.status != 200 || len(got) != 1 {
		t.Fatalf("GET: HTTP %d %s %v", g.status, g.body, err)
	}
	if strings.Contains(string(g.body), "RSSMRA85T10A562S") || strings.Contains(string(g.body), "Rossi") {
		t.Errorf("the public view shows who filed the report: %s", g.body)
	}
	if !strings.HasPrefix(got[0].MediaURL, e.api+"/media/") {
		t.Fatalf("media_url %q", got[0].MediaURL)
	}
	req, err := http.NewRequest(http.MethodGet, got[0].MediaURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := e.do(t, req)
	if m.status != 200 || m.ctype != "image/jpeg" {
		t.Fatalf("photo: HTTP %d %s", m.status, m.ctype)
	}
	if bytes.Contains(m.body, []byte("Exif")) || bytes.Contains(m.body, []byte(marker)) || bytes.Contains(m.body, []byte{0xFF, 0xE1}) {
		t.Error("the stored photo still has its EXIF segment")
	}
	img, err := jpeg.Decode(bytes.NewReader(m.body))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 64 || b.Dy() != 48 {
		t.Errorf("stored photo is %v", b)
	}
	if a := e.get(t, "/media/nope"); a.status != http.StatusNotFound {
		t.Errorf("unknown photo: HTTP %d", a.status)
	}
}

// TestReadEndpoints: discovery, services, definitions (with the language
// the client asks for), GET requests filters and the 404s, and the
// OpenAPI description.
func TestReadEndpoints(t *testing.T) {
	e := start(t, 5<<20)
	a := e.get(t, "/discovery.json")
	var d struct {
		Endpoints []struct {
			Specification, URL string
			Formats            []string
		}
	}
	if err := json.Unmarshal(a.body, &d); err != nil || len(d.Endpoints) != 1 || d.Endpoints[0].URL != e.api ||
		d.Endpoints[0].Specification != open311.Specification || len(d.Endpoints[0].Formats) != 2 {
		t.Errorf("discovery %s %v", a.body, err)
	}
	req, err := http.NewRequest(http.MethodGet, e.api+"/services/lampione-guasto.json", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept-Language", "en-GB,en;q=0.9")
	a = e.do(t, req)
	if a.status != 200 || !strings.Contains(string(a.body), `"description":"What is wrong?"`) || !strings.Contains(string(a.body), `"key":"intermittente","name":"Flickering"`) {
		t.Errorf("definition in English: %d %s", a.status, a.body)
	}
	if a = e.get(t, "/services/graffiti.xml"); a.status != 404 || !strings.Contains(string(a.body), "<errors><error><code>404</code>") {
		t.Errorf("unknown definition: %d %s", a.status, a.body)
	}
	for _, p := range []string{"/requests/nope.json", "/tokens/nope.json", "/services.yaml", "/nothing.json"} {
		if a = e.get(t, p); a.status != 404 {
			t.Errorf("%s: HTTP %d %s", p, a.status, a.body)
		}
	}
	for _, p := range []string{"/requests.json?status=pending", "/requests.json?start_date=ieri", "/requests.json?start_date=2026-03-02T00:00:00Z&end_date=2026-03-01T00:00:00Z"} {
		if a = e.get(t, p); a.status != 400 {
			t.Errorf("%s: HTTP %d %s", p, a.status, a.body)
		}
	}
	ids := map[string]string{}
	for _, code := range []string{"buca-stradale", "rifiuti-abbandonati"} {
		f := valid()
		f.Set("service_code", code)
		f.Del("attribute[dimensione]")
		f.Del("attribute[pericolo][]")
		if code == "buca-stradale" {
			f.Set("attribute[dimensione]", "piccola")
		}
		a := e.postForm(t, "json", f)
		var c []struct {
			ID string `json:"service_request_id"`
		}
		if err := json.Unmarshal(a.body, &c); err != nil || a.status != 201 || len(c) != 1 {
			t.Fatalf("%s: HTTP %d %s %v", code, a.status, a.body, err)
		}
		ids[code] = c[0].ID
	}
	if err := e.st.SetState(context.Background(), ids["rifiuti-abbandonati"], reports.StateResolved, "Rimossi / Removed"); err != nil {
		t.Fatal(err)
	}
	count := func(p string) int {
		t.Helper()
		a := e.get(t, p)
		var rs []map[string]any
		if err := json.Unmarshal(a.body, &rs); err != nil || a.status != 200 {
			t.Fatalf("%s: HTTP %d %s %v", p, a.status, a.body, err)
		}
		return len(rs)
	}
	for p, want := range map[string]int{
		"/requests.json": 2, "/requests.json?status=open": 1, "/requests.json?status=open,closed": 2,
		"/requests.json?service_code=rifiuti-abbandonati": 1, "/requests.json?service_request_id=" + ids["buca-stradale"] + "&status=closed": 1,
		"/requests.json?start_date=2000-01-01T00:00:00Z&end_date=2000-02-01T00:00:00Z": 0,
	} {
		if got := count(p); got != want {
			t.Errorf("%s: %d requests, want %d", p, got, want)
		}
	}
	a = e.get(t, "/openapi.json")
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
		Servers []struct{ URL string }    `json:"servers"`
	}
	if err := json.Unmarshal(a.body, &doc); err != nil || doc.OpenAPI != "3.0.3" || len(doc.Servers) != 1 || doc.Servers[0].URL != e.api {
		t.Fatalf("openapi: %v %s", err, a.body[:min(len(a.body), 300)])
	}
	for _, p := range []string{"/discovery.{format}", "/services.{format}", "/services/{service_code}.{format}", "/requests.{format}", "/requests/{service_request_id}.{format}", "/tokens/{token}.{format}"} {
		if doc.Paths[p] == nil {
			t.Errorf("openapi lacks %s", p)
		}
	}
	if _, ok := doc.Paths["/requests.{format}"]["post"]; !ok {
		t.Error("openapi lacks POST requests")
	}
}

// TestNeedsStore: New refuses to run without a store.
func TestNeedsStore(t *testing.T) {
	if _, err := open311.New(open311.Options{}); err == nil {
		t.Error("New without a store succeeded")
	}
}

// FuzzPostRequests: whatever form a client posts, the intake answers 201
// or a 4xx in the Open311 error format, never a 5xx, and stores a report
// only when it answers 201.
func FuzzPostRequests(f *testing.F) {
	f.Add(valid().Encode())
	f.Add("api_key=" + apiKey + "&service_code=buca-stradale&lat=1e400&long=-0&attribute[dimensione]=grande&email=a@b.it")
	f.Add("api_key=" + apiKey + "&service_code=lampione-guasto&address_string=%ff%fe&attribute[guasto][]=spento&attribute[guasto][]=spento&phone=1")
	f.Add("api_key=" + apiKey + "&service_code=rifiuti-abbandonati&lat=44.06&long=12.56&email=x@y.it&media_url=http://[::1")
	e := start(f, 50_000)
	f.Fuzz(func(t *testing.T, body string) {
		before, err := e.st.Count(context.Background(), "")
		if err != nil {
			t.Fatal(err)
		}
		req, err := http.NewRequest(http.MethodPost, e.api+"/requests.json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		a := e.do(t, req)
		after, err := e.st.Count(context.Background(), "")
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case a.status == http.StatusCreated:
			if after != before+1 {
				t.Fatalf("201 but %d reports stored", after-before)
			}
		case a.status >= 400 && a.status < 500:
			var errs []apiError
			if err := json.Unmarshal(a.body, &errs); err != nil || len(errs) == 0 || errs[0].Code != a.status {
				t.Fatalf("HTTP %d without the Open311 error array: %s", a.status, a.body)
			}
			if after != before {
				t.Fatalf("HTTP %d but a report was stored", a.status)
			}
		default:
			t.Fatalf("HTTP %d: %s", a.status, a.body)
		}
	})
}
