// Package nodo implements the creditor institution (EC) side of the pagoPA
// Nodo SOAP contract (paForNode, SOAP 1.1 document/literal; a summary of
// the official WSDL/XSD is in the project's shared specs, nodo-ec-soap.md,
// and the XSD's rules are in schemas/contracts/pafornode): an http.Handler
// serving paVerifyPaymentNotice, paGetPayment(V2) and paSendRT(V2) over a
// Backend that holds the comune's notices, an in-memory Backend, the
// receipt backend, and a client that plays the Nodo in tests (the Nodo
// simulator under mocks/ has SOAP envelopes of its own). Every request is
// checked against the schema, and so is every reply before it leaves.
package nodo

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ponte-pa/ponte/connectors/pagopa"
	"github.com/ponte-pa/ponte/schemas/contracts/pafornode"
)

// Namespaces of the contract.
const (
	NSSOAP      = "http://schemas.xmlsoap.org/soap/envelope/"
	NSPaForNode = "http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd"
)

// Operations of the WSDL (paForNode.wsdl, portType paForNode), with their
// request and response element names. The V1 primitives paGetPayment and
// paSendRT are served for stations still configured for them;
// paDemandPaymentNotice (spontaneous payments) is answered KO.
const (
	OpVerify              = "paVerifyPaymentNotice"
	OpGetPayment          = "paGetPayment"
	OpGetPaymentV2        = "paGetPaymentV2"
	OpSendRT              = "paSendRT"
	OpSendRTV2            = "paSendRTV2"
	OpDemandPaymentNotice = "paDemandPaymentNotice"
)

