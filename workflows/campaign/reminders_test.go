package campaign

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/ponte-pa/ponte/connectors/legacy"
	"github.com/ponte-pa/ponte/connectors/pagopa"
	"github.com/ponte-pa/ponte/internal/tenant"
	appiomock "github.com/ponte-pa/ponte/mocks/appio"
	"github.com/ponte-pa/ponte/mocks/gpd"
)

func TestRemindersWorkflowSleepsUntilEachReminder(t *testing.T) {
	rome, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		start    time.Time
		wantN    []int
		wantAt   []time.Time
		wantLate int
	}{
		{"both ahead", time.Date(2026, 12, 1, 12, 0, 0, 0, rome), []int{1, 2},
			[]time.Time{time.Date(2026, 12, 24, 9, 0, 0, 0, rome), time.Date(2026, 12, 30, 9, 0, 0, 0, rome)}, 0},
		{"first one long past", time.Date(2026, 12, 28, 12, 0, 0, 0, rome), []int{2},
			[]time.Time{time.Date(2026, 12, 30, 9, 0, 0, 0, rome)}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var suite testsuite.WorkflowTestSuite
			env := suite.NewTestWorkflowEnvironment()
			env.SetStartTime(c.start)
			env.RegisterWorkflow(RemindersWorkflow)
			var acts *Activities
			var mu sync.Mutex
			calls := map[int][]time.Time{}
			batches := map[int]int{}
			env.RegisterActivity(acts)
			env.OnActivity(acts.SendReminders, mock.Anything, mock.Anything).Return(func(_ context.Context, b ReminderBatch) (ReminderResult, error) {
				mu.Lock()
				defer mu.Unlock()
				calls[b.N] = append(calls[b.N], env.Now())
				batches[b.N] += b.To - b.From
				return ReminderResult{Sent: b.To - b.From}, nil
			})
			env.ExecuteWorkflow(RemindersWorkflow, RemindersInput{TenantID: "t", CampaignID: "c", DueDate: "2026-12-31",
				DaysBefore: []int{1, 7}, Items: 1200, BatchSize: 500, Parallel: 2})
			if err := env.GetWorkflowError(); err != nil {
				t.Fatal(err)
			}
			var res RemindersResult
			if err := env.GetWorkflowResult(&res); err != nil {
				t.Fatal(err)
			}
			if res.Late != c.wantLate {
				t.Errorf("late = %d, want %d", res.Late, c.wantLate)
			}
			for i, n := range c.wantN {
				if len(calls[n]) != 3 || batches[n] != 1200 {
					t.Errorf("reminder %d: %d batches covering %d items, want 3 covering 1200", n, len(calls[n]), batches[n])
					continue
				}
				if !calls[n][0].Equal(c.wantAt[i]) {
					t.Errorf("reminder %d sent at %s, want %s", n, calls[n][0].In(rome), c.wantAt[i])
				}
				if res.Reminders[n-1].Sent != 1200 {
					t.Errorf("reminder %d result %+v", n, res.Reminders[n-1])
				}
			}
			if len(calls) != len(c.wantN) {
				t.Errorf("reminders sent: %v, want %v", calls, c.wantN)
			}
		})
	}
}

