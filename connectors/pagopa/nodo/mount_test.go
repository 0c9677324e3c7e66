package nodo_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/ponte-pa/ponte/connectors/pagopa/nodo"
)

// TestMountTenant: two tenants on one mux, each at its own path, each
// accepting only its own ente's idPA and station.
func TestMountTenant(t *testing.T) {
	ctx := context.Background()
	const otherOrg = "80012345676"
	mux := http.NewServeMux()
	recA, recB := &recorder{}, &recorder{}
	pathA, err := nodo.MountTenant(mux, "esempio", org, &nodo.ReceiptBackend{Receipts: recA}, nodo.Options{StationID: statn, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	pathB, err := nodo.MountTenant(mux, "altro-comune", otherOrg, &nodo.ReceiptBackend{Receipts: recB}, nodo.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if pathA != "/t/esempio/pagopa/nodo" || pathA != nodo.TenantPath("esempio") || pathB != "/t/altro-comune/pagopa/nodo" {
		t.Fatalf("paths %q %q", pathA, pathB)
	}
	srv := httptestServer(t, mux)

	a := nodo.NewClient(srv.URL+pathA, broker, statn, srv.Client())
	if _, err := a.SendRTV2(ctx, receiptFor(iuv1, nav1, 12050, "rcpt-1")); err != nil {
		t.Fatalf("receipt to its own ente: %v", err)
	}
	var fe *nodo.FaultError
	// The same receipt sent to the other tenant's endpoint names an idPA it does not serve.
	b := nodo.NewClient(srv.URL+pathB, broker, statn, srv.Client())
	if _, err := b.SendRTV2(ctx, receiptFor(iuv1, nav1, 12050, "rcpt-2")); !errors.As(err, &fe) || fe.Code != nodo.CodeIDDominioErrato {
		t.Errorf("receipt for %s at %s: %v, want PAA_ID_DOMINIO_ERRATO", org, pathB, err)
	}
	// Options are kept: tenant A's station is checked.
	wrong := nodo.NewClient(srv.URL+pathA, broker, "another_01", srv.Client())
	if _, err := wrong.SendRTV2(ctx, receiptFor(iuv1, nav1, 12050, "rcpt-3")); !errors.As(err, &fe) || fe.Code != nodo.CodeStazioneIntErrata {
		t.Errorf("receipt from another station: %v, want PAA_STAZIONE_INT_ERRATA", err)
	}
	if a, b := recA.receipts(), recB.receipts(); len(a) != 1 || a[0].ReceiptID != "rcpt-1" || len(b) != 0 {
		t.Errorf("stored: tenant A %+v, tenant B %+v", a, b)
	}
	resp, err := srv.Client().Get(srv.URL + pathA)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET %s: HTTP %d, want 405", pathA, resp.StatusCode)
	}
}

func TestMountTenantRefusesBadInput(t *testing.T) {
	be := &nodo.ReceiptBackend{Receipts: &recorder{}}
	for _, tc := range []struct {
		name, id, fc string
		b            nodo.Backend
	}{
		{"empty id", "", org, be},
		{"id with a slash", "a/b", org, be},
		{"id with a pattern wildcard", "{x}", org, be},
		{"dot-dot", "..", org, be},
		{"no fiscal code", "esempio", "", be},
		{"no backend", "esempio", org, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mux := http.NewServeMux()
			if p, err := nodo.MountTenant(mux, tc.id, tc.fc, tc.b, nodo.Options{}); err == nil {
				t.Errorf("mounted at %q, want an error", p)
			}
		})
	}
}
