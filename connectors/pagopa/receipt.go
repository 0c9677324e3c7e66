package pagopa

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Receipt sources.
const (
	SourceGPD  = "gpd"  // read from the GPD receipts API
	SourceNodo = "nodo" // pushed by the Nodo with paSendRT(V2)
)

// Receipt is a payment receipt in the shape reconciliation uses, whatever
// its source.
type Receipt struct {
	ReceiptID     string            `json:"receiptId"`
	IUV           string            `json:"iuv"` // creditorReferenceId
	NAV           string            `json:"nav"` // noticeNumber
	OrgFiscalCode string            `json:"orgFiscalCode"`
	Outcome       string            `json:"outcome"` // OK or KO
	AmountCents   int64             `json:"amountCents"`
	Description   string            `json:"description,omitempty"`
	CompanyName   string            `json:"companyName,omitempty"`
	Debtor        Party             `json:"debtor"`
	Payer         Party             `json:"payer"`
	PSP           PSP               `json:"psp"`
	PaymentMethod string            `json:"paymentMethod,omitempty"`
	FeeCents      int64             `json:"feeCents,omitempty"`
	PaymentDate   time.Time         `json:"paymentDate"`
	Transfers     []ReceiptTransfer `json:"transfers"`
	Source        string            `json:"source"`
}

// Party is a debtor or payer: fiscal code (or other unique id) and name.
type Party struct {
	Type       string `json:"type,omitempty"` // F or G
	FiscalCode string `json:"fiscalCode"`
	Name       string `json:"name"`
}

// PSP is the payment service provider that collected the payment.
type PSP struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Channel string `json:"channel,omitempty"`
}

// ReceiptTransfer is one beneficiary share of a receipt.
type ReceiptTransfer struct {
	ID            int    `json:"id"` // 1..5
	AmountCents   int64  `json:"amountCents"`
	OrgFiscalCode string `json:"orgFiscalCode"`
	IBAN          string `json:"iban,omitempty"`
	// MBDAttachment is, for a digital stamp (marca da bollo) transfer, the
	// base64 of the stamp the PSP issued, in place of the IBAN
	// (ctTransferPAReceiptV2).
	MBDAttachment string `json:"mbdAttachment,omitempty"`
	Remittance    string `json:"remittance"`
	Category      string `json:"category,omitempty"`
}

// Amount is a euro amount in cents that travels in XML as a decimal with two
// fraction digits ("100.00"), as the pagoPA SOAP types (stAmount) require.
type Amount int64

// MarshalText writes "units.cents".
func (a Amount) MarshalText() ([]byte, error) {
	v := int64(a)
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	return []byte(fmt.Sprintf("%s%d.%02d", sign, v/100, v%100)), nil
}

// UnmarshalText reads a decimal with at most two fraction digits.
func (a *Amount) UnmarshalText(b []byte) error {
	c, err := ParseAmount(string(b))
	if err != nil {
		return err
	}
	*a = Amount(c)
	return nil
}

// ParseAmount reads a non-negative decimal euro amount with at most two
// fraction digits and at most 9 integer digits ("12", "12.5", "12.50") into
// cents.
func ParseAmount(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units, frac, hasDot := strings.Cut(s, ".")
	bad := func() (int64, error) {
		return 0, fmt.Errorf("pagopa: amount %q: want a decimal with at most 2 fraction digits", s)
	}
	if units == "" || len(units) > 9 || len(frac) > 2 || (hasDot && frac == "") {
		return bad()
	}
	for _, part := range []string{units, frac} {
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				return bad()
			}
		}
	}
	u, _ := strconv.ParseInt(units, 10, 64)
	for len(frac) < 2 {
		frac += "0"
	}
	f, _ := strconv.ParseInt(frac, 10, 64)
	return u*100 + f, nil
}

