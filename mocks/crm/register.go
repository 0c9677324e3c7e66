package crmmock

import (
	"fmt"
	"net/http"

	"github.com/ponte-pa/ponte/mocks/registry"
)

// Kind is the CRM mock's name in the mock registry; its configuration
// (mockset.Options.Config) is an Options.
const Kind = "crm"

func init() {
	registry.Register(registry.HandlerKind(Kind, 100,
		registry.Port{Flag: "crm-port", Default: 18090, Usage: "port of the CRM mock, a comune's ticketing system with its own REST API (0 = any)"},
		func(_ *registry.Env, o Options) http.Handler { return New(o) },
		func(url string) registry.Running {
			return registry.Running{Title: "CRM mock", Vars: map[string]string{"CRMURL": url},
				Details: fmt.Sprintf("(token %q; tickets: %s/api/tickets; status: POST %s/__mock/tickets/{id}/status; inspect: %s/__mock/tickets)", DefaultToken, url, url, url)}
		}))
}
