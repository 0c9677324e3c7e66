// Package gpd is an in-memory mock of the pagoPA GPD external API v1 (debt
// positions) and of the GPD receipts API: a real HTTP server with the
// documented validations and status transitions, fault knobs and an
// inspection API under /__mock/. Payments made through pagoPA (Pay, PayWith,
// used by the Nodo simulator) leave a receipt; "already paid" marks do not.
package gpd

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ponte-pa/ponte/connectors/pagopa"
)

// Options configures a Server. The zero value accepts any non-empty key and
// uses the wall clock.
type Options struct {
	// SubscriptionKeys accepted in Ocp-Apim-Subscription-Key; empty means any
	// non-empty key.
	SubscriptionKeys []string
	// Now is the mock's clock (validations, status changes). Nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Stats counts what the mock has seen.
type Stats struct {
	Requests           map[string]int `json:"requests"` // by operation id, e.g. "createPosition"
	Creates            int            `json:"creates"`
	DuplicatesRejected int            `json:"duplicatesRejected"`
	FaultsInjected     int            `json:"faultsInjected"`
}

// Errors returned by Pay.
var (
	ErrNotFound    = errors.New("gpd mock: no payment option with this notice number")
	ErrAlreadyPaid = errors.New("gpd mock: payment option already paid")
	ErrNotPayable  = errors.New("gpd mock: debt position not in a payable state")
)

type record struct {
	pos pagopa.PaymentPosition
	seq int64
}

type orgState struct {
	byIUPD   map[string]*record
	byIUV    map[string]string // iuv -> iupd
	byNAV    map[string]string // nav -> iupd
	receipts map[string]pagopa.Receipt
	rorder   []string // IUVs of receipts in payment order
}

// Server is the GPD mock. It is ready at its zero value and safe for
// concurrent use.
type Server struct {
	mu   sync.Mutex
	opts Options
	keys map[string]bool
	orgs map[string]*orgState
	seq  int64

	receiptSeq int64
	stats      Stats
	mux        *http.ServeMux

	failN, failStatus int
	latency           time.Duration
	errRate           float64
	rng               *rand.Rand
	dropN, loseN      int
}

// New returns a Server configured by opts.
func New(opts Options) *Server {
	s := &Server{opts: opts}
	s.init()
	return s
}

func (s *Server) init() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initLocked()
}

func (s *Server) initLocked() {
	if s.mux != nil {
		return
	}
	s.keys = map[string]bool{}
	for _, k := range s.opts.SubscriptionKeys {
		s.keys[k] = true
	}
	s.orgs = map[string]*orgState{}
	s.stats.Requests = map[string]int{}
	m := http.NewServeMux()
	const pos = "/organizations/{org}/debtpositions"
	m.HandleFunc("GET /info", s.op("healthCheck", s.handleInfo))
	m.HandleFunc("GET "+pos, s.op("getOrganizationDebtPositions", s.handleList))
	m.HandleFunc("POST "+pos, s.op("createPosition", s.handleCreate))
	m.HandleFunc("GET "+pos+"/{iupd}", s.op("getOrganizationDebtPositionByIUPD", s.handleGet))
	m.HandleFunc("PUT "+pos+"/{iupd}", s.op("updatePosition", s.handleUpdate))
	m.HandleFunc("DELETE "+pos+"/{iupd}", s.op("deletePosition", s.handleDelete))
	m.HandleFunc("POST "+pos+"/{iupd}/publish", s.op("publishPosition", s.handlePublish))
	m.HandleFunc("POST "+pos+"/{iupd}/invalidate", s.op("invalidatePosition", s.handleInvalidate))
	m.HandleFunc("POST /organizations/{org}/paymentoptions/paids/{nav}", s.op("setPaymentOptionAsAlreadyPaid", s.handlePaid))
	m.HandleFunc("GET /payments/{org}/receipts", s.op("getOrganizationReceipts", s.handleReceiptList))
	m.HandleFunc("GET /payments/{org}/receipts/{iuv}", s.op("getReceiptByIUV", s.handleReceipt))
	m.HandleFunc("GET /__mock/positions", s.handleMockPositions)
	m.HandleFunc("GET /__mock/receipts", s.handleMockReceipts)
	m.HandleFunc("GET /__mock/stats", s.handleMockStats)
	m.HandleFunc("POST /__mock/reset", func(w http.ResponseWriter, _ *http.Request) { s.Reset(); w.WriteHeader(http.StatusNoContent) })
	s.mux = m
}

func (s *Server) now() time.Time {
	if s.opts.Now != nil {
		return s.opts.Now()
	}
	return time.Now()
}

func (s *Server) logger() *slog.Logger {
	if s.opts.Logger != nil {
		return s.opts.Logger
	}
	return slog.Default()
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.init()
	s.mux.ServeHTTP(w, r)
}

