package open311

import "encoding/xml"

// The wire forms of GeoReport v2 (http://wiki.open311.org/GeoReport_v2),
// one struct per resource: json tags give the JSON form, xml tags the XML
// form with the spec's element names. Lists are JSON arrays and, in XML,
// the spec's wrapper element (services, service_requests, errors) around
// one element per item.

// discovery is the Service Discovery document
// (http://wiki.open311.org/Service_Discovery): its URL ends in /discovery,
// in both xml and json.
type discovery struct {
	XMLName    xml.Name   `json:"-" xml:"discovery"`
	Changeset  string     `json:"changeset" xml:"changeset"`
	Contact    string     `json:"contact" xml:"contact"`
	KeyService string     `json:"key_service" xml:"key_service"`
	Endpoints  []endpoint `json:"endpoints" xml:"endpoints>endpoint"`
}

type endpoint struct {
	Specification string   `json:"specification" xml:"specification"`
	URL           string   `json:"url" xml:"url"`
	Changeset     string   `json:"changeset" xml:"changeset"`
	Type          string   `json:"type" xml:"type"`
	Formats       []string `json:"formats" xml:"formats>format"`
}

// service is an item of GET services: keywords are comma separated,
// metadata says whether GET services/{code} has attributes, type is
// realtime (a service_request_id at once), batch or blackbox.
type service struct {
	ServiceCode string `json:"service_code" xml:"service_code"`
	ServiceName string `json:"service_name" xml:"service_name"`
	Description string `json:"description" xml:"description"`
	Metadata    bool   `json:"metadata" xml:"metadata"`
	Type        string `json:"type" xml:"type"`
	Keywords    string `json:"keywords" xml:"keywords"`
	Group       string `json:"group" xml:"group"`
}

type servicesXML struct {
	XMLName  xml.Name  `xml:"services"`
	Services []service `xml:"service"`
}

// serviceDefinition is GET services/{service_code}.
type serviceDefinition struct {
	XMLName     xml.Name    `json:"-" xml:"service_definition"`
	ServiceCode string      `json:"service_code" xml:"service_code"`
	Attributes  []attribute `json:"attributes" xml:"attributes>attribute"`
}

type attribute struct {
	Variable            bool    `json:"variable" xml:"variable"`
	Code                string  `json:"code" xml:"code"`
	Datatype            string  `json:"datatype" xml:"datatype"`
	Required            bool    `json:"required" xml:"required"`
	DatatypeDescription string  `json:"datatype_description" xml:"datatype_description"`
	Order               int     `json:"order" xml:"order"`
	Description         string  `json:"description" xml:"description"`
	Values              []value `json:"values,omitempty" xml:"values>value,omitempty"`
}

type value struct {
	Key  string `json:"key" xml:"key"`
	Name string `json:"name" xml:"name"`
}

// created is the answer to POST requests: the service_request_id at once
// (Ponte's services are realtime) and the token as well, so that clients
// written for batch servers can use GET tokens/{token}.
type created struct {
	ServiceRequestID string `json:"service_request_id" xml:"service_request_id"`
	Token            string `json:"token,omitempty" xml:"token,omitempty"`
	ServiceNotice    string `json:"service_notice" xml:"service_notice"`
	AccountID        string `json:"account_id,omitempty" xml:"account_id,omitempty"`
}

type createdXML struct {
	XMLName  xml.Name  `xml:"service_requests"`
	Requests []created `xml:"request"`
}

// request is an item of GET requests and GET requests/{id}: the public
// view of a report, with no data about who filed it.
type request struct {
	ServiceRequestID  string   `json:"service_request_id" xml:"service_request_id"`
	Status            string   `json:"status" xml:"status"`
	StatusNotes       string   `json:"status_notes" xml:"status_notes"`
	ServiceName       string   `json:"service_name" xml:"service_name"`
	ServiceCode       string   `json:"service_code" xml:"service_code"`
	Description       string   `json:"description" xml:"description"`
	AgencyResponsible string   `json:"agency_responsible" xml:"agency_responsible"`
	ServiceNotice     string   `json:"service_notice" xml:"service_notice"`
	RequestedDatetime string   `json:"requested_datetime" xml:"requested_datetime"`
	UpdatedDatetime   string   `json:"updated_datetime" xml:"updated_datetime"`
	ExpectedDatetime  string   `json:"expected_datetime,omitempty" xml:"expected_datetime,omitempty"`
	Address           string   `json:"address" xml:"address"`
	AddressID         string   `json:"address_id,omitempty" xml:"address_id,omitempty"`
	Zipcode           string   `json:"zipcode,omitempty" xml:"zipcode,omitempty"`
	Lat               *float64 `json:"lat,omitempty" xml:"lat,omitempty"`
	Long              *float64 `json:"long,omitempty" xml:"long,omitempty"`
	MediaURL          string   `json:"media_url,omitempty" xml:"media_url,omitempty"`
	// Ponte's detailed state, beyond the spec (clients ignore what they
	// do not know).
	State string `json:"ponte_state,omitempty" xml:"ponte_state,omitempty"`
}

type requestsXML struct {
	XMLName  xml.Name  `xml:"service_requests"`
	Requests []request `xml:"request"`
}

// tokenAnswer is GET tokens/{token}.
type tokenAnswer struct {
	ServiceRequestID string `json:"service_request_id" xml:"service_request_id"`
	Token            string `json:"token" xml:"token"`
}

type tokensXML struct {
	XMLName  xml.Name      `xml:"service_requests"`
	Requests []tokenAnswer `xml:"request"`
}

// apiError is one item of the spec's error answer: the HTTP status as
// code and what is wrong.
type apiError struct {
	Code        int    `json:"code" xml:"code"`
	Description string `json:"description" xml:"description"`
}

type errorsXML struct {
	XMLName xml.Name   `xml:"errors"`
	Errors  []apiError `xml:"error"`
}
