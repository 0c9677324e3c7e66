// Package nodomock is a simulator of the pagoPA Nodo playing a citizen who
// pays a notice through a PSP: on the GPD mock for positions held by GPD
// (PayGPD), or over SOAP against a creditor institution's own endpoint
// (PayEC: paVerifyPaymentNotice → paGetPaymentV2 → paSendRTV2, or
// paGetPayment → paSendRT for a V1 station, checking the EC's answers
// against the contract and the schema's rules). It has the fault knobs of every
// mock (Faults, /__mock/faults), for which one payment is one request, an
// inspection API and an HTTP trigger under /__mock/ for the demo.
package nodomock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ponte-pa/ponte/mocks/fault"
	"github.com/ponte-pa/ponte/mocks/gpd"
)

// Payment kinds.
const (
	KindGPD = "gpd"
	KindEC  = "ec"
)

// Errors of the simulator itself.
var (
	// ErrPSPFailure is a payment the PSP aborted (an injected failure)
	// before anything reached GPD or the EC.
	ErrPSPFailure = errors.New("nodo mock: payment aborted by the PSP (injected fault)")
	// ErrDropped is a payment whose connection dropped (an injected
	// fault) before anything reached GPD or the EC.
	ErrDropped = errors.New("nodo mock: connection dropped before the payment (injected fault)")
	// ErrOutcomeLost is a payment that went through — GPD or the EC has
	// it — whose outcome never reached the payer (an injected fault).
	ErrOutcomeLost = errors.New("nodo mock: payment made, outcome lost (injected fault)")
	// ErrNoGPD is PayGPD on a simulator without a GPD mock.
	ErrNoGPD = errors.New("nodo mock: no GPD mock configured")
)

// Options configures a Simulator. The zero value pays as PSP "MOCKPSP" with
// broker/station "00000000000"/"00000000000_01", has no GPD mock, and uses
// the wall clock.
type Options struct {
	GPD       *gpd.Server // for PayGPD
	BrokerID  string      // idBrokerPA sent to ECs
	StationID string      // idStation sent to ECs
	PSP       gpd.PSP
	Payer     gpd.Party // empty: the debtor pays
	// V1 makes PayEC call the V1 primitives paGetPayment and paSendRT, as
	// the Nodo does for a station configured for them.
	V1         bool
	HTTPClient *http.Client // for PayEC; nil means a 30 s client
	Now        func() time.Time
	Logger     *slog.Logger
}

// Payment is one payment attempt as recorded by the simulator.
type Payment struct {
	ID        int          `json:"id"`
	Kind      string       `json:"kind"`
	Org       string       `json:"org"`
	NAV       string       `json:"nav"`
	ECURL     string       `json:"ecUrl,omitempty"`
	Outcome   string       `json:"outcome"`             // OK or KO
	FaultCode string       `json:"faultCode,omitempty"` // PAA_* from the EC, or GPD/PSP reason
	Error     string       `json:"error,omitempty"`
	Steps     []string     `json:"steps"` // e.g. "paVerifyPaymentNotice OK"
	Receipt   *gpd.Receipt `json:"receipt,omitempty"`
	// Lost is a payment made whose outcome was lost (LoseNext).
	Lost bool      `json:"lost,omitempty"`
	At   time.Time `json:"at"`
}

// Simulator is the Nodo simulator; safe for concurrent use.
type Simulator struct {
	o       Options
	log     *slog.Logger
	handler http.Handler
	faults  fault.Injector

	mu       sync.Mutex
	seq      int
	payments []Payment
	dupN     int
}

