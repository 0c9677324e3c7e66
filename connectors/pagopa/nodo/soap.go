// Package nodo implements the creditor institution (EC) side of the pagoPA
// Nodo SOAP contract (paForNode, SOAP 1.1 document/literal; a summary of
// the official WSDL/XSD is in the project's shared specs, nodo-ec-soap.md):
// an http.Handler serving paVerifyPaymentNotice, paGetPaymentV2 and
// paSendRTV2 over a Backend that holds the comune's notices, an in-memory
// Backend, the receipt backend, and a client that plays the Nodo in tests
// (the Nodo simulator under mocks/ has SOAP envelopes of its own).
package nodo

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ponte-pa/ponte/connectors/pagopa"
)

// Namespaces of the contract.
const (
	NSSOAP      = "http://schemas.xmlsoap.org/soap/envelope/"
	NSPaForNode = "http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd"
)

// Operations served, with their request and response element names.
const (
	OpVerify       = "paVerifyPaymentNotice"
	OpGetPaymentV2 = "paGetPaymentV2"
	OpSendRTV2     = "paSendRTV2"
)

var (
	requestElem  = map[string]string{OpVerify: "paVerifyPaymentNoticeReq", OpGetPaymentV2: "paGetPaymentV2Request", OpSendRTV2: "paSendRTV2Request"}
	responseElem = map[string]string{OpVerify: "paVerifyPaymentNoticeRes", OpGetPaymentV2: "paGetPaymentV2Response", OpSendRTV2: "paSendRTV2Response"}
)

func opOfRequestElem(local string) string {
	for op, e := range requestElem {
		if e == local {
			return op
		}
	}
	return ""
}

// Outcomes.
const (
	OutcomeOK = "OK"
	OutcomeKO = "KO"
)

// Header is the first three elements of every request.
type Header struct {
	IDPA       string `xml:"idPA"`
	IDBrokerPA string `xml:"idBrokerPA"`
	IDStation  string `xml:"idStation"`
}

// QRCode identifies a notice: EC fiscal code and notice number.
type QRCode struct {
	FiscalCode   string `xml:"fiscalCode"`
	NoticeNumber string `xml:"noticeNumber"`
}

// VerifyRequest is paVerifyPaymentNoticeReq.
type VerifyRequest struct {
	Header
	QRCode QRCode `xml:"qrCode"`
}

// GetPaymentRequest is paGetPaymentV2Request.
type GetPaymentRequest struct {
	Header
	QRCode       QRCode         `xml:"qrCode"`
	Amount       *pagopa.Amount `xml:"amount,omitempty"`
	PaymentNote  string         `xml:"paymentNote,omitempty"`
	TransferType string         `xml:"transferType,omitempty"` // POSTAL or PAGOPA
	DueDate      string         `xml:"dueDate,omitempty"`
}

// SendRTRequest is paSendRTV2Request.
type SendRTRequest struct {
	Header
	Receipt pagopa.XMLReceipt `xml:"receipt"`
}

// Fault is the fault block of a KO response.
type Fault struct {
	FaultCode           string `xml:"faultCode"`
	FaultString         string `xml:"faultString"`
	ID                  string `xml:"id"`
	Description         string `xml:"description,omitempty"`
	Serial              *int   `xml:"serial,omitempty"`
	OriginalFaultCode   string `xml:"originalFaultCode,omitempty"`
	OriginalFaultString string `xml:"originalFaultString,omitempty"`
	OriginalDescription string `xml:"originalDescription,omitempty"`
}

// PaymentOptionDescription is the single entry of a verify paymentList.
type PaymentOptionDescription struct {
	Amount            pagopa.Amount `xml:"amount"`
	Options           string        `xml:"options"` // EQ, LS, GT, ANY
	DueDate           string        `xml:"dueDate,omitempty"`
	DetailDescription string        `xml:"detailDescription,omitempty"`
	AllCCP            bool          `xml:"allCCP"`
}

// VerifyResponse is paVerifyPaymentNoticeRes.
type VerifyResponse struct {
	Outcome            string                     `xml:"outcome"`
	Fault              *Fault                     `xml:"fault,omitempty"`
	PaymentList        []PaymentOptionDescription `xml:"paymentList>paymentOptionDescription,omitempty"`
	PaymentDescription string                     `xml:"paymentDescription,omitempty"`
	FiscalCodePA       string                     `xml:"fiscalCodePA,omitempty"`
	CompanyName        string                     `xml:"companyName,omitempty"`
	OfficeName         string                     `xml:"officeName,omitempty"`
}

