package legacymock

import (
	"fmt"

	"github.com/ponte-pa/ponte/mocks/registry"
)

// Kind is the tributi back office mock's name in the mock registry; its
// configuration (mockset.Options.Config) is an Options.
const Kind = "tributi"

func init() {
	registry.Register(registry.Kind{
		Name: Kind, Order: 70,
		Ports: []registry.Port{{Flag: "tributi-port", Default: 18085, Usage: "port of the tributi back office mock, REST and SOAP (0 = any)"}},
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
			return &registry.Running{Mock: s, URL: url, Control: url, Close: stop, Title: "Tributi mock",
				Details: fmt.Sprintf("(REST: %s/api/page/debitori; SOAP: %s/soap; write-backs: %s/__mock/updates)", url, url, url)}, nil
		},
	})
}
