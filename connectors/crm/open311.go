package crm

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ponte-pa/ponte/connectors/channels"
	"github.com/ponte-pa/ponte/connectors/failure"
	"github.com/ponte-pa/ponte/connectors/registry"
	"github.com/ponte-pa/ponte/workflows/reports"
)

// Open311Config is an "open311" CRM in a tenant config
// (crm-open311.schema.json).
type Open311Config struct {
	Kind string `json:"kind"`
	URL  string `json:"url"`
	// APIKey is a secret reference (env:NAME or file:path).
	APIKey         string            `json:"apiKey"`
	JurisdictionID string            `json:"jurisdictionId,omitempty"`
	ServiceCodes   map[string]string `json:"serviceCodes,omitempty"`
	// ReferenceAttribute, when set, carries r.ID as attribute[code].
	ReferenceAttribute string        `json:"referenceAttribute,omitempty"`
	Notes              []NoteRule    `json:"notes,omitempty"`
	OpenState          reports.State `json:"openState,omitempty"`
	TokenPolls         *int          `json:"tokenPolls,omitempty"`
	Timeout            string        `json:"timeout,omitempty"`
}

// NoteRule gives State to a request whose status_notes contain Match
// (case-insensitive).
type NoteRule struct {
	Match string        `json:"match"`
	State reports.State `json:"state"`
}

// TokenPrefix starts a ticket that is still the server's token: the
// server had not assigned the request an id when Forward returned, and
// Status asks tokens/{token} for it each time.
const TokenPrefix = "token:"

// OpenOpen311 builds an "open311" CRM from a config that passed its schema.
func OpenOpen311(raw json.RawMessage, env registry.Env) (*Open311, error) {
	var c Open311Config
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	key, err := env.Secret(c.APIKey)
	if err != nil {
		return nil, fmt.Errorf("crm open311 %s: apiKey: %w", c.URL, err)
	}
	timeout, err := parseTimeout(c.Timeout)
	if err != nil {
		return nil, fmt.Errorf("crm open311 %s: timeout: %w", c.URL, err)
	}
	polls := 3
	if c.TokenPolls != nil {
		polls = *c.TokenPolls
	}
	return &Open311{cfg: c, key: key, base: strings.TrimSuffix(c.URL, "/"), timeout: timeout, polls: polls,
		PollEvery: time.Second, http: cmp.Or(env.HTTP, http.DefaultClient)}, nil
}

// Open311 is a CRM that speaks Open311 GeoReport v2.
type Open311 struct {
	cfg     Open311Config
	key     string
	base    string
	timeout time.Duration
	polls   int
	// PollEvery is the wait between reads of tokens/{token}.
	PollEvery time.Duration
	http      *http.Client
}

var _ reports.CRM = (*Open311)(nil)

// Kind implements reports.CRM.
func (*Open311) Kind() string { return KindOpen311 }

// open311Answer is one element of a requests.json or tokens answer, and
// of an error answer ([{code, description}]).
type open311Answer struct {
	ServiceRequestID json.RawMessage `json:"service_request_id"`
	Token            string          `json:"token"`
	Status           string          `json:"status"`
	StatusNotes      string          `json:"status_notes"`
	Code             json.RawMessage `json:"code"`
	Description      string          `json:"description"`
}

