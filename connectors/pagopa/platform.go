package pagopa

import (
	_ "embed"
	"encoding/json"
	"fmt"

	"github.com/ponte-pa/ponte/connectors/registry"
	"github.com/ponte-pa/ponte/schemas"
)

// PlatformGPD is GPD's kind in registry.Platforms: a tenant's pagopa.gpd.
const PlatformGPD = "gpd"

//go:embed platform-gpd.schema.json
var gpdSchema []byte

func init() {
	schemas.Register("platform-gpd.schema.json", gpdSchema)
	registry.Platforms.Register(registry.Kind[any]{
		Name:   PlatformGPD,
		Doc:    "pagoPA GPD, the debt positions of the ente",
		Schema: "platform-gpd.schema.json",
		At:     "/pagopa/gpd",
		Open: func(raw json.RawMessage, env registry.Env) (any, error) {
			var c struct {
				BaseURL         string `json:"baseURL"`
				SubscriptionKey string `json:"subscriptionKey"`
			}
			if err := json.Unmarshal(raw, &c); err != nil {
				return nil, err
			}
			if env.Secret == nil {
				return nil, fmt.Errorf("gpd: subscriptionKey %s: no secret resolver", c.SubscriptionKey)
			}
			key, err := env.Secret(c.SubscriptionKey)
			if err != nil {
				return nil, fmt.Errorf("pagopa.gpd.subscriptionKey: %w", err)
			}
			return NewGPDClient(GPDOptions{BaseURL: c.BaseURL, SubscriptionKey: key, HTTPClient: env.HTTP, Logger: env.Logger}), nil
		},
	})
}