// MarcaDaBollo is a digital stamp transfer (richiestaMarcaDaBollo).
type MarcaDaBollo struct {
	HashDocumento      string `xml:"hashDocumento"`
	TipoBollo          string `xml:"tipoBollo"`
	ProvinciaResidenza string `xml:"provinciaResidenza"`
}

// Transfer is one entry of a paGetPaymentV2 transferList.
type Transfer struct {
	IDTransfer            int                 `xml:"idTransfer"`
	TransferAmount        pagopa.Amount       `xml:"transferAmount"`
	FiscalCodePA          string              `xml:"fiscalCodePA"`
	CompanyName           string              `xml:"companyName,omitempty"`
	IBAN                  string              `xml:"IBAN,omitempty"`
	RichiestaMarcaDaBollo *MarcaDaBollo       `xml:"richiestaMarcaDaBollo,omitempty"`
	RemittanceInformation string              `xml:"remittanceInformation"`
	TransferCategory      string              `xml:"transferCategory"`
	Metadata              *pagopa.XMLMetadata `xml:"metadata,omitempty"`
}

// PaymentData is the data block of paGetPaymentV2Response.
type PaymentData struct {
	CreditorReferenceID string              `xml:"creditorReferenceId"`
	PaymentAmount       pagopa.Amount       `xml:"paymentAmount"`
	DueDate             string              `xml:"dueDate"`
	RetentionDate       string              `xml:"retentionDate,omitempty"`
	LastPayment         *bool               `xml:"lastPayment,omitempty"`
	Description         string              `xml:"description"`
	CompanyName         string              `xml:"companyName"`
	OfficeName          string              `xml:"officeName,omitempty"`
	Debtor              pagopa.XMLSubject   `xml:"debtor"`
	TransferList        []Transfer          `xml:"transferList>transfer"`
	Metadata            *pagopa.XMLMetadata `xml:"metadata,omitempty"`
}

// GetPaymentResponse is paGetPaymentV2Response.
type GetPaymentResponse struct {
	Outcome string       `xml:"outcome"`
	Fault   *Fault       `xml:"fault,omitempty"`
	Data    *PaymentData `xml:"data,omitempty"`
}

// SendRTResponse is paSendRTV2Response (ctResponse).
type SendRTResponse struct {
	Outcome string `xml:"outcome"`
	Fault   *Fault `xml:"fault,omitempty"`
}

// Request is a parsed EC request: Op and exactly one of the operation fields.
type Request struct {
	Op         string
	Verify     *VerifyRequest
	GetPayment *GetPaymentRequest
	SendRT     *SendRTRequest
}

// Header returns the request's header fields.
func (r *Request) Header() Header {
	switch {
	case r.Verify != nil:
		return r.Verify.Header
	case r.GetPayment != nil:
		return r.GetPayment.Header
	case r.SendRT != nil:
		return r.SendRT.Header
	}
	return Header{}
}

// SyntaxError is a request that cannot be served: Code is PAA_SINTASSI_XSD
// (not the XML the schema describes) or PAA_SINTASSI_EXTRAXSD (forbidden
// constructs such as a DTD). Op is the operation when it could be told.
type SyntaxError struct {
	Code string
	Op   string
	Msg  string
}

func (e *SyntaxError) Error() string { return "nodo: " + e.Code + ": " + e.Msg }

func xsdErr(op, format string, a ...any) *SyntaxError {
	return &SyntaxError{Code: CodeSintassiXSD, Op: op, Msg: fmt.Sprintf(format, a...)}
}

// forbiddenMarkup finds DTDs, entity declarations and other "<!" markup
// other than comments and CDATA, which we refuse before any parsing.
func forbiddenMarkup(b []byte) string {
	for i := 0; ; {
		j := bytes.Index(b[i:], []byte("<!"))
		if j < 0 {
			return ""
		}
		i += j
		rest := b[i:]
		if !bytes.HasPrefix(rest, []byte("<!--")) && !bytes.HasPrefix(rest, []byte("<![CDATA[")) {
			end := min(len(rest), 12)
			return string(rest[:end])
		}
		i += 2
	}
}

