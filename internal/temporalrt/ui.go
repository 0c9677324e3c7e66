package temporalrt

import (
	"fmt"
	"net"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uiopts "github.com/temporalio/ui-server/v2/server/server_options"
)

// UI is the official Temporal Web UI served next to the embedded server, so a
// developer can watch workflow histories in a browser.
type UI struct {
	srv *uiserver.Server
	url string
}

// StartUI serves the Web UI on 127.0.0.1:port (0 picks a free port) for the
// embedded server's frontend.
func (s *Server) StartUI(port int) (*UI, error) {
	const host = "127.0.0.1"
	if port == 0 {
		ps, err := freePorts(host, 1)
		if err != nil {
			return nil, err
		}
		port = ps[0]
	}
	// The UI server exits the process when it cannot listen: check first.
	l, err := net.Listen("tcp", fmt.Sprintf("%s:%d", host, port))
	if err != nil {
		return nil, fmt.Errorf("temporal web UI: port %d: %w", port, err)
	}
	_ = l.Close()
	cfg := &uiconfig.Config{
		Host:                host,
		Port:                port,
		TemporalGRPCAddress: s.hostPort,
		EnableUI:            true,
		DefaultNamespace:    s.namespace,
		HideLogs:            true,
		DisableNewsFetch:    true,
		CORS:                uiconfig.CORS{CookieInsecure: true},
		RefreshInterval:     0,
	}
	ui := &UI{srv: uiserver.NewServer(uiopts.WithConfigProvider(cfg)), url: fmt.Sprintf("http://%s:%d", host, port)}
	go func() { _ = ui.srv.Start() }()
	// Wait until it answers, briefly.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("%s:%d", host, port), 200*time.Millisecond)
		if err == nil {
			_ = c.Close()
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return ui, nil
}

// URL is where a browser reaches the UI.
func (u *UI) URL() string { return u.url }

// Stop closes the UI server.
func (u *UI) Stop() { u.srv.Stop() }
