// Package pafornode checks SOAP messages of the pagoPA paForNode contract
// (the Nodo calling a creditor institution's endpoint) against the rules of
// its XSD: element presence, order and occurrences, lengths, patterns,
// enumerations and value ranges. The official schema cannot be copied here
// (pagopa/pagopa-api has no licence, see shared/specs/README.md), and the
// build has no libxml, so the rules are transcribed below as Go data, type
// by type, from:
//
//	pagopa/pagopa-api @ 070efa90c2d1bf3d6c810fbfbf3c5eb85f41195e
//	  wsdl/xsd/paForNode.xsd                 (prefix tns)
//	  xsd-common/sac-common-types-1.0.xsd    (prefix common)
//
// Both the EC endpoint (connectors/pagopa/nodo, on every reply it sends and
// every request it reads) and the Nodo simulator (mocks/nodo, on every EC
// answer) judge messages with it, so that a message the Nodo would refuse
// fails there and in CI. testdata/rules.golden.txt is the rule table in a
// canonical text form; it was compared line by line with the same dump made
// from the official files (see TestRulesGolden).
package pafornode

// Namespaces.
const (
	// NS is the target namespace of paForNode.xsd: the Body element's.
	NS = "http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd"
	// NSCommon is the target namespace of sac-common-types-1.0.xsd.
	NSCommon = "http://pagopa-api.pagopa.gov.it/xsd/common-types/v1.0.0/"
	// NSSOAP11 is the SOAP 1.1 envelope namespace, the only one the WSDL
	// binding (soap:binding, wsdl/soap/) allows.
	NSSOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
	// NSSOAP12 is the SOAP 1.2 envelope namespace.
	NSSOAP12 = "http://www.w3.org/2003/05/soap-envelope"
)

// builtin is an XSD built-in type the schema derives from.
type builtin string

const (
	xsString  builtin = "xsd:string"
	xsDecimal builtin = "xsd:decimal"
	xsInt     builtin = "xsd:int"
	xsBoolean builtin = "xsd:boolean"
	xsDate    builtin = "xsd:date"
	xsDT      builtin = "xsd:dateTime"
	xsBase64  builtin = "xsd:base64Binary"
)

// simpleType is an xsd:simpleType restriction. Lengths are -1 when the
// facet is absent; xsd:length sets both.
type simpleType struct {
	base             builtin
	minLen, maxLen   int
	pattern          string // XSD regular expression, anchored as XSD does
	enum             []string
	minIncl, maxIncl string // decimal bounds, "" when absent
}

// particle is an element of a sequence or, with choice set, an xsd:choice
// of elements. max -1 is unbounded (not used by this schema).
type particle struct {
	name     string
	typ      string // a simple type, a complex type or a builtin
	min, max int
	choice   []particle
}

// complexType is an xsd:complexType with a sequence, possibly extending
// another complex type (complexContent/extension: base's sequence first).
type complexType struct {
	base string
	seq  []particle
}

func text(min, max int) simpleType {
	return simpleType{base: xsString, minLen: min, maxLen: max}
}

func el(name, typ string) particle { return particle{name: name, typ: typ, min: 1, max: 1} }

func opt(name, typ string) particle { return particle{name: name, typ: typ, min: 0, max: 1} }

func many(name, typ string, min, max int) particle {
	return particle{name: name, typ: typ, min: min, max: max}
}

func choice(alts ...particle) particle { return particle{min: 1, max: 1, choice: alts} }

