package gpd

import (
	"encoding/json"
	"fmt"
	"time"
	_ "time/tzdata" // GPD's local times are Europe/Rome
)

// The mock's own wire types for the GPD external API v1
// (schemas/contracts/gpd-external-v1.json). They share nothing with the
// client in connectors/pagopa: what the client sends must match the
// contract, not the client's own idea of it.

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
	OptionUnpaid = "PO_UNPAID"
	OptionPaid   = "PO_PAID"
)

// Rome is the zone of GPD's zone-less date-times.
var Rome = func() *time.Location {
	l, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		panic(err) // unreachable: time/tzdata is embedded
	}
	return l
}()

// LocalTime is a GPD date-time: a java.time.LocalDateTime, written without
// a zone offset as Europe/Rome wall time (see contracts.LocalDateTimePattern).
type LocalTime struct{ time.Time }

// localLayouts are the shapes of ISO_LOCAL_DATE_TIME.
var localLayouts = []string{"2006-01-02T15:04:05.999999999", "2006-01-02T15:04"}

// ParseLocalTime reads an ISO local date-time as Rome wall time.
func ParseLocalTime(s string) (LocalTime, error) {
	for _, l := range localLayouts {
		if t, err := time.ParseInLocation(l, s, Rome); err == nil {
			return LocalTime{t}, nil
		}
	}
	return LocalTime{}, fmt.Errorf("%q is not a local date-time (yyyy-MM-ddTHH:mm[:ss[.SSS]], no zone)", s)
}

// At returns t as a LocalTime.
func At(t time.Time) LocalTime { return LocalTime{t} }

// String writes the Rome wall time, as GPD does.
func (t LocalTime) String() string { return t.In(Rome).Format(localLayouts[0]) }

// MarshalJSON writes the Rome wall time without an offset.
func (t LocalTime) MarshalJSON() ([]byte, error) { return json.Marshal(t.String()) }

// UnmarshalJSON reads a local date-time; the contract has refused any
// other shape before the mock sees it.
func (t *LocalTime) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := ParseLocalTime(s)
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// Position is a debt position: PaymentPositionModel as a client sends it
// (the contract refuses the read-only fields in a request) and as the mock
// keeps it, with the fields GPD fills in.
type Position struct {
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
	ValidityDate    *LocalTime `json:"validityDate,omitempty"`

	// Filled by GPD.
	OrganizationFiscalCode string     `json:"organizationFiscalCode,omitempty"`
	Status                 string     `json:"status,omitempty"`
	InsertedDate           *LocalTime `json:"insertedDate,omitempty"`
	PublishDate            *LocalTime `json:"publishDate,omitempty"`
	PaymentDate            *LocalTime `json:"paymentDate,omitempty"`
	LastUpdatedDate        *LocalTime `json:"lastUpdatedDate,omitempty"`

	PaymentOption []Option `json:"paymentOption"`
}

// Option is a payment option (PaymentOptionModel): the single payment, or
// one installment when IsPartialPayment.
type Option struct {
	NAV                   string     `json:"nav,omitempty"`
	IUV                   string     `json:"iuv"`
	Amount                int64      `json:"amount"` // euro cents
	Description           string     `json:"description"`
	IsPartialPayment      bool       `json:"isPartialPayment"`
	DueDate               LocalTime  `json:"dueDate"`
	RetentionDate         *LocalTime `json:"retentionDate,omitempty"`
	Transfer              []Transfer `json:"transfer"`
	PaymentOptionMetadata []Metadata `json:"paymentOptionMetadata,omitempty"`

	// Filled by GPD.
	OrganizationFiscalCode string     `json:"organizationFiscalCode,omitempty"`
	Status                 string     `json:"status,omitempty"`
	Fee                    int64      `json:"fee,omitempty"`
	NotificationFee        int64      `json:"notificationFee,omitempty"`
	InsertedDate           *LocalTime `json:"insertedDate,omitempty"`
	PaymentDate            *LocalTime `json:"paymentDate,omitempty"`
	ReportingDate          *LocalTime `json:"reportingDate,omitempty"`
	LastUpdatedDate        *LocalTime `json:"lastUpdatedDate,omitempty"`
	PaymentMethod          string     `json:"paymentMethod,omitempty"`
	PSPCompany             string     `json:"pspCompany,omitempty"`
	IDReceipt              string     `json:"idReceipt,omitempty"`
	IDFlowReporting        string     `json:"idFlowReporting,omitempty"`
}