// --- faults and the common request path ---

type fault int

const (
	noFault fault = iota
	faultDrop
	faultFail
	faultRandom
)

// op wraps an operation handler with counting, latency, faults and auth.
func (s *Server) op(name string, h func(w http.ResponseWriter, r *http.Request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.stats.Requests[name]++
		latency := s.latency
		f, status := noFault, 0
		switch {
		case s.dropN > 0:
			s.dropN--
			f = faultDrop
		case s.failN > 0:
			s.failN--
			f, status = faultFail, s.failStatus
		case s.errRate > 0 && s.rng != nil && s.rng.Float64() < s.errRate:
			f, status = faultRandom, http.StatusInternalServerError
		}
		if f != noFault {
			s.stats.FaultsInjected++
		}
		s.mu.Unlock()

		if latency > 0 {
			t := time.NewTimer(latency)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		reqID := r.Header.Get("X-Request-Id")
		if reqID == "" {
			reqID = fmt.Sprintf("mock-%d", time.Now().UnixNano())
		}
		w.Header().Set("X-Request-Id", reqID)
		switch f {
		case faultDrop:
			s.logger().Debug("gpd mock: dropping connection", "op", name)
			dropConnection(w)
			return
		case faultFail, faultRandom:
			writeProblem(w, status, http.StatusText(status), "injected fault")
			return
		}
		key := r.Header.Get(pagopa.SubscriptionKeyHeader)
		s.mu.Lock()
		ok := key != "" && (len(s.keys) == 0 || s.keys[key])
		lose := false
		if ok && s.loseN > 0 {
			s.loseN--
			s.stats.FaultsInjected++
			lose = true
		}
		s.mu.Unlock()
		if !ok {
			// What Azure API Management answers.
			writeJSON(w, http.StatusUnauthorized, map[string]any{"statusCode": 401,
				"message": "Access denied due to missing or invalid subscription key. Make sure to provide a valid key for an active subscription."})
			return
		}
		if lose {
			rec := httptest.NewRecorder()
			h(rec, r)
			s.logger().Debug("gpd mock: applied request, losing the response", "op", name, "status", rec.Code)
			dropConnection(w)
			return
		}
		h(w, r)
	}
}

// dropConnection closes the client connection without an answer.
func dropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	// HTTP/2 or a recorder: abort the response, which net/http turns into a reset.
	panic(http.ErrAbortHandler)
}

// FailNext makes the next n API requests fail with status (a ProblemJson body).
func (s *Server) FailNext(n, status int) {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failN, s.failStatus = n, status
}

// SetLatency delays every API request by d.
func (s *Server) SetLatency(d time.Duration) {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// SetErrorRate makes a fraction p (0..1) of API requests fail with 500,
// drawn from a generator seeded with seed. p = 0 turns it off.
func (s *Server) SetErrorRate(p float64, seed int64) {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errRate = p
	s.rng = rand.New(rand.NewSource(seed))
}

// DropNext closes the connection of the next n API requests without
// processing them.
func (s *Server) DropNext(n int) {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropN = n
}

// LoseResponseNext applies the next n authorized API requests and then closes
// the connection without answering ("committed but response lost").
func (s *Server) LoseResponseNext(n int) {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loseN = n
}

// Reset forgets every position, statistic and pending fault.
func (s *Server) Reset() {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.orgs = map[string]*orgState{}
	s.stats = Stats{Requests: map[string]int{}}
	s.failN, s.failStatus, s.latency, s.errRate, s.rng, s.dropN, s.loseN = 0, 0, 0, 0, nil, 0, 0
}

// --- inspection ---

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Requests = make(map[string]int, len(s.stats.Requests))
	for k, v := range s.stats.Requests {
		st.Requests[k] = v
	}
	return st
}

// Positions returns the organization's positions (full data, debtor
// included) in creation order.
func (s *Server) Positions(org string) []pagopa.PaymentPosition {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.positionsLocked(org)
}

func (s *Server) positionsLocked(org string) []pagopa.PaymentPosition {
	o := s.orgs[org]
	if o == nil {
		return []pagopa.PaymentPosition{}
	}
	recs := make([]*record, 0, len(o.byIUPD))
	for _, r := range o.byIUPD {
		s.refreshLocked(r)
		recs = append(recs, r)
	}
	slices.SortFunc(recs, func(a, b *record) int { return cmp.Compare(a.seq, b.seq) })
	out := make([]pagopa.PaymentPosition, len(recs))
	for i, r := range recs {
		out[i] = clonePosition(r.pos)
	}
	return out
}