// XMLSubject is ctSubject (debtor or payer) of the pagoPA SOAP types.
type XMLSubject struct {
	UniqueIdentifier struct {
		Type  string `xml:"entityUniqueIdentifierType"`
		Value string `xml:"entityUniqueIdentifierValue"`
	} `xml:"uniqueIdentifier"`
	FullName            string `xml:"fullName"`
	StreetName          string `xml:"streetName,omitempty"`
	CivicNumber         string `xml:"civicNumber,omitempty"`
	PostalCode          string `xml:"postalCode,omitempty"`
	City                string `xml:"city,omitempty"`
	StateProvinceRegion string `xml:"stateProvinceRegion,omitempty"`
	Country             string `xml:"country,omitempty"`
	Email               string `xml:"e-mail,omitempty"`
}

// NewXMLSubject builds a ctSubject from a Party (type F when unset).
func NewXMLSubject(p Party) XMLSubject {
	var s XMLSubject
	s.UniqueIdentifier.Type = p.Type
	if s.UniqueIdentifier.Type == "" {
		s.UniqueIdentifier.Type = TypePerson
	}
	s.UniqueIdentifier.Value = p.FiscalCode
	s.FullName = p.Name
	return s
}

// Party returns the subject as a Party.
func (s XMLSubject) Party() Party {
	return Party{Type: s.UniqueIdentifier.Type, FiscalCode: s.UniqueIdentifier.Value, Name: s.FullName}
}

// XMLMapEntry is one metadata key/value pair.
type XMLMapEntry struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

// XMLMetadata is ctMetadata: 1..15 map entries.
type XMLMetadata struct {
	Entries []XMLMapEntry `xml:"mapEntry"`
}

// XMLReceiptTransfer is one transfer of a receipt (ctTransferPAReceiptV2).
type XMLReceiptTransfer struct {
	IDTransfer            int          `xml:"idTransfer"`
	TransferAmount        Amount       `xml:"transferAmount"`
	FiscalCodePA          string       `xml:"fiscalCodePA"`
	CompanyName           string       `xml:"companyName,omitempty"`
	IBAN                  string       `xml:"IBAN,omitempty"`
	MBDAttachment         string       `xml:"MBDAttachment,omitempty"`
	RemittanceInformation string       `xml:"remittanceInformation"`
	TransferCategory      string       `xml:"transferCategory"`
	Metadata              *XMLMetadata `xml:"metadata,omitempty"`
}

// XMLReceipt is the receipt of paSendRTV2 (ctReceiptV2), element order as
// in nodo-ec-soap.md. The GPD receipts API returns the same document.
type XMLReceipt struct {
	ReceiptID            string               `xml:"receiptId"`
	NoticeNumber         string               `xml:"noticeNumber"`
	FiscalCode           string               `xml:"fiscalCode"`
	Outcome              string               `xml:"outcome"`
	CreditorReferenceID  string               `xml:"creditorReferenceId"`
	PaymentAmount        Amount               `xml:"paymentAmount"`
	Description          string               `xml:"description"`
	CompanyName          string               `xml:"companyName"`
	OfficeName           string               `xml:"officeName,omitempty"`
	Debtor               XMLSubject           `xml:"debtor"`
	TransferList         []XMLReceiptTransfer `xml:"transferList>transfer"`
	IDPSP                string               `xml:"idPSP"`
	PSPFiscalCode        string               `xml:"pspFiscalCode,omitempty"`
	PSPPartitaIVA        string               `xml:"pspPartitaIVA,omitempty"`
	PSPCompanyName       string               `xml:"PSPCompanyName"`
	IDChannel            string               `xml:"idChannel"`
	ChannelDescription   string               `xml:"channelDescription"`
	Payer                *XMLSubject          `xml:"payer,omitempty"`
	PaymentMethod        string               `xml:"paymentMethod"`
	Fee                  Amount               `xml:"fee"`
	PaymentNote          string               `xml:"paymentNote,omitempty"`
	PrimaryCiIncurredFee *Amount              `xml:"primaryCiIncurredFee,omitempty"`
	IDBundle             string               `xml:"idBundle,omitempty"`
	IDCiBundle           string               `xml:"idCiBundle,omitempty"`
	PaymentDateTime      string               `xml:"paymentDateTime"` // xs:dateTime
	ApplicationDate      string               `xml:"applicationDate"` // xs:date
	TransferDate         string               `xml:"transferDate"`    // xs:date
	Metadata             *XMLMetadata         `xml:"metadata,omitempty"`
	StandIn              bool                 `xml:"standIn"`
}

