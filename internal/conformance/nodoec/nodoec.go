// Package nodoec is the conformance suite "nodo-ec": it calls a creditor
// institution's (EC) SOAP endpoint as the pagoPA Nodo does — paVerifyPaymentNotice,
// paGetPaymentV2, paSendRTV2 and the V1 primitives — and checks every answer
// against the paForNode contract (schemas/contracts/pafornode, the rules of
// the official XSD) and the PAA_* fault codes an EC returns. It shares no
// code with Ponte's own EC endpoint (connectors/pagopa/nodo), so that a
// mistake there shows here, and it runs against any EC endpoint.
package nodoec

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ponte-pa/ponte/internal/conformance"
	"github.com/ponte-pa/ponte/schemas/contracts/pafornode"
)

// Name is the suite's name.
const Name = "nodo-ec"

// Doc is the suite's documentation, with its options.
const Doc = `A Nodo EC SOAP endpoint (SOAP 1.1, paForNode): --target is the URL the station is
registered with (e.g. https://gateway/t/<tenant>/pagopa/nodo). The suite PAYS the notice
--opt nav: give it an open test notice, never a real citizen's.
Options: ec=<EC fiscal code, 11 digits> (required), station=<idStation> (required),
  broker=<idBrokerPA> (default: ec; when given, a wrong broker is checked too),
  nav=<an open notice number the EC holds, 18 digits> (required), amount=<its amount in
  euros, e.g. 120.50> (required), nav-v1=… and amount-v1=… (optional: a second open notice,
  paid with the V1 primitives paGetPayment/paSendRT; without it that case is skipped),
  unknown-nav=<a notice number the EC does not hold> (default: derived from nav).`

func init() {
	conformance.Register(conformance.Suite{Name: Name, Doc: Doc, Cases: Cases, List: List})
}

// The contract's operations and elements (the V1 ones end …Req/…Res).
const (
	opVerify       = "paVerifyPaymentNotice"
	opGetPayment   = "paGetPayment"
	opGetPaymentV2 = "paGetPaymentV2"
	opSendRT       = "paSendRT"
	opSendRTV2     = "paSendRTV2"
)

var (
	requestElem = map[string]string{opVerify: "paVerifyPaymentNoticeReq", opGetPayment: "paGetPaymentReq",
		opGetPaymentV2: "paGetPaymentV2Request", opSendRT: "paSendRTReq", opSendRTV2: "paSendRTV2Request"}
	responseElem = map[string]string{opVerify: "paVerifyPaymentNoticeRes", opGetPayment: "paGetPaymentRes",
		opGetPaymentV2: "paGetPaymentV2Response", opSendRT: "paSendRTRes", opSendRTV2: "paSendRTV2Response"}
)

// Where the rules come from.
const (
	srcXSD   = "paForNode.xsd (pagopa-api)"
	srcCodes = "pagoPA SANP, fault codes an EC returns"
	srcSOAP  = "SOAP 1.1"
)

// config is the suite's options, checked.
type config struct {
	url, ec, station, broker string
	brokerGiven              bool
	nav, unknownNAV          string
	cents                    int64
	navV1                    string
	centsV1                  int64
}

var (
	reFiscalCode = regexp.MustCompile(`^[0-9]{11}$`)
	reNAV        = regexp.MustCompile(`^[0-9]{18}$`)
	reAmount     = regexp.MustCompile(`^([0-9]{1,9})(?:[.,]([0-9]{1,2}))?$`)
)

