package capfeedmock

import (
	"fmt"
	"net/http"

	"github.com/ponte-pa/ponte/mocks/registry"
)

// Kind is the CAP feed mock's name in the mock registry; its
// configuration (mockset.Options.Config) is an Options.
const Kind = "capfeed"

func init() {
	registry.Register(registry.HandlerKind(Kind, 90,
		registry.Port{Flag: "capfeed-port", Default: 18089, Usage: "port of the CAP alert feed mock, a regional alert system (0 = any)"},
		func(_ *registry.Env, o Options) http.Handler { return New(o) },
		func(url string) registry.Running {
			return registry.Running{Title: "CAP feed mock", Vars: map[string]string{"CAPFeedURL": url + "/feed.atom"},
				Details: fmt.Sprintf("(Atom: %s/feed.atom, RSS: %s/rss.xml; publish: POST %s/__mock/publish; inspect: %s/__mock/published)", url, url, url, url)}
		}))
}
