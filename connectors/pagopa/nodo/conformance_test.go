package nodo_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ponte-pa/ponte/connectors/pagopa"
	"github.com/ponte-pa/ponte/connectors/pagopa/nodo"
	"github.com/ponte-pa/ponte/schemas/contracts/pafornode"
)

// Requests as the Nodo sends them: SOAP 1.1, the body element in the
// paForNode namespace, its children unqualified.

func soapReq(elem, inner string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:pafn="http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd">
<soapenv:Header/><soapenv:Body><pafn:` + elem + `>` + inner + `</pafn:` + elem + `></soapenv:Body></soapenv:Envelope>`
}

func hdr(fc, brk, st string) string {
	return `<idPA>` + fc + `</idPA><idBrokerPA>` + brk + `</idBrokerPA><idStation>` + st + `</idStation>`
}

func qr(fc, nav string) string {
	return `<qrCode><fiscalCode>` + fc + `</fiscalCode><noticeNumber>` + nav + `</noticeNumber></qrCode>`
}

func verifyReq(nav string) string {
	return soapReq("paVerifyPaymentNoticeReq", hdr(org, broker, statn)+qr(org, nav))
}

func getPaymentReq(elem, nav, amount string) string {
	return soapReq(elem, hdr(org, broker, statn)+qr(org, nav)+`<amount>`+amount+`</amount><transferType>PAGOPA</transferType>`)
}

const stamp = "PG1hcmNhRGFCb2xsbz4xNi4wMDwvbWFyY2FEYUJvbGxvPg=="

// receiptXML is a receipt for nav/iuv of amount with one transfer of
// transferAmount, credited to an IBAN or, with a stamp, as MBDAttachment.
func receiptXML(id, nav, iuv, amount, transferAmount, mbd string) string {
	account := `<IBAN>IT60X0542811101000000123456</IBAN>`
	if mbd != "" {
		account = `<MBDAttachment>` + mbd + `</MBDAttachment>`
	}
	return `<receipt><receiptId>` + id + `</receiptId><noticeNumber>` + nav + `</noticeNumber><fiscalCode>` + org + `</fiscalCode>` +
		`<outcome>OK</outcome><creditorReferenceId>` + iuv + `</creditorReferenceId><paymentAmount>` + amount + `</paymentAmount>` +
		`<description>TARI 2030</description><companyName>Comune di Esempio</companyName>` +
		`<debtor><uniqueIdentifier><entityUniqueIdentifierType>F</entityUniqueIdentifierType><entityUniqueIdentifierValue>RSSMRA80A01H501U</entityUniqueIdentifierValue></uniqueIdentifier><fullName>Mario Rossi</fullName></debtor>` +
		`<transferList><transfer><idTransfer>1</idTransfer><transferAmount>` + transferAmount + `</transferAmount><fiscalCodePA>` + org + `</fiscalCodePA>` +
		account + `<remittanceInformation>TARI</remittanceInformation><transferCategory>9/0101100IM/</transferCategory></transfer></transferList>` +
		`<idPSP>BCITITMM</idPSP><PSPCompanyName>Intesa Sanpaolo</PSPCompanyName><idChannel>BCITITMM_01</idChannel><channelDescription>app</channelDescription>` +
		`<paymentMethod>CP</paymentMethod><fee>1.00</fee><paymentDateTime>2030-06-01T12:00:00</paymentDateTime>` +
		`<applicationDate>2030-06-01</applicationDate><transferDate>2030-06-02</transferDate></receipt>`
}

func sendRTReq(elem, receipt string) string {
	return soapReq(elem, hdr(org, broker, statn)+receipt)
}

// badPayment is a backend whose activation data break the contract in a
// way no cut can mend (an empty taxonomy code).
type badPayment struct{ nodo.Backend }

func (b badPayment) GetPayment(ctx context.Context, in nodo.GetPaymentInput) (nodo.Payment, error) {
	p, err := b.Backend.GetPayment(ctx, in)
	if in.QRCode.NoticeNumber == navNoCategory {
		p.Transfers[0].Category = ""
	}
	return p, err
}

const (
	navPaid       = "301000000000000245"
	navExpired    = "301000000000000346"
	navLongName   = "301000000000000447"
	navUnknown    = "301000000000000548"
	navCancelled  = "301000000000000649"
	navNoCategory = "301000000000000750"
	navRT         = "301000000000000851"
	navRTv1       = "301000000000000952"
)

var koFaultRe = regexp.MustCompile(`<faultCode>([A-Z_]+)</faultCode>`)

// TestRepliesConformToTheSchema is the EC endpoint as the Nodo sees it:
// every reply, OK or KO, must pass the paForNode schema's rules
// (pafornode), with the fault code the contract gives for the case
// (nodo-ec-soap.md, "Fault codes an EC returns"). Each reply is also kept
// as a golden file under testdata/replies.
func TestRepliesConformToTheSchema(t *testing.T) {
	now := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	mem := nodo.NewMemoryBackend(func() time.Time { return now })
	add := func(nav string, st nodo.NoticeStatus, edit func(*nodo.Payment)) {
		n, err := pagopa.ParseNAV(nav)
		if err != nil {
			t.Fatal(err)
		}
		p := payment(n.IUV, 12050)
		if edit != nil {
			edit(&p)
		}
		if err := mem.Add(nodo.MemoryNotice{OrgFiscalCode: org, NAV: nav, Payment: p, Status: st}); err != nil {
			t.Fatal(err)
		}
	}
	add(nav1, nodo.NoticeOpen, nil)
	add(navPaid, nodo.NoticePaid, nil)
	add(navExpired, nodo.NoticeExpired, nil)
	add(navCancelled, nodo.NoticeCancelled, nil)
	add(navNoCategory, nodo.NoticeOpen, nil)
	// 80 characters: the debtor's name as the ente holds it; ctSubject's
	// fullName is stText70.
	longName := strings.Repeat("Maria Antonietta Colonna Pamphilj ", 3)[:80]
	add(navLongName, nodo.NoticeOpen, func(p *nodo.Payment) { p.Debtor.Name = longName })
	rec := &recorder{}
	h := nodo.NewHandler(badPayment{&nodo.ReceiptBackend{Next: mem, Receipts: rec}},
		nodo.Options{BrokerID: broker, StationID: statn, FiscalCodes: []string{org}, Logger: quiet})
	srv := httptestServer(t, h)

	iuvRT, iuvRTv1 := navRT[1:], navRTv1[1:]
	soap12 := strings.Replace(verifyReq(nav1), "http://schemas.xmlsoap.org/soap/envelope/", "http://www.w3.org/2003/05/soap-envelope", 1)
	cases := []struct {
		name, action, body string
		status             int
		elem               string // Body element of the reply
		code               string // fault code, "" for outcome OK; for a SOAP Fault, its faultcode
		check              func(t *testing.T, reply string)
	}{
		{"verify OK", "paVerifyPaymentNotice", verifyReq(nav1), 200, "paVerifyPaymentNoticeRes", "", func(t *testing.T, r string) {
			mustContain(t, r, "<paymentList><paymentOptionDescription><amount>120.50</amount><options>EQ</options><dueDate>2030-12-31</dueDate><allCCP>false</allCCP></paymentOptionDescription></paymentList>")
		}},
		{"verify unknown notice", "paVerifyPaymentNotice", verifyReq(navUnknown), 200, "paVerifyPaymentNoticeRes", nodo.CodePagamentoSconosciuto, nil},
		{"verify paid notice", "paVerifyPaymentNotice", verifyReq(navPaid), 200, "paVerifyPaymentNoticeRes", nodo.CodePagamentoDuplicato, nil},
		{"verify expired notice", "paVerifyPaymentNotice", verifyReq(navExpired), 200, "paVerifyPaymentNoticeRes", nodo.CodePagamentoScaduto, nil},
		{"verify cancelled notice", "paVerifyPaymentNotice", verifyReq(navCancelled), 200, "paVerifyPaymentNoticeRes", nodo.CodePagamentoAnnullato, nil},
		{"wrong EC", "paVerifyPaymentNotice", soapReq("paVerifyPaymentNoticeReq", hdr("99999999999", broker, statn)+qr("99999999999", nav1)),
			200, "paVerifyPaymentNoticeRes", nodo.CodeIDDominioErrato, nil},
		{"qrCode of another EC", "paVerifyPaymentNotice", soapReq("paVerifyPaymentNoticeReq", hdr(org, broker, statn)+qr("99999999999", nav1)),
			200, "paVerifyPaymentNoticeRes", nodo.CodeIDDominioErrato, nil},
		{"wrong broker", "paVerifyPaymentNotice", soapReq("paVerifyPaymentNoticeReq", hdr(org, "99999999999", statn)+qr(org, nav1)),
			200, "paVerifyPaymentNoticeRes", nodo.CodeIDIntermediarioErrato, nil},
		{"wrong station", "paVerifyPaymentNotice", soapReq("paVerifyPaymentNoticeReq", hdr(org, broker, "99999999999_09")+qr(org, nav1)),
			200, "paVerifyPaymentNoticeRes", nodo.CodeStazioneIntErrata, nil},
		{"malformed XML", "paVerifyPaymentNotice", verifyReq(nav1)[:200], 200, "paVerifyPaymentNoticeRes", nodo.CodeSintassiXSD, nil},
		{"notice number of 17 digits", "paVerifyPaymentNotice", verifyReq(nav1[:17]), 200, "paVerifyPaymentNoticeRes", nodo.CodeSintassiXSD, nil},
		{"elements out of order", "paVerifyPaymentNotice", soapReq("paVerifyPaymentNoticeReq", `<idBrokerPA>`+broker+`</idBrokerPA><idPA>`+org+`</idPA><idStation>`+statn+`</idStation>`+qr(org, nav1)),
			200, "paVerifyPaymentNoticeRes", nodo.CodeSintassiXSD, nil},
		{"DTD", "paVerifyPaymentNotice", `<!DOCTYPE x [<!ENTITY a "b">]>` + verifyReq(nav1), 200, "paVerifyPaymentNoticeRes", nodo.CodeSintassiExtraXSD, nil},
		{"SOAP 1.2", "", soap12, 500, "Fault", "soapenv:VersionMismatch", nil},
		{"SOAP 1.2 with a SOAPAction", "paVerifyPaymentNotice", soap12, 500, "Fault", "soapenv:VersionMismatch", nil},
		{"header entry to be understood", "paVerifyPaymentNotice", strings.Replace(verifyReq(nav1), "<soapenv:Header/>",
			`<soapenv:Header><wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" soapenv:mustUnderstand="1"/></soapenv:Header>`, 1),
			500, "Fault", "soapenv:MustUnderstand", func(t *testing.T, r string) { mustContain(t, r, "Security") }},
		{"header entry that may be ignored", "paVerifyPaymentNotice", strings.Replace(verifyReq(nav1), "<soapenv:Header/>",
			`<soapenv:Header><t:Trace xmlns:t="urn:example:trace">abc</t:Trace></soapenv:Header>`, 1),
			200, "paVerifyPaymentNoticeRes", "", nil},
		{"unknown operation", "", soapReq("paFooReq", hdr(org, broker, statn)), 500, "Fault", "soapenv:Client", func(t *testing.T, r string) {
			mustContain(t, r, "paFooReq")
		}},
		{"getPaymentV2 OK", "paGetPaymentV2", getPaymentReq("paGetPaymentV2Request", nav1, "120.50"), 200, "paGetPaymentV2Response", "", func(t *testing.T, r string) {
			mustContain(t, r, "<transferCategory>9/0101100IM/</transferCategory>", "<companyName>Comune di Esempio</companyName>")
		}},
		{"getPaymentV2 with an 80-character name", "paGetPaymentV2", getPaymentReq("paGetPaymentV2Request", navLongName, "120.50"), 200, "paGetPaymentV2Response", "", func(t *testing.T, r string) {
			mustContain(t, r, "<fullName>"+longName[:70]+"</fullName>")
		}},
		{"getPaymentV2 of a paid notice", "paGetPaymentV2", getPaymentReq("paGetPaymentV2Request", navPaid, "120.50"), 200, "paGetPaymentV2Response", nodo.CodePagamentoDuplicato, nil},
		{"getPaymentV2 of another amount", "paGetPaymentV2", getPaymentReq("paGetPaymentV2Request", nav1, "1.00"), 200, "paGetPaymentV2Response", nodo.CodeImportoNonValido, nil},
		{"getPaymentV2 without a taxonomy code", "paGetPaymentV2", getPaymentReq("paGetPaymentV2Request", navNoCategory, "120.50"), 200, "paGetPaymentV2Response", nodo.CodeSystemError, func(t *testing.T, r string) {
			mustContain(t, r, "transferCategory")
		}},
		{"paGetPayment v1", "paGetPayment", getPaymentReq("paGetPaymentReq", nav1, "120.50"), 200, "paGetPaymentRes", "", func(t *testing.T, r string) {
			mustContain(t, r, "<transfer><idTransfer>1</idTransfer><transferAmount>115.50</transferAmount><fiscalCodePA>"+org+"</fiscalCodePA><IBAN>")
		}},
		{"paGetPayment v1 unknown", "paGetPayment", getPaymentReq("paGetPaymentReq", navUnknown, "120.50"), 200, "paGetPaymentRes", nodo.CodePagamentoSconosciuto, nil},
		{"paSendRTV2", "paSendRTV2", sendRTReq("paSendRTV2Request", receiptXML("rt-1", navRT, iuvRT, "120.50", "120.50", "")), 200, "paSendRTV2Response", "", nil},
		{"duplicate paSendRTV2", "paSendRTV2", sendRTReq("paSendRTV2Request", receiptXML("rt-1", navRT, iuvRT, "120.50", "120.50", "")), 200, "paSendRTV2Response", nodo.CodeReceiptDuplicata, nil},
		{"paSendRTV2 of 0.00", "paSendRTV2", sendRTReq("paSendRTV2Request", receiptXML("rt-zero", navRT, iuvRT, "0.00", "16.00", "")), 200, "paSendRTV2Response", "", nil},
		{"paSendRTV2 with a stamp", "paSendRTV2", sendRTReq("paSendRTV2Request", receiptXML("rt-stamp", navRT, iuvRT, "16.00", "16.00", stamp)), 200, "paSendRTV2Response", "", nil},
		{"paSendRTV2 with a stamp that is not base64", "paSendRTV2", sendRTReq("paSendRTV2Request", receiptXML("rt-bad", navRT, iuvRT, "16.00", "16.00", "not base64")), 200, "paSendRTV2Response", nodo.CodeSintassiXSD, nil},
		{"paSendRTV2 without a receipt id", "paSendRTV2", sendRTReq("paSendRTV2Request", receiptXML("", navRT, iuvRT, "16.00", "16.00", "")), 200, "paSendRTV2Response", nodo.CodeSintassiExtraXSD, nil},
		{"paSendRT v1", "paSendRT", sendRTReq("paSendRTReq", receiptXML("rt-v1", navRTv1, iuvRTv1, "120.50", "120.50", "")), 200, "paSendRTRes", "", nil},
		{"duplicate paSendRT v1", "paSendRT", sendRTReq("paSendRTReq", receiptXML("rt-v1", navRTv1, iuvRTv1, "120.50", "120.50", "")), 200, "paSendRTRes", nodo.CodeReceiptDuplicata, nil},
		{"paSendRT v1 with a stamp", "paSendRT", sendRTReq("paSendRTReq", receiptXML("rt-v1-stamp", navRTv1, iuvRTv1, "16.00", "16.00", stamp)), 200, "paSendRTRes", nodo.CodeSintassiXSD, nil},
		{"paDemandPaymentNotice", "paDemandPaymentNotice", soapReq("paDemandPaymentNoticeRequest", hdr(org, broker, statn)+`<idServizio>00001</idServizio><idSoggettoServizio>00001</idSoggettoServizio><datiSpecificiServizioRequest>PGEvPg==</datiSpecificiServizioRequest>`),
			200, "paDemandPaymentNoticeResponse", nodo.CodeSemantica, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, reply := postStatus(t, srv.URL, c.action, c.body)
			if status != c.status {
				t.Errorf("HTTP %d, want %d", status, c.status)
			}
			name, err := pafornode.CheckEnvelope([]byte(reply))
			if err != nil {
				t.Fatalf("the reply breaks the schema: %v\n%s", err, reply)
			}
			if name.Local != c.elem {
				t.Fatalf("reply element %s, want %s", name.Local, c.elem)
			}
			switch {
			case c.elem == "Fault":
				mustContain(t, reply, "<faultcode>"+c.code+"</faultcode>")
			case c.code == "":
				mustContain(t, reply, "<outcome>OK</outcome>")
				if strings.Contains(reply, "<fault>") {
					t.Errorf("OK with a fault: %s", reply)
				}
			default:
				mustContain(t, reply, "<outcome>KO</outcome><fault>")
				if m := koFaultRe.FindStringSubmatch(reply); m == nil || m[1] != c.code {
					t.Errorf("fault code %v, want %s", m, c.code)
				}
				// A KO carries ctResponse only: the operation's own
				// elements (paymentList, data) stay out.
				if i := strings.Index(reply, "</fault>"); i < 0 || !strings.HasPrefix(reply[i:], "</fault></pafn:"+c.elem+">") {
					t.Errorf("KO with more than outcome and fault: %s", reply)
				}
			}
			if c.check != nil {
				c.check(t, reply)
			}
			golden(t, filepath.Join("testdata", "replies", strings.ReplaceAll(c.name, " ", "-")+".xml"), reply)
		})
	}

	// The receipts accepted reached the backend, stamps and zero included.
	got := rec.receipts()
	ids := make([]string, len(got))
	for i, r := range got {
		ids[i] = r.ReceiptID
	}
	if strings.Join(ids, ",") != "rt-1,rt-zero,rt-stamp,rt-v1" {
		t.Fatalf("receipts stored: %v", ids)
	}
	if got[1].AmountCents != 0 || got[2].Transfers[0].MBDAttachment != stamp || got[2].Transfers[0].IBAN != "" {
		t.Errorf("zero and stamp receipts: %+v, %+v", got[1], got[2].Transfers)
	}
}

func mustContain(t *testing.T, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("reply lacks %q:\n%s", sub, s)
		}
	}
}

func postStatus(t *testing.T, url, action, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if action != "" {
		req.Header.Set("SOAPAction", `"`+action+`"`)
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("reply differs from %s:\ngot  %s\nwant %s", path, got, want)
	}
}

// TestFaultCodesRoundTrip: the test client reads back the fault code the
// table above finds in the XML, so errors.Is works on it.
func TestFaultCodesRoundTrip(t *testing.T) {
	f := newFixture(t)
	_, err := f.c.Verify(context.Background(), org, navUnknown)
	if !errors.Is(err, nodo.ErrUnknown) {
		t.Errorf("unknown notice: %v", err)
	}
}
