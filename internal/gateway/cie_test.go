package gateway_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/ponte-pa/ponte/internal/gateway"
	"github.com/ponte-pa/ponte/internal/gateway/gatewaytest"
	"github.com/ponte-pa/ponte/internal/store"
	"github.com/ponte-pa/ponte/internal/tenant"
	"github.com/ponte-pa/ponte/mocks/spididp"
)

// TestLoginWithCIE: the sample comune trusts a SPID IdP and a CIE IdP; the
// landing page lists the first under "Entra con SPID" and gives the second
// its own "Entra con CIE" button, which asks for level 3 and the CIE
// attribute set; the citizen reaches the application through it.
func TestLoginWithCIE(t *testing.T) {
	c := ctx(t)
	idp, err := spididp.Start(spididp.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer idp.Close()
	cie, err := spididp.Start(spididp.Options{Logger: quiet, Name: "Mock CIE IdP"})
	if err != nil {
		t.Fatal(err)
	}
	defer cie.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	public := "http://" + l.Addr().String()
	path, err := tenant.WriteSample(t.TempDir(), map[string]string{"GPDURL": "http://127.0.0.1:9/gpd", "IOURL": "http://127.0.0.1:9/api/v1",
		"IdPURL": idp.URL(), "CIEIdPURL": cie.URL(), "PublicURL": public})
	if err != nil {
		t.Fatal(err)
	}
	tn, err := tenant.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if tn.SPID.CIE == nil || tn.SPID.CIE.IdP != cie.EntityID() || tn.SPID.CIE.Level != 3 || tn.SPID.CIE.AttributeIndex != 1 {
		t.Fatalf("sample CIE block: %+v", tn.SPID.CIE)
	}
	db, err := store.Open(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	gw, err := gateway.New(c, []*tenant.Tenant{tn}, gateway.Options{DB: db, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: gw}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()
	for _, p := range []*spididp.Server{idp, cie} {
		resp, err := http.Post(p.URL()+"/__mock/sp?url="+url.QueryEscape(public+"/t/esempio/spid/metadata"), "", nil)
		if err != nil || resp.StatusCode != http.StatusNoContent {
			t.Fatalf("registering the SP: %v %v", err, resp)
		}
		resp.Body.Close()
	}
	// The SP's metadata for the CIE federation: cie: extensions, only the
	// attribute set CIE can satisfy.
	resp, err := http.Get(public + "/t/esempio/spid/metadata/cie")
	if err != nil {
		t.Fatal(err)
	}
	md, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(md), "cartaidentita.interno.gov.it/saml-extensions") ||
		!strings.Contains(string(md), `AttributeConsumingService index="1"`) || strings.Contains(string(md), `AttributeConsumingService index="0"`) {
		t.Errorf("CIE metadata: HTTP %d\n%s", resp.StatusCode, md)
	}
	landing := gw.Site("esempio").LandingURL()
	b := gatewaytest.NewBrowser()
	page, err := b.Get(c, landing)
	if err != nil {
		t.Fatal(err)
	}
	if spidLinks := page.Links("spid-idp"); len(spidLinks) != 1 || spidLinks[0].Text != "Mock SPID IdP" {
		t.Errorf("SPID list: %+v, want only the SPID IdP", spidLinks)
	}
	if !strings.Contains(page.Body, "Entra con CIE") {
		t.Fatalf("no CIE button on the landing page:\n%s", page.Body)
	}
	ct, _, err := b.LoginWithCIE(c, landing, "mario", "password")
	if err != nil {
		t.Fatal(err)
	}
	if ct.FiscalNumber != "RSSMRA80A01H501U" || ct.Level != 3 || ct.IdPName != "Mock CIE IdP" {
		t.Errorf("CIE login: %+v", ct)
	}
	reqs := cie.Requests()
	if len(reqs) != 1 || reqs[0].Level != 3 || reqs[0].AttrIndex != 1 || !reqs[0].SignatureOK || len(reqs[0].Problems) != 0 {
		t.Errorf("AuthnRequest the CIE IdP got: %+v", reqs)
	}
}
