package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"log/slog"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/ponte-pa/ponte/internal/runtime"
)

// devFrontend is where 'ponte serve --dev' serves the Temporal frontend:
// the operator commands' default --temporal.
const devFrontend = "127.0.0.1:7233"

// temporalFlags say how to reach Temporal. serve, worker, campaign and
// reconcile take the same ones, registered by addTemporalFlags.
type temporalFlags struct {
	hostPort, namespace                   string
	tlsCert, tlsKey, tlsCA, tlsServerName string
}

// addTemporalFlags registers --temporal, --namespace and the --tls-* flags
// of mTLS to a cluster on fs. defaultHostPort is --temporal's default (""
// when the command has another way to get a server, like serve --dev).
func addTemporalFlags(fs *flag.FlagSet, defaultHostPort string) *temporalFlags {
	t := &temporalFlags{}
	usage := "host:port of the Temporal cluster's frontend (production)"
	if defaultHostPort == devFrontend {
		usage = "host:port of the Temporal frontend (the default is where 'ponte serve --dev' serves it)"
	}
	fs.StringVar(&t.hostPort, "temporal", defaultHostPort, usage)
	fs.StringVar(&t.namespace, "namespace", "default", "Temporal namespace (one per environment)")
	fs.StringVar(&t.tlsCert, "tls-cert", "", "client certificate (PEM) for mTLS to the cluster, with --tls-key")
	fs.StringVar(&t.tlsKey, "tls-key", "", "client key (PEM) for mTLS to the cluster, with --tls-cert")
	fs.StringVar(&t.tlsCA, "tls-ca", "", "CA bundle (PEM) that signed the cluster's certificate (default: the system's roots)")
	fs.StringVar(&t.tlsServerName, "tls-server-name", "", "server name to verify in the cluster's certificate (default: the host of --temporal)")
	return t
}

// usesTLS reports whether any --tls-* flag was given.
func (t *temporalFlags) usesTLS() bool {
	return t.tlsCert != "" || t.tlsKey != "" || t.tlsCA != "" || t.tlsServerName != ""
}

// apply copies the flags into a runtime configuration.
func (t *temporalFlags) apply(cfg *runtime.Config) {
	cfg.Temporal, cfg.Namespace = t.hostPort, t.namespace
	cfg.TLSCert, cfg.TLSKey, cfg.TLSCA, cfg.TLSServerName = t.tlsCert, t.tlsKey, t.tlsCA, t.tlsServerName
}

// tlsConfig checks the --tls-* flags and loads the files they name; nil
// means plain TCP. Its errors are usage errors naming the flag.
func (t *temporalFlags) tlsConfig() (*tls.Config, error) {
	if (t.tlsCert == "") != (t.tlsKey == "") {
		return nil, usagef("--tls-cert and --tls-key go together: give both for mTLS, or neither")
	}
	var cfg runtime.Config
	t.apply(&cfg)
	c, err := runtime.ClientTLS(cfg)
	if err != nil {
		return nil, usageError{err: err}
	}
	return c, nil
}

// clientOptions are the options the operator commands dial Temporal with.
func (t *temporalFlags) clientOptions() (client.Options, error) {
	if t.hostPort == "" {
		return client.Options{}, usagef("--temporal host:port is required")
	}
	tc, err := t.tlsConfig()
	if err != nil {
		return client.Options{}, err
	}
	return client.Options{HostPort: t.hostPort, Namespace: t.namespace,
		ConnectionOptions: client.ConnectionOptions{TLS: tc},
		Logger:            sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))}, nil
}

// dialClient is client.Dial; tests replace it to see the options.
var dialClient = client.Dial

// dialTemporal connects an operator command to the Temporal frontend the
// flags name, quietly.
func dialTemporal(t *temporalFlags) (client.Client, error) {
	opts, err := t.clientOptions()
	if err != nil {
		return nil, err
	}
	c, err := dialClient(opts)
	if err != nil {
		hint := "is 'ponte serve --dev' running?"
		if t.hostPort != devFrontend {
			hint = "are --temporal, --namespace and the --tls-* flags those of the cluster?"
		}
		return nil, fmt.Errorf("connecting to Temporal at %s (namespace %s): %w (%s)", t.hostPort, t.namespace, err, hint)
	}
	return c, nil
}
