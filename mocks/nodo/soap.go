package nodomock

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/ponte-pa/ponte/mocks/gpd"
	"github.com/ponte-pa/ponte/schemas/contracts/pafornode"
)

// The Nodo's side of the EC SOAP contract (paForNode, SOAP 1.1
// document/literal), written from shared/specs/nodo-ec-soap.md, the
// project's summary of pagopa-api @070efa90 (whose WSDL/XSD have no
// licence and are not copied). The simulator sends the requests and reads
// the answers; it shares no type with the EC endpoints in
// connectors/pagopa/nodo, so that a mistake there shows here. Every answer
// is judged, as the Nodo does, by the schema's rules (the contract package
// schemas/contracts/pafornode, which both sides read).

// Namespaces of the contract.
const (
	nsSOAP      = "http://schemas.xmlsoap.org/soap/envelope/"
	nsPaForNode = "http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd"
)

// Operations the simulator calls: V2, or the V1 primitives for a station
// configured for them (Options.V1).
const (
	OpVerify       = "paVerifyPaymentNotice"
	OpGetPayment   = "paGetPayment"
	OpGetPaymentV2 = "paGetPaymentV2"
	OpSendRT       = "paSendRT"
	OpSendRTV2     = "paSendRTV2"
)

// The V1 operations name their elements …Req/…Res, the V2 ones
// …Request/…Response.
var (
	requestElem = map[string]string{OpVerify: "paVerifyPaymentNoticeReq", OpGetPayment: "paGetPaymentReq",
		OpGetPaymentV2: "paGetPaymentV2Request", OpSendRT: "paSendRTReq", OpSendRTV2: "paSendRTV2Request"}
	responseElem = map[string]string{OpVerify: "paVerifyPaymentNoticeRes", OpGetPayment: "paGetPaymentRes",
		OpGetPaymentV2: "paGetPaymentV2Response", OpSendRT: "paSendRTRes", OpSendRTV2: "paSendRTV2Response"}
)

// Fault codes the simulator tells apart (nodo-ec-soap.md, "Fault codes an
// EC returns"); any other code comes back as a *FaultError all the same.
const (
	CodePagamentoSconosciuto = "PAA_PAGAMENTO_SCONOSCIUTO"
	CodePagamentoDuplicato   = "PAA_PAGAMENTO_DUPLICATO"
	CodeReceiptDuplicata     = "PAA_RECEIPT_DUPLICATA"
	CodeStazioneIntErrata    = "PAA_STAZIONE_INT_ERRATA"
)

// FaultError is a KO answer of an EC: outcome KO with a fault block.
type FaultError struct {
	Op          string
	Code        string
	Description string
}

func (e *FaultError) Error() string {
	s := "nodo mock: " + e.Op + " KO " + e.Code
	if e.Description != "" {
		s += ": " + e.Description
	}
	return s
}

// header is the first three elements of every request.
type header struct {
	IDPA       string `xml:"idPA"`
	IDBrokerPA string `xml:"idBrokerPA"`
	IDStation  string `xml:"idStation"`
}

type qrCode struct {
	FiscalCode   string `xml:"fiscalCode"`
	NoticeNumber string `xml:"noticeNumber"`
}

type verifyReq struct {
	header
	QRCode qrCode `xml:"qrCode"`
}

type getPaymentReq struct {
	header
	QRCode       qrCode      `xml:"qrCode"`
	Amount       *gpd.Amount `xml:"amount,omitempty"`
	TransferType string      `xml:"transferType,omitempty"`
}

type sendRTReq struct {
	header
	Receipt gpd.XMLReceipt `xml:"receipt"`
}

// koFault is the fault block of a KO answer.
type koFault struct {
	FaultCode   string `xml:"faultCode"`
	FaultString string `xml:"faultString"`
	ID          string `xml:"id"`
	Description string `xml:"description"`
}

// ctResponse: outcome and, on KO, the fault.
type outcome struct {
	Outcome string   `xml:"outcome"`
	Fault   *koFault `xml:"fault"`
}

