package gpd

import (
	"fmt"

	"github.com/ponte-pa/ponte/mocks/registry"
)

// Kind is the GPD mock's name in the mock registry; its configuration
// (mockset.Options.Config) is an Options.
const Kind = "gpd"

func init() {
	registry.Register(registry.Kind{
		Name: Kind, Order: 10,
		Ports: []registry.Port{{Flag: "gpd-port", Default: 18081, Usage: "port of the pagoPA GPD mock (0 = any)"}},
		Start: func(env *registry.Env, addrs []string) (*registry.Running, error) {
			o, err := registry.Config[Options](env, Kind)
			if err != nil {
				return nil, err
			}
			if o.Logger == nil {
				o.Logger = env.Logger
			}
			s := New(o)
			url, stop, err := registry.ServeHTTP(addrs[0], s)
			if err != nil {
				return nil, err
			}
			return &registry.Running{Mock: s, URL: url, Control: url, Close: stop, Title: "pagoPA GPD mock",
				Details: fmt.Sprintf("(inspect: %s/__mock/positions, %s/__mock/stats)", url, url),
				Vars:    map[string]string{"GPDURL": url}}, nil
		},
	})
}