// Position returns one position by IUPD.
func (s *Server) Position(org, iupd string) (pagopa.PaymentPosition, bool) {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.lookupLocked(org, iupd)
	if r == nil {
		return pagopa.PaymentPosition{}, false
	}
	return clonePosition(r.pos), true
}

// Pay marks the option with notice number nav as paid, as the Nodo does when
// a citizen pays, and records a receipt with default payer and PSP. It
// returns ErrNotFound, ErrAlreadyPaid or ErrNotPayable.
func (s *Server) Pay(org, nav string) error {
	_, err := s.PayWith(org, nav, PaymentInfo{})
	return err
}

// PaymentInfo describes a payment made through pagoPA, for PayWith. Zero
// fields get defaults: the debtor pays, PSP "MOCKPSP", receipt id generated,
// the mock clock.
type PaymentInfo struct {
	Payer         pagopa.Party
	PSP           pagopa.PSP
	PaymentMethod string
	ReceiptID     string
	At            time.Time
}

// PayWith is Pay with the payment details; it returns the receipt recorded.
func (s *Server) PayWith(org, nav string, info PaymentInfo) (pagopa.Receipt, error) {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	at := info.At
	if at.IsZero() {
		at = s.now()
	}
	opt, err := s.payLocked(org, nav, at)
	if err != nil {
		return pagopa.Receipt{}, err
	}
	o := s.orgs[org]
	rec := o.byIUPD[o.byNAV[nav]]
	s.receiptSeq++
	if info.ReceiptID == "" {
		info.ReceiptID = fmt.Sprintf("mock-%s-%06d", opt.IUV, s.receiptSeq)
	}
	if info.PSP.ID == "" {
		info.PSP = pagopa.PSP{ID: "MOCKPSP", Name: "Mock PSP S.p.A.", Channel: "MOCKPSP_01"}
	}
	if info.PaymentMethod == "" {
		info.PaymentMethod = "CP"
	}
	debtor := pagopa.Party{Type: rec.pos.Type, FiscalCode: rec.pos.FiscalCode, Name: rec.pos.FullName}
	if info.Payer.FiscalCode == "" {
		info.Payer = debtor
	}
	r := pagopa.Receipt{
		ReceiptID: info.ReceiptID, IUV: opt.IUV, NAV: opt.NAV, OrgFiscalCode: org, Outcome: "OK",
		AmountCents: opt.Amount, Description: opt.Description, CompanyName: rec.pos.CompanyName,
		Debtor: debtor, Payer: info.Payer, PSP: info.PSP, PaymentMethod: info.PaymentMethod,
		PaymentDate: at.Truncate(time.Second), Source: pagopa.SourceGPD,
	}
	for _, t := range opt.Transfer {
		id, _ := strconv.Atoi(t.IDTransfer)
		r.Transfers = append(r.Transfers, pagopa.ReceiptTransfer{ID: id, AmountCents: t.Amount,
			OrgFiscalCode: cmp.Or(t.OrganizationFiscalCode, org), IBAN: t.IBAN,
			Remittance: t.RemittanceInformation, Category: t.Category})
	}
	// Keep the position's option in step, as GPD does on paSendRT.
	for i := range rec.pos.PaymentOption {
		if po := &rec.pos.PaymentOption[i]; po.NAV == nav {
			po.IDReceipt, po.PSPCompany, po.PaymentMethod = r.ReceiptID, r.PSP.Name, r.PaymentMethod
		}
	}
	if _, dup := o.receipts[opt.IUV]; !dup {
		o.rorder = append(o.rorder, opt.IUV)
	}
	o.receipts[opt.IUV] = r
	return r, nil
}

// Receipts returns the organization's receipts in payment order.
func (s *Server) Receipts(org string) []pagopa.Receipt {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orgs[org]
	out := []pagopa.Receipt{}
	if o == nil {
		return out
	}
	for _, iuv := range o.rorder {
		out = append(out, o.receipts[iuv])
	}
	return out
}

func (s *Server) handleMockReceipts(w http.ResponseWriter, r *http.Request) {
	if org := r.URL.Query().Get("org"); org != "" {
		writeJSON(w, http.StatusOK, s.Receipts(org))
		return
	}
	s.mu.Lock()
	orgs := make([]string, 0, len(s.orgs))
	for o := range s.orgs {
		orgs = append(orgs, o)
	}
	s.mu.Unlock()
	all := map[string][]pagopa.Receipt{}
	for _, o := range orgs {
		all[o] = s.Receipts(o)
	}
	writeJSON(w, http.StatusOK, all)
}

func (s *Server) handleMockPositions(w http.ResponseWriter, r *http.Request) {
	org := r.URL.Query().Get("org")
	s.mu.Lock()
	var v any
	if org != "" {
		v = s.positionsLocked(org)
	} else {
		all := map[string][]pagopa.PaymentPosition{}
		for o := range s.orgs {
			all[o] = s.positionsLocked(o)
		}
		v = all
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) handleMockStats(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Stats())
}