func readConfig(tg *conformance.Target) (*config, error) {
	c := &config{url: tg.URL, ec: tg.Opt("ec"), station: tg.Opt("station"), broker: tg.Opt("broker"), nav: tg.Opt("nav")}
	var missing []string
	for _, k := range []string{"ec", "station", "nav", "amount"} {
		if tg.Opt(k) == "" {
			missing = append(missing, "--opt "+k+"=…")
		}
	}
	if len(missing) > 0 {
		return nil, conformance.Optionf("suite %s needs %s (see 'ponte conformance run --help')", Name, strings.Join(missing, ", "))
	}
	if !strings.HasPrefix(tg.URL, "http://") && !strings.HasPrefix(tg.URL, "https://") {
		return nil, conformance.Optionf("--target %q: want the endpoint's http(s) URL", tg.URL)
	}
	if !reFiscalCode.MatchString(c.ec) {
		return nil, conformance.Optionf("--opt ec=%q: an EC's fiscal code is 11 digits (stFiscalCodePA)", c.ec)
	}
	c.brokerGiven = c.broker != ""
	if !c.brokerGiven {
		c.broker = c.ec
	}
	for k, v := range map[string]string{"station": c.station, "broker": c.broker} {
		if n := len([]rune(v)); n > 35 {
			return nil, conformance.Optionf("--opt %s=%q: at most 35 characters (stText35)", k, v)
		}
	}
	var err error
	if c.cents, err = cents(tg.Opt("amount")); err != nil {
		return nil, conformance.Optionf("--opt amount=%q: %v", tg.Opt("amount"), err)
	}
	if !reNAV.MatchString(c.nav) {
		return nil, conformance.Optionf("--opt nav=%q: a notice number is 18 digits", c.nav)
	}
	c.unknownNAV = tg.Opt("unknown-nav")
	if c.unknownNAV == "" {
		c.unknownNAV = otherNAV(c.nav)
	}
	if !reNAV.MatchString(c.unknownNAV) || c.unknownNAV == c.nav {
		return nil, conformance.Optionf("--opt unknown-nav=%q: want 18 digits, not the notice of --opt nav", c.unknownNAV)
	}
	if c.navV1 = tg.Opt("nav-v1"); c.navV1 != "" {
		if !reNAV.MatchString(c.navV1) || c.navV1 == c.nav {
			return nil, conformance.Optionf("--opt nav-v1=%q: want 18 digits, another notice than --opt nav", c.navV1)
		}
		if c.centsV1, err = cents(tg.Opt("amount-v1")); err != nil {
			return nil, conformance.Optionf("--opt amount-v1=%q (the amount of nav-v1): %v", tg.Opt("amount-v1"), err)
		}
	}
	return c, nil
}

// cents reads an amount in euros ("120.50", "120,5", "120").
func cents(s string) (int64, error) {
	m := reAmount.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("want euros with up to two decimals, e.g. 120.50")
	}
	e, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, err
	}
	frac := m[2]
	for len(frac) < 2 {
		frac += "0"
	}
	c, err := strconv.ParseInt(frac, 10, 64)
	if err != nil {
		return 0, err
	}
	if e*100+c <= 0 {
		return 0, fmt.Errorf("want a positive amount")
	}
	return e*100 + c, nil
}

// sameAmount compares an amount of the answer (stAmount: digits, a dot,
// two decimals) with want cents.
func sameAmount(s string, want int64) bool {
	c, err := cents(s)
	return err == nil && c == want
}

func euros(c int64) string { return fmt.Sprintf("%d.%02d", c/100, c%100) }

// otherNAV is a notice number of the same layout (aux digit, segregation
// or application code) as nav, with another base and, where the layout
// has them, right check digits: a notice the EC is not expected to hold.
func otherNAV(nav string) string {
	shift := func(s string) string {
		b := []byte(s)
		for i := range b {
			b[i] = '0' + (b[i]-'0'+5)%10
		}
		return string(b)
	}
	switch nav[0] {
	case '0', '3': // aux + code(2) + base(13) + check(2)
		head := nav[:3] + shift(nav[3:16])
		return head + mod93(head)
	case '2': // aux + base(15) + check(2)
		head := nav[:1] + shift(nav[1:16])
		return head + mod93(head)
	}
	return nav[:1] + shift(nav[1:])
}

func mod93(digits string) string {
	r := 0
	for i := 0; i < len(digits); i++ {
		r = (r*10 + int(digits[i]-'0')) % 93
	}
	return fmt.Sprintf("%02d", r)
}

// iuv is the creditor reference (IUV) a notice number carries.
func iuv(nav string) string {
	if nav[0] == '0' {
		return nav[3:]
	}
	return nav[1:]
}

// otherFiscalCode is an 11-digit fiscal code that is not ec.
func otherFiscalCode(ec string) string {
	if ec == "00000000000" {
		return "11111111111"
	}
	return "00000000000"
}

// suite is one run: the options and what earlier cases learnt.
type suite struct {
	c *config
	// payment is what paGetPaymentV2 answered for nav: the receipt is
	// built from it, as the Nodo does.
	payment *paymentData
	// receipt is the paSendRTV2 receipt sent, sent again as a duplicate.
	receipt []byte
	runID   string
}

