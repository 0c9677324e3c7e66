// Package crm holds the connector kinds that forward citizen reports to a
// comune's CRM or ticketing system and read back their tickets' state:
// "rest", a generic REST API driven by a field and status mapping, and
// "open311", a CRM that already speaks Open311 GeoReport v2. Both register
// themselves in reports.CRMs with their config schemas.
package crm

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ponte-pa/ponte/connectors/channels"
	"github.com/ponte-pa/ponte/connectors/failure"
	"github.com/ponte-pa/ponte/workflows/reports"
)

// Kind names, as tenant configs write them.
const (
	KindREST    = "rest"
	KindOpen311 = "open311"
)

const defaultTimeout = 15 * time.Second

// maxAnswer bounds what is read of a CRM's answer.
const maxAnswer = 1 << 20

// do sends req and returns the 2xx answer's body. Errors are
// *channels.HTTPError, classified once: no answer after the request may
// have been written → ambiguous; 408, 429, 5xx → retryable (with the
// Retry-After hint); other 4xx → permanent. okStatus, when set, accepts
// another status as an answer to read (a 409 carrying the existing ticket).
func do(hc *http.Client, kind, op string, req *http.Request, okStatus ...int) ([]byte, int, error) {
	resp, err := hc.Do(req)
	if err != nil {
		return nil, 0, noAnswer(&channels.HTTPError{Channel: kind, Op: op, Err: err, Ambiguous: true}, req)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, resp.StatusCode, noAnswer(&channels.HTTPError{Channel: kind, Op: op, Status: resp.StatusCode, Err: fmt.Errorf("reading the answer: %w", err), Ambiguous: true}, req)
	}
	if resp.StatusCode/100 == 2 {
		return body, resp.StatusCode, nil
	}
	for _, s := range okStatus {
		if resp.StatusCode == s {
			return body, resp.StatusCode, nil
		}
	}
	e := &channels.HTTPError{Channel: kind, Op: op, Status: resp.StatusCode,
		Err: fmt.Errorf("%s %s answered %s: %s", req.Method, redact(req), resp.Status, snippet(body))}
	if d, ok := failure.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
		e.RetryAfter = d
	}
	return nil, resp.StatusCode, e
}

// noAnswer classifies a request that got no (readable) answer: a POST
// may have been applied (ambiguous: the CRM finds it again by the client
// reference); a GET changes nothing, so it is simply retryable.
func noAnswer(e *channels.HTTPError, req *http.Request) error {
	if req.Method == http.MethodGet {
		if req.Context().Err() != nil {
			return failure.Mark(failure.Permanent, e)
		}
		e.Ambiguous = false
		return failure.Mark(failure.Retryable, e)
	}
	return e
}

// redact is the request's URL without its query (an api_key may be there).
func redact(req *http.Request) string {
	u := *req.URL
	u.RawQuery = ""
	return u.String()
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

func newRequest(ctx context.Context, method, url string, body []byte) (*http.Request, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	return http.NewRequestWithContext(ctx, method, url, r)
}

func parseTimeout(s string) (time.Duration, error) {
	if s == "" {
		return defaultTimeout, nil
	}
	return time.ParseDuration(s)
}

// field is the value of a report field as a CRM is given it: a string, a
// number (lat, long) or a list (an attribute with several values); false
// when the report has none.
func field(r *reports.Report, name string) (any, bool) {
	if code, ok := strings.CutPrefix(name, "attribute."); ok {
		vs := r.Attributes[code]
		switch len(vs) {
		case 0:
			return nil, false
		case 1:
			return vs[0], true
		}
		return vs, true
	}
	var v string
	switch name {
	case "id":
		v = r.ID
	case "tenant":
		v = r.Tenant
	case "serviceCode":
		v = r.ServiceCode
	case "serviceName":
		v = r.ServiceName
	case "description":
		v = r.Description
	case "address":
		v = r.Address
	case "addressId":
		v = r.AddressID
	case "zipcode":
		v = r.Zipcode
	case "lat", "long":
		if !r.HasLocation {
			return nil, false
		}
		if name == "lat" {
			return r.Lat, true
		}
		return r.Long, true
	case "mediaUrl":
		v = r.MediaURL
	case "requested":
		if r.Requested.IsZero() {
			return nil, false
		}
		v = r.Requested.UTC().Format(time.RFC3339)
	case "email":
		v = r.Reporter.Email
	case "phone":
		v = r.Reporter.Phone
	case "firstName":
		v = r.Reporter.FirstName
	case "lastName":
		v = r.Reporter.LastName
	case "fiscalCode":
		v = r.Reporter.FiscalCode
	}
	return v, v != ""
}

// setPath puts v at a dotted path of doc; it fails when the path crosses
// a value that is not an object (two mappings that collide).
func setPath(doc map[string]any, path string, v any) error {
	parts := strings.Split(path, ".")
	m := doc
	for i, p := range parts[:len(parts)-1] {
		next, ok := m[p]
		if !ok {
			n := map[string]any{}
			m[p], m = n, n
			continue
		}
		if m, ok = next.(map[string]any); !ok {
			return fmt.Errorf("%s is already a value, not an object", strings.Join(parts[:i+1], "."))
		}
	}
	last := parts[len(parts)-1]
	if _, dup := m[last]; dup {
		return fmt.Errorf("%s is set twice", path)
	}
	m[last] = v
	return nil
}

// getPath reads a dotted path of a decoded JSON answer as a string (a
// number as written); false when it is missing, null or an object.
func getPath(doc any, path string) (string, bool) {
	for _, p := range strings.Split(path, ".") {
		m, ok := doc.(map[string]any)
		if !ok {
			return "", false
		}
		if doc, ok = m[p]; !ok {
			return "", false
		}
	}
	switch v := doc.(type) {
	case string:
		return v, true
	case json.Number:
		return v.String(), true
	case bool:
		return strconv.FormatBool(v), true
	}
	return "", false
}

func decode(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}
