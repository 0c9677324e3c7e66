package appio

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/ponte-pa/ponte/connectors/registry"
	"github.com/ponte-pa/ponte/schemas"
)

// PlatformAppIO is App IO's kind in registry.Platforms: a tenant's appio.
const PlatformAppIO = "appio"

//go:embed platform-appio.schema.json
var platformSchema []byte

func init() {
	schemas.Register("platform-appio.schema.json", platformSchema)
	registry.Platforms.Register(registry.Kind[any]{
		Name:   PlatformAppIO,
		Doc:    "App IO, one service per purpose (payments, alerts, news)",
		Schema: "platform-appio.schema.json",
		At:     "/appio",
		Open: func(raw json.RawMessage, env registry.Env) (any, error) {
			var c struct {
				BaseURL  string `json:"baseURL"`
				Services map[string]struct {
					ServiceID string `json:"serviceId"`
					Key       string `json:"key"`
				} `json:"services"`
			}
			if err := json.Unmarshal(raw, &c); err != nil {
				return nil, err
			}
			p := &Platform{BaseURL: c.BaseURL, refs: map[string]string{}, keys: map[string]string{}, secret: env.Secret}
			for purpose, s := range c.Services {
				p.refs[purpose] = s.Key
			}
			return p, nil
		},
	})
}

// Platform is a tenant's access to App IO: the API's base URL and one
// service per purpose, whose key is resolved on first use, so that a
// worker resolves only the keys of the services it sends with.
type Platform struct {
	BaseURL string

	refs   map[string]string // purpose → secret reference of the key
	secret func(string) (string, error)
	mu     sync.Mutex
	keys   map[string]string
}

// Sender is the service for purpose as a channel, calling App IO through c
// (a Client for BaseURL, which a worker shares among tenants with its rate
// limiter).
func (p *Platform) Sender(c *Client, purpose string) (*Sender, error) {
	ref, ok := p.refs[purpose]
	if !ok {
		return nil, fmt.Errorf("no App IO service for purpose %q (configured: %s): add appio.services.%s", purpose, strings.Join(p.purposes(), ", "), purpose)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	key, ok := p.keys[purpose]
	if !ok {
		if p.secret == nil {
			return nil, fmt.Errorf("appio.services.%s.key %s: no secret resolver", purpose, ref)
		}
		var err error
		if key, err = p.secret(ref); err != nil {
			return nil, fmt.Errorf("appio.services.%s.key: %w", purpose, err)
		}
		p.keys[purpose] = key
	}
	return &Sender{Client: c, Key: key}, nil
}

func (p *Platform) purposes() []string {
	out := make([]string, 0, len(p.refs))
	for k := range p.refs {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