// ParseRequest parses a SOAP 1.1 envelope carrying one of the served
// operations and checks its fields against the contract (lengths and
// patterns). Errors are *SyntaxError.
func ParseRequest(body []byte) (*Request, error) {
	if m := forbiddenMarkup(body); m != "" {
		return nil, &SyntaxError{Code: CodeSintassiExtraXSD, Msg: fmt.Sprintf("markup %q is not allowed (no DTD or entity declarations)", m)}
	}
	d, start, err := openBody(body)
	if err != nil {
		return nil, xsdErr("", "%v", err)
	}
	if start.Name.Space != NSPaForNode {
		return nil, xsdErr(opOfRequestElem(start.Name.Local), "element %s is not in namespace %s", start.Name.Local, NSPaForNode)
	}
	op := opOfRequestElem(start.Name.Local)
	req := &Request{Op: op}
	var target any
	switch op {
	case OpVerify:
		req.Verify = &VerifyRequest{}
		target = req.Verify
	case OpGetPaymentV2:
		req.GetPayment = &GetPaymentRequest{}
		target = req.GetPayment
	case OpSendRTV2:
		req.SendRT = &SendRTRequest{}
		target = req.SendRT
	default:
		return nil, xsdErr("", "unknown operation element %s", start.Name.Local)
	}
	if err := d.DecodeElement(target, &start); err != nil {
		return nil, xsdErr(op, "%s: %v", start.Name.Local, err)
	}
	if err := req.validate(); err != nil {
		err.Op = op
		return nil, err
	}
	return req, nil
}

// openBody walks Envelope and Body and returns the decoder positioned on
// the first element inside Body.
func openBody(body []byte) (*xml.Decoder, xml.StartElement, error) {
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = true
	depth := 0 // 0 outside Envelope, 1 inside Envelope, 2 inside Body
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil, xml.StartElement{}, errors.New("no SOAP Body element")
		}
		if err != nil {
			return nil, xml.StartElement{}, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch {
			case depth == 0 && t.Name.Space == NSSOAP && t.Name.Local == "Envelope":
				depth = 1
			case depth == 0:
				return nil, xml.StartElement{}, fmt.Errorf("root element {%s}%s is not a SOAP 1.1 Envelope", t.Name.Space, t.Name.Local)
			case depth == 1 && t.Name.Space == NSSOAP && t.Name.Local == "Header":
				if err := d.Skip(); err != nil {
					return nil, xml.StartElement{}, err
				}
			case depth == 1 && t.Name.Space == NSSOAP && t.Name.Local == "Body":
				depth = 2
			case depth == 1:
				return nil, xml.StartElement{}, fmt.Errorf("unexpected element %s in Envelope", t.Name.Local)
			default:
				return d, t, nil
			}
		case xml.EndElement:
			return nil, xml.StartElement{}, errors.New("empty SOAP Body")
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return nil, xml.StartElement{}, errors.New("text outside elements")
			}
		case xml.Directive:
			return nil, xml.StartElement{}, errors.New("directives are not allowed")
		}
	}
}

func isDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func checkText(field, v string, minLen, maxLen int) *SyntaxError {
	if n := len([]rune(v)); n < minLen || n > maxLen {
		return xsdErr("", "%s: length %d, want %d..%d", field, n, minLen, maxLen)
	}
	return nil
}

func (h Header) validate() *SyntaxError {
	if err := checkText("idPA", h.IDPA, 1, 35); err != nil {
		return err
	}
	if err := checkText("idBrokerPA", h.IDBrokerPA, 1, 35); err != nil {
		return err
	}
	return checkText("idStation", h.IDStation, 1, 35)
}

func (q QRCode) validate() *SyntaxError {
	if !isDigits(q.FiscalCode, 11) {
		return xsdErr("", "qrCode/fiscalCode %q: want 11 digits", trunc(q.FiscalCode))
	}
	if !isDigits(q.NoticeNumber, 18) {
		return xsdErr("", "qrCode/noticeNumber %q: want 18 digits", trunc(q.NoticeNumber))
	}
	return nil
}

