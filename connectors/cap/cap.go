// Package cap reads and writes alerts in the OASIS Common Alerting Protocol
// 1.2 (CAP), the format of the Italian and European alerting systems
// (IT-Alert, MeteoAlarm), and maps the Italian civil-protection
// conventions — colour code, risk, operational phase — onto it. ReadFeed
// reads the Atom and RSS feeds alert systems publish CAP alerts in, and
// Matches tells whether an alert concerns a comune's zones or ISTAT codes.
//
// Parse is strict where the standard is (CAP 1.2, OASIS Standard, 1 July
// 2010, §3.2): required elements, enumerations, the dateTime form, polygon
// and circle syntax, references on Update and Cancel. Input is bounded and
// no DTD is accepted, so a hostile feed cannot make it expand entities or
// read without limit.
package cap

import (
	"encoding/xml"
	"time"
)

// Namespace is CAP 1.2's XML namespace; an alert in any other is refused.
const Namespace = "urn:oasis:names:tc:emergency:cap:1.2"

// MaxSize bounds the bytes Parse reads: a CAP message with embedded
// resources (derefUri) larger than this is not an alert a comune relays.
const MaxSize = 4 << 20

// Alert is a CAP <alert> (§3.2.1).
type Alert struct {
	XMLName     xml.Name `xml:"urn:oasis:names:tc:emergency:cap:1.2 alert"`
	Identifier  string   `xml:"identifier"`
	Sender      string   `xml:"sender"`
	Sent        Time     `xml:"sent"`
	Status      string   `xml:"status"`
	MsgType     string   `xml:"msgType"`
	Source      string   `xml:"source,omitempty"`
	Scope       string   `xml:"scope"`
	Restriction string   `xml:"restriction,omitempty"`
	Addresses   string   `xml:"addresses,omitempty"`
	Code        []string `xml:"code,omitempty"`
	Note        string   `xml:"note,omitempty"`
	// References lists earlier messages as "sender,identifier,sent",
	// separated by spaces; Update and Cancel need it.
	References string `xml:"references,omitempty"`
	Incidents  string `xml:"incidents,omitempty"`
	Info       []Info `xml:"info"`
}

// Info is a CAP <info> block, one per language (§3.2.2).
type Info struct {
	Language     string      `xml:"language,omitempty"` // RFC 3066; "en-US" when absent
	Category     []string    `xml:"category"`
	Event        string      `xml:"event"`
	ResponseType []string    `xml:"responseType,omitempty"`
	Urgency      string      `xml:"urgency"`
	Severity     string      `xml:"severity"`
	Certainty    string      `xml:"certainty"`
	Audience     string      `xml:"audience,omitempty"`
	EventCode    []ValuePair `xml:"eventCode,omitempty"`
	Effective    *Time       `xml:"effective,omitempty"`
	Onset        *Time       `xml:"onset,omitempty"`
	Expires      *Time       `xml:"expires,omitempty"`
	SenderName   string      `xml:"senderName,omitempty"`
	Headline     string      `xml:"headline,omitempty"`
	Description  string      `xml:"description,omitempty"`
	Instruction  string      `xml:"instruction,omitempty"`
	Web          string      `xml:"web,omitempty"`
	Contact      string      `xml:"contact,omitempty"`
	Parameter    []ValuePair `xml:"parameter,omitempty"`
	Resource     []Resource  `xml:"resource,omitempty"`
	Area         []Area      `xml:"area,omitempty"`
}

// ValuePair is an eventCode, parameter or geocode.
type ValuePair struct {
	ValueName string `xml:"valueName"`
	Value     string `xml:"value"`
}

// Resource is a CAP <resource> (§3.2.3).
type Resource struct {
	ResourceDesc string `xml:"resourceDesc"`
	MimeType     string `xml:"mimeType"`
	Size         int64  `xml:"size,omitempty"`
	URI          string `xml:"uri,omitempty"`
	DerefURI     string `xml:"derefUri,omitempty"`
	Digest       string `xml:"digest,omitempty"`
}

// Area is a CAP <area> (§3.2.4). Polygons and circles are in WGS 84.
type Area struct {
	AreaDesc string      `xml:"areaDesc"`
	Polygon  []string    `xml:"polygon,omitempty"`
	Circle   []string    `xml:"circle,omitempty"`
	Geocode  []ValuePair `xml:"geocode,omitempty"`
	Altitude string      `xml:"altitude,omitempty"`
	Ceiling  string      `xml:"ceiling,omitempty"`
}

// Time is a CAP dateTime: "2002-05-24T16:49:00-07:00", with an explicit
// offset ("-00:00" for UTC) and no fractional seconds; the standard
// (§3.3.2) forbids "Z".
type Time struct{ time.Time }

// TimeLayout is how CAP writes a dateTime.
const TimeLayout = "2006-01-02T15:04:05-07:00"

// MarshalText writes t as CAP does; UTC is written "-00:00".
func (t Time) MarshalText() ([]byte, error) {
	s := t.Format(TimeLayout)
	if _, off := t.Zone(); off == 0 {
		s = s[:len(s)-6] + "-00:00"
	}
	return []byte(s), nil
}

// UnmarshalText reads a CAP dateTime (see Time).
func (t *Time) UnmarshalText(b []byte) error {
	v, err := parseTime(string(b))
	if err != nil {
		return err
	}
	t.Time = v
	return nil
}