// --- state helpers (callers hold s.mu) ---

func (s *Server) org(org string) *orgState {
	o := s.orgs[org]
	if o == nil {
		o = &orgState{byIUPD: map[string]*record{}, byIUV: map[string]string{}, byNAV: map[string]string{},
			receipts: map[string]pagopa.Receipt{}}
		s.orgs[org] = o
	}
	return o
}

func (s *Server) lookupLocked(org, iupd string) *record {
	o := s.orgs[org]
	if o == nil {
		return nil
	}
	r := o.byIUPD[iupd]
	if r != nil {
		s.refreshLocked(r)
	}
	return r
}

// refreshLocked applies the time-driven transitions GPD runs in batch:
// PUBLISHED becomes VALID at validityDate; VALID becomes EXPIRED after the
// last due date when switchToExpired is set.
func (s *Server) refreshLocked(r *record) {
	now := s.now()
	p := &r.pos
	if p.Status == pagopa.StatusPublished && (p.ValidityDate == nil || !p.ValidityDate.After(now)) {
		p.Status = pagopa.StatusValid
		p.LastUpdatedDate = ptr(now)
	}
	if p.Status == pagopa.StatusValid && p.SwitchToExpired && len(p.PaymentOption) > 0 {
		last := p.PaymentOption[0].DueDate
		for _, o := range p.PaymentOption {
			if o.DueDate.After(last) {
				last = o.DueDate
			}
		}
		if now.After(last) {
			p.Status = pagopa.StatusExpired
			p.LastUpdatedDate = ptr(now)
		}
	}
}

func (s *Server) publishLocked(p *pagopa.PaymentPosition, now time.Time) {
	p.PublishDate = ptr(now)
	p.LastUpdatedDate = ptr(now)
	if p.ValidityDate != nil && p.ValidityDate.After(now) {
		p.Status = pagopa.StatusPublished
	} else {
		if p.ValidityDate == nil {
			p.ValidityDate = ptr(now)
		}
		p.Status = pagopa.StatusValid
	}
}

// fill sets the server-side fields of a new or replaced position.
func fill(p *pagopa.PaymentPosition, org string, now time.Time) {
	p.OrganizationFiscalCode = org
	p.Status = pagopa.StatusDraft
	p.InsertedDate, p.LastUpdatedDate, p.PublishDate, p.PaymentDate = ptr(now), ptr(now), nil, nil
	for i := range p.PaymentOption {
		o := &p.PaymentOption[i]
		o.NAV = "3" + o.IUV
		o.OrganizationFiscalCode = org
		o.Status = pagopa.OptionUnpaid
		o.InsertedDate, o.LastUpdatedDate = ptr(now), ptr(now)
		o.PaymentDate, o.ReportingDate = nil, nil
		o.Fee, o.NotificationFee = 0, 0
		o.PaymentMethod, o.PSPCompany, o.IDReceipt, o.IDFlowReporting = "", "", "", ""
		for j := range o.Transfer {
			t := &o.Transfer[j]
			if t.OrganizationFiscalCode == "" {
				t.OrganizationFiscalCode = org
			}
			t.Status = "T_UNREPORTED"
			t.InsertedDate, t.LastUpdatedDate = ptr(now), ptr(now)
		}
	}
}

// iuvConflictLocked reports an IUV or NAV of p already used by another
// position of the organization.
func (o *orgState) iuvConflict(p pagopa.PaymentPosition) string {
	for _, opt := range p.PaymentOption {
		if other, ok := o.byIUV[opt.IUV]; ok && other != p.IUPD {
			return fmt.Sprintf("IUV %s is already used by debt position %s", opt.IUV, other)
		}
		if other, ok := o.byNAV["3"+opt.IUV]; ok && other != p.IUPD {
			return fmt.Sprintf("NAV 3%s is already used by debt position %s", opt.IUV, other)
		}
	}
	return ""
}

func (o *orgState) index(p pagopa.PaymentPosition) {
	for _, opt := range p.PaymentOption {
		o.byIUV[opt.IUV] = p.IUPD
		o.byNAV[opt.NAV] = p.IUPD
	}
}

func (o *orgState) unindex(p pagopa.PaymentPosition) {
	for _, opt := range p.PaymentOption {
		delete(o.byIUV, opt.IUV)
		delete(o.byNAV, opt.NAV)
	}
}

