// Package pagopa is the connector to pagoPA: a client for the GPD (Gestione
// Posizioni Debitorie) external API v1 and its receipts, the normalized
// Receipt used by reconciliation, notice number (NAV/IUV) logic and a durable
// IUV allocator. Subpackages render payment notices (notice) and serve the
// EC SOAP endpoints the Nodo calls (nodo).
package pagopa

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/ponte-pa/ponte/internal/rome"
)

// Position statuses (PaymentPositionModel.status).
const (
	StatusDraft         = "DRAFT"
	StatusPublished     = "PUBLISHED"
	StatusValid         = "VALID"
	StatusInvalid       = "INVALID"
	StatusExpired       = "EXPIRED"
	StatusPartiallyPaid = "PARTIALLY_PAID"
	StatusPaid          = "PAID"
	StatusReported      = "REPORTED"
)

// Payment option statuses (PaymentOptionModelResponse.status).
const (
	OptionUnpaid            = "PO_UNPAID"
	OptionPaid              = "PO_PAID"
	OptionPartiallyReported = "PO_PARTIALLY_REPORTED"
	OptionReported          = "PO_REPORTED"
)

// Debtor types.
const (
	TypePerson = "F" // persona fisica
	TypeLegal  = "G" // persona giuridica
)

// PaymentPosition is a GPD debt position (PaymentPositionModel; when read back,
// PaymentPositionModelBaseResponse). Fields marked read-only are filled by the
// server and never sent.
type PaymentPosition struct {
	IUPD            string     `json:"iupd"`
	Type            string     `json:"type"`
	PayStandIn      *bool      `json:"payStandIn,omitempty"`
	FiscalCode      string     `json:"fiscalCode"`
	FullName        string     `json:"fullName"`
	StreetName      string     `json:"streetName,omitempty"`
	CivicNumber     string     `json:"civicNumber,omitempty"`
	PostalCode      string     `json:"postalCode,omitempty"`
	City            string     `json:"city,omitempty"`
	Province        string     `json:"province,omitempty"`
	Region          string     `json:"region,omitempty"`
	Country         string     `json:"country,omitempty"`
	Email           string     `json:"email,omitempty"`
	Phone           string     `json:"phone,omitempty"`
	SwitchToExpired bool       `json:"switchToExpired"`
	CompanyName     string     `json:"companyName"`
	OfficeName      string     `json:"officeName,omitempty"`
	ValidityDate    *time.Time `json:"validityDate,omitempty"`

	// Read-only, filled by the server.
	PaymentDate            *time.Time `json:"paymentDate,omitempty"`
	Status                 string     `json:"status,omitempty"`
	OrganizationFiscalCode string     `json:"organizationFiscalCode,omitempty"`
	InsertedDate           *time.Time `json:"insertedDate,omitempty"`
	PublishDate            *time.Time `json:"publishDate,omitempty"`
	LastUpdatedDate        *time.Time `json:"lastUpdatedDate,omitempty"`

	PaymentOption []PaymentOption `json:"paymentOption,omitempty"`
}

// PaymentOption is one way to pay a position (PaymentOptionModel): a single
// payment or one installment when IsPartialPayment is true.
type PaymentOption struct {
	NAV                   string     `json:"nav,omitempty"`
	IUV                   string     `json:"iuv"`
	Amount                int64      `json:"amount"` // euro cents
	Description           string     `json:"description"`
	IsPartialPayment      bool       `json:"isPartialPayment"`
	DueDate               time.Time  `json:"dueDate"`
	RetentionDate         *time.Time `json:"retentionDate,omitempty"`
	Transfer              []Transfer `json:"transfer,omitempty"`
	PaymentOptionMetadata []Metadata `json:"paymentOptionMetadata,omitempty"`

	// Read-only, filled by the server.
	Fee                    int64      `json:"fee,omitempty"`
	NotificationFee        int64      `json:"notificationFee,omitempty"`
	OrganizationFiscalCode string     `json:"organizationFiscalCode,omitempty"`
	PaymentDate            *time.Time `json:"paymentDate,omitempty"`
	ReportingDate          *time.Time `json:"reportingDate,omitempty"`
	InsertedDate           *time.Time `json:"insertedDate,omitempty"`
	PaymentMethod          string     `json:"paymentMethod,omitempty"`
	PSPCompany             string     `json:"pspCompany,omitempty"`
	IDReceipt              string     `json:"idReceipt,omitempty"`
	IDFlowReporting        string     `json:"idFlowReporting,omitempty"`
	Status                 string     `json:"status,omitempty"`
	LastUpdatedDate        *time.Time `json:"lastUpdatedDate,omitempty"`
}

