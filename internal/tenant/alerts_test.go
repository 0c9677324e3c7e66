package tenant

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// TestAlertsConfig: the sample's alerts section loads with its defaults;
// a recipients name with no people source and a zone comune the tenant
// does not cover are refused at load with pointer and line.
func TestAlertsConfig(t *testing.T) {
	dir := t.TempDir()
	path, err := WriteSample(dir, map[string]string{"GPDURL": "http://127.0.0.1:1", "IOURL": "http://127.0.0.1:2/api/v1"})
	if err != nil {
		t.Fatal(err)
	}
	tn, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	a := tn.Alerts
	if a.Purpose() != "alerts" || a.Escalation() != 10*time.Minute || strings.Join(a.ChannelOrder(), ",") != "appio,sms,email" ||
		!a.IsOperator("RSSMRA85T10A562S") || a.IsOperator("BNCGLI90A41H501E") || strings.Join(a.ZoneISTAT("EMR-Z1"), ",") != "099999" {
		t.Errorf("alerts %+v", a)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(data), "recipients: [residenti]", "recipients: [residenti, iscritti]", 1)
	bad = strings.Replace(bad, "      name: Pianura e fiume Esempio\n", "      name: Pianura e fiume Esempio\n      istat: [\"037006\"]\n      polygon: 44.1,10.1 44.2,10.2\n", 1)
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(path)
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("Load: %v, want a ConfigError", err)
	}
	msg := err.Error()
	for _, want := range []string{`/alerts/recipients/1: reference: no people source "iscritti" (people: residenti)`, "/alerts/zones/0/istat/0: reference: comune 037006", "/alerts/zones/0/polygon: polygon"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	for _, p := range ce.Problems {
		if p.Line == 0 {
			t.Errorf("problem without a line: %+v", p)
		}
	}
}
