// Package nodomock is a simulator of the pagoPA Nodo playing a citizen who
// pays a notice through a PSP: on the GPD mock for positions held by GPD
// (PayGPD), or over SOAP against a creditor institution's own endpoint
// (PayEC: paVerifyPaymentNotice → paGetPaymentV2 → paSendRTV2). It has fault
// knobs, an inspection API and an HTTP trigger under /__mock/ for the demo.
package nodomock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/ponte-pa/ponte/connectors/pagopa"
	"github.com/ponte-pa/ponte/connectors/pagopa/nodo"
	"github.com/ponte-pa/ponte/mocks/gpd"
)

// Payment kinds.
const (
	KindGPD = "gpd"
	KindEC  = "ec"
)

// Errors of the simulator itself.
var (
	// ErrPSPFailure is a payment the PSP aborted (FailNext, SetErrorRate)
	// before anything reached GPD or the EC.
	ErrPSPFailure = errors.New("nodo mock: payment aborted by the PSP (injected fault)")
	// ErrNoGPD is PayGPD on a simulator without a GPD mock.
	ErrNoGPD = errors.New("nodo mock: no GPD mock configured")
)

// Options configures a Simulator. The zero value pays as PSP "MOCKPSP" with
// broker/station "00000000000"/"00000000000_01", has no GPD mock, and uses
// the wall clock.
type Options struct {
	GPD        *gpd.Server // for PayGPD
	BrokerID   string      // idBrokerPA sent to ECs
	StationID  string      // idStation sent to ECs
	PSP        pagopa.PSP
	Payer      pagopa.Party // empty: the debtor pays
	HTTPClient *http.Client // for PayEC; nil means a 30 s client
	Now        func() time.Time
	Logger     *slog.Logger
}

// Payment is one payment attempt as recorded by the simulator.
type Payment struct {
	ID        int             `json:"id"`
	Kind      string          `json:"kind"`
	Org       string          `json:"org"`
	NAV       string          `json:"nav"`
	ECURL     string          `json:"ecUrl,omitempty"`
	Outcome   string          `json:"outcome"`             // OK or KO
	FaultCode string          `json:"faultCode,omitempty"` // PAA_* from the EC, or GPD/PSP reason
	Error     string          `json:"error,omitempty"`
	Steps     []string        `json:"steps"` // e.g. "paVerifyPaymentNotice OK"
	Receipt   *pagopa.Receipt `json:"receipt,omitempty"`
	At        time.Time       `json:"at"`
}

// Simulator is the Nodo simulator; safe for concurrent use.
type Simulator struct {
	o   Options
	log *slog.Logger
	mux *http.ServeMux

	mu       sync.Mutex
	seq      int
	payments []Payment
	failN    int
	dupN     int
	latency  time.Duration
	errRate  float64
	rng      *rand.Rand
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
		o.PSP = pagopa.PSP{ID: "MOCKPSP", Name: "Mock PSP S.p.A.", Channel: "MOCKPSP_01"}
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
	s.mux = m
	return s
}

// ServeHTTP serves the /__mock/ API.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// FailNext makes the next n payments fail at the PSP (ErrPSPFailure).
func (s *Simulator) FailNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failN = n
}

// DuplicateReceiptNext makes the next n EC payments deliver their receipt
// twice, as the Nodo does when it retries paSendRTV2; the EC should answer
// the second with PAA_RECEIPT_DUPLICATA (recorded in Steps).
func (s *Simulator) DuplicateReceiptNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dupN = n
}

// SetLatency delays every payment by d.
func (s *Simulator) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// SetErrorRate makes a fraction p of payments fail at the PSP, drawn from a
// generator seeded with seed. p = 0 turns it off.
func (s *Simulator) SetErrorRate(p float64, seed int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errRate, s.rng = p, rand.New(rand.NewSource(seed))
}

// Reset forgets payments and pending faults.
func (s *Simulator) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq, s.payments, s.failN, s.dupN, s.latency, s.errRate, s.rng = 0, nil, 0, 0, 0, 0, nil
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