// List is the suite's cases, for `ponte conformance list`.
func List() []conformance.Case { return (&suite{c: &config{}}).cases() }

// Cases checks the options and returns the cases, in the order they run:
// the notice is paid near the end.
func Cases(_ context.Context, tg *conformance.Target) ([]conformance.Case, error) {
	c, err := readConfig(tg)
	if err != nil {
		return nil, err
	}
	s := &suite{c: c, runID: time.Now().UTC().Format("20060102150405")}
	return s.cases(), nil
}

func (s *suite) cases() []conformance.Case {
	c := s.c
	kase := func(name, rule string, run func(ctx context.Context, tg *conformance.Target) error) conformance.Case {
		return conformance.Case{Name: name, Rule: rule, Run: run}
	}
	return []conformance.Case{
		kase("verify/ok", srcXSD+" paVerifyPaymentNoticeRes: outcome OK for an open notice, one paymentOptionDescription with its amount, fiscalCodePA the EC's",
			func(ctx context.Context, tg *conformance.Target) error {
				a, err := s.call(ctx, tg, opVerify, s.verifyReq(c.ec, c.broker, c.station, c.nav))
				if err != nil {
					return err
				}
				if err := a.wantOK(); err != nil {
					return err
				}
				var errs []string
				switch {
				case a.res.PaymentList == nil:
					errs = append(errs, "no paymentList: the PSP cannot show the amount to pay")
				case !sameAmount(a.res.PaymentList.Amount, c.cents):
					errs = append(errs, fmt.Sprintf("paymentList amount %s, the notice's (--opt amount) is %s", a.res.PaymentList.Amount, euros(c.cents)))
				}
				if a.res.FiscalCodePA != "" && a.res.FiscalCodePA != c.ec {
					errs = append(errs, fmt.Sprintf("fiscalCodePA %s, want the EC's %s", a.res.FiscalCodePA, c.ec))
				}
				return joined(opVerify, errs)
			}),
		kase("getPaymentV2/ok", srcXSD+" paGetPaymentV2Response: outcome OK, data with creditorReferenceId the notice's IUV, paymentAmount the notice's, 1..5 transfers adding up to it",
			func(ctx context.Context, tg *conformance.Target) error {
				a, err := s.call(ctx, tg, opGetPaymentV2, s.getPaymentReq(opGetPaymentV2, c.nav, c.cents))
				if err != nil {
					return err
				}
				if err := a.wantOK(); err != nil {
					return err
				}
				if err := a.checkPayment(opGetPaymentV2, c.nav, c.cents); err != nil {
					return err
				}
				s.payment = a.res.Data
				return nil
			}),
		kase("getPayment-v1/ok", srcXSD+" paGetPaymentRes (V1 primitive, when the endpoint offers it): outcome OK with the payment data",
			func(ctx context.Context, tg *conformance.Target) error {
				a, err := s.call(ctx, tg, opGetPayment, s.getPaymentReq(opGetPayment, c.nav, c.cents))
				if err != nil {
					return err
				}
				if a.fault != nil {
					return conformance.Skipf("the endpoint does not offer the V1 primitive paGetPayment (it answered a SOAP Fault %s: %s)", a.fault.Code, a.fault.String)
				}
				if err := a.wantOK(); err != nil {
					return err
				}
				return a.checkPayment(opGetPayment, c.nav, c.cents)
			}),
		kase("getPaymentV2/wrong-amount", srcCodes+": an activation for another amount than the notice's is outcome KO with PAA_ATTIVA_RPT_IMPORTO_NON_VALIDO",
			s.wantKO(opGetPaymentV2, func() []byte { return s.getPaymentReq(opGetPaymentV2, c.nav, c.cents+100) }, "PAA_ATTIVA_RPT_IMPORTO_NON_VALIDO")),
		kase("verify/unknown-notice", srcCodes+": a notice the EC does not hold is outcome KO with PAA_PAGAMENTO_SCONOSCIUTO",
			s.wantKO(opVerify, func() []byte { return s.verifyReq(c.ec, c.broker, c.station, c.unknownNAV) }, "PAA_PAGAMENTO_SCONOSCIUTO")),
		kase("getPaymentV2/unknown-notice", srcCodes+": activating a notice the EC does not hold is outcome KO with PAA_PAGAMENTO_SCONOSCIUTO",
			s.wantKO(opGetPaymentV2, func() []byte { return s.getPaymentReq(opGetPaymentV2, c.unknownNAV, c.cents) }, "PAA_PAGAMENTO_SCONOSCIUTO")),
		kase("verify/wrong-ec", srcCodes+": a request for another EC (idPA) than the endpoint's is outcome KO with PAA_ID_DOMINIO_ERRATO",
			s.wantKO(opVerify, func() []byte {
				return s.verifyReq(otherFiscalCode(c.ec), c.broker, c.station, c.nav)
			}, "PAA_ID_DOMINIO_ERRATO")),
		kase("verify/wrong-station", srcCodes+": a request naming another station (idStation) is outcome KO with PAA_STAZIONE_INT_ERRATA",
			s.wantKO(opVerify, func() []byte { return s.verifyReq(c.ec, c.broker, c.station+"X", c.nav) }, "PAA_STAZIONE_INT_ERRATA")),
		kase("verify/wrong-broker", srcCodes+": a request naming another broker (idBrokerPA) is outcome KO with PAA_ID_INTERMEDIARIO_ERRATO",
			func(ctx context.Context, tg *conformance.Target) error {
				if !c.brokerGiven {
					return conformance.Skipf("no --opt broker: the broker the endpoint expects is not known")
				}
				return s.wantKO(opVerify, func() []byte { return s.verifyReq(c.ec, otherFiscalCode(c.broker), c.station, c.nav) },
					"PAA_ID_INTERMEDIARIO_ERRATO")(ctx, tg)
			}),
		kase("request/schema-violation", srcCodes+": a request that breaks paForNode.xsd (a 17-digit noticeNumber) is outcome KO with PAA_SINTASSI_XSD, HTTP 200",
			s.wantKO(opVerify, func() []byte { return s.verifyReq(c.ec, c.broker, c.station, c.nav[:17]) }, "PAA_SINTASSI_XSD")),
		kase("soap/malformed", srcSOAP+" §4.4, §6.2: a body that is not a SOAP envelope is answered with a SOAP 1.1 Fault (faultcode Client) in text/xml with HTTP 500, not an error page",
			func(ctx context.Context, tg *conformance.Target) error {
				return s.wantSOAPFault(ctx, tg, "text/xml; charset=utf-8", "", []byte("<soapenv:Envelope this is not XML"), "Client")
			}),
		kase("soap/1.2", srcSOAP+" §4.4.1 (SOAP 1.2 Part 1 app. A): a SOAP 1.2 envelope is answered with a SOAP 1.1 VersionMismatch Fault, HTTP 500",
			func(ctx context.Context, tg *conformance.Target) error {
				body := bytes.Replace(s.verifyReq(c.ec, c.broker, c.station, c.nav), []byte(pafornode.NSSOAP11), []byte(pafornode.NSSOAP12), 1)
				return s.wantSOAPFault(ctx, tg, `application/soap+xml; charset=utf-8; action="paVerifyPaymentNotice"`, "", body, "VersionMismatch")
			}),
		kase("soap/must-understand", srcSOAP+" §4.2.3, §4.4.1: a Header entry for the endpoint marked mustUnderstand=\"1\", which paForNode does not define, is answered with a MustUnderstand Fault, HTTP 500, not processed as if it were absent",
			func(ctx context.Context, tg *conformance.Target) error {
				body := bytes.Replace(s.verifyReq(c.ec, c.broker, c.station, c.nav), []byte("<soapenv:Header/>"),
					[]byte(`<soapenv:Header><wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" soapenv:mustUnderstand="1"/></soapenv:Header>`), 1)
				return s.wantSOAPFault(ctx, tg, "text/xml; charset=utf-8", opVerify, body, "MustUnderstand")
			}),
		kase("sendRTV2/ok", srcXSD+" paSendRTV2Response: the receipt of the activated payment is outcome OK",
			func(ctx context.Context, tg *conformance.Target) error {
				if s.payment == nil {
					return conformance.Skipf("needs the payment data of getPaymentV2/ok, which did not pass")
				}
				s.receipt = s.sendRTReq(opSendRTV2, c.nav, s.payment, "V2")
				a, err := s.call(ctx, tg, opSendRTV2, s.receipt)
				if err != nil {
					return err
				}
				return a.wantOK()
			}),
		kase("sendRTV2/duplicate", srcCodes+": the same receipt delivered again is outcome KO with PAA_RECEIPT_DUPLICATA",
			func(ctx context.Context, tg *conformance.Target) error {
				if s.receipt == nil {
					return conformance.Skipf("needs the receipt of sendRTV2/ok")
				}
				return s.wantKO(opSendRTV2, func() []byte { return s.receipt }, "PAA_RECEIPT_DUPLICATA")(ctx, tg)
			}),
		kase("verify/already-paid", srcCodes+": verifying a paid notice is outcome KO with PAA_PAGAMENTO_DUPLICATO",
			s.afterPayment(opVerify, func() []byte { return s.verifyReq(c.ec, c.broker, c.station, c.nav) })),
		kase("getPaymentV2/already-paid", srcCodes+": activating a paid notice is outcome KO with PAA_PAGAMENTO_DUPLICATO",
			s.afterPayment(opGetPaymentV2, func() []byte { return s.getPaymentReq(opGetPaymentV2, c.nav, c.cents) })),
		kase("sendRT-v1/ok", srcXSD+" paGetPaymentRes, paSendRTRes (V1 primitives): a second notice (--opt nav-v1) activated and its receipt accepted, outcome OK",
			func(ctx context.Context, tg *conformance.Target) error {
				if c.navV1 == "" {
					return conformance.Skipf("no --opt nav-v1 (a second open notice to pay with the V1 primitives)")
				}
				a, err := s.call(ctx, tg, opGetPayment, s.getPaymentReq(opGetPayment, c.navV1, c.centsV1))
				if err != nil {
					return err
				}
				if a.fault != nil {
					return conformance.Skipf("the endpoint does not offer the V1 primitive paGetPayment (SOAP Fault %s)", a.fault.Code)
				}
				if err := a.wantOK(); err != nil {
					return err
				}
				if err := a.checkPayment(opGetPayment, c.navV1, c.centsV1); err != nil {
					return err
				}
				b, err := s.call(ctx, tg, opSendRT, s.sendRTReq(opSendRT, c.navV1, a.res.Data, "V1"))
				if err != nil {
					return err
				}
				return b.wantOK()
			}),
	}
}

