package gateway_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/ponte-pa/ponte/connectors/spid"
	"github.com/ponte-pa/ponte/internal/gateway"
	"github.com/ponte-pa/ponte/internal/gateway/gatewaytest"
	"github.com/ponte-pa/ponte/internal/store"
	"github.com/ponte-pa/ponte/internal/store/storetest"
	"github.com/ponte-pa/ponte/internal/tenant"
	"github.com/ponte-pa/ponte/mocks/spididp"
)

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// TestReplayAcrossReplicas runs two gateways for one tenant on one state
// store, each with its own connection pool, as two replicas behind a load
// balancer: the login starts on the first, the IdP's response is accepted
// by the second, and the same response posted again is refused by both.
func TestReplayAcrossReplicas(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		idp, err := spididp.Start(spididp.Options{Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := idp.Close(); err != nil {
				t.Error(err)
			}
		})
		const public = "https://ponte.comune.example.it"
		path, err := tenant.WriteSample(t.TempDir(), map[string]string{
			"GPDURL": "http://127.0.0.1:9/gpd", "IOURL": "http://127.0.0.1:9/api/v1", "IdPURL": idp.URL(), "PublicURL": public})
		if err != nil {
			t.Fatal(err)
		}
		var replicas []*httptest.Server
		var sites []*gateway.Site
		for _, d := range []*store.DB{db, storetest.Reopen(t, db)} {
			tn, err := tenant.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			gw, err := gateway.New(ctx(t), []*tenant.Tenant{tn}, gateway.Options{DB: d, Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(gw)
			t.Cleanup(srv.Close)
			replicas = append(replicas, srv)
			sites = append(sites, gw.Site("esempio"))
		}
		md, err := sites[0].SP.Metadata()
		if err != nil {
			t.Fatal(err)
		}
		if err := idp.RegisterSP(md); err != nil {
			t.Fatal(err)
		}
		// Replica 0 starts the login; the browser takes the request to the IdP.
		redirect, _, err := sites[0].SP.LoginStart(ctx(t), idp.EntityID(), 2, 0, "/t/esempio/app/")
		if err != nil {
			t.Fatal(err)
		}
		resp, err := noRedirect.Get(redirect)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		reqs := idp.Requests()
		if len(reqs) != 1 || !reqs[0].SignatureOK {
			t.Fatalf("AuthnRequest at the IdP: %+v", reqs)
		}
		ru, err := url.Parse(redirect)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := idp.BuildResponse(spididp.ResponseParams{Request: reqs[0], ACS: public + "/t/esempio/spid/acs",
			Audience: sites[0].SP.EntityID(), User: spididp.DefaultUsers()[0], Attributes: []string{"name", "familyName", "fiscalNumber", "email"}})
		if err != nil {
			t.Fatal(err)
		}
		l := gatewaytest.BenchLogin{Pending: spid.PendingRequest{RelayState: ru.Query().Get("RelayState")}, Response: base64.StdEncoding.EncodeToString(raw)}
		acs := func(i int) string { return replicas[i].URL + "/t/esempio/spid/acs" }

		if tok, err := gatewaytest.PostResponse(ctx(t), noRedirect, acs(1), l); err != nil || tok == "" {
			t.Fatalf("first post, to the other replica: %v", err)
		}
		for _, i := range []int{0, 1} {
			_, err := gatewaytest.PostResponse(ctx(t), noRedirect, acs(i), l)
			var ae *gatewaytest.ACSError
			if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || ae.Code != string(spid.ErrReplay) {
				t.Errorf("replay to replica %d: %v, want HTTP 400 code %q", i, err, spid.ErrReplay)
			}
		}
	})
}

// TestTokenAlgFromTenant: the tenant's tokenAlg signs the hand-off token,
// the JWKS served by the gateway verifies it, and the comune's application
// page accepts it.
func TestTokenAlgFromTenant(t *testing.T) {
	for _, alg := range []string{"", spid.TokenES256, spid.TokenEdDSA, spid.TokenRS256} {
		t.Run("alg="+alg, func(t *testing.T) {
			ab, err := gatewaytest.StartACSBench(context.Background(), gatewaytest.ACSBenchOptions{
				Dir: t.TempDir(), DB: storetest.SQLite(t), Tune: func(tn *tenant.Tenant) { tn.SPID.TokenAlg = alg }})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := ab.Close(); err != nil {
					t.Error(err)
				}
			})
			logins, err := ab.Prepare(1)
			if err != nil {
				t.Fatal(err)
			}
			if err := ab.Store.Put(ctx(t), logins[0].Pending); err != nil {
				t.Fatal(err)
			}
			tok, err := gatewaytest.PostResponse(ctx(t), ab.Client, ab.ACSURL(), logins[0])
			if err != nil {
				t.Fatal(err)
			}
			msg, err := jws.Parse([]byte(tok))
			if err != nil {
				t.Fatal(err)
			}
			want := alg
			if want == "" {
				want = spid.TokenES256
			}
			if got := msg.Signatures()[0].ProtectedHeaders().Algorithm().String(); got != want {
				t.Fatalf("token signed %s, want %s", got, want)
			}
			base := ab.Site.SP.BaseURL()
			set, err := jwk.Fetch(ctx(t), base+"/spid/jwks.json")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := jwt.Parse([]byte(tok), jwt.WithKeySet(set), jwt.WithValidate(true)); err != nil {
				t.Fatalf("the published JWKS does not verify the token: %v", err)
			}
			req, err := http.NewRequestWithContext(ctx(t), http.MethodGet, base+"/app/", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.AddCookie(&http.Cookie{Name: "ponte_spid_esempio", Value: tok})
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("application page with the token: HTTP %d", resp.StatusCode)
			}
		})
	}
}
