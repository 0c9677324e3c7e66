package nodo_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ponte-pa/ponte/connectors/pagopa"
	"github.com/ponte-pa/ponte/connectors/pagopa/nodo"
	"github.com/ponte-pa/ponte/schemas/contracts/pafornode"
)

var update = flag.Bool("update", false, "rewrite golden files")

const (
	org    = "01234567890"
	nav1   = "301000000000000144"
	iuv1   = "01000000000000144"
	broker = "15376371009"
	statn  = "15376371009_01"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func payment(iuv string, cents int64) nodo.Payment {
	return nodo.Payment{IUV: iuv, AmountCents: cents, DueDate: time.Date(2030, 12, 31, 0, 0, 0, 0, time.UTC),
		Description: "TARI 2030", CompanyName: "Comune di Esempio", OfficeName: "Tributi",
		Debtor: pagopa.Party{Type: "F", FiscalCode: "RSSMRA80A01H501U", Name: "Mario Rossi"},
		Transfers: []pagopa.ReceiptTransfer{
			{ID: 1, AmountCents: cents - 500, OrgFiscalCode: org, IBAN: "IT60X0542811101000000123456", Remittance: "TARI", Category: "9/0101100IM/"},
			{ID: 2, AmountCents: 500, OrgFiscalCode: "80000000000", IBAN: "IT60X0542811101000000654321", Remittance: "TEFA", Category: "9/0101100IM/"},
		}}
}

type fixture struct {
	be  *nodo.MemoryBackend
	srv *httptest.Server
	c   *nodo.Client
	now time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{now: time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)}
	f.be = nodo.NewMemoryBackend(func() time.Time { return f.now })
	if err := f.be.Add(nodo.MemoryNotice{OrgFiscalCode: org, NAV: nav1, Payment: payment(iuv1, 12050)}); err != nil {
		t.Fatal(err)
	}
	h := nodo.NewHandler(f.be, nodo.Options{BrokerID: broker, StationID: statn, FiscalCodes: []string{org}, Logger: quiet})
	f.srv = httptest.NewServer(h)
	t.Cleanup(f.srv.Close)
	f.c = nodo.NewClient(f.srv.URL, broker, statn, f.srv.Client())
	return f
}

func receiptFor(iuv, nav string, cents int64, id string) pagopa.Receipt {
	return pagopa.Receipt{ReceiptID: id, IUV: iuv, NAV: nav, OrgFiscalCode: org, Outcome: "OK", AmountCents: cents,
		Description: "TARI 2030", CompanyName: "Comune di Esempio",
		Debtor: pagopa.Party{FiscalCode: "RSSMRA80A01H501U", Name: "Mario Rossi"}, PSP: pagopa.PSP{ID: "BCITITMM", Name: "Intesa", Channel: "BCITITMM_01"},
		PaymentDate: time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC),
		Transfers:   []pagopa.ReceiptTransfer{{ID: 1, AmountCents: cents, OrgFiscalCode: org, IBAN: "IT60X0542811101000000123456", Remittance: "TARI", Category: "9/0101100IM/"}}}
}

