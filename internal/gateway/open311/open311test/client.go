// Package open311test is a minimal Open311 GeoReport v2 client written from
// the specification alone (http://wiki.open311.org/GeoReport_v2 and
// http://wiki.open311.org/Service_Discovery), to test a server for
// conformance. It imports only the standard library and shares no code or
// type with Ponte's server (a test checks it): a mistake in the server's
// reading of the spec cannot hide behind a shared type.
package open311test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Client talks GeoReport v2 to the endpoint at Base (no trailing slash), in
// Format "json" or "xml".
type Client struct {
	Base   string
	Format string
	APIKey string
	HTTP   *http.Client // default http.DefaultClient
}

// Service is an item of GET services.
type Service struct {
	ServiceCode string `json:"service_code" xml:"service_code"`
	ServiceName string `json:"service_name" xml:"service_name"`
	Description string `json:"description" xml:"description"`
	Metadata    bool   `json:"metadata" xml:"metadata"`
	Type        string `json:"type" xml:"type"`
	Keywords    string `json:"keywords" xml:"keywords"`
	Group       string `json:"group" xml:"group"`
}

// Definition is GET services/{service_code}.
type Definition struct {
	ServiceCode string      `json:"service_code" xml:"service_code"`
	Attributes  []Attribute `json:"attributes" xml:"attributes>attribute"`
}

// Attribute is a question of a service definition.
type Attribute struct {
	Variable            bool   `json:"variable" xml:"variable"`
	Code                string `json:"code" xml:"code"`
	Datatype            string `json:"datatype" xml:"datatype"`
	Required            bool   `json:"required" xml:"required"`
	DatatypeDescription string `json:"datatype_description" xml:"datatype_description"`
	Order               int    `json:"order" xml:"order"`
	Description         string `json:"description" xml:"description"`
	Values              []struct {
		Key  string `json:"key" xml:"key"`
		Name string `json:"name" xml:"name"`
	} `json:"values" xml:"values>value"`
}

// Request is a service request as GET requests returns it.
type Request struct {
	ServiceRequestID  string  `json:"service_request_id" xml:"service_request_id"`
	Status            string  `json:"status" xml:"status"`
	StatusNotes       string  `json:"status_notes" xml:"status_notes"`
	ServiceName       string  `json:"service_name" xml:"service_name"`
	ServiceCode       string  `json:"service_code" xml:"service_code"`
	Description       string  `json:"description" xml:"description"`
	AgencyResponsible string  `json:"agency_responsible" xml:"agency_responsible"`
	ServiceNotice     string  `json:"service_notice" xml:"service_notice"`
	RequestedDatetime string  `json:"requested_datetime" xml:"requested_datetime"`
	UpdatedDatetime   string  `json:"updated_datetime" xml:"updated_datetime"`
	ExpectedDatetime  string  `json:"expected_datetime" xml:"expected_datetime"`
	Address           string  `json:"address" xml:"address"`
	AddressID         string  `json:"address_id" xml:"address_id"`
	Zipcode           string  `json:"zipcode" xml:"zipcode"`
	Lat               float64 `json:"lat" xml:"lat"`
	Long              float64 `json:"long" xml:"long"`
	MediaURL          string  `json:"media_url" xml:"media_url"`
}

// Created is the answer to POST requests: an id, or a token to ask for it.
type Created struct {
	ServiceRequestID string `json:"service_request_id" xml:"service_request_id"`
	Token            string `json:"token" xml:"token"`
	ServiceNotice    string `json:"service_notice" xml:"service_notice"`
	AccountID        string `json:"account_id" xml:"account_id"`
}

// Discovery is the service discovery document.
type Discovery struct {
	Changeset  string `json:"changeset" xml:"changeset"`
	Contact    string `json:"contact" xml:"contact"`
	KeyService string `json:"key_service" xml:"key_service"`
	Endpoints  []struct {
		Specification string   `json:"specification" xml:"specification"`
		URL           string   `json:"url" xml:"url"`
		Changeset     string   `json:"changeset" xml:"changeset"`
		Type          string   `json:"type" xml:"type"`
		Formats       []string `json:"formats" xml:"formats>format"`
	} `json:"endpoints" xml:"endpoints>endpoint"`
}

// Error is the spec's error answer: the HTTP status and every
// {code, description} the server sent.
type Error struct {
	Status int
	Errors []struct {
		Code        int    `json:"code" xml:"code"`
		Description string `json:"description" xml:"description"`
	}
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "open311: HTTP %d", e.Status)
	for _, x := range e.Errors {
		fmt.Fprintf(&b, "; %d %s", x.Code, x.Description)
	}
	return b.String()
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

// Discover reads the discovery document (its URL ends in /discovery).
func (c *Client) Discover(ctx context.Context) (*Discovery, error) {
	var d Discovery
	return &d, c.get(ctx, "discovery", nil, &d, "discovery", nil)
}

// Services lists the services.
func (c *Client) Services(ctx context.Context) ([]Service, error) {
	var x struct {
		Items []Service `xml:"service"`
	}
	var j []Service
	err := c.get(ctx, "services", nil, &j, "services", &x)
	if c.Format == "xml" {
		j = x.Items
	}
	return j, err
}

