package webhookmock

import (
	"fmt"
	"net/http"

	"github.com/ponte-pa/ponte/mocks/registry"
)

// Kind is the webhook receiver's name in the mock registry; its
// configuration (mockset.Options.Config) is an Options.
const Kind = "webhook"

func init() {
	registry.Register(registry.HandlerKind(Kind, 70,
		registry.Port{Flag: "webhook-port", Default: 18087, Usage: "port of the signed-webhook receiver (sirens, displays; 0 = any)"},
		func(_ *registry.Env, o Options) http.Handler { return New(o) },
		func(url string) registry.Running {
			return registry.Running{Title: "Webhook receiver", Vars: map[string]string{"WebhookURL": url},
				Details: fmt.Sprintf("(secret %q; inspect: %s/__mock/deliveries, %s/__mock/stats)", DefaultSecret, url, url)}
		}))
}
