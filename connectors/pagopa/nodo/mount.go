package nodo

import (
	"fmt"
	"net/http"
	"net/url"
)

// TenantPath is where an ente's EC endpoint lives on a gateway that serves
// several tenants: /t/<tenantID>/pagopa/nodo. The station's URL registered
// with pagoPA is the gateway's public URL followed by this path.
func TenantPath(tenantID string) string { return "/t/" + tenantID + "/pagopa/nodo" }

// MountTenant serves on mux, at POST TenantPath(tenantID), the EC SOAP
// endpoint (SOAP 1.1) of the ente whose fiscal code is fiscalCode, backed by
// b: a request naming another idPA is refused with PAA_ID_DOMINIO_ERRATO.
// o tunes the handler (StationID, BrokerID, Logger, limits); its FiscalCodes
// are replaced by fiscalCode, and its Logger gets the tenant's id. It
// returns the path it mounted. Like http.ServeMux.Handle, it panics when the
// path is already taken.
func MountTenant(mux *http.ServeMux, tenantID, fiscalCode string, b Backend, o Options) (string, error) {
	if tenantID == "" || tenantID == "." || tenantID == ".." || url.PathEscape(tenantID) != tenantID {
		return "", fmt.Errorf("nodo: tenant id %q is not a URL path segment", tenantID)
	}
	if fiscalCode == "" {
		return "", fmt.Errorf("nodo: tenant %s: the ente's fiscal code is required", tenantID)
	}
	if b == nil {
		return "", fmt.Errorf("nodo: tenant %s: no Backend", tenantID)
	}
	o.FiscalCodes = []string{fiscalCode}
	if o.Logger != nil {
		o.Logger = o.Logger.With("tenant", tenantID)
	}
	p := TenantPath(tenantID)
	mux.Handle(http.MethodPost+" "+p, NewHandler(b, o))
	return p, nil
}
