package legacy

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
)

// RejectReport writes rejects for people to fix the source: CSV (opens in a
// spreadsheet) or JSON (an array). Call Close to finish the document; Close does not
// close the underlying writer.
type RejectReport struct {
	format string
	w      io.Writer
	cw     *csv.Writer
	n      int
	closed bool
	err    error
}

// NewRejectReport starts a report in format "csv" or "json".
func NewRejectReport(w io.Writer, format string) (*RejectReport, error) {
	r := &RejectReport{format: format, w: w}
	switch format {
	case "csv":
		r.cw = csv.NewWriter(w)
		r.err = r.cw.Write([]string{"source", "line", "field", "value", "rule", "message_it", "message_en"})
	case "json":
		_, r.err = io.WriteString(w, "[")
	default:
		return nil, fmt.Errorf("legacy: reject report format %q: want csv or json", format)
	}
	return r, r.err
}

// Write adds one reject. It has the signature of Read's reject callback.
func (r *RejectReport) Write(rj Reject) error {
	if r.err != nil {
		return r.err
	}
	if r.closed {
		return fmt.Errorf("legacy: reject report already closed")
	}
	r.n++
	switch r.format {
	case "csv":
		r.err = r.cw.Write([]string{cell(rj.Source), strconv.Itoa(rj.Line), cell(rj.Field), cell(rj.Value), cell(rj.Rule), cell(rj.MessageIT), cell(rj.MessageEN)})
	default:
		b, err := json.Marshal(rj)
		if err != nil {
			r.err = err
			return err
		}
		sep := ",\n"
		if r.n == 1 {
			sep = "\n"
		}
		_, r.err = io.WriteString(r.w, sep+string(b))
	}
	return r.err
}

// Count returns how many rejects were written.
func (r *RejectReport) Count() int { return r.n }

// Close finishes the document and flushes.
func (r *RejectReport) Close() error {
	if r.closed {
		return r.err
	}
	r.closed = true
	if r.err != nil {
		return r.err
	}
	switch r.format {
	case "csv":
		r.cw.Flush()
		r.err = r.cw.Error()
	default:
		end := "]\n"
		if r.n > 0 {
			end = "\n]\n"
		}
		_, r.err = io.WriteString(r.w, end)
	}
	return r.err
}

// cell guards against spreadsheet formula injection: a value from the source file that
// starts with = + - @ (or a tab/CR) is prefixed with a quote so that it shows as text.
func cell(s string) string {
	if s != "" {
		switch s[0] {
		case '=', '+', '-', '@', '\t', '\r':
			return "'" + s
		}
	}
	return s
}
