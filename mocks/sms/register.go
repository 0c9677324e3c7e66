package smsmock

import (
	"fmt"
	"net/http"

	"github.com/ponte-pa/ponte/mocks/registry"
)

// Kind is the SMS gateway's name in the mock registry; its configuration
// (mockset.Options.Config) is an Options.
const Kind = "sms"

func init() {
	registry.Register(registry.HandlerKind(Kind, 80,
		registry.Port{Flag: "sms-port", Default: 18088, Usage: "port of the SMS gateway mock (0 = any)"},
		func(_ *registry.Env, o Options) http.Handler { return New(o) },
		func(url string) registry.Running {
			return registry.Running{Title: "SMS gateway mock", Vars: map[string]string{"SMSURL": url},
				Details: fmt.Sprintf("(token %q; send: POST %s/messages; inspect: %s/__mock/messages)", DefaultToken, url, url)}
		}))
}