// afterPayment expects PAA_PAGAMENTO_DUPLICATO once the notice is paid.
func (s *suite) afterPayment(op string, req func() []byte) func(ctx context.Context, tg *conformance.Target) error {
	return func(ctx context.Context, tg *conformance.Target) error {
		if s.receipt == nil {
			return conformance.Skipf("needs the notice paid by sendRTV2/ok")
		}
		return s.wantKO(op, req, "PAA_PAGAMENTO_DUPLICATO")(ctx, tg)
	}
}

func (s *suite) wantKO(op string, req func() []byte, code string) func(ctx context.Context, tg *conformance.Target) error {
	return func(ctx context.Context, tg *conformance.Target) error {
		a, err := s.call(ctx, tg, op, req())
		if err != nil {
			return err
		}
		return a.wantKO(code)
	}
}

func joined(op string, errs []string) error {
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%s: %s", op, strings.Join(errs, "; "))
}

// Requests, as the Nodo sends them: SOAP 1.1, the Body element in the
// paForNode namespace, its children unqualified.

func esc(s string) string {
	var b strings.Builder
	if err := xml.EscapeText(&b, []byte(s)); err != nil {
		return "" // a strings.Builder does not fail
	}
	return b.String()
}

func envelope(elem, inner string) []byte {
	return []byte(xml.Header + `<soapenv:Envelope xmlns:soapenv="` + pafornode.NSSOAP11 + `" xmlns:pafn="` + pafornode.NS + `">` +
		`<soapenv:Header/><soapenv:Body><pafn:` + elem + `>` + inner + `</pafn:` + elem + `></soapenv:Body></soapenv:Envelope>`)
}

