package open311test_test

import (
	"context"
	"errors"
	"go/parser"
	"go/token"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ponte-pa/ponte/internal/gateway"
	"github.com/ponte-pa/ponte/internal/gateway/gatewaytest"
	"github.com/ponte-pa/ponte/internal/gateway/open311"
	"github.com/ponte-pa/ponte/internal/gateway/open311/open311test"
	"github.com/ponte-pa/ponte/internal/store"
	"github.com/ponte-pa/ponte/internal/tenant"
	"github.com/ponte-pa/ponte/mocks/spididp"
	"github.com/ponte-pa/ponte/workflows/reports"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// live is the sample comune's gateway, with SPID login against the mock
// IdP and the Open311 intake mounted the way `ponte serve` mounts it.
type live struct {
	api     string // public URL of the Open311 endpoint
	landing string
	st      *reports.Store
	mu      sync.Mutex
	hooked  map[string]reports.Reporter
}

func startLive(t *testing.T) *live {
	t.Helper()
	ctx := context.Background()
	idp, err := spididp.Start(spididp.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := idp.Close(); err != nil {
			t.Error(err)
		}
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	public := "http://" + l.Addr().String()
	path, err := tenant.WriteSample(t.TempDir(), map[string]string{
		"GPDURL": "http://127.0.0.1:9/gpd", "IOURL": "http://127.0.0.1:9/api/v1", "IdPURL": idp.URL(), "PublicURL": public})
	if err != nil {
		t.Fatal(err)
	}
	tn, err := tenant.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	st, err := reports.NewStore(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	lv := &live{st: st, hooked: map[string]reports.Reporter{}}
	in, err := open311.New(open311.Options{Store: st, Logger: quiet, OnReceived: func(_ context.Context, r *reports.Report) error {
		lv.mu.Lock()
		defer lv.mu.Unlock()
		lv.hooked[r.ID] = r.Reporter
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	gw, err := gateway.New(ctx, []*tenant.Tenant{tn}, gateway.Options{DB: db, Logger: quiet, Mount: in.Mount})
	if err != nil {
		t.Fatal(err)
	}
	site := gw.Site("esempio")
	md, err := site.SP.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	if err := idp.RegisterSP(md); err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: gw, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
	})
	lv.api, lv.landing = public+"/t/esempio/open311/v2", site.LandingURL()
	return lv
}

// TestConformance: a client written from the GeoReport v2 spec alone
// discovers the endpoint, reads the services and a definition, files
// requests (answering the required attributes from the definition), lists
// them with the spec's filters, reads each by id and by token, and gets
// the spec's errors — in JSON and in XML, against the live gateway.
func TestConformance(t *testing.T) {
	lv := startLive(t)
	for _, format := range []string{"json", "xml"} {
		t.Run(format, func(t *testing.T) {
			ctx := context.Background()
			c := &open311test.Client{Base: lv.api, Format: format, APIKey: "demo-open311-key-not-secret"}
			d, err := c.Discover(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Endpoints) != 1 || d.Endpoints[0].Specification != "http://wiki.open311.org/GeoReport_v2" || d.Endpoints[0].URL != lv.api ||
				d.Changeset == "" || !strings.Contains(strings.Join(d.Endpoints[0].Formats, ","), "text/xml") {
				t.Fatalf("discovery %+v", d)
			}
			if _, err := time.Parse(time.RFC3339, d.Changeset); err != nil {
				t.Errorf("changeset %q is not ISO 8601 with a time zone: %v", d.Changeset, err)
			}
			svcs, err := c.Services(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(svcs) != 3 {
				t.Fatalf("services %+v", svcs)
			}
			var filed []*open311test.Created
			for i, sv := range svcs {
				if sv.ServiceCode == "" || sv.ServiceName == "" || (sv.Type != "realtime" && sv.Type != "batch" && sv.Type != "blackbox") {
					t.Errorf("service %+v", sv)
				}
				v := url.Values{"service_code": {sv.ServiceCode}, "lat": {strconv.FormatFloat(44.05+float64(i)/100, 'f', 5, 64)}, "long": {"12.57"},
					"email": {"cittadino@example.it"}, "description": {"Segnalazione di prova " + format + " / test report"}, "address_string": {"Via Roma " + strconv.Itoa(i+1)}}
				if sv.Metadata {
					def, err := c.Definition(ctx, sv.ServiceCode)
					if err != nil {
						t.Fatal(err)
					}
					if def.ServiceCode != sv.ServiceCode || len(def.Attributes) == 0 {
						t.Fatalf("definition %+v", def)
					}
					for _, a := range def.Attributes {
						if !a.Required || !a.Variable {
							continue
						}
						switch a.Datatype {
						case "singlevaluelist", "multivaluelist":
							if len(a.Values) == 0 {
								t.Fatalf("list attribute %s without values", a.Code)
							}
							v.Set("attribute["+a.Code+"]", a.Values[0].Key)
						case "number":
							v.Set("attribute["+a.Code+"]", "1")
						default:
							v.Set("attribute["+a.Code+"]", "x")
						}
					}
				}
				cr, err := c.Post(ctx, v)
				if err != nil {
					t.Fatalf("POST %s: %v", sv.ServiceCode, err)
				}
				if cr.ServiceRequestID == "" && cr.Token == "" {
					t.Fatalf("POST answered neither an id nor a token: %+v", cr)
				}
				filed = append(filed, cr)
			}
			for i, cr := range filed {
				id := cr.ServiceRequestID
				if cr.Token != "" {
					got, err := c.Token(ctx, cr.Token)
					if err != nil {
						t.Fatal(err)
					}
					if id != "" && got != id {
						t.Errorf("token %s stands for %s, want %s", cr.Token, got, id)
					}
					id = got
				}
				rs, err := c.Request(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if len(rs) != 1 {
					t.Fatalf("GET requests/%s: %d items", id, len(rs))
				}
				r := rs[0]
				if r.ServiceRequestID != id || r.ServiceCode != svcs[i].ServiceCode || r.Status != "open" || r.Address != "Via Roma "+strconv.Itoa(i+1) ||
					r.Lat < 44 || r.Long != 12.57 || !strings.Contains(r.Description, format) {
					t.Errorf("request %+v", r)
				}
				for _, dt := range []string{r.RequestedDatetime, r.UpdatedDatetime} {
					if _, err := time.Parse(time.RFC3339, dt); err != nil {
						t.Errorf("datetime %q: %v", dt, err)
					}
				}
			}
			all, err := c.Requests(ctx, url.Values{"service_code": {svcs[0].ServiceCode}, "status": {"open"}})
			if err != nil {
				t.Fatal(err)
			}
			if len(all) == 0 {
				t.Error("GET requests by service_code finds nothing")
			}
			for _, r := range all {
				if r.ServiceCode != svcs[0].ServiceCode || r.Status != "open" {
					t.Errorf("filtered list has %+v", r)
				}
			}
			ids := filed[0].ServiceRequestID + "," + filed[1].ServiceRequestID
			two, err := c.Requests(ctx, url.Values{"service_request_id": {ids}})
			if err != nil || len(two) != 2 {
				t.Errorf("by ids: %d %v", len(two), err)
			}
			// The spec's errors.
			var e *open311test.Error
			if _, err := c.Request(ctx, "does-not-exist"); !errors.As(err, &e) || e.Status != 404 || len(e.Errors) == 0 || e.Errors[0].Code != 404 {
				t.Errorf("unknown id: %v", err)
			}
			if _, err := c.Definition(ctx, "does-not-exist"); !errors.As(err, &e) || e.Status != 404 {
				t.Errorf("unknown service: %v", err)
			}
			bad := &open311test.Client{Base: lv.api, Format: format, APIKey: "wrong"}
			if _, err := bad.Post(ctx, url.Values{"service_code": {svcs[0].ServiceCode}, "lat": {"44.05"}, "long": {"12.57"}}); !errors.As(err, &e) || e.Status != 403 || e.Errors[0].Code != 403 {
				t.Errorf("bad api_key: %v", err)
			}
			if _, err := c.Post(ctx, url.Values{"service_code": {svcs[0].ServiceCode}, "lat": {"144"}, "long": {"12.57"}, "email": {"a@example.it"}}); !errors.As(err, &e) || e.Status != 400 {
				t.Errorf("bad latitude: %v", err)
			}
		})
	}
}

// TestReporterFromSPID: a citizen logged in with SPID on the gateway files
// a report through the same spec client (its HTTP client carries the
// session cookie) and leaves no contact: the report is theirs by fiscal
// code. Without the session, the same report needs a contact.
func TestReporterFromSPID(t *testing.T) {
	lv := startLive(t)
	ctx := context.Background()
	b := gatewaytest.NewBrowser()
	ct, _, err := b.LoginWithSPID(ctx, lv.landing, "", "mario", "password")
	if err != nil {
		t.Fatal(err)
	}
	v := url.Values{"service_code": {"rifiuti-abbandonati"}, "lat": {"44.06"}, "long": {"12.56"}, "description": {"Divano abbandonato"}}
	c := &open311test.Client{Base: lv.api, Format: "json", APIKey: "demo-open311-key-not-secret", HTTP: b.Client}
	cr, err := c.Post(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	lv.mu.Lock()
	who := lv.hooked[cr.ServiceRequestID]
	lv.mu.Unlock()
	if who.FiscalCode == "" || who.FiscalCode != ct.FiscalNumber || who.LastName != ct.FamilyName {
		t.Errorf("reporter %+v, want %s", who, ct.FiscalNumber)
	}
	anon := &open311test.Client{Base: lv.api, Format: "json", APIKey: "demo-open311-key-not-secret"}
	var e *open311test.Error
	if _, err := anon.Post(ctx, v); !errors.As(err, &e) || e.Status != 400 || !strings.HasPrefix(e.Errors[0].Description, "email: ") {
		t.Errorf("anonymous without contact: %v", err)
	}
}

// TestClientSharesNothing: the spec client imports only the standard
// library.
func TestClientSharesNothing(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "client.go", nil, parser.ImportsOnly)
	if err != nil {
		t.Fatal(err)
	}
	for _, im := range f.Imports {
		p, err := strconv.Unquote(im.Path.Value)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(strings.SplitN(p, "/", 2)[0], ".") {
			t.Errorf("client.go imports %s: the conformance client must be written from the spec alone", p)
		}
	}
}
