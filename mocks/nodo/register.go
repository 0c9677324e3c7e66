package nodomock

import (
	"fmt"

	"github.com/ponte-pa/ponte/mocks/gpd"
	"github.com/ponte-pa/ponte/mocks/registry"
)

// Kind is the Nodo simulator's name in the mock registry; its
// configuration (mockset.Options.Config) is an Options, whose GPD defaults
// to the running GPD mock.
const Kind = "nodo"

func init() {
	registry.Register(registry.Kind{
		Name: Kind, Order: 40, Needs: []string{gpd.Kind},
		Ports: []registry.Port{{Flag: "nodo-port", Default: 18083, Usage: "port of the Nodo simulator (pays notices like a PSP; 0 = any)"}},
		Start: func(env *registry.Env, addrs []string) (*registry.Running, error) {
			o, err := registry.Config[Options](env, Kind)
			if err != nil {
				return nil, err
			}
			if o.GPD == nil {
				o.GPD, _ = env.Running(gpd.Kind).Mock.(*gpd.Server) // started first: Needs
			}
			if o.Logger == nil {
				o.Logger = env.Logger
			}
			s := New(o)
			url, stop, err := registry.ServeHTTP(addrs[0], s)
			if err != nil {
				return nil, err
			}
			return &registry.Running{Mock: s, URL: url, Control: url, Close: stop, Title: "Nodo simulator",
				Details: fmt.Sprintf("(pay: POST %s/__mock/pay; inspect: %s/__mock/payments)", url, url)}, nil
		},
	})
}
