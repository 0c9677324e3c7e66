package pafornode_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ponte-pa/ponte/schemas/contracts/pafornode"
)

func env(body string) string {
	return `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:pafn="http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd"><soapenv:Header/><soapenv:Body>` +
		body + `</soapenv:Body></soapenv:Envelope>`
}

const verifyOK = `<pafn:paVerifyPaymentNoticeRes><outcome>OK</outcome><paymentList><paymentOptionDescription><amount>30.00</amount><options>EQ</options><dueDate>2030-12-31</dueDate><allCCP>false</allCCP></paymentOptionDescription></paymentList><paymentDescription>TARI 2030</paymentDescription><fiscalCodePA>00000000000</fiscalCodePA><companyName>Comune di Esempio</companyName></pafn:paVerifyPaymentNoticeRes>`

const verifyKO = `<pafn:paVerifyPaymentNoticeRes><outcome>KO</outcome><fault><faultCode>PAA_PAGAMENTO_SCONOSCIUTO</faultCode><faultString>sconosciuto</faultString><id>st_01</id></fault></pafn:paVerifyPaymentNoticeRes>`

const transfer = `<transfer><idTransfer>1</idTransfer><transferAmount>30.00</transferAmount><fiscalCodePA>00000000000</fiscalCodePA><IBAN>IT60X0542811101000000123456</IBAN><remittanceInformation>TARI</remittanceInformation><transferCategory>9/0101100IM/</transferCategory></transfer>`

const debtor = `<debtor><uniqueIdentifier><entityUniqueIdentifierType>F</entityUniqueIdentifierType><entityUniqueIdentifierValue>RSSMRA80A01H501U</entityUniqueIdentifierValue></uniqueIdentifier><fullName>Mario Rossi</fullName></debtor>`

const getPaymentV2OK = `<pafn:paGetPaymentV2Response><outcome>OK</outcome><data><creditorReferenceId>01000000000000144</creditorReferenceId><paymentAmount>30.00</paymentAmount><dueDate>2030-12-31</dueDate><description>TARI 2030</description><companyName>Comune di Esempio</companyName>` +
	debtor + `<transferList>` + transfer + `</transferList></data></pafn:paGetPaymentV2Response>`

const receiptV2 = `<pafn:paSendRTV2Request><idPA>00000000000</idPA><idBrokerPA>00000000000</idBrokerPA><idStation>00000000000_01</idStation><receipt><receiptId>r1</receiptId><noticeNumber>301000000000000144</noticeNumber><fiscalCode>00000000000</fiscalCode><outcome>OK</outcome><creditorReferenceId>01000000000000144</creditorReferenceId><paymentAmount>0.00</paymentAmount><description>TARI</description><companyName>Comune</companyName>` +
	debtor + `<transferList><transfer><idTransfer>1</idTransfer><transferAmount>16.00</transferAmount><fiscalCodePA>00000000000</fiscalCodePA><MBDAttachment>PHhtbD5tYXJjYTwveG1sPg==</MBDAttachment><remittanceInformation>bollo</remittanceInformation><transferCategory>9/0301109AP</transferCategory></transfer></transferList><idPSP>PSP</idPSP><PSPCompanyName>Banca</PSPCompanyName><idChannel>PSP_01</idChannel><channelDescription>app</channelDescription><paymentDateTime>2030-06-01T12:00:00</paymentDateTime><standIn>false</standIn></receipt></pafn:paSendRTV2Request>`

