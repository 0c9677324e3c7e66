package probe_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ponte-pa/ponte/internal/probe"
	"github.com/ponte-pa/ponte/internal/tenant"
	"github.com/ponte-pa/ponte/mocks/gpd"
	"github.com/ponte-pa/ponte/mocks/mockset"
	smtpmock "github.com/ponte-pa/ponte/mocks/smtp"
)

// sample starts the mocks with cfg and writes the sample comune pointing
// at them.
func sample(t *testing.T, gpdKeys []string, smtpPassword string) *tenant.Tenant {
	t.Helper()
	dir := t.TempDir()
	mocks, err := mockset.Start(mockset.Options{Config: mockset.Config{
		gpd.Kind: gpd.Options{SubscriptionKeys: gpdKeys},
		smtpmock.Kind: smtpmock.Config{CAFile: filepath.Join(dir, "smtp-ca.pem"),
			Options: smtpmock.Options{Username: mockset.SampleSMTPUser, Password: smtpPassword}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mocks.Close)
	path, err := tenant.WriteSample(dir, map[string]string{"GPDURL": mocks.GPDURL, "IOURL": mocks.IOURL, "SMTPAddr": mocks.SMTPAddr})
	if err != nil {
		t.Fatal(err)
	}
	ten, err := tenant.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return ten
}

func byCheck(rs []probe.Result) map[string]probe.Result {
	out := map[string]probe.Result{}
	for _, r := range rs {
		out[r.Check] = r
	}
	return out
}

func TestEverySystemAnswers(t *testing.T) {
	ten := sample(t, nil, mockset.SampleSMTPPassword)
	rs := probe.Tenant(context.Background(), ten)
	want := []string{"source tributi-csv", "gpd", "appio alerts", "appio news", "appio payments", "channel email (channels/0)"}
	if len(rs) != len(want) {
		t.Fatalf("%d checks, want %d: %+v", len(rs), len(want), rs)
	}
	for i, r := range rs {
		if r.Check != want[i] || !r.OK {
			t.Errorf("check %d = %+v, want %s ok", i, r, want[i])
		}
	}
	if d := rs[0].Detail; !strings.Contains(d, "line 2") {
		t.Errorf("source detail %q", d)
	}
}

func TestRefusedSettingsFail(t *testing.T) {
	// GPD knows another key; the relay another password; the source file
	// is gone.
	ten := sample(t, []string{"not-the-comune's-key"}, "another-password")
	if err := os.Remove(filepath.Join(ten.Dir, "debtors.csv")); err != nil {
		t.Fatal(err)
	}
	got := byCheck(probe.Tenant(context.Background(), ten))
	for check, want := range map[string]string{
		"source tributi-csv":         "debtors.csv",
		"gpd":                        "401",
		"channel email (channels/0)": "AUTH",
	} {
		r, ok := got[check]
		if !ok || r.OK || !strings.Contains(r.Detail, want) {
			t.Errorf("%s: %+v, want a failure naming %q", check, r, want)
		}
	}
	if r := got["appio payments"]; !r.OK { // the App IO mock takes any key
		t.Errorf("appio: %+v", r)
	}
}
