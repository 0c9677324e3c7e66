package spid_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ponte-pa/ponte/connectors/spid"
)

func TestLoadConfigFile(t *testing.T) {
	cfg, fc, err := spid.LoadConfigFile("testdata/sp.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BaseURL != "https://comune.example.it" || cfg.IPACode != "c_x000" || cfg.Org.Names.EN != "Municipality of Esempio" || len(cfg.AttributeSets[0].Attributes) != 3 || fc.KeyFile != "sp.key.pem" {
		t.Fatalf("%+v", cfg)
	}
	dir := t.TempDir()
	for name, body := range map[string]string{
		"unknown-field": "bogus: 1\n",
		"no-key":        "baseURL: https://x\nkeyFile: nope.pem\ncertFile: nope.pem\n",
	} {
		p := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, _, err := spid.LoadConfigFile(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