// TestCheckEnvelope: valid messages pass; each mutation breaks one rule of
// the schema and is reported at its path.
func TestCheckEnvelope(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	cases := []struct {
		name, body string
		path       string // "" when valid
		rule       string // a piece of the rule broken
	}{
		{"verify OK", verifyOK, "", ""},
		{"verify KO", verifyKO, "", ""},
		{"getPaymentV2 OK", getPaymentV2OK, "", ""},
		{"receipt V2 zero amount with a stamp", receiptV2, "", ""},
		{"KO with an empty paymentList", strings.Replace(verifyKO, "</fault>", "</fault><paymentList></paymentList>", 1),
			"paVerifyPaymentNoticeRes/paymentList", "required element paymentOptionDescription is missing"},
		{"two payment options", strings.Replace(verifyOK, "</paymentOptionDescription>", "</paymentOptionDescription><paymentOptionDescription><amount>1.00</amount><options>EQ</options><allCCP>true</allCCP></paymentOptionDescription>", 1),
			"paVerifyPaymentNoticeRes/paymentList/paymentOptionDescription", "out of order or over its maximum"},
		{"amount zero in verify", strings.Replace(verifyOK, "30.00", "0.00", 1), "amount", "below the minimum 0.01"},
		{"amount with one decimal", strings.Replace(verifyOK, "30.00", "30.0", 1), "amount", "does not match pattern"},
		{"options not in the enumeration", strings.Replace(verifyOK, "<options>EQ", "<options>XX", 1), "options", "not one of EQ, LS, GT, ANY"},
		{"allCCP missing", strings.Replace(verifyOK, "<allCCP>false</allCCP>", "", 1), "paymentOptionDescription", "required element allCCP is missing"},
		{"bad date", strings.Replace(verifyOK, "2030-12-31", "2030-02-30", 1), "dueDate", "not an xsd:date"},
		{"companyName over 140", strings.Replace(verifyOK, "Comune di Esempio", long(141), 1), "companyName", "length 141, want 1..140"},
		{"fiscalCodePA of 10 digits", strings.Replace(verifyOK, "<fiscalCodePA>00000000000", "<fiscalCodePA>0000000000", 1), "fiscalCodePA", "want exactly 11"},
		{"out of order", strings.Replace(verifyOK, "<paymentDescription>TARI 2030</paymentDescription><fiscalCodePA>00000000000</fiscalCodePA>", "<fiscalCodePA>00000000000</fiscalCodePA><paymentDescription>TARI 2030</paymentDescription>", 1),
			"paVerifyPaymentNoticeRes/paymentDescription", "out of order"},
		{"outcome missing", strings.Replace(verifyKO, "<outcome>KO</outcome>", "", 1), "paVerifyPaymentNoticeRes", "required element outcome is missing (found fault)"},
		{"fault without id", strings.Replace(verifyKO, "<id>st_01</id>", "", 1), "fault", "required element id is missing"},
		{"undeclared element", strings.Replace(verifyKO, "</fault>", "</fault><extra>1</extra>", 1), "paVerifyPaymentNoticeRes/extra", "element not declared"},
		{"qualified child", strings.Replace(verifyKO, "<outcome>KO</outcome>", "<pafn:outcome>KO</pafn:outcome>", 1), "outcome", "unqualified"},
		{"attribute", strings.Replace(verifyKO, "<outcome>", `<outcome lang="it">`, 1), "outcome", "attribute lang"},
		{"fullName of 71", strings.Replace(getPaymentV2OK, "Mario Rossi", long(71), 1), "debtor/fullName", "length 71, want 1..70"},
		{"empty transferCategory", strings.Replace(getPaymentV2OK, "9/0101100IM/", "", 1), "transfer/transferCategory", "length 0, want 1..140"},
		{"six transfers", strings.Replace(getPaymentV2OK, transfer, strings.Repeat(transfer, 6), 1), "transferList/transfer", "over its maximum"},
		{"idTransfer 6", strings.Replace(getPaymentV2OK, "<idTransfer>1", "<idTransfer>6", 1), "idTransfer", "not one of 1, 2, 3, 4, 5"},
		{"IBAN and stamp missing", strings.Replace(getPaymentV2OK, "<IBAN>IT60X0542811101000000123456</IBAN>", "", 1), "transfer", "required element IBAN or richiestaMarcaDaBollo is missing"},
		{"V2 companyName missing", strings.Replace(getPaymentV2OK, "<companyName>Comune di Esempio</companyName>", "", 1), "data", "required element companyName is missing"},
		{"debtor type X", strings.Replace(getPaymentV2OK, "<entityUniqueIdentifierType>F", "<entityUniqueIdentifierType>X", 1), "entityUniqueIdentifierType", "not one of F, G"},
		{"debtor id of 1", strings.Replace(getPaymentV2OK, "RSSMRA80A01H501U", "R", 1), "entityUniqueIdentifierValue", "length 1, want 2..16"},
		{"stamp not base64", strings.Replace(receiptV2, "PHhtbD5tYXJjYTwveG1sPg==", "not base64!", 1), "MBDAttachment", "not xsd:base64Binary"},
		{"receipt transfer of 0.00", strings.Replace(receiptV2, "<transferAmount>16.00", "<transferAmount>0.00", 1), "transferAmount", "below the minimum"},
		{"bad dateTime", strings.Replace(receiptV2, "2030-06-01T12:00:00", "2030-06-01 12:00", 1), "paymentDateTime", "not an xsd:dateTime"},
		{"boolean yes", strings.Replace(receiptV2, "<standIn>false", "<standIn>yes", 1), "standIn", "not an xsd:boolean"},
		{"text in a complex element", strings.Replace(verifyKO, "<outcome>", "hello<outcome>", 1), "paVerifyPaymentNoticeRes", "text is not allowed"},
		{"element in a simple one", strings.Replace(verifyKO, "<outcome>KO</outcome>", "<outcome><b>KO</b></outcome>", 1), "outcome", "child elements are not allowed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			name, err := pafornode.CheckEnvelope([]byte(env(c.body)))
			if name.Space != pafornode.NS {
				t.Errorf("element %v", name)
			}
			if c.path == "" {
				if err != nil {
					t.Fatalf("valid message refused: %v", err)
				}
				return
			}
			var inv *pafornode.Invalid
			if !errors.As(err, &inv) {
				t.Fatalf("got %v, want *Invalid", err)
			}
			found := false
			for _, v := range inv.Violations {
				if strings.HasSuffix(v.Path, c.path) && strings.Contains(v.Rule, c.rule) {
					found = true
				}
			}
			if !found {
				t.Errorf("want %s: …%s…, got %v", c.path, c.rule, err)
			}
		})
	}
}

