package appiomock

import (
	"fmt"
	"net/http"

	"github.com/ponte-pa/ponte/mocks/registry"
	"github.com/ponte-pa/ponte/schemas/contracts"
)

// Kind is the App IO mock's name in the mock registry; its configuration
// (mockset.Options.Config) is an Options.
const Kind = "appio"

func init() {
	k := registry.HandlerKind(Kind, 20,
		registry.Port{Flag: "io-port", Default: 18082, Usage: "port of the App IO mock (0 = any)"},
		func(_ *registry.Env, o Options) http.Handler { return New(o) },
		func(root string) registry.Running {
			// Clients' base URL includes the spec's basePath; /__mock/ is at the root.
			return registry.Running{Title: "App IO mock", URL: root + BasePath, Vars: map[string]string{"IOURL": root + BasePath},
				Details: fmt.Sprintf("(inspect: %s/__mock/messages, %s/__mock/stats)", root, root)}
		})
	k.Contract = contracts.AppIO
	registry.Register(k)
}