func (o outcome) err(op string) error {
	switch o.Outcome {
	case "OK":
		return nil
	case "KO":
		if o.Fault == nil {
			return fmt.Errorf("nodo mock: %s: KO without a fault block", op)
		}
		return &FaultError{Op: op, Code: o.Fault.FaultCode, Description: cmpOr(o.Fault.Description, o.Fault.FaultString)}
	}
	return fmt.Errorf("nodo mock: %s: outcome %q, want OK or KO", op, o.Outcome)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

type verifyRes struct {
	outcome
	PaymentList []struct {
		Amount  gpd.Amount `xml:"amount"`
		Options string     `xml:"options"`
		DueDate string     `xml:"dueDate"`
		AllCCP  string     `xml:"allCCP"`
	} `xml:"paymentList>paymentOptionDescription"`
	PaymentDescription string `xml:"paymentDescription"`
	FiscalCodePA       string `xml:"fiscalCodePA"`
	CompanyName        string `xml:"companyName"`
}

type transfer struct {
	IDTransfer            int        `xml:"idTransfer"`
	TransferAmount        gpd.Amount `xml:"transferAmount"`
	FiscalCodePA          string     `xml:"fiscalCodePA"`
	IBAN                  string     `xml:"IBAN"`
	RichiestaMarcaDaBollo *struct {
		HashDocumento string `xml:"hashDocumento"`
	} `xml:"richiestaMarcaDaBollo"`
	RemittanceInformation string `xml:"remittanceInformation"`
	TransferCategory      string `xml:"transferCategory"`
}

type paymentData struct {
	CreditorReferenceID string         `xml:"creditorReferenceId"`
	PaymentAmount       gpd.Amount     `xml:"paymentAmount"`
	DueDate             string         `xml:"dueDate"`
	Description         string         `xml:"description"`
	CompanyName         string         `xml:"companyName"`
	Debtor              gpd.XMLSubject `xml:"debtor"`
	TransferList        []transfer     `xml:"transferList>transfer"`
}

type getPaymentRes struct {
	outcome
	Data *paymentData `xml:"data"`
}

// check applies the contract's rules to an activation (nodo-ec-soap.md,
// paGetPayment / paGetPaymentV2): the IUV matches the notice, 1..5
// transfers with ids 1..5 whose amounts add up to paymentAmount, each to
// an 11-digit EC fiscal code with an IBAN or a stamp; V2 requires
// companyName, and both dueDate.
func (d *paymentData) check(nav string, v1 bool) error {
	var errs []string
	bad := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	if d.CreditorReferenceID == "" || len(d.CreditorReferenceID) > 35 {
		bad("creditorReferenceId %q: want 1..35 characters", d.CreditorReferenceID)
	}
	if len(nav) == 18 && nav[0] == '3' && d.CreditorReferenceID != nav[1:] {
		bad("creditorReferenceId %s is not the IUV of notice %s", d.CreditorReferenceID, nav)
	}
	if d.PaymentAmount <= 0 {
		bad("paymentAmount must be positive")
	}
	if d.DueDate == "" {
		bad("dueDate is required")
	}
	if d.CompanyName == "" && !v1 {
		bad("companyName is required in V2")
	}
	if n := len(d.TransferList); n < 1 || n > 5 {
		bad("%d transfers, want 1..5", n)
	}
	var sum gpd.Amount
	seen := map[int]bool{}
	for i, t := range d.TransferList {
		if t.IDTransfer < 1 || t.IDTransfer > 5 || seen[t.IDTransfer] {
			bad("transfer %d: idTransfer %d, want a distinct 1..5", i+1, t.IDTransfer)
		}
		seen[t.IDTransfer] = true
		if t.TransferAmount <= 0 {
			bad("transfer %d: transferAmount must be positive", i+1)
		}
		sum += t.TransferAmount
		if !isDigits(t.FiscalCodePA, 11) {
			bad("transfer %d: fiscalCodePA %q: want 11 digits", i+1, t.FiscalCodePA)
		}
		if (t.IBAN == "") == (t.RichiestaMarcaDaBollo == nil) {
			bad("transfer %d: want either IBAN or richiestaMarcaDaBollo", i+1)
		}
	}
	if sum != d.PaymentAmount {
		bad("transfers add up to %d cents, paymentAmount is %d", sum, d.PaymentAmount)
	}
	if len(errs) > 0 {
		return errors.New("nodo mock: the EC's payment data break the contract: " + strings.Join(errs, "; "))
	}
	return nil
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

// ec calls one creditor institution's SOAP endpoint, as the Nodo does.
type ec struct {
	url                 string
	brokerID, stationID string
	hc                  *http.Client
}

func (c *ec) header(org string) header {
	return header{IDPA: org, IDBrokerPA: c.brokerID, IDStation: c.stationID}
}

// call sends req as the body of a SOAP 1.1 envelope and decodes the
// answer's body element into res.
func (c *ec) call(ctx context.Context, op string, req, res any) error {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString(`<soapenv:Envelope xmlns:soapenv="` + nsSOAP + `" xmlns:pafn="` + nsPaForNode + `"><soapenv:Body>`)
	// Children are unqualified: the schema sets no elementFormDefault.
	if err := xml.NewEncoder(&b).EncodeElement(req, xml.StartElement{Name: xml.Name{Local: "pafn:" + requestElem[op]}}); err != nil {
		return err
	}
	b.WriteString(`</soapenv:Body></soapenv:Envelope>`)
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, &b)
	if err != nil {
		return err
	}
	hr.Header.Set("Content-Type", "text/xml; charset=utf-8")
	hr.Header.Set("SOAPAction", `"`+op+`"`)
	resp, err := c.hc.Do(hr)
	if err != nil {
		return fmt.Errorf("nodo mock: %s: %w", op, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("nodo mock: %s: %w", op, err)
	}
	if err := decodeBody(data, responseElem[op], res); err != nil {
		return fmt.Errorf("nodo mock: %s: HTTP %d: %w", op, resp.StatusCode, err)
	}
	return nil
}

// decodeBody finds the only child of the envelope's Body, checks that it
// is the element want of the paForNode namespace and that it keeps every
// rule of the schema, and decodes it into v. The contract declares no
// wsdl:fault: a SOAP Fault is itself a breach.
func decodeBody(data []byte, want string, v any) error {
	b, err := pafornode.ReadEnvelope(data)
	if err != nil {
		return fmt.Errorf("not a SOAP 1.1 envelope: %w", err)
	}
	if b.Fault {
		return fmt.Errorf("a SOAP Fault (paForNode declares none: business errors are outcome KO)")
	}
	if err := b.Check(); err != nil {
		return fmt.Errorf("the EC's answer breaks the schema: %w", err)
	}
	var env struct {
		XMLName xml.Name
		Body    struct {
			Inner []struct {
				XMLName xml.Name
				Raw     []byte `xml:",innerxml"`
			} `xml:",any"`
		} `xml:"Body"`
	}
	if err := xml.Unmarshal(data, &env); err != nil {
		return fmt.Errorf("not XML: %w", err)
	}
	if env.XMLName.Space != nsSOAP || env.XMLName.Local != "Envelope" {
		return fmt.Errorf("root {%s}%s is not a SOAP 1.1 Envelope", env.XMLName.Space, env.XMLName.Local)
	}
	if len(env.Body.Inner) != 1 {
		return fmt.Errorf("the Body has %d elements, want 1", len(env.Body.Inner))
	}
	in := env.Body.Inner[0]
	if in.XMLName.Space == nsSOAP && in.XMLName.Local == "Fault" {
		return fmt.Errorf("a SOAP Fault (paForNode declares none: business errors are outcome KO)")
	}
	if in.XMLName.Space != nsPaForNode || in.XMLName.Local != want {
		return fmt.Errorf("answer {%s}%s, want {%s}%s", in.XMLName.Space, in.XMLName.Local, nsPaForNode, want)
	}
	return xml.Unmarshal(append(append([]byte("<x>"), in.Raw...), "</x>"...), v)
}