// TestReadEnvelope: what is not a SOAP 1.1 envelope with one Body element
// is refused before the schema, SOAP 1.2 with a *VersionError.
func TestReadEnvelope(t *testing.T) {
	soap12 := strings.Replace(env(verifyKO), "http://schemas.xmlsoap.org/soap/envelope/", "http://www.w3.org/2003/05/soap-envelope", 1)
	var ve *pafornode.VersionError
	if _, err := pafornode.ReadEnvelope([]byte(soap12)); !errors.As(err, &ve) || ve.Namespace != pafornode.NSSOAP12 {
		t.Errorf("SOAP 1.2: %v", err)
	}
	// Header entries: refused when addressed to this node and marked
	// mustUnderstand (SOAP 1.1 §4.2.3), read past otherwise.
	for _, c := range []struct {
		name, header string
		refused      bool
	}{
		{"mustUnderstand 1", `<x:Auth xmlns:x="urn:x" soapenv:mustUnderstand="1"/>`, true},
		{"mustUnderstand true", `<x:Auth xmlns:x="urn:x" soapenv:mustUnderstand="true"/>`, true},
		{"actor next", `<x:Auth xmlns:x="urn:x" soapenv:mustUnderstand="1" soapenv:actor="http://schemas.xmlsoap.org/soap/actor/next"/>`, true},
		{"second entry", `<x:Trace xmlns:x="urn:x"/><x:Auth xmlns:x="urn:x" soapenv:mustUnderstand="1"/>`, true},
		{"mustUnderstand 0", `<x:Auth xmlns:x="urn:x" soapenv:mustUnderstand="0"/>`, false},
		{"unqualified attribute", `<x:Auth xmlns:x="urn:x" mustUnderstand="1"/>`, false},
		{"another actor", `<x:Auth xmlns:x="urn:x" soapenv:mustUnderstand="1" soapenv:actor="urn:some-proxy"/>`, false},
		{"plain entry", `<x:Trace xmlns:x="urn:x">id</x:Trace>`, false},
	} {
		in := strings.Replace(env(verifyKO), "<soapenv:Header/>", "<soapenv:Header>"+c.header+"</soapenv:Header>", 1)
		_, err := pafornode.ReadEnvelope([]byte(in))
		var mu *pafornode.MustUnderstandError
		switch {
		case c.refused && (!errors.As(err, &mu) || mu.Header.Local != "Auth" || mu.Header.Space != "urn:x"):
			t.Errorf("%s: got %v, want a MustUnderstandError for {urn:x}Auth", c.name, err)
		case !c.refused && err != nil:
			t.Errorf("%s: %v", c.name, err)
		}
	}
	var ue *pafornode.UnknownElementError
	if _, err := pafornode.CheckEnvelope([]byte(env(`<pafn:paFooReq/>`))); !errors.As(err, &ue) || ue.Name.Local != "paFooReq" {
		t.Errorf("unknown element: %v", err)
	}
	for _, bad := range []string{
		"", "not xml", "<a/>", env(""), env(verifyKO + verifyKO),
		`<!DOCTYPE a [<!ENTITY x "y">]>` + env(verifyKO),
		strings.Replace(env(verifyKO), "<soapenv:Body>", "<soapenv:Body>text", 1),
	} {
		if _, err := pafornode.ReadEnvelope([]byte(bad)); err == nil {
			t.Errorf("accepted %.80q", bad)
		}
	}
	// A SOAP 1.1 Fault is checked against SOAP 1.1 §4.4.
	fault := `<soapenv:Fault><faultcode>soapenv:VersionMismatch</faultcode><faultstring>SOAP 1.1 only</faultstring></soapenv:Fault>`
	if name, err := pafornode.CheckEnvelope([]byte(env(fault))); err != nil || name.Local != "Fault" {
		t.Errorf("fault: %v %v", name, err)
	}
	for _, bad := range []string{
		strings.Replace(fault, "soapenv:VersionMismatch", "VersionMismatch", 1),
		strings.Replace(fault, "soapenv:VersionMismatch", "soapenv:Nope", 1),
		strings.Replace(fault, "<faultstring>SOAP 1.1 only</faultstring>", "", 1),
	} {
		if _, err := pafornode.CheckEnvelope([]byte(env(bad))); err == nil {
			t.Errorf("accepted fault %s", bad)
		}
	}
}

func FuzzCheckEnvelope(f *testing.F) {
	for _, b := range []string{verifyOK, verifyKO, getPaymentV2OK, receiptV2} {
		f.Add([]byte(env(b)))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := pafornode.ReadEnvelope(data)
		if err != nil {
			return
		}
		err = b.Check()
		var inv *pafornode.Invalid
		if errors.As(err, &inv) && len(inv.Violations) == 0 {
			t.Fatal("Invalid without violations")
		}
	})
}

// BenchmarkCheckEnvelope is the cost the EC endpoint pays to check each
// reply before sending it (an activation with one transfer).
func BenchmarkCheckEnvelope(b *testing.B) {
	data := []byte(env(getPaymentV2OK))
	for b.Loop() {
		if _, err := pafornode.CheckEnvelope(data); err != nil {
			b.Fatal(err)
		}
	}
}
