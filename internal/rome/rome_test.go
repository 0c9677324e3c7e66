package rome

import (
	"testing"
	"time"
)

func TestEndOfDayAndDay(t *testing.T) {
	tests := []struct {
		day     string
		wantUTC string
		instant time.Time
		wantDay string
	}{
		// Summer time (CEST, +02:00) and winter time (CET, +01:00).
		{"2026-06-30", "2026-06-30T21:59:59Z", time.Date(2026, 6, 30, 22, 30, 0, 0, time.UTC), "2026-07-01"},
		{"2026-12-31", "2026-12-31T22:59:59Z", time.Date(2026, 12, 31, 22, 30, 0, 0, time.UTC), "2026-12-31"},
	}
	for _, tt := range tests {
		d, err := time.Parse(time.DateOnly, tt.day)
		if err != nil {
			t.Fatal(err)
		}
		if got := EndOfDay(d).UTC().Format(time.RFC3339); got != tt.wantUTC {
			t.Errorf("EndOfDay(%s) = %s, want %s", tt.day, got, tt.wantUTC)
		}
		if got := Day(tt.instant); got != tt.wantDay {
			t.Errorf("Day(%s) = %s, want %s", tt.instant, got, tt.wantDay)
		}
	}
	if Location.String() != "Europe/Rome" {
		t.Errorf("Location = %s", Location)
	}
}
