package nodomock

import (
	"cmp"
	"fmt"
	"net/http"

	"github.com/ponte-pa/ponte/mocks/gpd"
	"github.com/ponte-pa/ponte/mocks/registry"
)

// Kind is the Nodo simulator's name in the mock registry; its
// configuration (mockset.Options.Config) is an Options, whose GPD defaults
// to the running GPD mock.
const Kind = "nodo"

func init() {
	k := registry.HandlerKind(Kind, 40,
		registry.Port{Flag: "nodo-port", Default: 18083, Usage: "port of the Nodo simulator (pays notices like a PSP; 0 = any)"},
		func(env *registry.Env, o Options) http.Handler {
			if o.GPD == nil {
				o.GPD, _ = env.Running(gpd.Kind).Mock.(*gpd.Server) // started first: Needs
			}
			o.Logger = cmp.Or(o.Logger, env.Logger)
			return New(o)
		},
		func(url string) registry.Running {
			return registry.Running{Title: "Nodo simulator", Details: fmt.Sprintf("(pay: POST %s/__mock/pay; inspect: %s/__mock/payments)", url, url)}
		})
	k.Needs = []string{gpd.Kind}
	registry.Register(k)
}