// begin applies latency and PSP faults and opens a payment record.
func (s *Simulator) begin(ctx context.Context, kind, org, nav, ecURL string) (*Payment, bool, bool, error) {
	s.mu.Lock()
	latency := s.latency
	fail := false
	switch {
	case s.failN > 0:
		s.failN--
		fail = true
	case s.errRate > 0 && s.rng != nil && s.rng.Float64() < s.errRate:
		fail = true
	}
	dup := false
	if kind == KindEC && s.dupN > 0 {
		s.dupN--
		dup = true
	}
	s.seq++
	p := &Payment{ID: s.seq, Kind: kind, Org: org, NAV: nav, ECURL: ecURL, At: s.o.Now(), Steps: []string{}}
	s.mu.Unlock()
	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return p, fail, dup, ctx.Err()
		}
	}
	return p, fail, dup, nil
}

func (s *Simulator) finish(p *Payment, err error) {
	if err != nil {
		p.Outcome = "KO"
		p.Error = err.Error()
		var fe *nodo.FaultError
		switch {
		case errors.As(err, &fe):
			p.FaultCode = fe.Code
		case errors.Is(err, ErrPSPFailure):
			p.FaultCode = "PSP_FAILURE"
		case errors.Is(err, gpd.ErrAlreadyPaid):
			p.FaultCode = nodo.CodePagamentoDuplicato
		case errors.Is(err, gpd.ErrNotFound):
			p.FaultCode = nodo.CodePagamentoSconosciuto
		case errors.Is(err, gpd.ErrNotPayable):
			p.FaultCode = "NOT_PAYABLE"
		}
	} else {
		p.Outcome = "OK"
	}
	s.mu.Lock()
	s.payments = append(s.payments, *p)
	s.mu.Unlock()
	s.log.Info("nodo mock payment", "kind", p.Kind, "org", p.Org, "nav", p.NAV, "outcome", p.Outcome, "fault", p.FaultCode)
}

func (s *Simulator) receiptID(p *Payment, iuv string) string {
	return fmt.Sprintf("%s-%s-%06d", s.o.PSP.ID, iuv, p.ID)
}

// PayGPD pays the GPD position option with notice number nav: the GPD mock
// marks it paid and records the receipt, which is returned.
func (s *Simulator) PayGPD(ctx context.Context, org, nav string) (pagopa.Receipt, error) {
	_, r, err := s.payGPD(ctx, org, nav)
	return r, err
}

func (s *Simulator) payGPD(ctx context.Context, org, nav string) (*Payment, pagopa.Receipt, error) {
	if s.o.GPD == nil {
		return nil, pagopa.Receipt{}, ErrNoGPD
	}
	p, fail, _, err := s.begin(ctx, KindGPD, org, nav, "")
	if err == nil && fail {
		err = ErrPSPFailure
	}
	if err != nil {
		s.finish(p, err)
		return p, pagopa.Receipt{}, err
	}
	n, err := pagopa.ParseNAV(nav)
	if err != nil {
		s.finish(p, err)
		return p, pagopa.Receipt{}, err
	}
	r, err := s.o.GPD.PayWith(org, n.Value, gpd.PaymentInfo{Payer: s.o.Payer, PSP: s.o.PSP, ReceiptID: s.receiptID(p, n.IUV), At: s.o.Now()})
	if err != nil {
		p.Steps = append(p.Steps, "gpd pay KO")
		s.finish(p, err)
		return p, pagopa.Receipt{}, err
	}
	p.Steps = append(p.Steps, "gpd pay OK")
	p.Receipt = &r
	s.finish(p, nil)
	return p, r, nil
}

// PayEC pays notice nav of EC org on the EC's SOAP endpoint at ecURL and
// returns the receipt delivered. EC faults come back as *nodo.FaultError.
func (s *Simulator) PayEC(ctx context.Context, ecURL, org, nav string) (pagopa.Receipt, error) {
	_, r, err := s.payECRecord(ctx, ecURL, org, nav)
	return r, err
}