// NewXMLReceipt converts a Receipt to its SOAP form.
func NewXMLReceipt(r Receipt) XMLReceipt {
	x := XMLReceipt{
		ReceiptID: r.ReceiptID, NoticeNumber: r.NAV, FiscalCode: r.OrgFiscalCode, Outcome: r.Outcome,
		CreditorReferenceID: r.IUV, PaymentAmount: Amount(r.AmountCents), Description: r.Description,
		CompanyName: r.CompanyName, Debtor: NewXMLSubject(r.Debtor),
		IDPSP: r.PSP.ID, PSPCompanyName: r.PSP.Name, IDChannel: r.PSP.Channel, ChannelDescription: "app",
		PaymentMethod: r.PaymentMethod, Fee: Amount(r.FeeCents),
		// The Nodo writes zone-less local times (Europe/Rome).
		PaymentDateTime: r.PaymentDate.In(romeLoc).Format("2006-01-02T15:04:05"),
		ApplicationDate: r.PaymentDate.In(romeLoc).Format("2006-01-02"), TransferDate: r.PaymentDate.In(romeLoc).Format("2006-01-02"),
	}
	if x.Outcome == "" {
		x.Outcome = "OK"
	}
	if x.PaymentMethod == "" {
		x.PaymentMethod = "other"
	}
	if r.Payer.FiscalCode != "" {
		p := NewXMLSubject(r.Payer)
		x.Payer = &p
	}
	for _, t := range r.Transfers {
		x.TransferList = append(x.TransferList, XMLReceiptTransfer{
			IDTransfer: t.ID, TransferAmount: Amount(t.AmountCents), FiscalCodePA: t.OrgFiscalCode,
			IBAN: t.IBAN, MBDAttachment: t.MBDAttachment, RemittanceInformation: t.Remittance, TransferCategory: t.Category,
		})
	}
	return x
}

// Receipt converts the SOAP receipt to a Receipt from source.
func (x XMLReceipt) Receipt(source string) (Receipt, error) {
	r := Receipt{
		ReceiptID: x.ReceiptID, IUV: x.CreditorReferenceID, NAV: x.NoticeNumber, OrgFiscalCode: x.FiscalCode,
		Outcome: x.Outcome, AmountCents: int64(x.PaymentAmount), Description: x.Description,
		CompanyName: x.CompanyName, Debtor: x.Debtor.Party(),
		PSP:           PSP{ID: x.IDPSP, Name: x.PSPCompanyName, Channel: x.IDChannel},
		PaymentMethod: x.PaymentMethod, FeeCents: int64(x.Fee), Source: source,
	}
	if x.Payer != nil {
		r.Payer = x.Payer.Party()
	}
	if x.PaymentDateTime != "" {
		t, err := parseFlexTime(x.PaymentDateTime)
		if err != nil {
			return Receipt{}, fmt.Errorf("pagopa: receipt %s: paymentDateTime: %w", x.ReceiptID, err)
		}
		r.PaymentDate = t
	}
	for _, t := range x.TransferList {
		r.Transfers = append(r.Transfers, ReceiptTransfer{
			ID: t.IDTransfer, AmountCents: int64(t.TransferAmount), OrgFiscalCode: t.FiscalCodePA,
			IBAN: t.IBAN, MBDAttachment: t.MBDAttachment, Remittance: t.RemittanceInformation, Category: t.TransferCategory,
		})
	}
	if err := r.Check(); err != nil {
		return Receipt{}, err
	}
	return r, nil
}