func header(ec, broker, station string) string {
	return `<idPA>` + esc(ec) + `</idPA><idBrokerPA>` + esc(broker) + `</idBrokerPA><idStation>` + esc(station) + `</idStation>`
}

func qrCode(ec, nav string) string {
	return `<qrCode><fiscalCode>` + esc(ec) + `</fiscalCode><noticeNumber>` + esc(nav) + `</noticeNumber></qrCode>`
}

func (s *suite) verifyReq(ec, broker, station, nav string) []byte {
	return envelope(requestElem[opVerify], header(ec, broker, station)+qrCode(ec, nav))
}

func (s *suite) getPaymentReq(op, nav string, cents int64) []byte {
	return envelope(requestElem[op], header(s.c.ec, s.c.broker, s.c.station)+qrCode(s.c.ec, nav)+
		`<amount>`+euros(cents)+`</amount><transferType>PAGOPA</transferType>`)
}

// stampDocument is the base64 of a digital stamp's document, for a transfer
// paid with a marca da bollo.
const stampDocument = "PG1hcmNhRGFCb2xsbz4xNi4wMDwvbWFyY2FEYUJvbGxvPg=="

// sendRTReq is the receipt of the payment p of nav, as a PSP pays it now.
func (s *suite) sendRTReq(op, nav string, p *paymentData, tag string) []byte {
	var b strings.Builder
	now := time.Now().UTC()
	b.WriteString(`<receipt><receiptId>PONTECONF` + tag + s.runID + `</receiptId><noticeNumber>` + esc(nav) + `</noticeNumber>`)
	b.WriteString(`<fiscalCode>` + esc(s.c.ec) + `</fiscalCode><outcome>OK</outcome><creditorReferenceId>` + esc(p.CreditorReferenceID) + `</creditorReferenceId>`)
	b.WriteString(`<paymentAmount>` + esc(p.PaymentAmount) + `</paymentAmount><description>` + esc(p.Description) + `</description>`)
	company := p.CompanyName
	if company == "" {
		company = "Ente creditore" // optional in V1 data, required in a receipt
	}
	b.WriteString(`<companyName>` + esc(company) + `</companyName>`)
	b.WriteString(`<debtor><uniqueIdentifier><entityUniqueIdentifierType>` + esc(p.Debtor.Type) + `</entityUniqueIdentifierType><entityUniqueIdentifierValue>` +
		esc(p.Debtor.Value) + `</entityUniqueIdentifierValue></uniqueIdentifier><fullName>` + esc(p.Debtor.FullName) + `</fullName></debtor>`)
	b.WriteString(`<transferList>`)
	for _, t := range p.Transfers {
		b.WriteString(`<transfer><idTransfer>` + esc(t.ID) + `</idTransfer><transferAmount>` + esc(t.Amount) + `</transferAmount><fiscalCodePA>` + esc(t.FiscalCodePA) + `</fiscalCodePA>`)
		switch {
		case t.IBAN != "":
			b.WriteString(`<IBAN>` + esc(t.IBAN) + `</IBAN>`)
		case op == opSendRTV2:
			b.WriteString(`<MBDAttachment>` + stampDocument + `</MBDAttachment>`)
		}
		b.WriteString(`<remittanceInformation>` + esc(t.Remittance) + `</remittanceInformation><transferCategory>` + esc(t.Category) + `</transferCategory></transfer>`)
	}
	b.WriteString(`</transferList><idPSP>PONTECONFPSP</idPSP><PSPCompanyName>Ponte conformance PSP</PSPCompanyName><idChannel>PONTECONFPSP_01</idChannel>`)
	b.WriteString(`<channelDescription>app</channelDescription><paymentMethod>CP</paymentMethod><fee>1.00</fee>`)
	b.WriteString(`<paymentDateTime>` + now.Format("2006-01-02T15:04:05") + `</paymentDateTime><applicationDate>` + now.Format("2006-01-02") +
		`</applicationDate><transferDate>` + now.Format("2006-01-02") + `</transferDate></receipt>`)
	return envelope(requestElem[op], header(s.c.ec, s.c.broker, s.c.station)+b.String())
}