// New returns a simulator configured by o.
func New(o Options) *Simulator {
	if o.BrokerID == "" {
		o.BrokerID = "00000000000"
	}
	if o.StationID == "" {
		o.StationID = o.BrokerID + "_01"
	}
	if o.PSP.ID == "" {
		o.PSP = gpd.DefaultPSP
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &Simulator{o: o, log: o.Logger.With("component", "nodo-mock")}
	m := http.NewServeMux()
	m.HandleFunc("POST /__mock/pay", s.handlePay)
	m.HandleFunc("GET /__mock/payments", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, s.Payments()) })
	m.HandleFunc("POST /__mock/reset", func(w http.ResponseWriter, _ *http.Request) { s.Reset(); w.WriteHeader(http.StatusNoContent) })
	// The simulator applies the faults to payments itself (begin), for the
	// Go API and /__mock/pay alike; the kit serves /__mock/faults.
	s.handler = s.faults.Middleware(m, fault.HTTPOptions{Applies: func(*http.Request) bool { return false }})
	return s
}

// ServeHTTP serves the /__mock/ API.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Faults are the fault knobs; one payment is one request: a failure makes
// the PSP abort it (ErrPSPFailure), a drop loses the connection before it
// (ErrDropped; over HTTP the connection is closed), a lost response makes
// the payment and loses its outcome (ErrOutcomeLost; over HTTP the
// connection is closed after paying), latency delays it.
func (s *Simulator) Faults() *fault.Injector { return &s.faults }

// DuplicateReceiptNext makes the next n EC payments deliver their receipt
// twice, as the Nodo does when it retries paSendRTV2; the EC should answer
// the second with PAA_RECEIPT_DUPLICATA (recorded in Steps).
func (s *Simulator) DuplicateReceiptNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dupN = n
}

// Reset forgets payments and pending faults.
func (s *Simulator) Reset() {
	s.mu.Lock()
	s.seq, s.payments, s.dupN = 0, nil, 0
	s.mu.Unlock()
	s.faults.Reset()
}

// Payments returns every payment attempt, oldest first.
func (s *Simulator) Payments() []Payment {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Payment, len(s.payments))
	for i, p := range s.payments {
		p.Steps = slices.Clone(p.Steps)
		out[i] = p
	}
	return out
}

// begin opens a payment record and applies the faults: latency, then an
// aborted or dropped payment (returned as the error).
func (s *Simulator) begin(ctx context.Context, kind, org, nav, ecURL string) (*Payment, bool, error) {
	f := s.faults.Next()
	s.mu.Lock()
	dup := false
	if kind == KindEC && s.dupN > 0 {
		s.dupN--
		dup = true
	}
	s.seq++
	p := &Payment{ID: s.seq, Kind: kind, Org: org, NAV: nav, ECURL: ecURL, At: s.o.Now(), Steps: []string{}}
	s.mu.Unlock()
	if f.Latency > 0 {
		t := time.NewTimer(f.Latency)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return p, dup, ctx.Err()
		}
	}
	switch f.Kind {
	case fault.Drop:
		return p, dup, ErrDropped
	case fault.Fail:
		if f.Failure.Status != 0 {
			return p, dup, fmt.Errorf("%w: the PSP answered %d", ErrPSPFailure, f.Failure.Status)
		}
		return p, dup, ErrPSPFailure
	}
	return p, dup, nil
}

// finish records the payment; a payment made may still lose its outcome.
func (s *Simulator) finish(p *Payment, err error) error {
	if err == nil && s.faults.LoseApplied() {
		p.Lost = true
		err = ErrOutcomeLost
	}
	switch {
	case err == nil || errors.Is(err, ErrOutcomeLost):
		p.Outcome = "OK"
	default:
		p.Outcome = "KO"
		var fe *FaultError
		switch {
		case errors.As(err, &fe):
			p.FaultCode = fe.Code
		case errors.Is(err, ErrPSPFailure):
			p.FaultCode = "PSP_FAILURE"
		case errors.Is(err, ErrDropped):
			p.FaultCode = "DROPPED"
		case errors.Is(err, gpd.ErrAlreadyPaid):
			p.FaultCode = CodePagamentoDuplicato
		case errors.Is(err, gpd.ErrNotFound):
			p.FaultCode = CodePagamentoSconosciuto
		case errors.Is(err, gpd.ErrNotPayable):
			p.FaultCode = "NOT_PAYABLE"
		}
	}
	if err != nil {
		p.Error = err.Error()
	}
	s.mu.Lock()
	s.payments = append(s.payments, *p)
	s.mu.Unlock()
	s.log.Info("nodo mock payment", "kind", p.Kind, "org", p.Org, "nav", p.NAV, "outcome", p.Outcome, "fault", p.FaultCode, "lost", p.Lost)
	return err
}