// Check verifies the receipt's internal consistency: ids present, an OK or
// KO outcome, a valid notice number whose IUV matches, 1..5 transfers that
// add up to the amount. A receipt of 0.00 is accepted: paymentAmount is
// stAmount in paForNode.xsd (ctReceipt, ctReceiptV2), which allows zero,
// while every transferAmount is stAmountNotZero, so its transfers cannot
// add up to it; reconciliation, not the receipt's reader, reports it.
func (r Receipt) Check() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("pagopa: receipt %q: %s", r.ReceiptID, fmt.Sprintf(format, a...))
	}
	if r.ReceiptID == "" {
		return bad("receiptId is empty")
	}
	if r.Outcome != "OK" && r.Outcome != "KO" {
		return bad("outcome %q, want OK or KO", r.Outcome)
	}
	nav, err := ParseNAV(r.NAV)
	if err != nil {
		return bad("noticeNumber: %v", err)
	}
	if nav.IUV != r.IUV {
		return bad("creditorReferenceId %s does not match notice number %s", r.IUV, r.NAV)
	}
	if r.AmountCents < 0 {
		return bad("amount %d", r.AmountCents)
	}
	if n := len(r.Transfers); n < 1 || n > 5 {
		return bad("%d transfers, want 1..5", n)
	}
	var sum int64
	for _, t := range r.Transfers {
		sum += t.AmountCents
	}
	if r.AmountCents > 0 && sum != r.AmountCents {
		return bad("transfers add up to %d, amount is %d", sum, r.AmountCents)
	}
	return nil
}

// MarshalReceiptXML writes x as a standalone <receipt> document.
func MarshalReceiptXML(x XMLReceipt) ([]byte, error) {
	type doc struct {
		XMLName xml.Name `xml:"receipt"`
		XMLReceipt
	}
	b, err := xml.Marshal(doc{XMLReceipt: x})
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), b...), nil
}

// --- GPD receipts API ---
//
// There is no copy of its contract in shared/specs (see the specs README, "Not
// included": the receipts API lives in pagopa/pagopa-gpd-payments, which has
// no licence). What we implement, client and mock alike:
//
//	GET /payments/{organizationfiscalcode}/receipts/{iuv}
//	    200 application/xml: the receipt document (<receipt> with the
//	        ctReceiptV2 elements of nodo-ec-soap.md, see XMLReceipt);
//	    404 ProblemJson when there is no receipt for the IUV.
//	GET /payments/{organizationfiscalcode}/receipts?page=P&limit=L[&debtor=CF][&from=YYYY-MM-DD][&to=YYYY-MM-DD]
//	    200 application/json: {"receipts_list":[{"organizationFiscalCode","iuv",
//	        "debtor","paymentDateTime"}],"page_info":{"page","limit",
//	        "items_found","total_pages"}}; limit 1..100, default 10.
//
// The same subscription key header is sent. Receipts are served by the GPD
// payments service, whose base URL differs from the debt positions service;
// see GPDOptions.ReceiptsBaseURL.

// Default receipts base URLs (GPD payments service).
const (
	GPDReceiptsBaseURLProd = "https://api.platform.pagopa.it/gpd/payments-receipts-service/v1"
	GPDReceiptsBaseURLUAT  = "https://api.uat.platform.pagopa.it/gpd/payments-receipts-service/v1"
)

// ReceiptSummary is one entry of the receipts list.
type ReceiptSummary struct {
	OrganizationFiscalCode string `json:"organizationFiscalCode"`
	IUV                    string `json:"iuv"`
	Debtor                 string `json:"debtor"`
	PaymentDateTime        string `json:"paymentDateTime"`
}

// ReceiptPage is one page of receipt summaries.
type ReceiptPage struct {
	Receipts []ReceiptSummary `json:"receipts_list"`
	PageInfo PageInfo         `json:"page_info"`
}

