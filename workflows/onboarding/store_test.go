package onboarding_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/ponte-pa/ponte/internal/store"
	"github.com/ponte-pa/ponte/internal/store/storetest"
	"github.com/ponte-pa/ponte/workflows/onboarding"
)

func report(t *testing.T, ten, at string, okN int) onboarding.Report {
	r := onboarding.Report{Tenant: ten, RunAt: mustTime(t, at)}
	for i, c := range onboarding.Checks {
		st := onboarding.Missing
		if i < okN {
			st = onboarding.OK
		}
		r.Items = append(r.Items, onboarding.Item{Check: c, Status: st, Detail: "d " + c})
	}
	return r
}

// TestHistoryByWeek: runs are stored once each and grouped by ISO week,
// the last run of each comune in a week counting for it (2026-12-31 is in
// 2026-W53, 2027-01-04 in 2027-W01).
func TestHistoryByWeek(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		st, err := onboarding.NewStore(storetest.Ctx(t), db)
		if err != nil {
			t.Fatal(err)
		}
		n := len(onboarding.Checks)
		for _, r := range []onboarding.Report{
			report(t, "a", "2026-11-23T09:00:00Z", 3), // W48
			report(t, "b", "2026-11-24T09:00:00Z", 5),
			report(t, "a", "2026-11-27T09:00:00Z", 6),
			report(t, "a", "2026-11-27T09:00:00Z", 6), // the same run again
			report(t, "a", "2026-12-02T09:00:00Z", n), // W49
			report(t, "b", "2026-12-03T09:00:00Z", 7),
			report(t, "a", "2026-12-31T09:00:00Z", n), // W53
			report(t, "b", "2027-01-04T09:00:00Z", n), // 2027-W01
		} {
			if err := st.Save(storetest.Ctx(t), r); err != nil {
				t.Fatal(err)
			}
		}
		runs, err := st.Runs(storetest.Ctx(t), "")
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) != 7 || runs[0].OK != 3 || runs[0].Total != n || runs[0].Status[onboarding.CheckSMTP] != onboarding.Missing {
			t.Fatalf("runs %+v", runs)
		}
		var got []string
		for _, w := range onboarding.Weekly(runs) {
			got = append(got, strings.Join([]string{w.Label(), itoa(w.Runs), itoa(w.Comuni), itoa(w.Ready), itoa(w.OK), itoa(w.Total)}, " "))
		}
		want := []string{
			"2026-W48 3 2 0 11 18", // a's last run: 6, b: 5
			"2026-W49 2 2 1 16 18",
			"2026-W53 1 1 1 9 9",
			"2027-W01 1 1 1 9 9",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("weeks:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		onlyA, err := st.Runs(storetest.Ctx(t), "a")
		if err != nil {
			t.Fatal(err)
		}
		if len(onlyA) != 4 {
			t.Errorf("%d runs of a, want 4", len(onlyA))
		}
	})
}

func itoa(n int) string { return strconv.Itoa(n) }