func (s *Simulator) receiptID(p *Payment, iuv string) string {
	return fmt.Sprintf("%s-%s-%06d", s.o.PSP.ID, iuv, p.ID)
}

// notice normalises a notice number (18 digits, spaces allowed as printed
// on the notice) and returns it with its IUV (aux digit 3: the NAV without
// its leading digit).
func notice(nav string) (string, string, error) {
	n := strings.ReplaceAll(nav, " ", "")
	if !isDigits(n, 18) {
		return "", "", fmt.Errorf("nodo mock: notice number %q: want 18 digits", nav)
	}
	return n, n[1:], nil
}

// PayGPD pays the GPD position option with notice number nav: the GPD mock
// marks it paid and records the receipt, which is returned.
func (s *Simulator) PayGPD(ctx context.Context, org, nav string) (gpd.Receipt, error) {
	p, err := s.payGPD(ctx, org, nav)
	if p == nil || p.Receipt == nil {
		return gpd.Receipt{}, err
	}
	return *p.Receipt, err
}

func (s *Simulator) payGPD(ctx context.Context, org, nav string) (*Payment, error) {
	if s.o.GPD == nil {
		return nil, ErrNoGPD
	}
	p, _, err := s.begin(ctx, KindGPD, org, nav, "")
	if err != nil {
		return p, s.finish(p, err)
	}
	n, iuv, err := notice(nav)
	if err != nil {
		return p, s.finish(p, err)
	}
	r, err := s.o.GPD.PayWith(org, n, gpd.PaymentInfo{Payer: s.o.Payer, PSP: s.o.PSP, ReceiptID: s.receiptID(p, iuv), At: s.o.Now()})
	if err != nil {
		p.Steps = append(p.Steps, "gpd pay KO")
		return p, s.finish(p, err)
	}
	p.Steps = append(p.Steps, "gpd pay OK")
	p.Receipt = &r
	return p, s.finish(p, nil)
}

// PayEC pays notice nav of EC org on the EC's SOAP endpoint at ecURL and
// returns the receipt delivered. EC faults come back as *FaultError.
func (s *Simulator) PayEC(ctx context.Context, ecURL, org, nav string) (gpd.Receipt, error) {
	p, err := s.payECRecord(ctx, ecURL, org, nav)
	if p.Receipt == nil {
		return gpd.Receipt{}, err
	}
	return *p.Receipt, err
}

func (s *Simulator) payECRecord(ctx context.Context, ecURL, org, nav string) (*Payment, error) {
	p, dup, err := s.begin(ctx, KindEC, org, nav, ecURL)
	if err == nil {
		err = s.payEC(ctx, p, dup)
	}
	return p, s.finish(p, err)
}

func step(p *Payment, op string, err error) {
	res := "OK"
	var fe *FaultError
	switch {
	case errors.As(err, &fe):
		res = "KO " + fe.Code
	case err != nil:
		res = "error"
	}
	p.Steps = append(p.Steps, op+" "+res)
}