// Answers.

type koFault struct {
	FaultCode   string `xml:"faultCode"`
	FaultString string `xml:"faultString"`
	Description string `xml:"description"`
}

type subject struct {
	Type     string `xml:"uniqueIdentifier>entityUniqueIdentifierType"`
	Value    string `xml:"uniqueIdentifier>entityUniqueIdentifierValue"`
	FullName string `xml:"fullName"`
}

type transfer struct {
	ID           string `xml:"idTransfer"`
	Amount       string `xml:"transferAmount"`
	FiscalCodePA string `xml:"fiscalCodePA"`
	IBAN         string `xml:"IBAN"`
	Remittance   string `xml:"remittanceInformation"`
	Category     string `xml:"transferCategory"`
}

type paymentData struct {
	CreditorReferenceID string     `xml:"creditorReferenceId"`
	PaymentAmount       string     `xml:"paymentAmount"`
	Description         string     `xml:"description"`
	CompanyName         string     `xml:"companyName"`
	Debtor              subject    `xml:"debtor"`
	Transfers           []transfer `xml:"transferList>transfer"`
}

// response is any paForNode response element (the fields of each).
type response struct {
	XMLName     xml.Name
	Outcome     string   `xml:"outcome"`
	Fault       *koFault `xml:"fault"`
	PaymentList *struct {
		Amount string `xml:"amount"`
	} `xml:"paymentList>paymentOptionDescription"`
	FiscalCodePA string       `xml:"fiscalCodePA"`
	Data         *paymentData `xml:"data"`
}