// id reads service_request_id, which servers write as a string or a number.
func (a open311Answer) id() string {
	var s string
	if json.Unmarshal(a.ServiceRequestID, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(a.ServiceRequestID, &n) == nil {
		return n.String()
	}
	return ""
}

// Form is the POST requests.json body for r (without the api_key).
func (c *Open311) Form(r *reports.Report) url.Values {
	f := url.Values{}
	f.Set("service_code", cmp.Or(c.cfg.ServiceCodes[r.ServiceCode], r.ServiceCode))
	if c.cfg.JurisdictionID != "" {
		f.Set("jurisdiction_id", c.cfg.JurisdictionID)
	}
	if r.HasLocation {
		f.Set("lat", strconv.FormatFloat(r.Lat, 'f', -1, 64))
		f.Set("long", strconv.FormatFloat(r.Long, 'f', -1, 64))
	}
	set := func(k, v string) {
		if v != "" {
			f.Set(k, v)
		}
	}
	set("address_string", r.Address)
	set("address_id", r.AddressID)
	set("description", r.Description)
	set("media_url", r.MediaURL)
	set("email", r.Reporter.Email)
	set("first_name", r.Reporter.FirstName)
	set("last_name", r.Reporter.LastName)
	set("phone", r.Reporter.Phone)
	set("device_id", r.Reporter.DeviceID)
	set("account_id", r.Reporter.AccountID)
	for code, vs := range r.Attributes {
		if code == c.cfg.ReferenceAttribute {
			continue
		}
		if len(vs) == 1 {
			f.Set("attribute["+code+"]", vs[0])
			continue
		}
		for _, v := range vs {
			f.Add("attribute["+code+"][]", v)
		}
	}
	if c.cfg.ReferenceAttribute != "" {
		f.Set("attribute["+c.cfg.ReferenceAttribute+"]", r.ID)
	}
	return f
}

// Forward implements reports.CRM: POST requests.json. A server that
// answers with a token only is asked tokens/{token} for the id a few
// times; if it still has none, the ticket is "token:<token>".
func (c *Open311) Forward(ctx context.Context, r *reports.Report) (string, error) {
	if c.cfg.ReferenceAttribute != "" && r.ID == "" {
		return "", failure.Permanentf("crm open311: a report without an id cannot be forwarded (it is the client reference)")
	}
	f := c.Form(r)
	f.Set("api_key", c.key)
	ans, err := c.call(ctx, http.MethodPost, "/requests.json", "forward "+r.ID, []byte(f.Encode()))
	if err != nil {
		return "", err
	}
	if id := ans.id(); id != "" {
		return id, nil
	}
	if ans.Token == "" {
		return "", &channels.HTTPError{Channel: "crm open311", Op: "forward " + r.ID, Status: http.StatusOK, Ambiguous: true,
			Err: errors.New("the answer has neither service_request_id nor token")}
	}
	for i := 0; i < c.polls; i++ {
		select {
		case <-ctx.Done():
			return TokenPrefix + ans.Token, nil
		case <-time.After(c.PollEvery):
		}
		id, err := c.byToken(ctx, ans.Token)
		if err != nil || id != "" {
			if err != nil {
				// Filed: later status reads resolve the token.
				return TokenPrefix + ans.Token, nil
			}
			return id, nil
		}
	}
	return TokenPrefix + ans.Token, nil
}

// byToken asks tokens/{token} for the request's id ("" while it has none).
func (c *Open311) byToken(ctx context.Context, token string) (string, error) {
	ans, err := c.call(ctx, http.MethodGet, "/tokens/"+url.PathEscape(token)+".json", "token "+token, nil)
	if err != nil {
		var he *channels.HTTPError
		if errors.As(err, &he) && he.Status == http.StatusNotFound {
			return "", nil // the spec's answer while the id is not ready
		}
		return "", err
	}
	return ans.id(), nil
}

// Status implements reports.CRM: GET requests/{id}.json; closed is
// resolved and open is openState, unless a note rule matches
// status_notes.
func (c *Open311) Status(ctx context.Context, ticket string) (reports.State, string, error) {
	id := ticket
	if tok, ok := strings.CutPrefix(ticket, TokenPrefix); ok {
		var err error
		if id, err = c.byToken(ctx, tok); err != nil {
			return "", "", err
		}
		if id == "" {
			return reports.StateForwarded, "", nil
		}
	}
	ans, err := c.call(ctx, http.MethodGet, "/requests/"+url.PathEscape(id)+".json", "status "+id, nil)
	if err != nil {
		return "", "", err
	}
	low := strings.ToLower(ans.StatusNotes)
	for _, n := range c.cfg.Notes {
		if strings.Contains(low, strings.ToLower(n.Match)) {
			return n.State, ans.StatusNotes, nil
		}
	}
	switch strings.ToLower(ans.Status) {
	case "closed":
		return reports.StateResolved, ans.StatusNotes, nil
	case "open":
		return cmp.Or(c.cfg.OpenState, reports.StateForwarded), ans.StatusNotes, nil
	}
	return "", "", failure.Permanentf("crm open311: request %s: status %q is neither open nor closed", id, ans.Status)
}

// call makes one request and reads the first element of the answer's
// array; an Open311 error array becomes the error's text.
func (c *Open311) call(ctx context.Context, method, path, op string, form []byte) (open311Answer, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	u := c.base + path
	if method == http.MethodGet {
		q := url.Values{}
		if c.cfg.JurisdictionID != "" {
			q.Set("jurisdiction_id", c.cfg.JurisdictionID)
		}
		if len(q) > 0 {
			u += "?" + q.Encode()
		}
	}
	req, err := newRequest(ctx, method, u, form)
	if err != nil {
		return open311Answer{}, failure.Mark(failure.Permanent, err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Accept", "application/json")
	body, _, err := do(c.http, "crm open311", op, req)
	if err != nil {
		return open311Answer{}, err
	}
	var list []open311Answer
	if err := json.Unmarshal(body, &list); err != nil || len(list) == 0 {
		return open311Answer{}, &channels.HTTPError{Channel: "crm open311", Op: op, Status: http.StatusOK, Ambiguous: method != http.MethodGet,
			Err: fmt.Errorf("the answer is not a GeoReport v2 array: %s", snippet(body))}
	}
	return list[0], nil
}