func (s *Server) payLocked(org, nav string, at time.Time) (*pagopa.PaymentOption, error) {
	o := s.orgs[org]
	if o == nil {
		return nil, ErrNotFound
	}
	iupd, ok := o.byNAV[nav]
	if !ok {
		return nil, ErrNotFound
	}
	r := o.byIUPD[iupd]
	s.refreshLocked(r)
	p := &r.pos
	idx := slices.IndexFunc(p.PaymentOption, func(x pagopa.PaymentOption) bool { return x.NAV == nav })
	if idx < 0 {
		return nil, ErrNotFound
	}
	opt := &p.PaymentOption[idx]
	if opt.Status != pagopa.OptionUnpaid {
		return nil, ErrAlreadyPaid
	}
	if p.Status != pagopa.StatusValid && p.Status != pagopa.StatusPartiallyPaid {
		return nil, ErrNotPayable
	}
	now := s.now()
	opt.Status = pagopa.OptionPaid
	opt.PaymentDate = ptr(at)
	opt.LastUpdatedDate = ptr(now)
	p.LastUpdatedDate = ptr(now)
	if !opt.IsPartialPayment {
		p.Status = pagopa.StatusPaid
	} else {
		all := true
		for _, x := range p.PaymentOption {
			if x.IsPartialPayment && x.Status == pagopa.OptionUnpaid {
				all = false
			}
		}
		if all {
			p.Status = pagopa.StatusPaid
		} else {
			p.Status = pagopa.StatusPartiallyPaid
		}
	}
	if p.Status == pagopa.StatusPaid {
		p.PaymentDate = ptr(at)
	}
	c := *opt
	return &c, nil
}

// --- HTTP handlers ---

func (s *Server) handleInfo(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"name": "pagopa-debt-position (ponte mock)", "version": "1.0.0", "environment": "mock"})
}

func (s *Server) decodePosition(w http.ResponseWriter, r *http.Request) (pagopa.PaymentPosition, bool) {
	var p pagopa.PaymentPosition
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<20))
	if err := dec.Decode(&p); err != nil {
		writeProblem(w, http.StatusBadRequest, "Bad Request", "malformed JSON body: "+err.Error())
		return p, false
	}
	return p, true
}

func parseBoolParam(w http.ResponseWriter, r *http.Request, name string) (bool, bool) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, true
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		writeProblem(w, http.StatusBadRequest, "Bad Request", fmt.Sprintf("query parameter %s: %q is not a boolean", name, v))
		return false, false
	}
	return b, true
}

func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("org")
	toPublish, ok := parseBoolParam(w, r, "toPublish")
	if !ok {
		return
	}
	p, ok := s.decodePosition(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if err := p.ValidateAt(now); err != nil {
		writeProblem(w, http.StatusBadRequest, "Bad Request", err.Error())
		return
	}
	o := s.org(org)
	if _, dup := o.byIUPD[p.IUPD]; dup {
		s.stats.DuplicatesRejected++
		writeProblem(w, http.StatusConflict, "Conflict",
			fmt.Sprintf("The debt position with Organization Fiscal Code %s and IUPD %s already exists", org, p.IUPD))
		return
	}
	if msg := o.iuvConflict(p); msg != "" {
		s.stats.DuplicatesRejected++
		writeProblem(w, http.StatusConflict, "Conflict", "Debt position unique violation: "+msg)
		return
	}
	fill(&p, org, now)
	if toPublish {
		s.publishLocked(&p, now)
	}
	s.seq++
	o.byIUPD[p.IUPD] = &record{pos: p, seq: s.seq}
	o.index(p)
	s.stats.Creates++
	writeJSON(w, http.StatusCreated, fullView(p))
}

func (s *Server) handleGet(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.lookupLocked(r.PathValue("org"), r.PathValue("iupd"))
	if rec == nil {
		notFound(w, r)
		return
	}
	writeJSON(w, http.StatusOK, baseView(rec.pos))
}

func notFound(w http.ResponseWriter, r *http.Request) {
	writeProblem(w, http.StatusNotFound, "Not Found",
		fmt.Sprintf("No debt position found with Organization Fiscal Code %s and IUPD %s", r.PathValue("org"), r.PathValue("iupd")))
}

var notUpdatable = map[string]bool{pagopa.StatusInvalid: true, pagopa.StatusExpired: true,
	pagopa.StatusPartiallyPaid: true, pagopa.StatusPaid: true, pagopa.StatusReported: true}