func (s *Simulator) payEC(ctx context.Context, p *Payment, dup bool) error {
	c := &ec{url: p.ECURL, brokerID: s.o.BrokerID, stationID: s.o.StationID, hc: s.o.HTTPClient}
	qr := qrCode{FiscalCode: p.Org, NoticeNumber: p.NAV}

	var v verifyRes
	err := c.call(ctx, OpVerify, &verifyReq{header: c.header(p.Org), QRCode: qr}, &v)
	if err == nil {
		err = v.err(OpVerify)
	}
	step(p, OpVerify, err)
	if err != nil {
		return err
	}
	// The contract: exactly one paymentOptionDescription.
	if len(v.PaymentList) != 1 {
		return fmt.Errorf("nodo mock: verify returned %d payment options, want 1", len(v.PaymentList))
	}
	amount := v.PaymentList[0].Amount

	getOp, rtOp := OpGetPaymentV2, OpSendRTV2
	if s.o.V1 {
		getOp, rtOp = OpGetPayment, OpSendRT
	}
	var g getPaymentRes
	err = c.call(ctx, getOp, &getPaymentReq{header: c.header(p.Org), QRCode: qr, Amount: &amount, TransferType: "PAGOPA"}, &g)
	if err == nil {
		err = g.err(getOp)
	}
	if err == nil && g.Data == nil {
		err = fmt.Errorf("nodo mock: %s: OK without data", getOp)
	}
	step(p, getOp, err)
	if err != nil {
		return err
	}
	d := g.Data
	if err := d.check(p.NAV, s.o.V1); err != nil {
		return err
	}
	if d.PaymentAmount != amount {
		return fmt.Errorf("nodo mock: activation amount %d differs from verify %d", d.PaymentAmount, amount)
	}
	r := gpd.Receipt{
		ReceiptID: s.receiptID(p, d.CreditorReferenceID), IUV: d.CreditorReferenceID, NAV: p.NAV, OrgFiscalCode: p.Org,
		Outcome: "OK", AmountCents: int64(amount), Description: d.Description, CompanyName: d.CompanyName,
		Debtor: d.Debtor.Party(), Payer: s.o.Payer, PSP: s.o.PSP, PaymentMethod: "CP",
		PaymentDate: s.o.Now().Truncate(time.Second),
	}
	if r.Payer.FiscalCode == "" {
		r.Payer = r.Debtor
	}
	for _, t := range d.TransferList {
		r.Transfers = append(r.Transfers, gpd.ReceiptTransfer{ID: t.IDTransfer, AmountCents: int64(t.TransferAmount),
			OrgFiscalCode: t.FiscalCodePA, IBAN: t.IBAN, Remittance: t.RemittanceInformation, Category: t.TransferCategory})
	}
	send := func() error {
		var res outcome
		if err := c.call(ctx, rtOp, &sendRTReq{header: c.header(p.Org), Receipt: r.XML()}, &res); err != nil {
			return err
		}
		return res.err(rtOp)
	}
	err = send()
	step(p, rtOp, err)
	if err != nil {
		return err
	}
	if dup {
		step(p, rtOp+" (again)", send())
	}
	p.Receipt = &r
	return nil
}

// PayRequest is the body of POST /__mock/pay.
type PayRequest struct {
	Kind  string `json:"kind"` // gpd or ec
	Org   string `json:"org"`
	NAV   string `json:"nav"`
	ECURL string `json:"ecUrl,omitempty"`
}

func (s *Simulator) handlePay(w http.ResponseWriter, r *http.Request) {
	var req PayRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "malformed JSON body: " + err.Error()})
		return
	}
	var (
		p   *Payment
		err error
	)
	switch req.Kind {
	case KindGPD:
		p, err = s.payGPD(r.Context(), req.Org, req.NAV)
	case KindEC:
		if req.ECURL == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "ecUrl is required for kind ec"})
			return
		}
		p, err = s.payECRecord(r.Context(), req.ECURL, req.Org, req.NAV)
	default:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": `kind must be "gpd" or "ec"`})
		return
	}
	switch {
	case p == nil: // no GPD mock
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
	case errors.Is(err, ErrDropped), errors.Is(err, ErrOutcomeLost):
		fault.DropConnection(w)
	case err != nil:
		writeJSON(w, http.StatusConflict, p)
	default:
		writeJSON(w, http.StatusOK, p)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
