package gpd

import (
	"cmp"
	"fmt"
	"net/http"
	"strings"

	"github.com/ponte-pa/ponte/mocks/registry"
	"github.com/ponte-pa/ponte/schemas/contracts"
)

// Kind is the GPD mock's name in the mock registry; its configuration
// (mockset.Options.Config) is an Options.
const Kind = "gpd"

func init() {
	k := registry.HandlerKind(Kind, 10,
		registry.Port{Flag: "gpd-port", Default: 18081, Usage: "port of the pagoPA GPD mock (0 = any)"},
		func(env *registry.Env, o Options) http.Handler {
			o.Logger = cmp.Or(o.Logger, env.Logger)
			return New(o)
		},
		func(url string) registry.Running {
			return registry.Running{Title: "pagoPA GPD mock", Vars: map[string]string{"GPDURL": url},
				Details: fmt.Sprintf("(inspect: %s/__mock/positions, %s/__mock/stats)", url, url)}
		})
	k.Contract = contracts.GPD
	k.Uncovered = func(r *http.Request) string {
		if strings.HasPrefix(r.URL.Path, "/payments/") {
			// pagopa/pagopa-gpd-payments publishes no OpenAPI file to embed
			// (schemas/contracts/README.md).
			return "the GPD receipts API has no embedded contract"
		}
		return ""
	}
	registry.Register(k)
}
