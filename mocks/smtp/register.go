package smtpmock

import (
	"os"
	"strings"

	"github.com/ponte-pa/ponte/mocks/registry"
)

// Kind is the SMTP mock's name in the mock registry; its configuration
// (mockset.Options.Config) is a Config.
const Kind = "smtp"

// Config configures the SMTP mock when started from the registry.
type Config struct {
	Options
	// CAFile, when set, is where the server's certificate is written (PEM),
	// for the caFile of a tenant's email channel.
	CAFile string
}

func init() {
	registry.Register(registry.Kind{
		Name: Kind, Order: 30,
		Ports: []registry.Port{
			{Flag: "smtp-port", Default: 18025, Usage: "port of the SMTP mock (STARTTLS, AUTH PLAIN with the sample comune's credentials)"},
			{Flag: "smtp-http-port", Default: 18026, Usage: "port of the SMTP mock's HTTP inspection API (/__mock/messages, /__mock/faults)"},
		},
		Start: func(env *registry.Env, addrs []string) (*registry.Running, error) {
			c, err := registry.Config[Config](env, Kind)
			if err != nil {
				return nil, err
			}
			s, err := Start(addrs[0], c.Options)
			if err != nil {
				return nil, err
			}
			if c.CAFile != "" {
				if err := os.WriteFile(c.CAFile, s.CertPEM(), 0o644); err != nil {
					s.Close()
					return nil, err
				}
			}
			http, stopHTTP, err := registry.ServeHTTP(addrs[1], s)
			if err != nil {
				s.Close()
				return nil, err
			}
			var details []string
			if c.Username != "" {
				details = append(details, "user "+c.Username)
			}
			if c.CAFile != "" {
				details = append(details, "certificate written to "+c.CAFile)
			}
			details = append(details, "inspect: "+http+"/__mock/messages")
			return &registry.Running{Mock: s, URL: s.Addr(), Control: http, Title: "SMTP mock",
				Details: "(" + strings.Join(details, "; ") + ")",
				Vars:    map[string]string{"SMTPAddr": s.Addr()},
				Close: func() error {
					err := stopHTTP()
					if cerr := s.Close(); err == nil {
						err = cerr
					}
					return err
				}}, nil
		},
	})
}
