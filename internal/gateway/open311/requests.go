package open311

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ponte-pa/ponte/workflows/reports"
)

// view is the public form of a report: what GET requests shows, nothing
// about who filed it.
func (s *site) view(r *reports.Report) request {
	v := request{ServiceRequestID: r.ID, Status: r.Status(), StatusNotes: r.StatusNotes, ServiceName: r.ServiceName,
		ServiceCode: r.ServiceCode, Description: r.Description, AgencyResponsible: r.AgencyResponsible, ServiceNotice: r.ServiceNotice,
		RequestedDatetime: datetime(r.Requested), UpdatedDatetime: datetime(r.Updated), ExpectedDatetime: datetime(r.Expected),
		Address: r.Address, AddressID: r.AddressID, Zipcode: r.Zipcode, MediaURL: r.MediaURL, State: string(r.State)}
	if r.HasLocation {
		lat, lon := r.Lat, r.Long
		v.Lat, v.Long = &lat, &lon
	}
	if r.MediaID != "" {
		v.MediaURL = s.public + "/media/" + r.MediaID
	}
	return v
}

// defaultSpan is the spec's default query: "a span of 90 days or first
// 1000 requests returned, whichever is smallest".
const defaultSpan = 90 * 24 * time.Hour

// handleRequests serves GET requests with the spec's filters:
// service_request_id (comma separated; it overrides every other
// parameter), service_code (comma separated), start_date and end_date
// (ISO 8601) and status (open, closed; comma separated).
func (s *site) handleRequests(w http.ResponseWriter, r *http.Request, format string) {
	q := r.URL.Query()
	f := reports.Filter{Tenant: s.t.ID}
	if ids := list(q.Get("service_request_id")); len(ids) > 0 {
		f.IDs = ids
	} else {
		var probs []problem
		f.ServiceCodes = list(q.Get("service_code"))
		f.Statuses = list(q.Get("status"))
		for _, st := range f.Statuses {
			if st != "open" && st != "closed" {
				probs = append(probs, bad("status", "stato "+strconv.Quote(st)+" sconosciuto: open o closed", "unknown status "+strconv.Quote(st)+": open or closed"))
			}
		}
		for _, d := range []struct {
			name string
			to   *time.Time
		}{{"start_date", &f.From}, {"end_date", &f.To}} {
			if v := q.Get(d.name); v != "" {
				t, err := time.Parse(time.RFC3339, v)
				if err != nil {
					probs = append(probs, bad(d.name, "data non valida: serve ISO 8601 con fuso, es. 2026-03-01T09:00:00+01:00",
						"not a valid date: ISO 8601 with time zone needed, e.g. 2026-03-01T09:00:00+01:00"))
				}
				*d.to = t
			}
		}
		if !f.From.IsZero() && !f.To.IsZero() && f.To.Before(f.From) {
			probs = append(probs, bad("end_date", "precede start_date", "is before start_date"))
		}
		if len(probs) > 0 {
			writeErrors(w, format, probs...)
			return
		}
		if f.From.IsZero() {
			end := f.To
			if end.IsZero() {
				end = s.opts.Now()
			}
			f.From = end.Add(-defaultSpan)
		}
	}
	f.Limit = 1000
	rs, err := s.opts.Store.List(r.Context(), f)
	if err != nil {
		s.internal(w, format, err)
		return
	}
	out := make([]request, 0, len(rs))
	for _, x := range rs {
		out = append(out, s.view(x))
	}
	write(w, format, http.StatusOK, out, requestsXML{Requests: out})
}

func list(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// handleRequest serves GET requests/{service_request_id}: a list of one
// request, or 404.
func (s *site) handleRequest(w http.ResponseWriter, r *http.Request) {
	id, format := splitFormat(r.PathValue("file"))
	if format == "" {
		writeErrors(w, "json", errFormat)
		return
	}
	rep, err := s.opts.Store.Get(r.Context(), id)
	if err == nil && rep.Tenant != s.t.ID {
		err = reports.ErrNotFound
	}
	switch {
	case errors.Is(err, reports.ErrNotFound):
		writeErrors(w, format, notFound("service_request_id", "segnalazione "+id+" sconosciuta", "service request "+id+" not found"))
	case err != nil:
		s.internal(w, format, err)
	default:
		out := []request{s.view(rep)}
		write(w, format, http.StatusOK, out, requestsXML{Requests: out})
	}
}

// handleToken serves GET tokens/{token}: the service_request_id the token
// stands for.
func (s *site) handleToken(w http.ResponseWriter, r *http.Request) {
	tok, format := splitFormat(r.PathValue("file"))
	if format == "" {
		writeErrors(w, "json", errFormat)
		return
	}
	rep, err := s.opts.Store.ByToken(r.Context(), s.t.ID, tok)
	switch {
	case errors.Is(err, reports.ErrNotFound):
		writeErrors(w, format, notFound("token", "token sconosciuto", "token not found"))
	case err != nil:
		s.internal(w, format, err)
	default:
		out := []tokenAnswer{{ServiceRequestID: rep.ID, Token: tok}}
		write(w, format, http.StatusOK, out, tokensXML{Requests: out})
	}
}

// handleMedia serves a report's photo, as stored (re-encoded, without
// metadata).
func (s *site) handleMedia(w http.ResponseWriter, r *http.Request) {
	m, err := s.opts.Store.Media(r.Context(), s.t.ID, r.PathValue("id"))
	switch {
	case errors.Is(err, reports.ErrNotFound):
		http.NotFound(w, r)
	case err != nil:
		s.opts.Logger.Error("open311: reading a photo", "tenant", s.t.ID, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
	default:
		w.Header().Set("Content-Type", m.ContentType)
		w.Header().Set("Content-Length", strconv.Itoa(len(m.Data)))
		w.Header().Set("Cache-Control", "public, max-age=86400, immutable")
		w.Header().Set("Content-Security-Policy", "default-src 'none'")
		_, _ = w.Write(m.Data)
	}
}

func (s *site) internal(w http.ResponseWriter, format string, err error) {
	s.opts.Logger.Error("open311", "tenant", s.t.ID, "err", err)
	writeErrors(w, format, problem{http.StatusInternalServerError, "", "errore interno, riprovare più tardi", "internal error, try again later"})
}