type soapFault struct {
	Code   string `xml:"faultcode"`
	String string `xml:"faultstring"`
}

// answer is an EC's answer to one request, checked against the schema.
type answer struct {
	op     string
	status int
	res    response
	fault  *soapFault // a SOAP 1.1 Fault instead of the response
}

func (a *answer) wantOK() error {
	if a.fault != nil {
		return fmt.Errorf("%s: a SOAP Fault %s (%s), want %s with outcome OK (paForNode declares no wsdl:fault)", a.op, a.fault.Code, a.fault.String, responseElem[a.op])
	}
	if a.res.Outcome != "OK" {
		code := ""
		if a.res.Fault != nil {
			code = " " + a.res.Fault.FaultCode
		}
		return fmt.Errorf("%s: outcome %s%s%s, want OK", a.op, a.res.Outcome, code, a.faultText())
	}
	return nil
}

func (a *answer) wantKO(code string) error {
	if a.fault != nil {
		return fmt.Errorf("%s: a SOAP Fault %s (%s), want %s with outcome KO and %s", a.op, a.fault.Code, a.fault.String, responseElem[a.op], code)
	}
	switch {
	case a.res.Outcome != "KO":
		return fmt.Errorf("%s: outcome %s, want KO with %s", a.op, a.res.Outcome, code)
	case a.res.Fault == nil:
		return fmt.Errorf("%s: outcome KO without a fault block, want faultCode %s", a.op, code)
	case a.res.Fault.FaultCode != code:
		return fmt.Errorf("%s: outcome KO with faultCode %s%s, want %s", a.op, a.res.Fault.FaultCode, a.faultText(), code)
	case a.res.PaymentList != nil || a.res.Data != nil:
		return fmt.Errorf("%s: outcome KO %s carries payment data (paymentList or data): a KO answer has none", a.op, code)
	}
	return nil
}