// Transfer is one beneficiary share of a payment option (TransferModel).
// Exactly one of IBAN and Stamp is set.
type Transfer struct {
	IDTransfer             string     `json:"idTransfer"`
	Amount                 int64      `json:"amount"` // euro cents
	OrganizationFiscalCode string     `json:"organizationFiscalCode,omitempty"`
	RemittanceInformation  string     `json:"remittanceInformation"`
	Category               string     `json:"category"`
	IBAN                   string     `json:"iban,omitempty"`
	PostalIBAN             string     `json:"postalIban,omitempty"`
	Stamp                  *Stamp     `json:"stamp,omitempty"`
	CompanyName            string     `json:"companyName,omitempty"`
	TransferMetadata       []Metadata `json:"transferMetadata,omitempty"`

	// Read-only, filled by the server.
	InsertedDate    *time.Time `json:"insertedDate,omitempty"`
	Status          string     `json:"status,omitempty"`
	LastUpdatedDate *time.Time `json:"lastUpdatedDate,omitempty"`
}

// Stamp is a "marca da bollo digitale" transfer.
type Stamp struct {
	HashDocument        string `json:"hashDocument"`
	StampType           string `json:"stampType"`
	ProvincialResidence string `json:"provincialResidence"`
}

// Metadata is a key/value pair attached to an option or a transfer.
type Metadata struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// PageInfo is the pagination block of a list answer.
type PageInfo struct {
	Page       int `json:"page"`
	Limit      int `json:"limit"`
	ItemsFound int `json:"items_found"`
	TotalPages int `json:"total_pages"`
}

// PositionPage is one page of positions (PaymentPositionsInfo).
type PositionPage struct {
	Positions []PaymentPosition `json:"payment_position_list"`
	PageInfo  PageInfo          `json:"page_info"`
}