func (s *Simulator) payECRecord(ctx context.Context, ecURL, org, nav string) (*Payment, pagopa.Receipt, error) {
	p, fail, dup, err := s.begin(ctx, KindEC, org, nav, ecURL)
	if err == nil && fail {
		err = ErrPSPFailure
	}
	if err != nil {
		s.finish(p, err)
		return p, pagopa.Receipt{}, err
	}
	r, err := s.payEC(ctx, p, dup)
	s.finish(p, err)
	return p, r, err
}

func step(p *Payment, op string, err error) {
	res := "OK"
	var fe *nodo.FaultError
	switch {
	case errors.As(err, &fe):
		res = "KO " + fe.Code
	case err != nil:
		res = "error"
	}
	p.Steps = append(p.Steps, op+" "+res)
}

func (s *Simulator) payEC(ctx context.Context, p *Payment, dup bool) (pagopa.Receipt, error) {
	c := nodo.NewClient(p.ECURL, s.o.BrokerID, s.o.StationID, s.o.HTTPClient)
	v, err := c.Verify(ctx, p.Org, p.NAV)
	step(p, nodo.OpVerify, err)
	if err != nil {
		return pagopa.Receipt{}, err
	}
	if len(v.PaymentList) != 1 {
		return pagopa.Receipt{}, fmt.Errorf("nodo mock: verify returned %d payment options, want 1", len(v.PaymentList))
	}
	amount := int64(v.PaymentList[0].Amount)
	g, err := c.GetPaymentV2(ctx, p.Org, p.NAV, amount)
	step(p, nodo.OpGetPaymentV2, err)
	if err != nil {
		return pagopa.Receipt{}, err
	}
	d := g.Data
	if int64(d.PaymentAmount) != amount {
		return pagopa.Receipt{}, fmt.Errorf("nodo mock: activation amount %d differs from verify %d", d.PaymentAmount, amount)
	}
	r := pagopa.Receipt{
		ReceiptID: s.receiptID(p, d.CreditorReferenceID), IUV: d.CreditorReferenceID, NAV: p.NAV, OrgFiscalCode: p.Org,
		Outcome: "OK", AmountCents: amount, Description: d.Description, CompanyName: d.CompanyName,
		Debtor: d.Debtor.Party(), Payer: s.o.Payer, PSP: s.o.PSP, PaymentMethod: "CP",
		PaymentDate: s.o.Now().Truncate(time.Second), Source: pagopa.SourceNodo,
	}
	if r.Payer.FiscalCode == "" {
		r.Payer = r.Debtor
	}
	for _, t := range d.TransferList {
		r.Transfers = append(r.Transfers, pagopa.ReceiptTransfer{ID: t.IDTransfer, AmountCents: int64(t.TransferAmount),
			OrgFiscalCode: t.FiscalCodePA, IBAN: t.IBAN, Remittance: t.RemittanceInformation, Category: t.TransferCategory})
	}
	if err := r.Check(); err != nil {
		return pagopa.Receipt{}, fmt.Errorf("nodo mock: the EC's payment data make a bad receipt: %w", err)
	}
	_, err = c.SendRTV2(ctx, r)
	step(p, nodo.OpSendRTV2, err)
	if err != nil {
		return pagopa.Receipt{}, err
	}
	if dup {
		_, derr := c.SendRTV2(ctx, r)
		step(p, nodo.OpSendRTV2+" (again)", derr)
	}
	p.Receipt = &r
	return r, nil
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
		p, _, err = s.payGPD(r.Context(), req.Org, req.NAV)
	case KindEC:
		if req.ECURL == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "ecUrl is required for kind ec"})
			return
		}
		p, _, err = s.payECRecord(r.Context(), req.ECURL, req.Org, req.NAV)
	default:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": `kind must be "gpd" or "ec"`})
		return
	}
	if p == nil { // no GPD mock
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	status := http.StatusOK
	if err != nil {
		status = http.StatusConflict
	}
	writeJSON(w, status, p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