// Transfer is one beneficiary's share of an option (TransferModel).
type Transfer struct {
	IDTransfer             string     `json:"idTransfer"`
	Amount                 int64      `json:"amount"`
	OrganizationFiscalCode string     `json:"organizationFiscalCode,omitempty"`
	RemittanceInformation  string     `json:"remittanceInformation"`
	Category               string     `json:"category"`
	IBAN                   string     `json:"iban,omitempty"`
	PostalIBAN             string     `json:"postalIban,omitempty"`
	Stamp                  *Stamp     `json:"stamp,omitempty"`
	CompanyName            string     `json:"companyName,omitempty"`
	TransferMetadata       []Metadata `json:"transferMetadata,omitempty"`

	// Filled by GPD.
	Status          string     `json:"status,omitempty"`
	InsertedDate    *LocalTime `json:"insertedDate,omitempty"`
	LastUpdatedDate *LocalTime `json:"lastUpdatedDate,omitempty"`
}

// Stamp is a digital revenue stamp (marca da bollo) in place of an IBAN.
type Stamp struct {
	HashDocument        string `json:"hashDocument"`
	StampType           string `json:"stampType"`
	ProvincialResidence string `json:"provincialResidence"`
}

// Metadata is a key/value pair of an option or a transfer.
type Metadata struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// PageInfo is the paging block of list answers.
type PageInfo struct {
	Page       int `json:"page"`
	Limit      int `json:"limit"`
	ItemsFound int `json:"items_found"`
	TotalPages int `json:"total_pages"`
}

// Problem is GPD's ProblemJson.
type Problem struct {
	Title  string `json:"title,omitempty"`
	Status int    `json:"status,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// basePosition is PaymentPositionModelBaseResponse: no debtor data.
type basePosition struct {
	IUPD                   string     `json:"iupd"`
	OrganizationFiscalCode string     `json:"organizationFiscalCode,omitempty"`
	Type                   string     `json:"type"`
	CompanyName            string     `json:"companyName"`
	OfficeName             string     `json:"officeName,omitempty"`
	InsertedDate           *LocalTime `json:"insertedDate,omitempty"`
	PublishDate            *LocalTime `json:"publishDate,omitempty"`
	ValidityDate           *LocalTime `json:"validityDate,omitempty"`
	PaymentDate            *LocalTime `json:"paymentDate,omitempty"`
	Status                 string     `json:"status"`
	LastUpdatedDate        *LocalTime `json:"lastUpdatedDate,omitempty"`
	PaymentOption          []Option   `json:"paymentOption"`
}

func baseView(p Position) basePosition {
	return basePosition{IUPD: p.IUPD, OrganizationFiscalCode: p.OrganizationFiscalCode, Type: p.Type,
		CompanyName: p.CompanyName, OfficeName: p.OfficeName, InsertedDate: p.InsertedDate,
		PublishDate: p.PublishDate, ValidityDate: p.ValidityDate, PaymentDate: p.PaymentDate,
		Status: p.Status, LastUpdatedDate: p.LastUpdatedDate, PaymentOption: p.PaymentOption}
}

// positionsInfo is PaymentPositionsInfo, a page of the list.
type positionsInfo struct {
	List     []basePosition `json:"payment_position_list"`
	PageInfo PageInfo       `json:"page_info"`
}

// paymentsView is PaymentsModelResponse, the answer of "mark as paid".
type paymentsView struct {
	Option
	ServiceType string `json:"serviceType"`
}

// alreadyPaid is AlreadyPaidPaymentOptionModel.
type alreadyPaid struct {
	PaymentDate *LocalTime `json:"paymentDate"`
}

// clone deep-copies p, so that callers never share the mock's state.
func (p Position) clone() Position {
	b, err := json.Marshal(p)
	if err != nil {
		panic(err) // unreachable: a Position always marshals
	}
	var q Position
	if err := json.Unmarshal(b, &q); err != nil {
		panic(err) // unreachable: it reads what it wrote
	}
	return q
}