// simpleTypes are the simple types of both files, named prefix:name.
var simpleTypes = map[string]simpleType{
	// sac-common-types-1.0.xsd
	"common:stPaymentToken":         text(1, 35),
	"common:stBase64Binary72":       {base: xsBase64, minLen: -1, maxLen: -1, pattern: `.{4,72}`},
	"common:stTipoBolloDigitale":    {base: xsString, minLen: 2, maxLen: 2, enum: []string{"01"}},
	"common:stNazioneProvincia":     {base: xsString, minLen: -1, maxLen: -1, pattern: `[A-Z]{2,2}`},
	"common:stPassword":             text(8, 15),
	"common:stFiscalCodePA":         {base: xsString, minLen: 11, maxLen: 11, pattern: `[0-9]{11}`},
	"common:stNoticeNumber":         {base: xsString, minLen: -1, maxLen: -1, pattern: `[0-9]{18}`},
	"common:stOutcome":              {base: xsString, minLen: -1, maxLen: -1, enum: []string{"OK", "KO"}},
	"common:stAmount":               {base: xsDecimal, minLen: -1, maxLen: -1, pattern: `\d+\.\d{2}`, maxIncl: "999999999.99"},
	"common:stText16":               text(1, 16),
	"common:stText35":               text(1, 35),
	"common:stText70":               text(1, 70),
	"common:stText140":              text(1, 140),
	"common:stISODate":              {base: xsDate, minLen: -1, maxLen: -1},
	"common:stISODateTime":          {base: xsDT, minLen: -1, maxLen: -1},
	"common:stEMail":                {base: xsString, minLen: -1, maxLen: 256, pattern: `[a-zA-Z0-9_\.\+\-]+@[a-zA-Z0-9\-]+(\.[a-zA-Z0-9\-]+)*`},
	"common:stIdentificativoFlusso": text(1, 70),
	"common:stCodiceAvviso":         {base: xsString, minLen: -1, maxLen: -1, pattern: `[0-9]{18,18}`},
	"common:stFaultCode":            {base: xsString, minLen: -1, maxLen: -1},

	// paForNode.xsd
	"tns:stText20":                         text(1, 20),
	"tns:stText210":                        text(1, 210),
	"tns:stIdentificativoServizio":         {base: xsString, minLen: 5, maxLen: 5},
	"tns:stIdentificativoSoggettoServizio": {base: xsString, minLen: 5, maxLen: 5},
	"tns:stAmountNotZero":                  {base: xsDecimal, minLen: -1, maxLen: -1, pattern: `\d+\.\d{2}`, minIncl: "0.01", maxIncl: "999999999.99"},
	"tns:stIBAN":                           text(1, 35),
	"tns:stIUVBase":                        {base: xsString, minLen: -1, maxLen: -1, pattern: `[0-9]{13}`},
	"tns:stIUVCheckDigit":                  {base: xsString, minLen: -1, maxLen: -1, pattern: `[0-9]{2}`},
	"tns:stIdTransfer":                     {base: xsInt, minLen: -1, maxLen: -1, enum: []string{"1", "2", "3", "4", "5"}},
	"tns:stEntityUniqueIdentifierValue":    text(2, 16),
	"tns:stEntityUniqueIdentifierType":     {base: xsString, minLen: 1, maxLen: 1, enum: []string{"F", "G"}},
	"tns:stAmountOption":                   {base: xsString, minLen: -1, maxLen: -1, enum: []string{"EQ", "LS", "GT", "ANY"}},
	"tns:stTransferType":                   {base: xsString, minLen: -1, maxLen: -1, enum: []string{"POSTAL", "PAGOPA"}},
}

