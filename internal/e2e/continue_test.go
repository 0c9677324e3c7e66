package e2e

import (
	"context"
	"os"
	"testing"

	"go.temporal.io/api/enums/v1"

	"github.com/ponte-pa/ponte/workflows/campaign"
)

// TestCampaignContinuesAsNew makes every window of batches its own run
// (WindowsPerRun 1): the campaign goes on across the runs with its progress,
// and ends with the same counts and no duplicates.
func TestCampaignContinuesAsNew(t *testing.T) {
	e := newEnv(t, 40, 0, nil)
	in := campaign.Input{CampaignID: "tari-can", TenantID: e.tenant.ID, Source: firstSourceName(e.tenant), Subject: "TARI 2026",
		BatchSize: 5, Parallel: 2, WindowsPerRun: 1, DueDate: "2027-03-31", ReminderDaysBefore: []int{7, 1}}
	p, run := e.run(t, in)
	if p.Valid != 40 || p.PositionsPublished != 40 || p.MessagesSent != 40 || p.PositionBatches != 8 || p.Phase != "done" {
		t.Errorf("progress after the last run: %+v", p)
	}
	checkNoDuplicates(t, e, 40)
	// The last run was continued from an earlier one.
	ctx := context.Background()
	it := e.rt.Client.GetWorkflowHistory(ctx, run.GetID(), "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	ev, err := it.Next()
	if err != nil {
		t.Fatal(err)
	}
	if prev := ev.GetWorkflowExecutionStartedEventAttributes().GetContinuedExecutionRunId(); prev == "" {
		t.Errorf("the last run was not continued from an earlier one: %v", ev)
	}
	if p.RemindersWorkflowID == "" {
		t.Error("no reminders workflow after the last run")
	}
	// PONTE_RECORD_HISTORY=campaign-v3 records the last run (continued from
	// an earlier one, reminders handed over) for the replay test.
	if name := os.Getenv("PONTE_RECORD_HISTORY"); name != "" {
		recordHistory(t, e.rt.Client, run, "../../workflows/campaign/testdata/"+name+"-continued-history.json")
	}
}
