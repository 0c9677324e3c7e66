package gpd

import (
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Receipts. GPD keeps the receipt of every payment made through pagoPA and
// serves it from the GPD payments service (pagopa-gpd-payments, whose
// contract is not embedded: it has no licence). The document is the
// receipt of paSendRTV2 (ctReceiptV2 of paForNode.xsd, as summarised in
// shared/specs/nodo-ec-soap.md), which the Nodo simulator also sends to
// creditor institutions; both use the types here.

// Party is a debtor or a payer.
type Party struct {
	Type       string `json:"type,omitempty"` // F (natural person) or G (legal person)
	FiscalCode string `json:"fiscalCode"`
	Name       string `json:"name"`
}

// PSP is the payment service provider that collected a payment.
type PSP struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Channel string `json:"channel,omitempty"`
}

// Receipt is a payment receipt as the mock records it.
type Receipt struct {
	ReceiptID     string            `json:"receiptId"`
	IUV           string            `json:"iuv"` // creditorReferenceId
	NAV           string            `json:"nav"` // noticeNumber
	OrgFiscalCode string            `json:"orgFiscalCode"`
	Outcome       string            `json:"outcome"`
	AmountCents   int64             `json:"amountCents"`
	Description   string            `json:"description,omitempty"`
	CompanyName   string            `json:"companyName,omitempty"`
	Debtor        Party             `json:"debtor"`
	Payer         Party             `json:"payer"`
	PSP           PSP               `json:"psp"`
	PaymentMethod string            `json:"paymentMethod,omitempty"`
	PaymentDate   time.Time         `json:"paymentDate"`
	Transfers     []ReceiptTransfer `json:"transfers"`
}

// ReceiptTransfer is one beneficiary's share of a receipt.
type ReceiptTransfer struct {
	ID            int    `json:"id"`
	AmountCents   int64  `json:"amountCents"`
	OrgFiscalCode string `json:"orgFiscalCode"`
	IBAN          string `json:"iban,omitempty"`
	Remittance    string `json:"remittance"`
	Category      string `json:"category,omitempty"`
}

// Amount is euro cents written as stAmount: a decimal with two fraction
// digits ("100.00").
type Amount int64

// MarshalText writes "units.cents".
func (a Amount) MarshalText() ([]byte, error) {
	v, sign := int64(a), ""
	if v < 0 {
		sign, v = "-", -v
	}
	return []byte(fmt.Sprintf("%s%d.%02d", sign, v/100, v%100)), nil
}

// UnmarshalText reads a decimal with at most two fraction digits.
func (a *Amount) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	units, frac, dot := strings.Cut(s, ".")
	if units == "" || len(frac) > 2 || (dot && frac == "") || strings.HasPrefix(units, "-") || strings.HasPrefix(units, "+") {
		return fmt.Errorf("amount %q: want a decimal with at most 2 fraction digits", s)
	}
	u, err := strconv.ParseInt(units, 10, 64)
	if err != nil {
		return fmt.Errorf("amount %q: %w", s, err)
	}
	frac += strings.Repeat("0", 2-len(frac))
	f, err := strconv.ParseInt(frac, 10, 64)
	if err != nil {
		return fmt.Errorf("amount %q: %w", s, err)
	}
	*a = Amount(u*100 + f)
	return nil
}

// XMLSubject is ctSubject.
type XMLSubject struct {
	UniqueIdentifier struct {
		Type  string `xml:"entityUniqueIdentifierType"`
		Value string `xml:"entityUniqueIdentifierValue"`
	} `xml:"uniqueIdentifier"`
	FullName string `xml:"fullName"`
}

// Subject makes the ctSubject of a party (type F when unset).
func Subject(p Party) XMLSubject {
	var s XMLSubject
	s.UniqueIdentifier.Type, s.UniqueIdentifier.Value, s.FullName = p.Type, p.FiscalCode, p.Name
	if s.UniqueIdentifier.Type == "" {
		s.UniqueIdentifier.Type = "F"
	}
	return s
}

// Party is the subject as a Party.
func (s XMLSubject) Party() Party {
	return Party{Type: s.UniqueIdentifier.Type, FiscalCode: s.UniqueIdentifier.Value, Name: s.FullName}
}

// XMLReceiptTransfer is ctTransferPAReceiptV2.
type XMLReceiptTransfer struct {
	IDTransfer            int    `xml:"idTransfer"`
	TransferAmount        Amount `xml:"transferAmount"`
	FiscalCodePA          string `xml:"fiscalCodePA"`
	IBAN                  string `xml:"IBAN,omitempty"`
	RemittanceInformation string `xml:"remittanceInformation"`
	TransferCategory      string `xml:"transferCategory"`
}