// Definition reads a service definition.
func (c *Client) Definition(ctx context.Context, code string) (*Definition, error) {
	var d Definition
	return &d, c.get(ctx, "services/"+url.PathEscape(code), nil, &d, "service_definition", nil)
}

// Requests lists requests; q holds the spec's filters.
func (c *Client) Requests(ctx context.Context, q url.Values) ([]Request, error) {
	return c.requests(ctx, "requests", q)
}

// Request reads one request (the spec answers with a list of one).
func (c *Client) Request(ctx context.Context, id string) ([]Request, error) {
	return c.requests(ctx, "requests/"+url.PathEscape(id), nil)
}

func (c *Client) requests(ctx context.Context, path string, q url.Values) ([]Request, error) {
	var x struct {
		Items []Request `xml:"request"`
	}
	var j []Request
	err := c.get(ctx, path, q, &j, "service_requests", &x)
	if c.Format == "xml" {
		j = x.Items
	}
	return j, err
}

// Token asks which service_request_id a token stands for.
func (c *Client) Token(ctx context.Context, token string) (string, error) {
	type item struct {
		ID    string `json:"service_request_id" xml:"service_request_id"`
		Token string `json:"token" xml:"token"`
	}
	var x struct {
		Items []item `xml:"request"`
	}
	var j []item
	err := c.get(ctx, "tokens/"+url.PathEscape(token), nil, &j, "service_requests", &x)
	if c.Format == "xml" {
		j = x.Items
	}
	if err != nil {
		return "", err
	}
	if len(j) != 1 {
		return "", fmt.Errorf("open311: tokens answered %d items", len(j))
	}
	return j[0].ID, nil
}

// Post files a request: the spec's fields (service_code, lat, long,
// address_string, email, description, attribute[code]…) in v; api_key is
// added.
func (c *Client) Post(ctx context.Context, v url.Values) (*Created, error) {
	v = cloneValues(v)
	v.Set("api_key", c.APIKey)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Base+"/requests."+c.Format, strings.NewReader(v.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var x struct {
		Items []Created `xml:"request"`
	}
	var j []Created
	if err := c.do(req, &j, "service_requests", &x); err != nil {
		return nil, err
	}
	if c.Format == "xml" {
		j = x.Items
	}
	if len(j) != 1 {
		return nil, fmt.Errorf("open311: POST requests answered %d items", len(j))
	}
	return &j[0], nil
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

func (c *Client) get(ctx context.Context, path string, q url.Values, jsonV any, root string, xmlV any) error {
	u := c.Base + "/" + path + "." + c.Format
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	return c.do(req, jsonV, root, xmlV)
}

// do sends req and decodes a 2xx answer into jsonV (JSON) or xmlV, or
// jsonV when nil (XML, whose root element must be root); any other status
// is an *Error in the spec's error format. The spec requires UTF-8 and, for
// XML, the declaration before the root element.
func (c *Client) do(req *http.Request, jsonV any, root string, xmlV any) error {
	resp, err := c.http().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	ct := resp.Header.Get("Content-Type")
	if c.Format == "xml" {
		if !strings.HasPrefix(ct, "text/xml") && !strings.HasPrefix(ct, "application/xml") {
			return fmt.Errorf("open311: XML answer with Content-Type %q", ct)
		}
		if !bytes.HasPrefix(body, []byte(`<?xml version="1.0" encoding="UTF-8"?>`)) {
			return fmt.Errorf("open311: XML answer without the UTF-8 declaration: %.80s", body)
		}
	} else if !strings.HasPrefix(ct, "application/json") {
		return fmt.Errorf("open311: JSON answer with Content-Type %q", ct)
	}
	if resp.StatusCode/100 != 2 {
		e := &Error{Status: resp.StatusCode}
		if c.Format == "xml" {
			var x struct {
				XMLName xml.Name
				Errors  []struct {
					Code        int    `xml:"code"`
					Description string `xml:"description"`
				} `xml:"error"`
			}
			if err := xml.Unmarshal(body, &x); err != nil || x.XMLName.Local != "errors" {
				return fmt.Errorf("open311: HTTP %d without the errors element: %.200s", resp.StatusCode, body)
			}
			for _, y := range x.Errors {
				e.Errors = append(e.Errors, struct {
					Code        int    `json:"code" xml:"code"`
					Description string `json:"description" xml:"description"`
				}{y.Code, y.Description})
			}
		} else if err := json.Unmarshal(body, &e.Errors); err != nil {
			return fmt.Errorf("open311: HTTP %d without the error array: %.200s", resp.StatusCode, body)
		}
		return e
	}
	if c.Format != "xml" {
		return json.Unmarshal(body, jsonV)
	}
	if xmlV == nil {
		xmlV = jsonV
	}
	var probe struct{ XMLName xml.Name }
	if err := xml.Unmarshal(body, &probe); err != nil {
		return err
	}
	if probe.XMLName.Local != root {
		return fmt.Errorf("open311: root element %q, want %q", probe.XMLName.Local, root)
	}
	return xml.Unmarshal(body, xmlV)
}