// The V1 operations name their elements …Req/…Res, the V2 ones and
// paDemandPaymentNotice …Request/…Response.
var (
	requestElem = map[string]string{OpVerify: "paVerifyPaymentNoticeReq", OpGetPayment: "paGetPaymentReq",
		OpGetPaymentV2: "paGetPaymentV2Request", OpSendRT: "paSendRTReq", OpSendRTV2: "paSendRTV2Request",
		OpDemandPaymentNotice: "paDemandPaymentNoticeRequest"}
	responseElem = map[string]string{OpVerify: "paVerifyPaymentNoticeRes", OpGetPayment: "paGetPaymentRes",
		OpGetPaymentV2: "paGetPaymentV2Response", OpSendRT: "paSendRTRes", OpSendRTV2: "paSendRTV2Response",
		OpDemandPaymentNotice: "paDemandPaymentNoticeResponse"}
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

// GetPaymentRequest is paGetPaymentV2Request, or paGetPaymentReq (V1),
// whose elements are the same.
type GetPaymentRequest struct {
	Header
	QRCode       QRCode         `xml:"qrCode"`
	Amount       *pagopa.Amount `xml:"amount,omitempty"`
	PaymentNote  string         `xml:"paymentNote,omitempty"`
	TransferType string         `xml:"transferType,omitempty"` // POSTAL or PAGOPA
	DueDate      string         `xml:"dueDate,omitempty"`
}

// SendRTRequest is paSendRTV2Request, or paSendRTReq (V1): ctReceipt is
// ctReceiptV2 without the V2 elements, which the schema check refuses there.
type SendRTRequest struct {
	Header
	Receipt pagopa.XMLReceipt `xml:"receipt"`
}

// DemandRequest is paDemandPaymentNoticeRequest (spontaneous payments).
type DemandRequest struct {
	Header
	IDServizio                   string `xml:"idServizio"`
	IDSoggettoServizio           string `xml:"idSoggettoServizio"`
	DatiSpecificiServizioRequest string `xml:"datiSpecificiServizioRequest"` // base64
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

// PaymentList is ctPaymentOptionsDescriptionListPA: when present it holds
// exactly one option, so a KO answer leaves the whole list out (an empty
// <paymentList/> breaks the schema and the Nodo drops the answer).
type PaymentList struct {
	Option PaymentOptionDescription `xml:"paymentOptionDescription"`
}

// VerifyResponse is paVerifyPaymentNoticeRes.
type VerifyResponse struct {
	Outcome            string       `xml:"outcome"`
	Fault              *Fault       `xml:"fault,omitempty"`
	PaymentList        *PaymentList `xml:"paymentList,omitempty"`
	PaymentDescription string       `xml:"paymentDescription,omitempty"`
	FiscalCodePA       string       `xml:"fiscalCodePA,omitempty"`
	CompanyName        string       `xml:"companyName,omitempty"`
	OfficeName         string       `xml:"officeName,omitempty"`
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

// TransferV1 is one entry of a paGetPayment (V1) transferList,
// ctTransferPA: no companyName, and an IBAN always (V1 has no stamps).
type TransferV1 struct {
	IDTransfer            int                 `xml:"idTransfer"`
	TransferAmount        pagopa.Amount       `xml:"transferAmount"`
	FiscalCodePA          string              `xml:"fiscalCodePA"`
	IBAN                  string              `xml:"IBAN"`
	RemittanceInformation string              `xml:"remittanceInformation"`
	TransferCategory      string              `xml:"transferCategory"`
	Metadata              *pagopa.XMLMetadata `xml:"metadata,omitempty"`
}

// PaymentDataV1 is the data block of paGetPaymentRes, ctPaymentPA.
type PaymentDataV1 struct {
	CreditorReferenceID string              `xml:"creditorReferenceId"`
	PaymentAmount       pagopa.Amount       `xml:"paymentAmount"`
	DueDate             string              `xml:"dueDate"`
	RetentionDate       string              `xml:"retentionDate,omitempty"`
	LastPayment         *bool               `xml:"lastPayment,omitempty"`
	Description         string              `xml:"description"`
	CompanyName         string              `xml:"companyName,omitempty"`
	OfficeName          string              `xml:"officeName,omitempty"`
	Debtor              pagopa.XMLSubject   `xml:"debtor"`
	TransferList        []TransferV1        `xml:"transferList>transfer"`
	Metadata            *pagopa.XMLMetadata `xml:"metadata,omitempty"`
}

// GetPaymentV1Response is paGetPaymentRes.
type GetPaymentV1Response struct {
	Outcome string         `xml:"outcome"`
	Fault   *Fault         `xml:"fault,omitempty"`
	Data    *PaymentDataV1 `xml:"data,omitempty"`
}

// SendRTResponse is paSendRTV2Response or paSendRTRes (ctResponse both).
type SendRTResponse struct {
	Outcome string `xml:"outcome"`
	Fault   *Fault `xml:"fault,omitempty"`
}

// DemandResponse is paDemandPaymentNoticeResponse; only its KO form is
// sent.
type DemandResponse struct {
	Outcome string `xml:"outcome"`
	Fault   *Fault `xml:"fault,omitempty"`
}

// Request is a parsed EC request: Op and exactly one of the operation
// fields (GetPayment serves paGetPayment and paGetPaymentV2, SendRT
// paSendRT and paSendRTV2).
type Request struct {
	Op         string
	Verify     *VerifyRequest
	GetPayment *GetPaymentRequest
	SendRT     *SendRTRequest
	Demand     *DemandRequest
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
	case r.Demand != nil:
		return r.Demand.Header
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

// VersionMismatchError is an envelope of another SOAP version (SOAP 1.2):
// the endpoint speaks SOAP 1.1 only, as the WSDL binding says, and answers
// it with a SOAP 1.1 VersionMismatch fault (SOAP 1.1 §4.4.1; SOAP 1.2 Part
// 1, Appendix A: "A SOAP 1.1 node receiving a SOAP 1.2 message will
// according to SOAP 1.1 generate a version mismatch SOAP fault").
type VersionMismatchError struct{ Namespace string }

func (e *VersionMismatchError) Error() string {
	return "nodo: envelope namespace " + e.Namespace + " is not SOAP 1.1"
}

// MustUnderstandError is a request with a SOAP Header entry for this
// endpoint marked mustUnderstand="1": paForNode defines no header entries,
// so the endpoint understands none and answers a SOAP 1.1 MustUnderstand
// fault (SOAP 1.1 §4.2.3, §4.4.1) instead of processing the Body as if the
// entry were not there.
type MustUnderstandError struct{ Header xml.Name }

func (e *MustUnderstandError) Error() string {
	return fmt.Sprintf("nodo: SOAP header entry {%s}%s must be understood, and this endpoint understands no header entries", e.Header.Space, e.Header.Local)
}

// ParseRequest parses a SOAP 1.1 envelope carrying one of the operations of
// the WSDL and checks it against the paForNode schema (every element,
// order, length, pattern and enumeration; pafornode). Errors are
// *SyntaxError (Op "" when the body names no operation of the contract),
// *VersionMismatchError for a SOAP 1.2 envelope, or *MustUnderstandError.
func ParseRequest(body []byte) (*Request, error) {
	if m := forbiddenMarkup(body); m != "" {
		return nil, &SyntaxError{Code: CodeSintassiExtraXSD, Msg: fmt.Sprintf("markup %q is not allowed (no DTD or entity declarations)", m)}
	}
	env, err := pafornode.ReadEnvelope(body)
	if err != nil {
		var ve *pafornode.VersionError
		if errors.As(err, &ve) {
			return nil, &VersionMismatchError{Namespace: ve.Namespace}
		}
		var mu *pafornode.MustUnderstandError
		if errors.As(err, &mu) {
			return nil, &MustUnderstandError{Header: mu.Header}
		}
		return nil, xsdErr("", "%v", err)
	}
	op := opOfRequestElem(env.Name.Local)
	if env.Fault || op == "" {
		return nil, xsdErr("", "unknown operation: {%s}%s is not a request of paForNode", env.Name.Space, env.Name.Local)
	}
	if env.Name.Space != NSPaForNode {
		return nil, xsdErr(op, "element %s is not in namespace %s", env.Name.Local, NSPaForNode)
	}
	if err := env.Check(); err != nil {
		return nil, xsdErr(op, "%v", err)
	}
	d, start, err := openBody(body)
	if err != nil {
		return nil, xsdErr(op, "%v", err)
	}
	req := &Request{Op: op}
	var target any
	switch op {
	case OpVerify:
		req.Verify = &VerifyRequest{}
		target = req.Verify
	case OpGetPayment, OpGetPaymentV2:
		req.GetPayment = &GetPaymentRequest{}
		target = req.GetPayment
	case OpSendRT, OpSendRTV2:
		req.SendRT = &SendRTRequest{}
		target = req.SendRT
	case OpDemandPaymentNotice:
		req.Demand = &DemandRequest{}
		target = req.Demand
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

// validate applies the rules beyond the schema: a receipt needs an id to be
// stored once (receiptId is a bare xsd:string, which may be empty).
func (r *Request) validate() *SyntaxError {
	if r.SendRT != nil && strings.TrimSpace(r.SendRT.Receipt.ReceiptID) == "" {
		return &SyntaxError{Code: CodeSintassiExtraXSD, Msg: "receipt/receiptId is empty"}
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
