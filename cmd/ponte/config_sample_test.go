package main

import (
	"testing"
	"time"

	"os"
	"path/filepath"

	"github.com/ponte-pa/ponte/workflows/campaign"
)

func TestSampleCampaignIsValid(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte(sampleCampaign(time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC))), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := campaign.LoadDefinition(path)
	if err != nil {
		t.Fatal(err)
	}
	if d.DueDate != "2027-02-02" || d.Source != "tributi-csv" || len(d.Reminders.DaysBefore) != 2 {
		t.Errorf("sample definition: %+v", d)
	}
}