// complexTypes are the complex types of both files.
var complexTypes = map[string]complexType{
	// sac-common-types-1.0.xsd
	"common:ctRichiestaMarcaDaBollo": {seq: []particle{
		el("hashDocumento", "common:stBase64Binary72"),
		el("tipoBollo", "common:stTipoBolloDigitale"),
		el("provinciaResidenza", "common:stNazioneProvincia"),
	}},
	"common:ctMapEntry": {seq: []particle{el("key", "common:stText140"), el("value", "common:stText140")}},
	"common:ctMetadata": {seq: []particle{many("mapEntry", "common:ctMapEntry", 1, 15)}},
	"common:ctFaultBean": {seq: []particle{
		el("faultCode", "common:stFaultCode"),
		el("faultString", string(xsString)),
		el("id", string(xsString)),
		opt("description", string(xsString)),
		opt("serial", string(xsInt)),
		opt("originalFaultCode", string(xsString)),
		opt("originalFaultString", string(xsString)),
		opt("originalDescription", string(xsString)),
	}},
	"common:ctResponse": {seq: []particle{el("outcome", "common:stOutcome"), opt("fault", "common:ctFaultBean")}},
	"common:ctRisposta": {seq: []particle{opt("fault", "common:ctFaultBean")}},

	// paForNode.xsd
	"tns:ctEntityUniqueIdentifier": {seq: []particle{
		el("entityUniqueIdentifierType", "tns:stEntityUniqueIdentifierType"),
		el("entityUniqueIdentifierValue", "tns:stEntityUniqueIdentifierValue"),
	}},
	"tns:ctPaymentOptionDescriptionPA": {seq: []particle{
		el("amount", "tns:stAmountNotZero"),
		el("options", "tns:stAmountOption"),
		opt("dueDate", "common:stISODate"),
		opt("detailDescription", "common:stText140"),
		el("allCCP", string(xsBoolean)),
	}},
	// The list of a verify answer: when present, exactly one option.
	"tns:ctPaymentOptionsDescriptionListPA": {seq: []particle{el("paymentOptionDescription", "tns:ctPaymentOptionDescriptionPA")}},
	"tns:ctTransferPA": {seq: []particle{
		el("idTransfer", "tns:stIdTransfer"),
		el("transferAmount", "tns:stAmountNotZero"),
		el("fiscalCodePA", "common:stFiscalCodePA"),
		el("IBAN", "tns:stIBAN"),
		el("remittanceInformation", "common:stText140"),
		el("transferCategory", "common:stText140"),
		opt("metadata", "common:ctMetadata"),
	}},
	"tns:ctTransferListPA": {seq: []particle{many("transfer", "tns:ctTransferPA", 1, 5)}},
	"tns:ctQrCode": {seq: []particle{
		el("fiscalCode", "common:stFiscalCodePA"),
		el("noticeNumber", "common:stNoticeNumber"),
	}},
	"tns:ctSubject": {seq: []particle{
		el("uniqueIdentifier", "tns:ctEntityUniqueIdentifier"),
		el("fullName", "common:stText70"),
		opt("streetName", "common:stText70"),
		opt("civicNumber", "common:stText16"),
		opt("postalCode", "common:stText16"),
		opt("city", "common:stText35"),
		opt("stateProvinceRegion", "common:stText35"),
		opt("country", "common:stNazioneProvincia"),
		opt("e-mail", "common:stEMail"),
	}},
	"tns:ctPaymentPA": {seq: []particle{
		el("creditorReferenceId", "common:stText35"),
		el("paymentAmount", "tns:stAmountNotZero"),
		el("dueDate", "common:stISODate"),
		opt("retentionDate", string(xsDT)),
		opt("lastPayment", string(xsBoolean)),
		el("description", "common:stText140"),
		opt("companyName", "common:stText140"),
		opt("officeName", "common:stText140"),
		el("debtor", "tns:ctSubject"),
		el("transferList", "tns:ctTransferListPA"),
		opt("metadata", "common:ctMetadata"),
	}},
	"tns:ctReceipt": {seq: []particle{
		el("receiptId", string(xsString)),
		el("noticeNumber", "common:stNoticeNumber"),
		el("fiscalCode", "common:stFiscalCodePA"),
		el("outcome", "common:stOutcome"),
		el("creditorReferenceId", "common:stText35"),
		el("paymentAmount", "common:stAmount"),
		el("description", "common:stText140"),
		el("companyName", "common:stText140"),
		opt("officeName", "common:stText140"),
		el("debtor", "tns:ctSubject"),
		el("transferList", "tns:ctTransferListPA"),
		el("idPSP", "common:stText35"),
		opt("pspFiscalCode", "common:stText70"),
		opt("pspPartitaIVA", "tns:stText20"),
		el("PSPCompanyName", "common:stText70"),
		el("idChannel", "common:stText35"),
		el("channelDescription", "common:stText35"),
		opt("payer", "tns:ctSubject"),
		opt("paymentMethod", "common:stText35"),
		opt("fee", "common:stAmount"),
		opt("paymentDateTime", "common:stISODateTime"),
		opt("applicationDate", "common:stISODate"),
		opt("transferDate", "common:stISODate"),
		opt("metadata", "common:ctMetadata"),
		opt("standIn", string(xsBoolean)),
	}},
	"tns:ctReceiptV2": {seq: []particle{
		el("receiptId", string(xsString)),
		el("noticeNumber", "common:stNoticeNumber"),
		el("fiscalCode", "common:stFiscalCodePA"),
		el("outcome", "common:stOutcome"),
		el("creditorReferenceId", "common:stText35"),
		el("paymentAmount", "common:stAmount"),
		el("description", "common:stText140"),
		el("companyName", "common:stText140"),
		opt("officeName", "common:stText140"),
		el("debtor", "tns:ctSubject"),
		el("transferList", "tns:ctTransferListPAReceiptV2"),
		el("idPSP", "common:stText35"),
		opt("pspFiscalCode", "common:stText70"),
		opt("pspPartitaIVA", "tns:stText20"),
		el("PSPCompanyName", "common:stText70"),
		el("idChannel", "common:stText35"),
		el("channelDescription", "common:stText35"),
		opt("payer", "tns:ctSubject"),
		opt("paymentMethod", "common:stText35"),
		opt("paymentNote", "tns:stText210"),
		opt("fee", "common:stAmount"),
		opt("primaryCiIncurredFee", "common:stAmount"),
		opt("idBundle", "common:stText70"),
		opt("idCiBundle", "common:stText70"),
		opt("paymentDateTime", "common:stISODateTime"),
		opt("applicationDate", "common:stISODate"),
		opt("transferDate", "common:stISODate"),
		opt("metadata", "common:ctMetadata"),
		opt("standIn", string(xsBoolean)),
	}},
	"tns:paVerifyPaymentNoticeReq": {seq: []particle{
		el("idPA", "common:stText35"),
		el("idBrokerPA", "common:stText35"),
		el("idStation", "common:stText35"),
		el("qrCode", "tns:ctQrCode"),
	}},
	"tns:paVerifyPaymentNoticeRes": {base: "common:ctResponse", seq: []particle{
		opt("paymentList", "tns:ctPaymentOptionsDescriptionListPA"),
		opt("paymentDescription", "common:stText140"),
		opt("fiscalCodePA", "common:stFiscalCodePA"),
		opt("companyName", "common:stText140"),
		opt("officeName", "common:stText140"),
	}},
	"tns:paGetPaymentReq": {seq: []particle{
		el("idPA", "common:stText35"),
		el("idBrokerPA", "common:stText35"),
		el("idStation", "common:stText35"),
		el("qrCode", "tns:ctQrCode"),
		opt("amount", "common:stAmount"),
		opt("paymentNote", "tns:stText210"),
		opt("transferType", "tns:stTransferType"),
		opt("dueDate", "common:stISODate"),
	}},
	"tns:paGetPaymentRes": {base: "common:ctResponse", seq: []particle{opt("data", "tns:ctPaymentPA")}},
	"tns:paSendRTReq": {seq: []particle{
		el("idPA", "common:stText35"),
		el("idBrokerPA", "common:stText35"),
		el("idStation", "common:stText35"),
		el("receipt", "tns:ctReceipt"),
	}},
	"tns:paSendRTRes": {base: "common:ctResponse"},
	"tns:paDemandPaymentNoticeRequest": {seq: []particle{
		el("idPA", "common:stText35"),
		el("idBrokerPA", "common:stText35"),
		el("idStation", "common:stText35"),
		el("idServizio", "tns:stIdentificativoServizio"),
		el("idSoggettoServizio", "tns:stIdentificativoSoggettoServizio"),
		el("datiSpecificiServizioRequest", string(xsBase64)),
	}},
	"tns:paDemandPaymentNoticeResponse": {base: "common:ctResponse", seq: []particle{
		opt("qrCode", "tns:ctQrCode"),
		opt("paymentList", "tns:ctPaymentOptionsDescriptionListPA"),
		opt("paymentDescription", "common:stText140"),
		opt("fiscalCodePA", "common:stFiscalCodePA"),
		opt("companyName", "common:stText140"),
		opt("officeName", "common:stText140"),
	}},
	"tns:ctTransferPAV2": {seq: []particle{
		el("idTransfer", "tns:stIdTransfer"),
		el("transferAmount", "tns:stAmountNotZero"),
		el("fiscalCodePA", "common:stFiscalCodePA"),
		opt("companyName", "common:stText140"),
		choice(el("IBAN", "tns:stIBAN"), el("richiestaMarcaDaBollo", "common:ctRichiestaMarcaDaBollo")),
		el("remittanceInformation", "common:stText140"),
		el("transferCategory", "common:stText140"),
		opt("metadata", "common:ctMetadata"),
	}},
	"tns:ctTransferPAReceiptV2": {seq: []particle{
		el("idTransfer", "tns:stIdTransfer"),
		el("transferAmount", "tns:stAmountNotZero"),
		el("fiscalCodePA", "common:stFiscalCodePA"),
		opt("companyName", "common:stText140"),
		choice(el("IBAN", "tns:stIBAN"), el("MBDAttachment", string(xsBase64))),
		el("remittanceInformation", "common:stText140"),
		el("transferCategory", "common:stText140"),
		opt("metadata", "common:ctMetadata"),
	}},
	"tns:ctTransferListPAReceiptV2": {seq: []particle{many("transfer", "tns:ctTransferPAReceiptV2", 1, 5)}},
	"tns:ctTransferListPAV2":        {seq: []particle{many("transfer", "tns:ctTransferPAV2", 1, 5)}},
	"tns:ctPaymentPAV2": {seq: []particle{
		el("creditorReferenceId", "common:stText35"),
		el("paymentAmount", "tns:stAmountNotZero"),
		el("dueDate", "common:stISODate"),
		opt("retentionDate", string(xsDT)),
		opt("lastPayment", string(xsBoolean)),
		el("description", "common:stText140"),
		el("companyName", "common:stText140"),
		opt("officeName", "common:stText140"),
		el("debtor", "tns:ctSubject"),
		el("transferList", "tns:ctTransferListPAV2"),
		opt("metadata", "common:ctMetadata"),
	}},
	"tns:paGetPaymentV2Request": {seq: []particle{
		el("idPA", "common:stText35"),
		el("idBrokerPA", "common:stText35"),
		el("idStation", "common:stText35"),
		el("qrCode", "tns:ctQrCode"),
		opt("amount", "common:stAmount"),
		opt("paymentNote", "tns:stText210"),
		opt("transferType", "tns:stTransferType"),
		opt("dueDate", "common:stISODate"),
	}},
	"tns:paGetPaymentV2Response": {base: "common:ctResponse", seq: []particle{opt("data", "tns:ctPaymentPAV2")}},
	"tns:paSendRTV2Request": {seq: []particle{
		el("idPA", "common:stText35"),
		el("idBrokerPA", "common:stText35"),
		el("idStation", "common:stText35"),
		el("receipt", "tns:ctReceiptV2"),
	}},
	"tns:paSendRTV2Response": {base: "common:ctResponse"},
}