// XMLReceipt is ctReceiptV2, elements in the schema's order.
type XMLReceipt struct {
	ReceiptID           string               `xml:"receiptId"`
	NoticeNumber        string               `xml:"noticeNumber"`
	FiscalCode          string               `xml:"fiscalCode"`
	Outcome             string               `xml:"outcome"`
	CreditorReferenceID string               `xml:"creditorReferenceId"`
	PaymentAmount       Amount               `xml:"paymentAmount"`
	Description         string               `xml:"description"`
	CompanyName         string               `xml:"companyName"`
	Debtor              XMLSubject           `xml:"debtor"`
	TransferList        []XMLReceiptTransfer `xml:"transferList>transfer"`
	IDPSP               string               `xml:"idPSP"`
	PSPCompanyName      string               `xml:"PSPCompanyName"`
	IDChannel           string               `xml:"idChannel"`
	ChannelDescription  string               `xml:"channelDescription"`
	Payer               *XMLSubject          `xml:"payer,omitempty"`
	PaymentMethod       string               `xml:"paymentMethod"`
	Fee                 Amount               `xml:"fee"`
	PaymentDateTime     string               `xml:"paymentDateTime"` // xs:dateTime, Rome wall time
	ApplicationDate     string               `xml:"applicationDate"` // xs:date
	TransferDate        string               `xml:"transferDate"`    // xs:date
	StandIn             bool                 `xml:"standIn"`
}

// XML returns the receipt as ctReceiptV2.
func (r Receipt) XML() XMLReceipt {
	local := r.PaymentDate.In(Rome)
	x := XMLReceipt{
		ReceiptID: r.ReceiptID, NoticeNumber: r.NAV, FiscalCode: r.OrgFiscalCode, Outcome: r.Outcome,
		CreditorReferenceID: r.IUV, PaymentAmount: Amount(r.AmountCents), Description: r.Description,
		CompanyName: r.CompanyName, Debtor: Subject(r.Debtor),
		IDPSP: r.PSP.ID, PSPCompanyName: r.PSP.Name, IDChannel: r.PSP.Channel, ChannelDescription: "app",
		PaymentMethod: r.PaymentMethod,
		// The Nodo writes zone-less local times.
		PaymentDateTime: local.Format("2006-01-02T15:04:05"),
		ApplicationDate: local.Format(time.DateOnly), TransferDate: local.Format(time.DateOnly),
	}
	if r.Payer.FiscalCode != "" {
		p := Subject(r.Payer)
		x.Payer = &p
	}
	for _, t := range r.Transfers {
		x.TransferList = append(x.TransferList, XMLReceiptTransfer{IDTransfer: t.ID, TransferAmount: Amount(t.AmountCents),
			FiscalCodePA: t.OrgFiscalCode, IBAN: t.IBAN, RemittanceInformation: t.Remittance, TransferCategory: t.Category})
	}
	return x
}

// Receipt reads a ctReceiptV2 back.
func (x XMLReceipt) Receipt() (Receipt, error) {
	r := Receipt{ReceiptID: x.ReceiptID, IUV: x.CreditorReferenceID, NAV: x.NoticeNumber, OrgFiscalCode: x.FiscalCode,
		Outcome: x.Outcome, AmountCents: int64(x.PaymentAmount), Description: x.Description, CompanyName: x.CompanyName,
		Debtor: x.Debtor.Party(), PSP: PSP{ID: x.IDPSP, Name: x.PSPCompanyName, Channel: x.IDChannel}, PaymentMethod: x.PaymentMethod}
	if x.Payer != nil {
		r.Payer = x.Payer.Party()
	}
	t, err := time.ParseInLocation("2006-01-02T15:04:05", x.PaymentDateTime, Rome)
	if err != nil {
		return Receipt{}, fmt.Errorf("receipt %s: paymentDateTime: %w", x.ReceiptID, err)
	}
	r.PaymentDate = t
	for _, t := range x.TransferList {
		r.Transfers = append(r.Transfers, ReceiptTransfer{ID: t.IDTransfer, AmountCents: int64(t.TransferAmount),
			OrgFiscalCode: t.FiscalCodePA, IBAN: t.IBAN, Remittance: t.RemittanceInformation, Category: t.TransferCategory})
	}
	return r, nil
}

// document writes the receipt as the standalone <receipt> document of the
// receipts API.
func (r Receipt) document() ([]byte, error) {
	type doc struct {
		XMLName xml.Name `xml:"receipt"`
		XMLReceipt
	}
	b, err := xml.Marshal(doc{XMLReceipt: r.XML()})
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), b...), nil
}
