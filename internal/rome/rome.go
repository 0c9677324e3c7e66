// Package rome is the time zone of the comuni, Europe/Rome, loaded once for
// every package: due dates, reminder times and report days are Rome times.
// The zone database is embedded (time/tzdata), so it never falls back to
// UTC on a machine without system tzdata.
package rome

import (
	"time"
	_ "time/tzdata" // Europe/Rome on any machine
)

// Location is Europe/Rome.
var Location = func() *time.Location {
	l, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		// Impossible with time/tzdata linked in; a silent UTC would shift
		// every due date by one or two hours.
		panic("rome: loading Europe/Rome from the embedded tz database: " + err.Error())
	}
	return l
}()

// EndOfDay is the last second of calendar day d in Rome: a notice due on d
// can be paid all day long.
func EndOfDay(d time.Time) time.Time {
	return time.Date(d.Year(), d.Month(), d.Day(), 23, 59, 59, 0, Location)
}

// Day is the calendar day (YYYY-MM-DD) of t in Rome.
func Day(t time.Time) string { return t.In(Location).Format(time.DateOnly) }

// At is hour:00 Rome time on day d.
func At(d time.Time, hour int) time.Time {
	return time.Date(d.Year(), d.Month(), d.Day(), hour, 0, 0, 0, Location)
}