// ReceiptListOptions selects a page of receipts. Limit 0 means the server
// default (10); at most 100.
type ReceiptListOptions struct {
	Page, Limit int
	Debtor      string
	From, To    time.Time // payment date range, inclusive; zero means open
}

func receiptsPath(org string) string { return "/payments/" + url.PathEscape(org) + "/receipts" }

// GetReceipt reads the receipt of the payment with IUV iuv and returns it
// normalized (Source "gpd"). A 404 gives KindNotFound.
func (c *GPDClient) GetReceipt(ctx context.Context, org, iuv string) (*Receipt, error) {
	var raw rawBody
	ae := c.doAt(ctx, c.receiptsBase, "get-receipt", "", http.MethodGet, receiptsPath(org)+"/"+url.PathEscape(iuv), nil, nil, &raw)
	if ae != nil {
		ae.Detail = strings.TrimSpace("iuv " + iuv + ": " + ae.Detail)
		return nil, ae
	}
	var x XMLReceipt
	if err := xml.Unmarshal(raw, &x); err != nil {
		return nil, &APIError{Kind: KindUnexpected, Status: http.StatusOK, Op: "get-receipt", Detail: "cannot decode receipt XML: " + err.Error(), Err: err}
	}
	r, err := x.Receipt(SourceGPD)
	if err != nil {
		return nil, &APIError{Kind: KindUnexpected, Status: http.StatusOK, Op: "get-receipt", Detail: err.Error(), Err: err}
	}
	if r.OrgFiscalCode != org || r.IUV != iuv {
		err := fmt.Errorf("asked for %s/%s, got a receipt for %s/%s", org, iuv, r.OrgFiscalCode, r.IUV)
		return nil, &APIError{Kind: KindUnexpected, Status: http.StatusOK, Op: "get-receipt", Detail: err.Error(), Err: err}
	}
	return &r, nil
}

// ListReceipts returns one page of the organization's receipt summaries.
func (c *GPDClient) ListReceipts(ctx context.Context, org string, o ReceiptListOptions) (*ReceiptPage, error) {
	if o.Limit < 0 || o.Limit > 100 || o.Page < 0 {
		return nil, &APIError{Kind: KindValidation, Op: "list-receipts",
			Detail: fmt.Sprintf("page must be >= 0 and limit in 1..100, got page %d limit %d", o.Page, o.Limit)}
	}
	q := url.Values{}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	q.Set("page", strconv.Itoa(o.Page))
	if o.Debtor != "" {
		q.Set("debtor", o.Debtor)
	}
	if !o.From.IsZero() {
		q.Set("from", o.From.Format("2006-01-02"))
	}
	if !o.To.IsZero() {
		q.Set("to", o.To.Format("2006-01-02"))
	}
	var out ReceiptPage
	if ae := c.doAt(ctx, c.receiptsBase, "list-receipts", "", http.MethodGet, receiptsPath(org), q, nil, &out); ae != nil {
		return nil, ae
	}
	return &out, nil
}

// AllReceipts pages through ListReceipts (limit 100) and fetches every
// receipt. It stops after maxPages pages (0 means 1000) so that a server
// that never ends cannot loop it forever.
func (c *GPDClient) AllReceipts(ctx context.Context, org string, maxPages int) ([]Receipt, error) {
	if maxPages <= 0 {
		maxPages = 1000
	}
	var out []Receipt
	for page := 0; page < maxPages; page++ {
		p, err := c.ListReceipts(ctx, org, ReceiptListOptions{Page: page, Limit: 100})
		if err != nil {
			return out, err
		}
		for _, s := range p.Receipts {
			r, err := c.GetReceipt(ctx, org, s.IUV)
			if err != nil {
				return out, err
			}
			out = append(out, *r)
		}
		if page+1 >= p.PageInfo.TotalPages || len(p.Receipts) == 0 {
			return out, nil
		}
	}
	return out, &APIError{Kind: KindUnexpected, Op: "list-receipts", Detail: fmt.Sprintf("more than %d pages", maxPages)}
}