// TestSendRemindersSkipsPaidAndNeverRepeats runs the activity against the GPD
// and App IO mocks: a paid position gets no reminder, an unpaid one gets one,
// and running the batch again sends nothing more.
func TestSendRemindersSkipsPaidAndNeverRepeats(t *testing.T) {
	ctx := context.Background()
	const org = "01234567890"
	gpdm := gpd.New(gpd.Options{})
	gsrv := httptest.NewServer(gpdm)
	defer gsrv.Close()
	fcs := []string{"RSSMRA80A01H501U", "VRDLGU70B02F205X", "BNCGNN75C03L219Y"}
	profiles := map[string]appiomock.ProfileSpec{}
	for _, fc := range fcs {
		profiles[fc] = appiomock.ProfileSpec{SenderAllowed: true}
	}
	iom := appiomock.New(appiomock.Options{Profiles: profiles})
	isrv := httptest.NewServer(iom)
	defer isrv.Close()
	t.Setenv("PONTE_TEST_KEY", "k")
	key := tenant.NewSecret("env:PONTE_TEST_KEY", "")
	tn := &tenant.Tenant{ID: "esempio", FiscalCode: org, Name: tenant.Localized{IT: "Comune di Esempio"},
		PagoPA: tenant.PagoPA{AuxDigit: 3, SegregationCode: "01", IBAN: "IT60X0542811101000000123456", GPD: tenant.GPD{BaseURL: gsrv.URL, SubscriptionKey: key}},
		AppIO:  tenant.AppIO{BaseURL: isrv.URL + "/api/v1", Services: map[string]tenant.IOService{"payments": {ServiceID: "01HZTEST", Key: key}}}}
	st := testStore(t)
	a := &Activities{Store: st, Tenants: func(string) (*tenant.Tenant, error) { return tn, nil }}
	client := pagopa.NewGPDClient(pagopa.GPDOptions{BaseURL: gsrv.URL, SubscriptionKey: "k"})
	var navs []string
	for i, fc := range fcs {
		it := Item{Seq: i, FiscalCode: fc, Name: "N", Surname: "S", AmountCents: 1000 + int64(i), DueDate: "2026-12-31"}
		if err := st.AddItem(ctx, "c1", i, legacy.Debtor{Line: i + 2, FiscalCode: fc, Name: "N", Surname: "S", AmountCents: it.AmountCents, DueDate: it.DueDate}); err != nil {
			t.Fatal(err)
		}
		iuv, err := pagopa.NewIUV("01", "000000000000"+string(rune('1'+i)))
		if err != nil {
			t.Fatal(err)
		}
		nav := "3" + iuv
		navs = append(navs, nav)
		iupd := IUPD("esempio", "c1", i)
		if _, err := client.Create(ctx, org, a.position(tn, BatchInput{Subject: "TARI 2026"}, it, iupd, iuv), true); err != nil {
			t.Fatal(err)
		}
		if err := st.SetPosition(ctx, "c1", i, StatePublished, iupd, iuv, nav, ""); err != nil {
			t.Fatal(err)
		}
		io := IOSent
		if i == 2 {
			io = IONotOnIO // no fallback email either: nothing to remind through
		}
		if err := st.SetIO(ctx, "c1", i, io, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := gpdm.PayWith(org, navs[0], gpd.PaymentInfo{}); err != nil {
		t.Fatal(err)
	}
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	in := ReminderBatch{RemindersInput: RemindersInput{TenantID: "esempio", CampaignID: "c1", Subject: "TARI 2026", DueDate: "2026-12-31", IOPurpose: "payments"}, N: 1, From: 0, To: 3}
	for run := 1; run <= 2; run++ {
		val, err := env.ExecuteActivity(a.SendReminders, in)
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		var res ReminderResult
		if err := val.Get(&res); err != nil {
			t.Fatal(err)
		}
		if res.Sent != 1 || res.Paid != 1 || res.NoChannel != 1 {
			t.Errorf("run %d: %+v, want 1 sent, 1 paid, 1 without channel", run, res)
		}
		msgs := iom.Messages()
		if len(msgs) != 1 {
			t.Fatalf("run %d: IO mock holds %d messages, want 1 reminder", run, len(msgs))
		}
		m := msgs[0]
		if m.FiscalCode != fcs[1] || m.Subject != "Promemoria: TARI 2026 scade il 31/12/2026" ||
			m.PaymentData == nil || m.PaymentData.NoticeNumber != navs[1] {
			t.Errorf("reminder = %s %q %+v", m.FiscalCode, m.Subject, m.PaymentData)
		}
	}
}

func TestCampaignHandsRemindersToTheirWorkflow(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	acts := &Activities{}
	env.RegisterActivity(acts)
	env.RegisterWorkflowWithOptions(RemindersWorkflow, workflow.RegisterOptions{Name: RemindersWorkflowName})
	env.OnActivity(acts.RecordCampaign, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(acts.StageDebtors, mock.Anything, mock.Anything).Return(StageResult{Read: 3, Valid: 3}, nil)
	env.OnActivity(acts.CreatePositions, mock.Anything, mock.Anything).Return(BatchResult{Done: 3}, nil)
	env.OnActivity(acts.NotifyIO, mock.Anything, mock.Anything).Return(BatchResult{Sent: 3}, nil)
	env.OnActivity(acts.SendFallback, mock.Anything, mock.Anything).Return(BatchResult{}, nil)
	env.OnActivity(acts.Totals, mock.Anything, "tari").Return(Progress{PositionsPublished: 3, MessagesSent: 3}, nil)
	var got RemindersInput
	env.OnWorkflow(RemindersWorkflowName, mock.Anything, mock.Anything).Return(
		func(_ workflow.Context, in RemindersInput) (RemindersResult, error) {
			got = in
			return RemindersResult{}, nil
		})
	env.ExecuteWorkflow(Workflow, Input{CampaignID: "tari", TenantID: "esempio", Source: "csv", Subject: "TARI",
		DueDate: "2026-12-31", ReminderDaysBefore: []int{7, 1}, BatchSize: 10})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var p Progress
	if err := env.GetWorkflowResult(&p); err != nil {
		t.Fatal(err)
	}
	if p.RemindersWorkflowID != RemindersWorkflowID("esempio", "tari") {
		t.Errorf("RemindersWorkflowID = %q", p.RemindersWorkflowID)
	}
	if got.Items != 3 || got.DueDate != "2026-12-31" || len(got.DaysBefore) != 2 || got.CampaignID != "tari" {
		t.Errorf("reminders input %+v", got)
	}
}