// ProblemJSON is the GPD error body (RFC 7807 subset).
type ProblemJSON struct {
	Title  string `json:"title,omitempty"`
	Status int    `json:"status,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// AlreadyPaid is the body of the "mark as paid" request.
type AlreadyPaid struct {
	PaymentDate *time.Time `json:"paymentDate,omitempty"`
}

// ForRequest returns a copy of p without the read-only fields, as sent on
// create and update.
func (p PaymentPosition) ForRequest() PaymentPosition {
	q := p
	q.PaymentDate, q.Status, q.OrganizationFiscalCode = nil, "", ""
	q.InsertedDate, q.PublishDate, q.LastUpdatedDate = nil, nil, nil
	q.PaymentOption = make([]PaymentOption, len(p.PaymentOption))
	for i, o := range p.PaymentOption {
		o.Fee, o.NotificationFee, o.OrganizationFiscalCode = 0, 0, ""
		o.PaymentDate, o.ReportingDate, o.InsertedDate, o.LastUpdatedDate = nil, nil, nil, nil
		o.PaymentMethod, o.PSPCompany, o.IDReceipt, o.IDFlowReporting, o.Status = "", "", "", "", ""
		o.Transfer = make([]Transfer, len(o.Transfer))
		for j, t := range p.PaymentOption[i].Transfer {
			t.InsertedDate, t.LastUpdatedDate, t.Status = nil, nil, ""
			o.Transfer[j] = t
		}
		if p.PaymentOption[i].Transfer == nil {
			o.Transfer = nil
		}
		q.PaymentOption[i] = o
	}
	if p.PaymentOption == nil {
		q.PaymentOption = nil
	}
	return q
}

// Times on the wire. GPD serialises Java LocalDateTime values, which may come
// without a zone offset; those are read as Europe/Rome local time.

var romeLoc = rome.Location

type flexTime struct{ p **time.Time }

func (f flexTime) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f.p = nil
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	t, err := parseFlexTime(s)
	if err != nil {
		return err
	}
	*f.p = &t
	return nil
}

func parseFlexTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, romeLoc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("pagopa: bad date-time %q", strings.TrimSpace(s))
}

// UnmarshalJSON accepts date-times with or without a zone offset.
func (p *PaymentPosition) UnmarshalJSON(b []byte) error {
	type plain PaymentPosition
	aux := struct {
		*plain
		ValidityDate    flexTime `json:"validityDate"`
		PaymentDate     flexTime `json:"paymentDate"`
		InsertedDate    flexTime `json:"insertedDate"`
		PublishDate     flexTime `json:"publishDate"`
		LastUpdatedDate flexTime `json:"lastUpdatedDate"`
	}{plain: (*plain)(p)}
	aux.ValidityDate.p = &p.ValidityDate
	aux.PaymentDate.p = &p.PaymentDate
	aux.InsertedDate.p = &p.InsertedDate
	aux.PublishDate.p = &p.PublishDate
	aux.LastUpdatedDate.p = &p.LastUpdatedDate
	return json.Unmarshal(b, &aux)
}

// UnmarshalJSON accepts date-times with or without a zone offset.
func (o *PaymentOption) UnmarshalJSON(b []byte) error {
	type plain PaymentOption
	var due *time.Time
	aux := struct {
		*plain
		DueDate         flexTime `json:"dueDate"`
		RetentionDate   flexTime `json:"retentionDate"`
		PaymentDate     flexTime `json:"paymentDate"`
		ReportingDate   flexTime `json:"reportingDate"`
		InsertedDate    flexTime `json:"insertedDate"`
		LastUpdatedDate flexTime `json:"lastUpdatedDate"`
	}{plain: (*plain)(o)}
	aux.DueDate.p = &due
	aux.RetentionDate.p = &o.RetentionDate
	aux.PaymentDate.p = &o.PaymentDate
	aux.ReportingDate.p = &o.ReportingDate
	aux.InsertedDate.p = &o.InsertedDate
	aux.LastUpdatedDate.p = &o.LastUpdatedDate
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	if due != nil {
		o.DueDate = *due
	}
	return nil
}

// UnmarshalJSON accepts date-times with or without a zone offset.
func (t *Transfer) UnmarshalJSON(b []byte) error {
	type plain Transfer
	aux := struct {
		*plain
		InsertedDate    flexTime `json:"insertedDate"`
		LastUpdatedDate flexTime `json:"lastUpdatedDate"`
	}{plain: (*plain)(t)}
	aux.InsertedDate.p = &t.InsertedDate
	aux.LastUpdatedDate.p = &t.LastUpdatedDate
	return json.Unmarshal(b, &aux)
}

// GPD reads its date-times as java.time.LocalDateTime and refuses a zone
// offset with a 400 (see schemas/contracts: LocalDateTimePattern), so they
// are written as Europe/Rome wall time without one, the way GPD writes them.

type localTime struct{ t *time.Time }

func (l localTime) MarshalJSON() ([]byte, error) {
	if l.t == nil {
		return []byte("null"), nil
	}
	return json.Marshal(l.t.In(romeLoc).Format("2006-01-02T15:04:05.999999999"))
}

func local(t *time.Time) *localTime {
	if t == nil {
		return nil
	}
	return &localTime{t}
}

// MarshalJSON writes date-times as GPD reads them.
func (p PaymentPosition) MarshalJSON() ([]byte, error) {
	type plain PaymentPosition
	return json.Marshal(struct {
		plain
		ValidityDate    *localTime `json:"validityDate,omitempty"`
		PaymentDate     *localTime `json:"paymentDate,omitempty"`
		InsertedDate    *localTime `json:"insertedDate,omitempty"`
		PublishDate     *localTime `json:"publishDate,omitempty"`
		LastUpdatedDate *localTime `json:"lastUpdatedDate,omitempty"`
	}{plain(p), local(p.ValidityDate), local(p.PaymentDate), local(p.InsertedDate), local(p.PublishDate), local(p.LastUpdatedDate)})
}

// MarshalJSON writes date-times as GPD reads them.
func (o PaymentOption) MarshalJSON() ([]byte, error) {
	type plain PaymentOption
	return json.Marshal(struct {
		plain
		DueDate         localTime  `json:"dueDate"`
		RetentionDate   *localTime `json:"retentionDate,omitempty"`
		PaymentDate     *localTime `json:"paymentDate,omitempty"`
		ReportingDate   *localTime `json:"reportingDate,omitempty"`
		InsertedDate    *localTime `json:"insertedDate,omitempty"`
		LastUpdatedDate *localTime `json:"lastUpdatedDate,omitempty"`
	}{plain(o), localTime{&o.DueDate}, local(o.RetentionDate), local(o.PaymentDate), local(o.ReportingDate), local(o.InsertedDate), local(o.LastUpdatedDate)})
}

// MarshalJSON writes date-times as GPD reads them.
func (t Transfer) MarshalJSON() ([]byte, error) {
	type plain Transfer
	return json.Marshal(struct {
		plain
		InsertedDate    *localTime `json:"insertedDate,omitempty"`
		LastUpdatedDate *localTime `json:"lastUpdatedDate,omitempty"`
	}{plain(t), local(t.InsertedDate), local(t.LastUpdatedDate)})
}

// MarshalJSON writes the payment date as GPD reads it.
func (a AlreadyPaid) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		PaymentDate *localTime `json:"paymentDate,omitempty"`
	}{local(a.PaymentDate)})
}