func (s *Server) handleUpdate(w http.ResponseWriter, r *http.Request) {
	org, iupd := r.PathValue("org"), r.PathValue("iupd")
	toPublish, ok := parseBoolParam(w, r, "toPublish")
	if !ok {
		return
	}
	p, ok := s.decodePosition(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.lookupLocked(org, iupd)
	if rec == nil {
		notFound(w, r)
		return
	}
	if p.IUPD != iupd {
		writeProblem(w, http.StatusBadRequest, "Bad Request", fmt.Sprintf("iupd in the body (%s) differs from the path (%s)", p.IUPD, iupd))
		return
	}
	if notUpdatable[rec.pos.Status] {
		writeProblem(w, http.StatusConflict, "Conflict", fmt.Sprintf("Debt position %s is in status %s and cannot be updated", iupd, rec.pos.Status))
		return
	}
	now := s.now()
	if err := p.ValidateAt(now); err != nil {
		writeProblem(w, http.StatusBadRequest, "Bad Request", err.Error())
		return
	}
	o := s.org(org)
	if msg := o.iuvConflict(p); msg != "" {
		writeProblem(w, http.StatusConflict, "Conflict", "Debt position unique violation: "+msg)
		return
	}
	inserted := rec.pos.InsertedDate
	fill(&p, org, now)
	p.InsertedDate = inserted
	if toPublish {
		s.publishLocked(&p, now)
	}
	o.unindex(rec.pos)
	rec.pos = p
	o.index(p)
	writeJSON(w, http.StatusOK, fullView(p))
}

func (s *Server) handleDelete(w http.ResponseWriter, r *http.Request) {
	org, iupd := r.PathValue("org"), r.PathValue("iupd")
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.lookupLocked(org, iupd)
	if rec == nil {
		notFound(w, r)
		return
	}
	switch rec.pos.Status {
	case pagopa.StatusPartiallyPaid, pagopa.StatusPaid, pagopa.StatusReported:
		writeProblem(w, http.StatusConflict, "Conflict", fmt.Sprintf("Debt position %s has a related payment (status %s)", iupd, rec.pos.Status))
		return
	}
	o := s.orgs[org]
	o.unindex(rec.pos)
	delete(o.byIUPD, iupd)
	writeJSON(w, http.StatusOK, "OK")
}

func (s *Server) handlePublish(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.lookupLocked(r.PathValue("org"), r.PathValue("iupd"))
	if rec == nil {
		notFound(w, r)
		return
	}
	if rec.pos.Status != pagopa.StatusDraft {
		writeProblem(w, http.StatusConflict, "Conflict",
			fmt.Sprintf("Debt position %s is in status %s: only DRAFT can be published", rec.pos.IUPD, rec.pos.Status))
		return
	}
	s.publishLocked(&rec.pos, s.now())
	writeJSON(w, http.StatusOK, fullView(rec.pos))
}

func (s *Server) handleInvalidate(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.lookupLocked(r.PathValue("org"), r.PathValue("iupd"))
	if rec == nil {
		notFound(w, r)
		return
	}
	if rec.pos.Status != pagopa.StatusPublished && rec.pos.Status != pagopa.StatusValid {
		writeProblem(w, http.StatusConflict, "Conflict",
			fmt.Sprintf("Debt position %s is in status %s: only PUBLISHED or VALID can be invalidated", rec.pos.IUPD, rec.pos.Status))
		return
	}
	rec.pos.Status = pagopa.StatusInvalid
	rec.pos.LastUpdatedDate = ptr(s.now())
	writeJSON(w, http.StatusOK, fullView(rec.pos))
}

func (s *Server) handlePaid(w http.ResponseWriter, r *http.Request) {
	org, nav := r.PathValue("org"), r.PathValue("nav")
	var body pagopa.AlreadyPaid
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&body); err != nil {
		writeProblem(w, http.StatusBadRequest, "Bad Request", "malformed JSON body: "+err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	at := s.now()
	if body.PaymentDate != nil {
		at = *body.PaymentDate
	}
	opt, err := s.payLocked(org, nav, at)
	switch {
	case errors.Is(err, ErrNotFound):
		writeProblem(w, http.StatusNotFound, "Not Found", fmt.Sprintf("No payment option found with Organization Fiscal Code %s and NAV %s", org, nav))
	case errors.Is(err, ErrAlreadyPaid):
		writeProblem(w, http.StatusConflict, "Conflict", fmt.Sprintf("Payment option with NAV %s is already paid", nav))
	case errors.Is(err, ErrNotPayable):
		writeProblem(w, http.StatusUnprocessableEntity, "Unprocessable Entity", fmt.Sprintf("Debt position of NAV %s is not in a payable state", nav))
	default:
		writeJSON(w, http.StatusOK, paymentsView{PaymentOption: *opt, ServiceType: "GPD"})
	}
}

// intQuery reads the integer query parameter name (def when absent); out
// of lo..hi it answers 400 with a ProblemJson and reports false.
func intQuery(w http.ResponseWriter, q url.Values, name string, def, lo, hi int) (int, bool) {
	v := q.Get(name)
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		writeProblem(w, http.StatusBadRequest, "Bad Request", fmt.Sprintf("query parameter %s: %q must be an integer in %d..%d", name, v, lo, hi))
		return 0, false
	}
	return n, true
}

var listStatuses = map[string]bool{"DRAFT": true, "PUBLISHED": true, "VALID": true, "INVALID": true,
	"EXPIRED": true, "PARTIALLY_PAID": true, "PAID": true, "REPORTED": true}

func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, ok := intQuery(w, q, "limit", 10, 1, 50)
	if !ok {
		return
	}
	page, ok := intQuery(w, q, "page", 0, 0, math.MaxInt32)
	if !ok {
		return
	}
	status := q.Get("status")
	if status != "" && !listStatuses[status] {
		writeProblem(w, http.StatusBadRequest, "Bad Request", fmt.Sprintf("query parameter status: %q is not a debt position status", status))
		return
	}
	orderBy := cmp.Or(q.Get("orderby"), "INSERTED_DATE")
	ordering := cmp.Or(q.Get("ordering"), "DESC")
	if !slices.Contains([]string{"INSERTED_DATE", "IUPD", "STATUS", "COMPANY_NAME"}, orderBy) || (ordering != "ASC" && ordering != "DESC") {
		writeProblem(w, http.StatusBadRequest, "Bad Request", "query parameters orderby/ordering: unknown value")
		return
	}
	dateParam := func(name string) (*time.Time, bool) {
		v := q.Get(name)
		if v == "" {
			return nil, true
		}
		t, err := time.Parse("2006-01-02", v)
		if err != nil {
			writeProblem(w, http.StatusBadRequest, "Bad Request", fmt.Sprintf("query parameter %s: %q is not a date (yyyy-MM-dd)", name, v))
			return nil, false
		}
		return &t, true
	}
	dueFrom, ok := dateParam("due_date_from")
	if !ok {
		return
	}
	dueTo, ok := dateParam("due_date_to")
	if !ok {
		return
	}
	s.mu.Lock()
	all := s.positionsLocked(r.PathValue("org"))
	seqs := map[string]int64{}
	if o := s.orgs[r.PathValue("org")]; o != nil {
		for k, rec := range o.byIUPD {
			seqs[k] = rec.seq
		}
	}
	s.mu.Unlock()
	sel := all[:0]
	for _, p := range all {
		if status != "" && p.Status != status {
			continue
		}
		if dueFrom != nil || dueTo != nil {
			match := false
			for _, o := range p.PaymentOption {
				d := time.Date(o.DueDate.Year(), o.DueDate.Month(), o.DueDate.Day(), 0, 0, 0, 0, time.UTC)
				if (dueFrom == nil || !d.Before(*dueFrom)) && (dueTo == nil || !d.After(*dueTo)) {
					match = true
				}
			}
			if !match {
				continue
			}
		}
		sel = append(sel, p)
	}
	slices.SortStableFunc(sel, func(a, b pagopa.PaymentPosition) int {
		var c int
		switch orderBy {
		case "IUPD":
			c = strings.Compare(a.IUPD, b.IUPD)
		case "STATUS":
			c = strings.Compare(a.Status, b.Status)
		case "COMPANY_NAME":
			c = strings.Compare(a.CompanyName, b.CompanyName)
		}
		if c == 0 {
			c = cmp.Compare(seqs[a.IUPD], seqs[b.IUPD])
		}
		if ordering == "DESC" {
			c = -c
		}
		return c
	})
	total := len(sel)
	start := min(page*limit, total)
	end := min(start+limit, total)
	items := make([]basePosition, 0, end-start)
	for _, p := range sel[start:end] {
		items = append(items, baseView(p))
	}
	writeJSON(w, http.StatusOK, positionsInfo{
		List: items,
		PageInfo: pagopa.PageInfo{Page: page, Limit: limit, ItemsFound: len(items),
			TotalPages: (total + limit - 1) / limit},
	})
}

