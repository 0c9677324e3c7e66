package nodomock_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ponte-pa/ponte/mocks/fault"
	"github.com/ponte-pa/ponte/mocks/gpd"
	nodomock "github.com/ponte-pa/ponte/mocks/nodo"
)

const (
	org     = "01234567890"
	broker  = "15376371009"
	station = "15376371009_01"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func iuv(n int) string { return fmt.Sprintf("01%013d44", n) }

// testEC is a creditor institution's paForNode endpoint written from
// shared/specs/nodo-ec-soap.md with literal XML, so that the simulator is
// checked against the contract, not against the EC code in connectors.
type testEC struct {
	mu       sync.Mutex
	amounts  map[string]int64 // notice number → cents, for the notices it holds
	paid     map[string]bool
	receipts []gpd.XMLReceipt
	// transferCents, when set, is what paGetPaymentV2 puts in its only
	// transfer (to break the sum rule).
	transferCents int64
	// soapFault makes every answer a SOAP Fault.
	soapFault bool
	// emptyList makes KO verify answers carry an empty <paymentList/>,
	// which the schema forbids (ctPaymentOptionsDescriptionListPA holds
	// exactly one option).
	emptyList bool
	// debtorName, when set, is the fullName of activations.
	debtorName string
	requests   []string // SOAPAction of each request
}

func newEC(t *testing.T, notices map[string]int64) (*testEC, string) {
	ec := &testEC{amounts: notices, paid: map[string]bool{}}
	srv := httptest.NewServer(ec)
	t.Cleanup(srv.Close)
	return ec, srv.URL
}

var elemRE = regexp.MustCompile(`<(?:\w+:)?(\w+)>([^<]*)</`)

// fields reads the leaf elements of a request, last one wins.
func fields(body []byte) map[string]string {
	out := map[string]string{}
	for _, m := range elemRE.FindAllSubmatch(body, -1) {
		out[string(m[1])] = string(m[2])
	}
	return out
}

func (ec *testEC) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	ec.mu.Lock()
	defer ec.mu.Unlock()
	action := strings.Trim(r.Header.Get("SOAPAction"), `"`)
	ec.requests = append(ec.requests, action)
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	if ec.soapFault {
		fmt.Fprint(w, `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><soapenv:Fault><faultcode>soapenv:Server</faultcode><faultstring>boom</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>`)
		return
	}
	if !bytes.Contains(body, []byte(`xmlns:pafn="http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd"`)) {
		http.Error(w, "not paForNode", 400)
		return
	}
	f := fields(body)
	answer := func(elem, inner string) {
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:pafn="http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd"><soapenv:Body><pafn:%s>%s</pafn:%s></soapenv:Body></soapenv:Envelope>`, elem, inner, elem)
	}
	ko := func(elem, code string) {
		list := ""
		if ec.emptyList && elem == "paVerifyPaymentNoticeRes" {
			list = "<paymentList></paymentList>"
		}
		answer(elem, `<outcome>KO</outcome><fault><faultCode>`+code+`</faultCode><faultString>ko</faultString><id>`+station+`</id></fault>`+list)
	}
	name := "Mario Rossi"
	if ec.debtorName != "" {
		name = ec.debtorName
	}
	nav := f["noticeNumber"]
	cents, known := ec.amounts[nav]
	switch action {
	case "paVerifyPaymentNotice":
		switch {
		case f["idStation"] != station:
			ko("paVerifyPaymentNoticeRes", "PAA_STAZIONE_INT_ERRATA")
		case !known:
			ko("paVerifyPaymentNoticeRes", "PAA_PAGAMENTO_SCONOSCIUTO")
		case ec.paid[nav]:
			ko("paVerifyPaymentNoticeRes", "PAA_PAGAMENTO_DUPLICATO")
		default:
			answer("paVerifyPaymentNoticeRes", fmt.Sprintf(`<outcome>OK</outcome><paymentList><paymentOptionDescription><amount>%d.%02d</amount><options>EQ</options><dueDate>2030-12-31</dueDate><allCCP>false</allCCP></paymentOptionDescription></paymentList><paymentDescription>Mensa</paymentDescription><fiscalCodePA>%s</fiscalCodePA><companyName>Comune di Prova</companyName>`, cents/100, cents%100, org))
		}
	case "paGetPaymentV2", "paGetPayment":
		res := map[string]string{"paGetPaymentV2": "paGetPaymentV2Response", "paGetPayment": "paGetPaymentRes"}[action]
		if !known || f["amount"] != fmt.Sprintf("%d.%02d", cents/100, cents%100) || f["transferType"] != "PAGOPA" {
			ko(res, "PAA_SEMANTICA")
			return
		}
		tc := cents
		if ec.transferCents != 0 {
			tc = ec.transferCents
		}
		answer(res, fmt.Sprintf(`<outcome>OK</outcome><data><creditorReferenceId>%s</creditorReferenceId><paymentAmount>%d.%02d</paymentAmount><dueDate>2030-12-31</dueDate><description>Mensa</description><companyName>Comune di Prova</companyName><debtor><uniqueIdentifier><entityUniqueIdentifierType>F</entityUniqueIdentifierType><entityUniqueIdentifierValue>RSSMRA80A01H501U</entityUniqueIdentifierValue></uniqueIdentifier><fullName>`+name+`</fullName></debtor><transferList><transfer><idTransfer>1</idTransfer><transferAmount>%d.%02d</transferAmount><fiscalCodePA>%s</fiscalCodePA><IBAN>IT60X0542811101000000123456</IBAN><remittanceInformation>Mensa</remittanceInformation><transferCategory>9/0101100IM/</transferCategory></transfer></transferList></data>`,
			nav[1:], cents/100, cents%100, tc/100, tc%100, org))
	case "paSendRTV2", "paSendRT":
		res := map[string]string{"paSendRTV2": "paSendRTV2Response", "paSendRT": "paSendRTRes"}[action]
		var req struct {
			Body struct {
				Inner struct {
					XMLName xml.Name
					Receipt gpd.XMLReceipt `xml:"receipt"`
				} `xml:",any"`
			}
		}
		want := map[string]string{"paSendRTV2": "paSendRTV2Request", "paSendRT": "paSendRTReq"}[action]
		if err := xml.Unmarshal(body, &req); err != nil || req.Body.Inner.XMLName.Local != want {
			ko(res, "PAA_SINTASSI_XSD")
			return
		}
		rc := req.Body.Inner.Receipt
		for _, x := range ec.receipts {
			if x.ReceiptID == rc.ReceiptID {
				ko(res, "PAA_RECEIPT_DUPLICATA")
				return
			}
		}
		ec.receipts = append(ec.receipts, rc)
		ec.paid[rc.NoticeNumber] = true
		answer(res, `<outcome>OK</outcome>`)
	default:
		http.Error(w, "unknown SOAPAction "+action, 400)
	}
}

func (ec *testEC) received() []gpd.XMLReceipt {
	ec.mu.Lock()
	defer ec.mu.Unlock()
	return append([]gpd.XMLReceipt(nil), ec.receipts...)
}

func newSim(o nodomock.Options) *nodomock.Simulator {
	o.BrokerID, o.StationID, o.Logger = broker, station, quiet
	return nodomock.New(o)
}

// TestPayEC: verify, activate, receipt; paying again is refused by the EC.
func TestPayEC(t *testing.T) {
	ec, url := newEC(t, map[string]int64{"3" + iuv(1): 2000, "3" + iuv(2): 4000})
	sim := newSim(nodomock.Options{Payer: gpd.Party{FiscalCode: "BNCNNA85M41F205X", Name: "Anna Bianchi"}})
	ctx := context.Background()
	nav := "3" + iuv(2)
	r, err := sim.PayEC(ctx, url, org, nav)
	if err != nil {
		t.Fatal(err)
	}
	got := ec.received()
	if len(got) != 1 || got[0].ReceiptID != r.ReceiptID || got[0].PaymentAmount != 4000 || got[0].CreditorReferenceID != iuv(2) ||
		got[0].Payer == nil || got[0].Payer.UniqueIdentifier.Value != "BNCNNA85M41F205X" || got[0].Debtor.UniqueIdentifier.Value != "RSSMRA80A01H501U" {
		t.Fatalf("EC receipts: %+v", got)
	}
	if r.AmountCents != 4000 || r.Transfers[0].OrgFiscalCode != org || r.PSP.ID != "MOCKPSP" {
		t.Errorf("receipt %+v", r)
	}
	_, err = sim.PayEC(ctx, url, org, nav)
	var fe *nodomock.FaultError
	if !errors.As(err, &fe) || fe.Code != nodomock.CodePagamentoDuplicato {
		t.Fatalf("second payment: %v", err)
	}
	ps := sim.Payments()
	if len(ps) != 2 || strings.Join(ps[0].Steps, ",") != "paVerifyPaymentNotice OK,paGetPaymentV2 OK,paSendRTV2 OK" {
		t.Fatalf("payments %+v", ps)
	}
	if ps[1].FaultCode != nodomock.CodePagamentoDuplicato || strings.Join(ps[1].Steps, ",") != "paVerifyPaymentNotice KO PAA_PAGAMENTO_DUPLICATO" {
		t.Errorf("second payment record %+v", ps[1])
	}
	// Unknown notice and wrong station.
	if _, err := sim.PayEC(ctx, url, org, "3"+iuv(9)); !errors.As(err, &fe) || fe.Code != nodomock.CodePagamentoSconosciuto {
		t.Errorf("unknown notice: %v", err)
	}
	other := nodomock.New(nodomock.Options{BrokerID: broker, StationID: "nope", Logger: quiet})
	if _, err := other.PayEC(ctx, url, org, "3"+iuv(1)); !errors.As(err, &fe) || fe.Code != nodomock.CodeStazioneIntErrata {
		t.Errorf("wrong station: %v", err)
	}
}

// TestPayECV1: a station configured for the V1 primitives is paid with
// paGetPayment and paSendRT.
func TestPayECV1(t *testing.T) {
	ec, url := newEC(t, map[string]int64{"3" + iuv(1): 2000})
	sim := newSim(nodomock.Options{V1: true})
	r, err := sim.PayEC(context.Background(), url, org, "3"+iuv(1))
	if err != nil {
		t.Fatal(err)
	}
	if got := ec.received(); len(got) != 1 || got[0].ReceiptID != r.ReceiptID || got[0].PaymentAmount != 2000 {
		t.Fatalf("EC receipts: %+v", got)
	}
	if ps := sim.Payments(); len(ps) != 1 || strings.Join(ps[0].Steps, ",") != "paVerifyPaymentNotice OK,paGetPayment OK,paSendRT OK" {
		t.Errorf("payments %+v", ps)
	}
}

// The simulator judges the EC's answers by the contract.
func TestPayECRefusesWhatBreaksTheContract(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		setup func(*testEC)
		want  string
	}{
		{"transfers do not add up", func(ec *testEC) { ec.transferCents = 1999 }, "transfers add up to 1999"},
		{"SOAP Fault", func(ec *testEC) { ec.soapFault = true }, "SOAP Fault"},
		{"KO with an empty paymentList", func(ec *testEC) { ec.emptyList = true; ec.amounts = nil }, "required element paymentOptionDescription is missing"},
		{"debtor name over 70", func(ec *testEC) { ec.debtorName = strings.Repeat("x", 80) }, "fullName: common:stText70: length 80, want 1..70"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ec, url := newEC(t, map[string]int64{"3" + iuv(1): 2000})
			tt.setup(ec)
			sim := newSim(nodomock.Options{})
			if _, err := sim.PayEC(ctx, url, org, "3"+iuv(1)); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
			if n := len(ec.received()); n != 0 {
				t.Errorf("%d receipts sent after a broken answer", n)
			}
		})
	}
}

func gpdPosition(n int, cents int64) map[string]any {
	due := gpd.At(time.Now().AddDate(0, 1, 0)).String()
	return map[string]any{"iupd": fmt.Sprintf("TARI-%d", n), "type": "F", "fiscalCode": "RSSMRA80A01H501U", "fullName": "Mario Rossi",
		"switchToExpired": false, "companyName": "Comune di Prova",
		"paymentOption": []any{map[string]any{"iuv": iuv(n), "amount": cents, "description": "TARI", "isPartialPayment": false, "dueDate": due,
			"transfer": []any{map[string]any{"idTransfer": "1", "amount": cents, "remittanceInformation": "TARI", "category": "9/0101100IM/", "iban": "IT60X0542811101000000123456"}}}}}
}

// newGPD starts a GPD mock holding published positions 1..n.
// newGPDServer is newGPD for tests that talk to the GPD mock in process.
func newGPDServer(t *testing.T, n int) *gpd.Server {
	t.Helper()
	m, url := newGPD(t, n)
	t.Logf("GPD mock with %d positions at %s", n, url)
	return m
}

func newGPD(t *testing.T, n int) (*gpd.Server, string) {
	t.Helper()
	m := gpd.New(gpd.Options{Logger: quiet})
	srv := httptest.NewServer(m)
	t.Cleanup(srv.Close)
	for i := 1; i <= n; i++ {
		b, err := json.Marshal(gpdPosition(i, int64(1000+i)))
		if err != nil {
			t.Fatal(err)
		}
		req, err := http.NewRequest("POST", srv.URL+"/organizations/"+org+"/debtpositions?toPublish=true", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Ocp-Apim-Subscription-Key", "k")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 201 {
			t.Fatalf("create %d: HTTP %d", i, resp.StatusCode)
		}
	}
	return m, srv.URL
}

func TestPayGPD(t *testing.T) {
	m := newGPDServer(t, 3)
	sim := newSim(nodomock.Options{GPD: m})
	ctx := context.Background()
	r, err := sim.PayGPD(ctx, org, "3 01 0000000000002 44")
	if err != nil {
		t.Fatal(err)
	}
	if r.AmountCents != 1002 || r.IUV != iuv(2) || r.NAV != "3"+iuv(2) || r.PSP.ID != "MOCKPSP" {
		t.Fatalf("receipt %+v", r)
	}
	if rs := m.Receipts(org); len(rs) != 1 || rs[0].ReceiptID != r.ReceiptID {
		t.Fatalf("GPD receipts %+v", rs)
	}
	if _, err := sim.PayGPD(ctx, org, "3"+iuv(2)); !errors.Is(err, gpd.ErrAlreadyPaid) {
		t.Errorf("again: %v", err)
	}
	if _, err := sim.PayGPD(ctx, org, "3"+iuv(7)); !errors.Is(err, gpd.ErrNotFound) {
		t.Errorf("unknown: %v", err)
	}
	if _, err := sim.PayGPD(ctx, org, "12345"); err == nil {
		t.Error("a malformed notice number was paid")
	}
	ps := sim.Payments()
	if len(ps) != 4 || ps[1].FaultCode != nodomock.CodePagamentoDuplicato || ps[2].FaultCode != nodomock.CodePagamentoSconosciuto {
		t.Errorf("payments %+v", ps)
	}
	if _, err := newSim(nodomock.Options{}).PayGPD(ctx, org, "3"+iuv(1)); !errors.Is(err, nodomock.ErrNoGPD) {
		t.Errorf("no GPD: %v", err)
	}
}

func TestFaultKnobs(t *testing.T) {
	ec, url := newEC(t, map[string]int64{"3" + iuv(1): 2000, "3" + iuv(2): 3000, "3" + iuv(3): 4000})
	m := newGPDServer(t, 2)
	ctx := context.Background()
	sim := newSim(nodomock.Options{GPD: m})
	f := sim.Faults()
	f.FailNext(1, 503)
	if _, err := sim.PayEC(ctx, url, org, "3"+iuv(1)); !errors.Is(err, nodomock.ErrPSPFailure) {
		t.Fatalf("FailNext: %v", err)
	}
	f.DropNext(1)
	if _, err := sim.PayGPD(ctx, org, "3"+iuv(1)); !errors.Is(err, nodomock.ErrDropped) {
		t.Fatalf("DropNext: %v", err)
	}
	if len(ec.received()) != 0 || len(m.Receipts(org)) != 0 {
		t.Fatal("an aborted payment reached the EC or GPD")
	}
	// A lost outcome: the payment is made all the same.
	f.LoseNext(1)
	r, err := sim.PayGPD(ctx, org, "3"+iuv(1))
	if !errors.Is(err, nodomock.ErrOutcomeLost) || r.IUV != iuv(1) || len(m.Receipts(org)) != 1 {
		t.Fatalf("LoseNext: %v %+v", err, r)
	}
	sim.DuplicateReceiptNext(1)
	if _, err := sim.PayEC(ctx, url, org, "3"+iuv(1)); err != nil {
		t.Fatal(err)
	}
	ps := sim.Payments()
	last := ps[len(ps)-1]
	if s := last.Steps[len(last.Steps)-1]; s != "paSendRTV2 (again) KO PAA_RECEIPT_DUPLICATA" {
		t.Errorf("duplicate receipt step %q", s)
	}
	if len(ec.received()) != 1 {
		t.Errorf("%d receipts after a duplicate delivery", len(ec.received()))
	}
	f.SetErrorRate(1, 7)
	if _, err := sim.PayEC(ctx, url, org, "3"+iuv(2)); !errors.Is(err, nodomock.ErrPSPFailure) {
		t.Errorf("error rate 1: %v", err)
	}
	if st := f.Stats(); st != (fault.Stats{Failed: 1, Errors: 1, Dropped: 1, Lost: 1, Injected: 4}) {
		t.Errorf("fault stats %+v", st)
	}
	wantOutcomes := "KO PSP_FAILURE,KO DROPPED,OK lost,OK ,KO PSP_FAILURE"
	var got []string
	for _, p := range sim.Payments() {
		s := p.Outcome + " " + p.FaultCode
		if p.Lost {
			s = p.Outcome + " lost"
		}
		got = append(got, s)
	}
	if strings.Join(got, ",") != wantOutcomes {
		t.Errorf("outcomes %s, want %s", strings.Join(got, ","), wantOutcomes)
	}
	sim.Reset()
	if len(sim.Payments()) != 0 || f.Knobs() != (fault.Knobs{}) {
		t.Error("Reset kept payments or knobs")
	}
}

func TestHTTPTrigger(t *testing.T) {
	ec, url := newEC(t, map[string]int64{"3" + iuv(3): 6000})
	m := newGPDServer(t, 0)
	sim := newSim(nodomock.Options{GPD: m})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	post := func(path, body string) (*http.Response, error) {
		return (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Post(srv.URL+path, "application/json", strings.NewReader(body))
	}
	pay := func(body string) (int, nodomock.Payment) {
		t.Helper()
		resp, err := post("/__mock/pay", body)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var p nodomock.Payment
		if resp.StatusCode != 400 {
			if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
				t.Fatal(err)
			}
		}
		return resp.StatusCode, p
	}
	ecPay := `{"kind":"ec","org":"` + org + `","nav":"3` + iuv(3) + `","ecUrl":"` + url + `"}`
	code, p := pay(ecPay)
	if code != 200 || p.Outcome != "OK" || p.Receipt == nil || p.Receipt.AmountCents != 6000 {
		t.Errorf("pay ec: %d %+v", code, p)
	}
	if len(ec.received()) != 1 {
		t.Error("no receipt at the EC")
	}
	code, p = pay(ecPay)
	if code != 409 || p.FaultCode != nodomock.CodePagamentoDuplicato {
		t.Errorf("pay again: %d %+v", code, p)
	}
	code, p = pay(`{"kind":"gpd","org":"` + org + `","nav":"3` + iuv(3) + `"}`)
	if code != 409 || p.FaultCode != nodomock.CodePagamentoSconosciuto {
		t.Errorf("pay unknown on gpd: %d %+v", code, p)
	}
	for _, bad := range []string{`{`, `{"kind":"cash"}`, `{"kind":"ec","org":"x","nav":"y"}`, `{"kind":"gpd","extra":1}`} {
		if code, _ := pay(bad); code != 400 {
			t.Errorf("%s: %d, want 400", bad, code)
		}
	}
	// The fault control over HTTP; a dropped payment drops the connection.
	resp, err := post("/__mock/faults", `{"dropNext":1}`)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST /__mock/faults: %d", resp.StatusCode)
	}
	if resp, err := post("/__mock/pay", ecPay); err == nil {
		resp.Body.Close()
		t.Fatalf("dropped payment answered %d", resp.StatusCode)
	}
	resp, err = http.Get(srv.URL + "/__mock/payments")
	if err != nil {
		t.Fatal(err)
	}
	var ps []nodomock.Payment
	err = json.NewDecoder(resp.Body).Decode(&ps)
	resp.Body.Close()
	if err != nil || len(ps) != 4 || ps[3].FaultCode != "DROPPED" {
		t.Errorf("payments listed: %v %+v", err, ps)
	}
	resp, err = post("/__mock/reset", "")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 || len(sim.Payments()) != 0 {
		t.Errorf("reset: %d", resp.StatusCode)
	}
}

func BenchmarkPayEC(b *testing.B) {
	notices := map[string]int64{}
	for i := range 100000 {
		notices["3"+iuv(i)] = 1000
	}
	ec := &testEC{amounts: notices, paid: map[string]bool{}}
	srv := httptest.NewServer(ec)
	defer srv.Close()
	sim := newSim(nodomock.Options{})
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := sim.PayEC(ctx, srv.URL, org, "3"+iuv(i%100000)); err != nil {
			b.Fatal(err)
		}
		i++
		if i%100000 == 0 {
			ec.mu.Lock()
			ec.paid, ec.receipts = map[string]bool{}, nil
			ec.mu.Unlock()
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "payments/s")
}