func (a *answer) faultText() string {
	f := a.res.Fault
	if f == nil {
		return ""
	}
	if d := cmpOr(f.Description, f.FaultString); d != "" {
		return " (" + d + ")"
	}
	return ""
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// checkPayment checks an OK activation: the data are there, for the notice
// and its amount, with transfers adding up to it.
func (a *answer) checkPayment(op, nav string, want int64) error {
	d := a.res.Data
	if d == nil {
		return fmt.Errorf("%s: outcome OK without data: the PSP has nothing to collect", op)
	}
	var errs []string
	if d.CreditorReferenceID != iuv(nav) {
		errs = append(errs, fmt.Sprintf("creditorReferenceId %s is not the IUV %s of notice %s", d.CreditorReferenceID, iuv(nav), nav))
	}
	if !sameAmount(d.PaymentAmount, want) {
		errs = append(errs, fmt.Sprintf("paymentAmount %s, the notice's is %s", d.PaymentAmount, euros(want)))
	}
	var sum int64
	for _, t := range d.Transfers {
		c, err := cents(t.Amount)
		if err != nil {
			errs = append(errs, fmt.Sprintf("transfer %s: transferAmount %q: %v", t.ID, t.Amount, err))
		}
		sum += c
	}
	if sum != want {
		errs = append(errs, fmt.Sprintf("transfers add up to %s, the notice's amount is %s", euros(sum), euros(want)))
	}
	return joined(op, errs)
}

// call sends body to the endpoint for op and checks the answer's form:
// text/xml, a SOAP 1.1 envelope that keeps paForNode.xsd, the response
// element of op with HTTP 200, or a SOAP 1.1 Fault (returned in
// answer.fault, for the caller to judge).
func (s *suite) call(ctx context.Context, tg *conformance.Target, op string, body []byte) (*answer, error) {
	status, ctype, data, err := post(ctx, tg, `"`+op+`"`, "text/xml; charset=utf-8", body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	a := &answer{op: op, status: status}
	b, err := readAnswer(ctype, data)
	if err != nil {
		return nil, fmt.Errorf("%s: HTTP %d: %w", op, status, err)
	}
	if b.Fault {
		if a.fault, err = decodeFault(data); err != nil {
			return nil, fmt.Errorf("%s: HTTP %d: %w", op, status, err)
		}
		return a, nil
	}
	if want := (xml.Name{Space: pafornode.NS, Local: responseElem[op]}); b.Name != want {
		return nil, fmt.Errorf("%s: HTTP %d: the Body holds {%s}%s, want {%s}%s", op, status, b.Name.Space, b.Name.Local, want.Space, want.Local)
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("%s: HTTP %d, want 200 for a %s (outcome OK or KO)", op, status, responseElem[op])
	}
	var env struct {
		Body struct {
			Res response `xml:",any"`
		} `xml:"Body"`
	}
	if err := xml.Unmarshal(data, &env); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	a.res = env.Body.Res
	return a, nil
}

// wantSOAPFault sends a request that is no paForNode request and wants a
// SOAP 1.1 Fault with faultcode code (a qualified name, its local part
// compared), HTTP 500 (SOAP 1.1 §6.2).
func (s *suite) wantSOAPFault(ctx context.Context, tg *conformance.Target, ctype, action string, body []byte, code string) error {
	status, rtype, data, err := post(ctx, tg, action, ctype, body)
	if err != nil {
		return err
	}
	b, err := readAnswer(rtype, data)
	if err != nil {
		return fmt.Errorf("HTTP %d: want a SOAP 1.1 Fault %s: %w", status, code, err)
	}
	if !b.Fault {
		return fmt.Errorf("HTTP %d: the Body holds %s, want a SOAP 1.1 Fault %s", status, b.Name.Local, code)
	}
	f, err := decodeFault(data)
	if err != nil {
		return err
	}
	_, local, _ := strings.Cut(f.Code, ":")
	var errs []string
	if local != code && !strings.HasPrefix(local, code+".") {
		errs = append(errs, fmt.Sprintf("faultcode %s (%s), want %s", f.Code, f.String, code))
	}
	if status != http.StatusInternalServerError {
		errs = append(errs, fmt.Sprintf("HTTP %d, want 500 with a SOAP Fault (SOAP 1.1 §6.2)", status))
	}
	if len(errs) > 0 {
		return fmt.Errorf("SOAP Fault: %s", strings.Join(errs, "; "))
	}
	return nil
}

func post(ctx context.Context, tg *conformance.Target, action, ctype string, body []byte) (int, string, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tg.URL, bytes.NewReader(body))
	if err != nil {
		return 0, "", nil, err
	}
	req.Header.Set("Content-Type", ctype)
	if action != "" {
		req.Header.Set("SOAPAction", action)
	}
	resp, err := tg.HTTP.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, "", nil, fmt.Errorf("HTTP %d: reading the answer: %w", resp.StatusCode, err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), data, nil
}

// readAnswer checks an answer's media type (text/xml, SOAP 1.1 §6.1.1)
// and envelope, and its Body element against paForNode.xsd (a Fault
// against SOAP 1.1 §4.4).
func readAnswer(ctype string, data []byte) (*pafornode.Body, error) {
	if mt, _, err := mime.ParseMediaType(ctype); err != nil || mt != "text/xml" {
		return nil, fmt.Errorf("Content-Type %q, want text/xml (SOAP 1.1 §6.1.1); body: %s", ctype, clip(data))
	}
	b, err := pafornode.ReadEnvelope(data)
	if err != nil {
		return nil, fmt.Errorf("not a SOAP 1.1 envelope: %w; body: %s", err, clip(data))
	}
	if err := b.Check(); err != nil {
		return nil, fmt.Errorf("the answer breaks the contract: %w", err)
	}
	return b, nil
}

func decodeFault(data []byte) (*soapFault, error) {
	var env struct {
		Body struct {
			Fault soapFault `xml:"Fault"`
		} `xml:"Body"`
	}
	if err := xml.Unmarshal(data, &env); err != nil {
		return nil, err
	}
	return &env.Body.Fault, nil
}

func clip(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if r := []rune(s); len(r) > 200 {
		return string(r[:200]) + "…"
	}
	if s == "" {
		return "(empty)"
	}
	return s
}