// --- receipts API (no copied contract; shape documented in connectors/pagopa/receipt.go) ---

func (s *Server) handleReceipt(w http.ResponseWriter, r *http.Request) {
	org, iuv := r.PathValue("org"), r.PathValue("iuv")
	s.mu.Lock()
	var rec pagopa.Receipt
	ok := false
	if o := s.orgs[org]; o != nil {
		rec, ok = o.receipts[iuv]
	}
	s.mu.Unlock()
	if !ok {
		writeProblem(w, http.StatusNotFound, "Not Found", fmt.Sprintf("No receipt found for Organization Fiscal Code %s and IUV %s", org, iuv))
		return
	}
	b, err := pagopa.MarshalReceiptXML(pagopa.NewXMLReceipt(rec))
	if err != nil {
		writeProblem(w, http.StatusInternalServerError, "Internal Server Error", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

type receiptSummary struct {
	OrganizationFiscalCode string `json:"organizationFiscalCode"`
	IUV                    string `json:"iuv"`
	Debtor                 string `json:"debtor"`
	PaymentDateTime        string `json:"paymentDateTime"`
}

func (s *Server) handleReceiptList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, ok := intQuery(w, q, "limit", 10, 1, 100)
	if !ok {
		return
	}
	page, ok := intQuery(w, q, "page", 0, 0, math.MaxInt32)
	if !ok {
		return
	}
	var from, to time.Time
	for _, d := range []struct {
		name string
		t    *time.Time
	}{{"from", &from}, {"to", &to}} {
		if v := q.Get(d.name); v != "" {
			t, err := time.ParseInLocation("2006-01-02", v, time.UTC)
			if err != nil {
				writeProblem(w, http.StatusBadRequest, "Bad Request", fmt.Sprintf("query parameter %s: %q is not a date (yyyy-MM-dd)", d.name, v))
				return
			}
			*d.t = t
		}
	}
	debtor := q.Get("debtor")
	var sel []receiptSummary
	for _, rc := range s.Receipts(r.PathValue("org")) {
		local := rc.PaymentDate.In(romeLoc)
		day := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, time.UTC)
		if (debtor != "" && rc.Debtor.FiscalCode != debtor) || (!from.IsZero() && day.Before(from)) || (!to.IsZero() && day.After(to)) {
			continue
		}
		sel = append(sel, receiptSummary{OrganizationFiscalCode: rc.OrgFiscalCode, IUV: rc.IUV,
			Debtor: rc.Debtor.FiscalCode, PaymentDateTime: local.Format("2006-01-02T15:04:05")})
	}
	total := len(sel)
	start := min(page*limit, total)
	end := min(start+limit, total)
	items := append([]receiptSummary{}, sel[start:end]...)
	writeJSON(w, http.StatusOK, map[string]any{
		"receipts_list": items,
		"page_info": pagopa.PageInfo{Page: page, Limit: limit, ItemsFound: len(items),
			TotalPages: (total + limit - 1) / limit},
	})
}

// --- wire views ---

// basePosition is PaymentPositionModelBaseResponse: no debtor data.
type basePosition struct {
	IUPD                   string                 `json:"iupd"`
	OrganizationFiscalCode string                 `json:"organizationFiscalCode,omitempty"`
	Type                   string                 `json:"type"`
	CompanyName            string                 `json:"companyName"`
	OfficeName             string                 `json:"officeName,omitempty"`
	InsertedDate           *time.Time             `json:"insertedDate,omitempty"`
	PublishDate            *time.Time             `json:"publishDate,omitempty"`
	ValidityDate           *time.Time             `json:"validityDate,omitempty"`
	PaymentDate            *time.Time             `json:"paymentDate,omitempty"`
	Status                 string                 `json:"status"`
	LastUpdatedDate        *time.Time             `json:"lastUpdatedDate,omitempty"`
	PaymentOption          []pagopa.PaymentOption `json:"paymentOption"`
}

type positionsInfo struct {
	List     []basePosition  `json:"payment_position_list"`
	PageInfo pagopa.PageInfo `json:"page_info"`
}

type paymentsView struct {
	pagopa.PaymentOption
	ServiceType string `json:"serviceType"`
}

func baseView(p pagopa.PaymentPosition) basePosition {
	opts := p.PaymentOption
	if opts == nil {
		opts = []pagopa.PaymentOption{}
	}
	return basePosition{IUPD: p.IUPD, OrganizationFiscalCode: p.OrganizationFiscalCode, Type: p.Type,
		CompanyName: p.CompanyName, OfficeName: p.OfficeName, InsertedDate: p.InsertedDate,
		PublishDate: p.PublishDate, ValidityDate: p.ValidityDate, PaymentDate: p.PaymentDate,
		Status: p.Status, LastUpdatedDate: p.LastUpdatedDate, PaymentOption: opts}
}

// fullView is PaymentPositionModel as GPD answers create, update, publish and invalidate.
func fullView(p pagopa.PaymentPosition) pagopa.PaymentPosition { return p }

func clonePosition(p pagopa.PaymentPosition) pagopa.PaymentPosition {
	b, _ := json.Marshal(p)
	var q pagopa.PaymentPosition
	_ = json.Unmarshal(b, &q)
	return q
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeProblem(w http.ResponseWriter, status int, title, detail string) {
	writeJSON(w, status, pagopa.ProblemJSON{Title: title, Status: status, Detail: detail})
}

func ptr[T any](v T) *T { return &v }

// romeLoc is the zone of GPD's zone-less local times.
var romeLoc = func() *time.Location {
	l, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		return time.UTC
	}
	return l
}()
