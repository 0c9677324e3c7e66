package open311mock

import (
	"fmt"
	"net/http"

	"github.com/ponte-pa/ponte/mocks/registry"
)

// Kind is the Open311 server mock's name in the mock registry; its
// configuration (mockset.Options.Config) is an Options.
const Kind = "open311"

func init() {
	registry.Register(registry.HandlerKind(Kind, 110,
		registry.Port{Flag: "open311-port", Default: 18091, Usage: "port of the Open311 GeoReport v2 server mock, a CRM that speaks Open311 (0 = any)"},
		func(_ *registry.Env, o Options) http.Handler { return New(o) },
		func(url string) registry.Running {
			return registry.Running{Title: "Open311 mock", Vars: map[string]string{"Open311URL": url},
				Details: fmt.Sprintf("(api_key %q; services: %s/services.json; status: POST %s/__mock/requests/{id}/status; inspect: %s/__mock/requests)", DefaultAPIKey, url, url, url)}
		}))
}
