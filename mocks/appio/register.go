package appiomock

import (
	"fmt"

	"github.com/ponte-pa/ponte/mocks/registry"
)

// Kind is the App IO mock's name in the mock registry; its configuration
// (mockset.Options.Config) is an Options.
const Kind = "appio"

func init() {
	registry.Register(registry.Kind{
		Name: Kind, Order: 20,
		Ports: []registry.Port{{Flag: "io-port", Default: 18082, Usage: "port of the App IO mock (0 = any)"}},
		Start: func(env *registry.Env, addrs []string) (*registry.Running, error) {
			o, err := registry.Config[Options](env, Kind)
			if err != nil {
				return nil, err
			}
			s := New(o)
			root, stop, err := registry.ServeHTTP(addrs[0], s)
			if err != nil {
				return nil, err
			}
			url := root + BasePath
			return &registry.Running{Mock: s, URL: url, Control: root, Close: stop, Title: "App IO mock",
				Details: fmt.Sprintf("(inspect: %s/__mock/messages, %s/__mock/stats)", root, root),
				Vars:    map[string]string{"IOURL": url}}, nil
		},
	})
}