// elements are the schema's global elements (the SOAP Body children), each
// of the complex type of the same name.
var elements = map[string]string{
	"paVerifyPaymentNoticeReq":      "tns:paVerifyPaymentNoticeReq",
	"paVerifyPaymentNoticeRes":      "tns:paVerifyPaymentNoticeRes",
	"paGetPaymentReq":               "tns:paGetPaymentReq",
	"paGetPaymentRes":               "tns:paGetPaymentRes",
	"paSendRTReq":                   "tns:paSendRTReq",
	"paSendRTRes":                   "tns:paSendRTRes",
	"paDemandPaymentNoticeRequest":  "tns:paDemandPaymentNoticeRequest",
	"paDemandPaymentNoticeResponse": "tns:paDemandPaymentNoticeResponse",
	"paGetPaymentV2Request":         "tns:paGetPaymentV2Request",
	"paGetPaymentV2Response":        "tns:paGetPaymentV2Response",
	"paSendRTV2Request":             "tns:paSendRTV2Request",
	"paSendRTV2Response":            "tns:paSendRTV2Response",
}

// Elements returns the names of the schema's global elements, the ones a
// SOAP Body may carry.
func Elements() []string {
	out := make([]string, 0, len(elements))
	for e := range elements {
		out = append(out, e)
	}
	return out
}