func TestPaymentFlow(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	v, err := f.c.Verify(ctx, org, nav1)
	if err != nil {
		t.Fatal(err)
	}
	if v.PaymentList == nil || v.PaymentList.Option.Amount != 12050 || v.PaymentList.Option.Options != "EQ" ||
		v.PaymentList.Option.DueDate != "2030-12-31" || v.CompanyName != "Comune di Esempio" || v.FiscalCodePA != org {
		t.Errorf("verify = %+v", v)
	}
	g, err := f.c.GetPaymentV2(ctx, org, nav1, 12050)
	if err != nil {
		t.Fatal(err)
	}
	d := g.Data
	if d.CreditorReferenceID != iuv1 || d.PaymentAmount != 12050 || len(d.TransferList) != 2 ||
		d.TransferList[1].FiscalCodePA != "80000000000" || d.TransferList[0].TransferAmount != 11550 ||
		d.Debtor.UniqueIdentifier.Value != "RSSMRA80A01H501U" || d.Debtor.UniqueIdentifier.Type != "F" {
		t.Errorf("getPayment = %+v", d)
	}
	r := receiptFor(iuv1, nav1, 12050, "rcpt-1")
	if _, err := f.c.SendRTV2(ctx, r); err != nil {
		t.Fatal(err)
	}
	got := f.be.Receipts()
	if len(got) != 1 || got[0].ReceiptID != "rcpt-1" || got[0].AmountCents != 12050 || got[0].Source != "nodo" || !got[0].PaymentDate.Equal(r.PaymentDate) {
		t.Errorf("receipts = %+v", got)
	}
	if n, ok := f.be.Notice(org, nav1); !ok || n.Status != nodo.NoticePaid {
		t.Errorf("notice %s: found %v, status %s", nav1, ok, n.Status)
	}
	// Paying again: verify and activation say "already paid"; the same receipt again is a duplicate.
	if _, err := f.c.Verify(ctx, org, nav1); !errors.Is(err, nodo.ErrDuplicate) {
		t.Errorf("verify after payment: %v", err)
	}
	if _, err := f.c.GetPaymentV2(ctx, org, nav1, 0); !errors.Is(err, nodo.ErrDuplicate) {
		t.Errorf("activate after payment: %v", err)
	}
	if _, err := f.c.SendRTV2(ctx, r); !errors.Is(err, nodo.ErrReceiptDup) {
		t.Errorf("same receipt again: %v", err)
	}
	if _, err := f.c.SendRTV2(ctx, receiptFor(iuv1, nav1, 12050, "rcpt-2")); !errors.Is(err, nodo.ErrDuplicate) {
		t.Errorf("second receipt for a paid notice: %v", err)
	}
	if n := len(f.be.Receipts()); n != 1 {
		t.Errorf("%d receipts stored, want 1", n)
	}
}

func TestBusinessFaults(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	add := func(nav string, st nodo.NoticeStatus, expire bool, due time.Time) {
		p, err := pagopa.ParseNAV(nav)
		if err != nil {
			t.Fatal(err)
		}
		pay := payment(p.IUV, 3000)
		pay.DueDate = due
		if err := f.be.Add(nodo.MemoryNotice{OrgFiscalCode: org, NAV: nav, Payment: pay, Status: st, ExpireAfterDue: expire}); err != nil {
			t.Fatal(err)
		}
	}
	add("301000000000000245", nodo.NoticeCancelled, false, f.now.AddDate(0, 1, 0))
	add("301000000000000346", nodo.NoticeOpen, true, f.now.AddDate(0, 0, -1))
	add("301000000000000447", nodo.NoticeExpired, false, f.now)
	cases := []struct {
		name string
		call func() error
		code string
	}{
		{"unknown", func() error { _, err := f.c.Verify(ctx, org, "301000000000000548"); return err }, nodo.CodePagamentoSconosciuto},
		{"cancelled", func() error { _, err := f.c.Verify(ctx, org, "301000000000000245"); return err }, nodo.CodePagamentoAnnullato},
		{"expired by date", func() error { _, err := f.c.GetPaymentV2(ctx, org, "301000000000000346", 0); return err }, nodo.CodePagamentoScaduto},
		{"expired", func() error { _, err := f.c.Verify(ctx, org, "301000000000000447"); return err }, nodo.CodePagamentoScaduto},
		{"amount", func() error { _, err := f.c.GetPaymentV2(ctx, org, nav1, 100); return err }, nodo.CodeImportoNonValido},
		{"other EC", func() error { _, err := f.c.Verify(ctx, "99999999999", nav1); return err }, nodo.CodeIDDominioErrato},
		{"broker", func() error {
			_, err := nodo.NewClient(f.srv.URL, "x", statn, nil).Verify(ctx, org, nav1)
			return err
		}, nodo.CodeIDIntermediarioErrato},
		{"station", func() error {
			_, err := nodo.NewClient(f.srv.URL, broker, "x", nil).Verify(ctx, org, nav1)
			return err
		}, nodo.CodeStazioneIntErrata},
		{"receipt for unknown notice", func() error {
			_, err := f.c.SendRTV2(ctx, receiptFor("01000000000000548", "301000000000000548", 100, "r9"))
			return err
		}, nodo.CodePagamentoSconosciuto},
		{"receipt with wrong amount", func() error {
			_, err := f.c.SendRTV2(ctx, receiptFor(iuv1, nav1, 100, "r10"))
			return err
		}, nodo.CodeSemantica},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.call()
			var fe *nodo.FaultError
			if !errors.As(err, &fe) || fe.Code != c.code {
				t.Errorf("got %v, want %s", err, c.code)
			}
		})
	}
}

type failing struct{ *nodo.MemoryBackend }