func trunc(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

func (r *Request) validate() *SyntaxError {
	if err := r.Header().validate(); err != nil {
		return err
	}
	switch {
	case r.Verify != nil:
		return r.Verify.QRCode.validate()
	case r.GetPayment != nil:
		g := r.GetPayment
		if err := g.QRCode.validate(); err != nil {
			return err
		}
		if g.TransferType != "" && g.TransferType != "POSTAL" && g.TransferType != "PAGOPA" {
			return xsdErr("", "transferType %q: want POSTAL or PAGOPA", trunc(g.TransferType))
		}
		return checkText("paymentNote", g.PaymentNote, 0, 210)
	case r.SendRT != nil:
		x := r.SendRT.Receipt
		if err := checkText("receipt/receiptId", x.ReceiptID, 1, 35); err != nil {
			return err
		}
		if err := (QRCode{FiscalCode: x.FiscalCode, NoticeNumber: x.NoticeNumber}).validate(); err != nil {
			return err
		}
		if x.Outcome != OutcomeOK && x.Outcome != OutcomeKO {
			return xsdErr("", "receipt/outcome %q: want OK or KO", trunc(x.Outcome))
		}
		if err := checkText("receipt/creditorReferenceId", x.CreditorReferenceID, 1, 35); err != nil {
			return err
		}
		if n := len(x.TransferList); n < 1 || n > 5 {
			return xsdErr("", "receipt/transferList: %d transfers, want 1..5", n)
		}
		if x.PaymentAmount <= 0 {
			return xsdErr("", "receipt/paymentAmount must be positive")
		}
	}
	return nil
}

// envelope marshals v as the only child of a SOAP Body, as element
// "pafn:<elem>" with the pafn namespace declared on the Envelope.
func envelope(elem string, v any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString(`<soapenv:Envelope xmlns:soapenv="` + NSSOAP + `" xmlns:pafn="` + NSPaForNode + `"><soapenv:Body>`)
	enc := xml.NewEncoder(&b)
	if err := enc.EncodeElement(v, xml.StartElement{Name: xml.Name{Local: "pafn:" + elem}}); err != nil {
		return nil, err
	}
	if err := enc.Flush(); err != nil {
		return nil, err
	}
	b.WriteString(`</soapenv:Body></soapenv:Envelope>`)
	return b.Bytes(), nil
}

// soapFault is a SOAP 1.1 Fault body, for requests that are not SOAP for a
// known operation at all.
func soapFault(code, msg string) []byte {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString(`<soapenv:Envelope xmlns:soapenv="` + NSSOAP + `"><soapenv:Body><soapenv:Fault><faultcode>soapenv:` + code + `</faultcode><faultstring>`)
	_ = xml.EscapeText(&b, []byte(msg))
	b.WriteString(`</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>`)
	return b.Bytes()
}

// SOAPFaultError is a SOAP 1.1 Fault answer.
type SOAPFaultError struct {
	Code, String string
}

func (e *SOAPFaultError) Error() string { return "nodo: SOAP fault " + e.Code + ": " + e.String }

// parseResponse decodes the Body child of a response envelope into v, after
// checking that it is the element want (or a SOAP Fault).
func parseResponse(body []byte, want string, v any) error {
	if m := forbiddenMarkup(body); m != "" {
		return fmt.Errorf("nodo: response has forbidden markup %q", m)
	}
	d, start, err := openBody(body)
	if err != nil {
		return fmt.Errorf("nodo: response: %w", err)
	}
	if start.Name.Space == NSSOAP && start.Name.Local == "Fault" {
		var f struct {
			Code   string `xml:"faultcode"`
			String string `xml:"faultstring"`
		}
		if err := d.DecodeElement(&f, &start); err != nil {
			return fmt.Errorf("nodo: SOAP fault: %w", err)
		}
		return &SOAPFaultError{Code: strings.TrimSpace(f.Code), String: strings.TrimSpace(f.String)}
	}
	if start.Name.Local != want || start.Name.Space != NSPaForNode {
		return fmt.Errorf("nodo: response element {%s}%s, want %s", start.Name.Space, start.Name.Local, want)
	}
	if err := d.DecodeElement(v, &start); err != nil {
		return fmt.Errorf("nodo: response %s: %w", want, err)
	}
	return nil
}
