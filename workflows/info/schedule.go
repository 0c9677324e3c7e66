package info

import (
	"fmt"
	"time"

	"github.com/ponte-pa/ponte/internal/rome"
)

// quiet is a daily window in minutes after midnight, Europe/Rome time;
// from > to wraps past midnight (21:00–08:00).
type quiet struct{ from, to int }

func minutesOf(hhmm string) (int, error) {
	t, err := time.Parse("15:04", hhmm)
	if err != nil {
		return 0, fmt.Errorf("%q is not HH:MM", hhmm)
	}
	return t.Hour()*60 + t.Minute(), nil
}

func (q *QuietHours) window() (quiet, error) {
	f, err := minutesOf(q.From)
	if err != nil {
		return quiet{}, err
	}
	t, err := minutesOf(q.To)
	if err != nil {
		return quiet{}, err
	}
	if f == t {
		return quiet{}, fmt.Errorf("quiet hours from %s to %s: an empty window", q.From, q.To)
	}
	return quiet{f, t}, nil
}

// NotQuiet is t, or when t falls in the quiet hours q (nil: none) the
// moment they end, Europe/Rome time.
func NotQuiet(t time.Time, q *QuietHours) time.Time {
	if q == nil {
		return t
	}
	w, err := q.window()
	if err != nil { // checked when the definition was read
		return t
	}
	local := t.In(rome.Location)
	m := local.Hour()*60 + local.Minute()
	in := w.from < w.to && m >= w.from && m < w.to || w.from > w.to && (m >= w.from || m < w.to)
	if !in {
		return t
	}
	day := local
	if w.from > w.to && m >= w.from { // the window ends tomorrow
		day = local.AddDate(0, 0, 1)
	}
	return time.Date(day.Year(), day.Month(), day.Day(), w.to/60, w.to%60, 0, 0, rome.Location)
}

// SendAt is when batch i of n goes: start plus its share of the spread
// window, moved out of the quiet hours.
func SendAt(start time.Time, spread time.Duration, i, n int, q *QuietHours) time.Time {
	at := start
	if n > 1 && spread > 0 {
		at = start.Add(spread * time.Duration(i) / time.Duration(n))
	}
	return NotQuiet(at, q)
}
