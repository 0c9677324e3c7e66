package legacymock

import (
	"cmp"
	"fmt"
	"net/http"

	"github.com/ponte-pa/ponte/mocks/registry"
)

// Kind is the tributi back office mock's name in the mock registry; its
// configuration (mockset.Options.Config) is an Options.
const Kind = "tributi"

func init() {
	registry.Register(registry.HandlerKind(Kind, 70,
		registry.Port{Flag: "tributi-port", Default: 18085, Usage: "port of the tributi back office mock, REST and SOAP (0 = any)"},
		func(env *registry.Env, o Options) http.Handler {
			o.Logger = cmp.Or(o.Logger, env.Logger)
			return New(o)
		},
		func(url string) registry.Running {
			return registry.Running{Title: "Tributi mock",
				Details: fmt.Sprintf("(REST: %s/api/page/debitori; SOAP: %s/soap; write-backs: %s/__mock/updates)", url, url, url)}
		}))
}