func (*failing) Verify(context.Context, nodo.QRCode) (nodo.NoticeInfo, error) {
	return nodo.NoticeInfo{}, errors.New("database down: password=secret")
}

func TestBackendErrorIsSystemError(t *testing.T) {
	srv := httptest.NewServer(nodo.NewHandler(&failing{MemoryBackend: nodo.NewMemoryBackend(time.Now)}, nodo.Options{Logger: quiet}))
	defer srv.Close()
	resp := post(t, srv.URL, "paVerifyPaymentNotice", verifyXML(org, nav1))
	if !strings.Contains(resp, "<faultCode>PAA_SYSTEM_ERROR</faultCode>") || strings.Contains(resp, "secret") {
		t.Errorf("response: %s", resp)
	}
}

func verifyXML(fc, nav string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:pafn="http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd">
  <soapenv:Header/>
  <soapenv:Body>
    <pafn:paVerifyPaymentNoticeReq>
      <idPA>` + fc + `</idPA><idBrokerPA>` + broker + `</idBrokerPA><idStation>` + statn + `</idStation>
      <qrCode><fiscalCode>` + fc + `</fiscalCode><noticeNumber>` + nav + `</noticeNumber></qrCode>
    </pafn:paVerifyPaymentNoticeReq>
  </soapenv:Body>
</soapenv:Envelope>`
}

func post(t *testing.T, url, action, body string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if action != "" {
		req.Header.Set("SOAPAction", action)
	}
	req.Header.Set("Content-Type", "text/xml")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Status + "\n" + string(b)
}

func TestVerifyResponseGolden(t *testing.T) {
	f := newFixture(t)
	got := post(t, f.srv.URL, `"paVerifyPaymentNotice"`, verifyXML(org, nav1))
	golden := "testdata/verify-ok.golden.xml"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

var faultRe = regexp.MustCompile(`<faultCode>([A-Z_]+)</faultCode>`)

func TestMalformedRequests(t *testing.T) {
	f := newFixture(t)
	ok := verifyXML(org, nav1)
	laughs := `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>` +
		strings.Replace(ok[strings.Index(ok, "<soapenv:Envelope"):], nav1, "&lol2;", 1)
	cases := []struct {
		name, action, body string
		status             string
		elem, code         string // response element and fault code; code "" with elem "Fault" is a SOAP Fault
	}{
		{"truncated", "paVerifyPaymentNotice", ok[:len(ok)/2], "200", "paVerifyPaymentNoticeRes", nodo.CodeSintassiXSD},
		{"garbage without action", "", "not xml at all", "500", "Fault", ""},
		{"DTD and entities", "paVerifyPaymentNotice", laughs, "200", "paVerifyPaymentNoticeRes", nodo.CodeSintassiExtraXSD},
		{"external entity", "paGetPaymentV2", `<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><x>&xxe;</x>`, "200", "paGetPaymentV2Response", nodo.CodeSintassiExtraXSD},
		{"short notice number", "paVerifyPaymentNotice", verifyXML(org, "30100000000000014"), "200", "paVerifyPaymentNoticeRes", nodo.CodeSintassiXSD},
		{"letters in fiscal code", "", verifyXML("0123456789X", nav1), "200", "paVerifyPaymentNoticeRes", nodo.CodeSintassiXSD},
		{"wrong namespace", "", strings.Replace(ok, "pa/paForNode.xsd", "other", 1), "200", "paVerifyPaymentNoticeRes", nodo.CodeSintassiXSD},
		{"action mismatch", "paSendRTV2", ok, "200", "paVerifyPaymentNoticeRes", nodo.CodeSintassiXSD},
		{"not an envelope", "paSendRTV2", "<a/>", "200", "paSendRTV2Response", nodo.CodeSintassiXSD},
		{"unknown operation", "", strings.ReplaceAll(ok, "paVerifyPaymentNoticeReq", "paFooReq"), "500", "Fault", ""},
		{"oversized", "paSendRTV2", "<a>" + strings.Repeat("x", 2<<20) + "</a>", "200", "paSendRTV2Response", nodo.CodeSintassiExtraXSD},
		{"oversized no action", "", strings.Repeat("x", 2<<20), "413", "Fault", ""},
		{"empty body", "paVerifyPaymentNotice", "", "200", "paVerifyPaymentNoticeRes", nodo.CodeSintassiXSD},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := post(t, f.srv.URL, c.action, c.body)
			if !strings.HasPrefix(got, c.status) {
				t.Errorf("status: %.200s", got)
			}
			if c.elem == "Fault" {
				if !strings.Contains(got, "<soapenv:Fault><faultcode>soapenv:Client</faultcode>") {
					t.Errorf("want a SOAP Fault: %.300s", got)
				}
				return
			}
			if !strings.Contains(got, "<pafn:"+c.elem+"><outcome>KO</outcome>") {
				t.Errorf("want %s KO: %.400s", c.elem, got)
			}
			if m := faultRe.FindStringSubmatch(got); m == nil || m[1] != c.code {
				t.Errorf("fault code %v, want %s: %.400s", m, c.code, got)
			}
		})
	}
	// GET is not SOAP.
	resp, err := http.Get(f.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", resp.StatusCode)
	}
}

func TestParseRequestAcceptsDocExampleShape(t *testing.T) {
	r, err := nodo.ParseRequest([]byte(verifyXML(org, nav1)))
	if err != nil {
		t.Fatal(err)
	}
	if r.Op != nodo.OpVerify || r.Verify.QRCode.NoticeNumber != nav1 || r.Header().IDStation != statn {
		t.Errorf("%+v", r.Verify)
	}
	var se *nodo.SyntaxError
	if _, err := nodo.ParseRequest([]byte("<!DOCTYPE a><a/>")); !errors.As(err, &se) || se.Code != nodo.CodeSintassiExtraXSD {
		t.Errorf("DOCTYPE: %v", err)
	}
}

// FuzzParseRequest: whatever arrives, the parser answers a *SyntaxError
// with a PAA_SINTASSI_* code, a *VersionMismatchError or a
// *MustUnderstandError, or a request of
// exactly one operation that passes the schema, with its header set.
func FuzzParseRequest(f *testing.F) {
	f.Add([]byte(verifyXML(org, nav1)))
	f.Add([]byte(strings.ReplaceAll(verifyXML(org, nav1), "paVerifyPaymentNoticeReq", "paGetPaymentV2Request")))
	f.Add([]byte(`<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><p:paSendRTV2Request xmlns:p="http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd"><receipt><paymentAmount>1.5</paymentAmount></receipt></p:paSendRTV2Request></soapenv:Body></soapenv:Envelope>`))
	f.Add([]byte(getPaymentReq("paGetPaymentReq", nav1, "120.50")))
	f.Add([]byte(sendRTReq("paSendRTReq", receiptXML("rt-v1", navRTv1, navRTv1[1:], "120.50", "120.50", ""))))
	f.Add([]byte(sendRTReq("paSendRTV2Request", receiptXML("rt-2", navRT, navRT[1:], "0.00", "16.00", stamp))))
	f.Add([]byte(strings.Replace(verifyXML(org, nav1), "http://schemas.xmlsoap.org/soap/envelope/", "http://www.w3.org/2003/05/soap-envelope", 1)))
	f.Add([]byte("<!DOCTYPE a><a/>"))
	f.Add([]byte("<![CDATA[x]]><!-- c -->"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := nodo.ParseRequest(data)
		if err != nil {
			var se *nodo.SyntaxError
			var vm *nodo.VersionMismatchError
			var mu *nodo.MustUnderstandError
			if errors.As(err, &vm) || errors.As(err, &mu) {
				return
			}
			if !errors.As(err, &se) || (se.Code != nodo.CodeSintassiXSD && se.Code != nodo.CodeSintassiExtraXSD) {
				t.Fatalf("error %v is not a SyntaxError", err)
			}
			return
		}
		if bytes.Contains(bytes.ToUpper(data), []byte("<!DOCTYPE")) {
			t.Fatal("accepted a DOCTYPE")
		}
		if _, err := pafornode.CheckEnvelope(data); err != nil {
			t.Fatalf("accepted a request the schema refuses: %v", err)
		}
		h := r.Header()
		if h.IDPA == "" || h.IDBrokerPA == "" || h.IDStation == "" {
			t.Fatalf("accepted empty header fields: %+v", h)
		}
		n := 0
		for _, p := range []bool{r.Verify != nil, r.GetPayment != nil, r.SendRT != nil, r.Demand != nil} {
			if p {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d operations set", n)
		}
		if r.SendRT != nil && strings.TrimSpace(r.SendRT.Receipt.ReceiptID) == "" {
			t.Fatal("accepted a receipt without an id")
		}
	})
}
