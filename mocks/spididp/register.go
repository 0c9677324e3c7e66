package spididp

import (
	"fmt"

	"github.com/ponte-pa/ponte/mocks/registry"
)

// Kinds of the mock IdP in the mock registry: the SPID one and a second
// that plays the CIE identity provider. Their configuration
// (mockset.Options.Config) is an Options; BaseURL is the listener's.
const (
	KindSPID = "spid-idp"
	KindCIE  = "cie-idp"
)

func init() {
	for _, k := range []struct {
		name, title, flag, usage, defName string
		order, port                       int
		details                           func(url string) string
	}{
		{KindSPID, "SPID IdP mock", "idp-port", "port of the mock SPID IdP (0 = any)", "", 50, 18084,
			func(url string) string {
				return fmt.Sprintf("(metadata: %s/metadata; defects: %s/__mock/defects)", url, url)
			}},
		{KindCIE, "CIE IdP mock", "cie-port", "port of the mock CIE identity provider (0 = any)", "Mock CIE IdP", 60, 18086,
			func(url string) string { return fmt.Sprintf("(metadata: %s/metadata)", url) }},
	} {
		registry.Register(registry.Kind{
			Name: k.name, Order: k.order,
			Ports: []registry.Port{{Flag: k.flag, Default: k.port, Usage: k.usage}},
			Start: func(env *registry.Env, addrs []string) (*registry.Running, error) {
				o, err := registry.Config[Options](env, k.name)
				if err != nil {
					return nil, err
				}
				if o.Name == "" {
					o.Name = k.defName
				}
				if o.Logger == nil {
					o.Logger = env.Logger
				}
				// The IdP needs its URL (entityID, metadata) before it is built.
				l, url, err := registry.Listen(addrs[0])
				if err != nil {
					return nil, err
				}
				o.BaseURL = url
				idp, err := New(o)
				if err != nil {
					l.Close()
					return nil, err
				}
				vars := map[string]string{"IdPURL": url}
				if k.name == KindCIE {
					vars = map[string]string{"CIEIdPURL": url}
				}
				return &registry.Running{Mock: idp, URL: url, Control: url, Close: registry.Serve(l, env.Handler(k.name, idp)), Title: k.title,
					Details: k.details(url), Vars: vars}, nil
			},
		})
	}
}
