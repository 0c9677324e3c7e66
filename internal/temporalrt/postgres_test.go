package temporalrt

import (
	"strings"
	"testing"
)

func TestPostgresOptionsSQLConfigs(t *testing.T) {
	cases := []struct {
		name, dsn, prefix                string
		addr, user, pw, main, vis, admin string
		attrs                            map[string]string
		err                              string
	}{
		{name: "defaults", dsn: "postgres://postgres@127.0.0.1/?sslmode=disable",
			addr: "127.0.0.1:5432", user: "postgres", main: "temporal", vis: "temporal_visibility", admin: "postgres",
			attrs: map[string]string{"sslmode": "disable"}},
		{name: "prefix, port, password, admin database", dsn: "postgresql://u:secret@db:6543/test", prefix: "temporal_ci_1",
			addr: "db:6543", user: "u", pw: "secret", main: "temporal_ci_1", vis: "temporal_ci_1_visibility", admin: "test",
			attrs: map[string]string{}},
		{name: "not a URL", dsn: "host=db user=u", err: "want postgres://"},
		{name: "wrong scheme", dsn: "mysql://u:secret@db/", err: "want postgres://"},
		{name: "password not echoed", dsn: "mysql://u:secret@db/", err: "xxxxx"},
		{name: "bad prefix", dsn: "postgres://u@db/", prefix: "Temporal; DROP", err: "database prefix"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			main, vis, admin, err := PostgresOptions{DSN: c.dsn, DBPrefix: c.prefix}.sqlConfigs()
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want one containing %q", err, c.err)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Errorf("the error shows the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if main.ConnectAddr != c.addr || main.User != c.user || main.Password != c.pw || main.DatabaseName != c.main ||
				vis.DatabaseName != c.vis || admin != c.admin || vis.ConnectAddr != c.addr {
				t.Errorf("got addr %q user %q pw %q main %q vis %q admin %q", main.ConnectAddr, main.User, main.Password, main.DatabaseName, vis.DatabaseName, admin)
			}
			if len(main.ConnectAttributes) != len(c.attrs) {
				t.Errorf("attributes %v, want %v", main.ConnectAttributes, c.attrs)
			}
			for k, v := range c.attrs {
				if main.ConnectAttributes[k] != v || vis.ConnectAttributes[k] != v {
					t.Errorf("attribute %s: %q and %q, want %q", k, main.ConnectAttributes[k], vis.ConnectAttributes[k], v)
				}
			}
			if main.PluginName != "postgres12_pgx" {
				t.Errorf("plugin %q, want the pgx one", main.PluginName)
			}
		})
	}
}
