// Package gpd is an in-memory mock of the pagoPA GPD external API v1 (debt
// positions) and of the GPD receipts API: a real HTTP server that judges
// every request and response by the official contract
// (schemas/contracts/gpd-external-v1.json) at run time, answering 400 with
// a ProblemJson when a request breaks it, and applies GPD's own rules and
// status transitions. It has the fault knobs of every mock (Faults,
// /__mock/faults) and an inspection API under /__mock/. Payments made
// through pagoPA (Pay, PayWith, used by the Nodo simulator) leave a
// receipt; "already paid" marks do not.
package gpd

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ponte-pa/ponte/mocks/fault"
	"github.com/ponte-pa/ponte/schemas/contracts"
)

// SubscriptionKeyHeader carries the API Management key.
const SubscriptionKeyHeader = "Ocp-Apim-Subscription-Key"

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

// Stats counts what the mock has seen (the faults it injected are counted
// by Faults).
type Stats struct {
	Requests           map[string]int `json:"requests"` // by operation id, e.g. "createPosition"
	Creates            int            `json:"creates"`
	DuplicatesRejected int            `json:"duplicatesRejected"`
	// ContractViolations counts the mock's own responses that broke the
	// contract (answered 500 instead): always 0 unless the mock has a bug.
	ContractViolations int `json:"contractViolations"`
}

// Errors returned by Pay.
var (
	ErrNotFound    = errors.New("gpd mock: no payment option with this notice number")
	ErrAlreadyPaid = errors.New("gpd mock: payment option already paid")
	ErrNotPayable  = errors.New("gpd mock: debt position not in a payable state")
)

type record struct {
	pos Position
	seq int64
}

type orgState struct {
	byIUPD   map[string]*record
	byIUV    map[string]string // iuv -> iupd
	byNAV    map[string]string // nav -> iupd
	receipts map[string]Receipt
	rorder   []string // IUVs of receipts in payment order
}

// Server is the GPD mock. It is ready at its zero value and safe for
// concurrent use.
type Server struct {
	mu      sync.Mutex
	opts    Options
	keys    map[string]bool
	orgs    map[string]*orgState
	seq     int64
	handler http.Handler
	faults  fault.Injector

	receiptSeq int64
	stats      Stats
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
	if s.handler != nil {
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
	m.Handle("GET /info", s.op("healthCheck", s.handleInfo))
	m.Handle("GET "+pos, s.op("getOrganizationDebtPositions", s.handleList))
	m.Handle("POST "+pos, s.op("createPosition", s.handleCreate))
	m.Handle("GET "+pos+"/{iupd}", s.op("getOrganizationDebtPositionByIUPD", s.handleGet))
	m.Handle("PUT "+pos+"/{iupd}", s.op("updatePosition", s.handleUpdate))
	m.Handle("DELETE "+pos+"/{iupd}", s.op("deletePosition", s.handleDelete))
	m.Handle("POST "+pos+"/{iupd}/publish", s.op("publishPosition", s.transition(publishable, "only DRAFT can be published", s.publishLocked)))
	m.Handle("POST "+pos+"/{iupd}/invalidate", s.op("invalidatePosition", s.transition(invalidable, "only PUBLISHED or VALID can be invalidated", invalidate)))
	m.Handle("POST /organizations/{org}/paymentoptions/paids/{nav}", s.op("setPaymentOptionAsAlreadyPaid", s.handlePaid))
	m.Handle("GET /payments/{org}/receipts", s.op("getOrganizationReceipts", s.handleReceiptList))
	m.Handle("GET /payments/{org}/receipts/{iuv}", s.op("getReceiptByIUV", s.handleReceipt))
	m.HandleFunc("GET /__mock/positions", s.handleMockPositions)
	m.HandleFunc("GET /__mock/receipts", s.handleMockReceipts)
	m.HandleFunc("GET /__mock/stats", s.handleMockStats)
	m.HandleFunc("POST /__mock/reset", func(w http.ResponseWriter, _ *http.Request) { s.Reset(); w.WriteHeader(http.StatusNoContent) })
	s.handler = s.faults.Middleware(m, fault.HTTPOptions{
		Problem: func(w http.ResponseWriter, status int, detail string) {
			writeProblem(w, status, http.StatusText(status), detail)
		},
	})
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
	s.handler.ServeHTTP(w, r)
}

// Faults are the fault knobs of the API (ProblemJson bodies). A lost
// response is a create, update, delete, publish, invalidate or mark-paid
// that GPD applied.
func (s *Server) Faults() *fault.Injector { return &s.faults }

// op wraps an operation: counting, the request id, API Management's key
// check, then the contract.
func (s *Server) op(name string, h http.HandlerFunc) http.Handler {
	guarded := contracts.GPD().Guard(h, contracts.GuardOptions{
		Refuse: func(w http.ResponseWriter, _ *http.Request, v *contracts.Violation) {
			ps := v.Problems()
			msg := make([]string, len(ps))
			for i, p := range ps {
				msg[i] = p.String()
			}
			writeProblem(w, http.StatusBadRequest, "Bad Request", strings.Join(msg, "; "))
		},
		Broken: func(w http.ResponseWriter, _ *http.Request, v *contracts.Violation) {
			s.mu.Lock()
			s.stats.ContractViolations++
			s.mu.Unlock()
			s.logger().Error("gpd mock: its own response violates the contract", "err", v)
			writeProblem(w, http.StatusInternalServerError, "Internal Server Error", "the GPD mock's response violates the contract: "+v.Error())
		},
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.stats.Requests[name]++
		ok := r.Header.Get(SubscriptionKeyHeader) != "" && (len(s.keys) == 0 || s.keys[r.Header.Get(SubscriptionKeyHeader)])
		s.mu.Unlock()
		reqID := r.Header.Get("X-Request-Id")
		if reqID == "" {
			reqID = fmt.Sprintf("mock-%d", time.Now().UnixNano())
		}
		w.Header().Set("X-Request-Id", reqID)
		if !ok {
			// What Azure API Management answers, before GPD sees the request.
			writeJSON(w, http.StatusUnauthorized, map[string]any{"statusCode": 401,
				"message": "Access denied due to missing or invalid subscription key. Make sure to provide a valid key for an active subscription."})
			return
		}
		guarded.ServeHTTP(w, r)
	})
}

// Reset forgets every position, statistic and pending fault.
func (s *Server) Reset() {
	s.init()
	s.mu.Lock()
	s.orgs = map[string]*orgState{}
	s.stats = Stats{Requests: map[string]int{}}
	s.mu.Unlock()
	s.faults.Reset()
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
func (s *Server) Positions(org string) []Position {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.positionsLocked(org)
}

func (s *Server) positionsLocked(org string) []Position {
	o := s.orgs[org]
	if o == nil {
		return []Position{}
	}
	recs := make([]*record, 0, len(o.byIUPD))
	for _, r := range o.byIUPD {
		s.refreshLocked(r)
		recs = append(recs, r)
	}
	slices.SortFunc(recs, func(a, b *record) int { return cmp.Compare(a.seq, b.seq) })
	out := make([]Position, len(recs))
	for i, r := range recs {
		out[i] = r.pos.clone()
	}
	return out
}

// Position returns one position by IUPD.
func (s *Server) Position(org, iupd string) (Position, bool) {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.lookupLocked(org, iupd)
	if r == nil {
		return Position{}, false
	}
	return r.pos.clone(), true
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
	Payer         Party
	PSP           PSP
	PaymentMethod string
	ReceiptID     string
	At            time.Time
}

// DefaultPSP is the PSP of payments that name none.
var DefaultPSP = PSP{ID: "MOCKPSP", Name: "Mock PSP S.p.A.", Channel: "MOCKPSP_01"}

// PayWith is Pay with the payment details; it returns the receipt recorded.
func (s *Server) PayWith(org, nav string, info PaymentInfo) (Receipt, error) {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	at := info.At
	if at.IsZero() {
		at = s.now()
	}
	opt, err := s.payLocked(org, nav, at)
	if err != nil {
		return Receipt{}, err
	}
	o := s.orgs[org]
	rec := o.byIUPD[o.byNAV[nav]]
	s.receiptSeq++
	if info.ReceiptID == "" {
		info.ReceiptID = fmt.Sprintf("mock-%s-%06d", opt.IUV, s.receiptSeq)
	}
	if info.PSP.ID == "" {
		info.PSP = DefaultPSP
	}
	if info.PaymentMethod == "" {
		info.PaymentMethod = "CP"
	}
	debtor := Party{Type: rec.pos.Type, FiscalCode: rec.pos.FiscalCode, Name: rec.pos.FullName}
	if info.Payer.FiscalCode == "" {
		info.Payer = debtor
	}
	r := Receipt{
		ReceiptID: info.ReceiptID, IUV: opt.IUV, NAV: opt.NAV, OrgFiscalCode: org, Outcome: "OK",
		AmountCents: opt.Amount, Description: opt.Description, CompanyName: rec.pos.CompanyName,
		Debtor: debtor, Payer: info.Payer, PSP: info.PSP, PaymentMethod: info.PaymentMethod,
		PaymentDate: at.Truncate(time.Second),
	}
	for _, t := range opt.Transfer {
		id, err := strconv.Atoi(t.IDTransfer)
		if err != nil {
			return Receipt{}, fmt.Errorf("gpd mock: transfer id %q: %w", t.IDTransfer, err) // unreachable: the contract allows "1".."5"
		}
		r.Transfers = append(r.Transfers, ReceiptTransfer{ID: id, AmountCents: t.Amount,
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
func (s *Server) Receipts(org string) []Receipt {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orgs[org]
	out := []Receipt{}
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
	all := map[string][]Receipt{}
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
		all := map[string][]Position{}
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
			receipts: map[string]Receipt{}}
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

func ptr[T any](v T) *T { return &v }

// refreshLocked applies the time-driven transitions GPD runs in batch:
// PUBLISHED becomes VALID at validityDate; VALID becomes EXPIRED after the
// last due date when switchToExpired is set.
func (s *Server) refreshLocked(r *record) {
	now := s.now()
	p := &r.pos
	if p.Status == StatusPublished && (p.ValidityDate == nil || !p.ValidityDate.After(now)) {
		p.Status = StatusValid
		p.LastUpdatedDate = ptr(At(now))
	}
	if p.Status == StatusValid && p.SwitchToExpired && len(p.PaymentOption) > 0 {
		last := p.PaymentOption[0].DueDate
		for _, o := range p.PaymentOption {
			if o.DueDate.After(last.Time) {
				last = o.DueDate
			}
		}
		if now.After(last.Time) {
			p.Status = StatusExpired
			p.LastUpdatedDate = ptr(At(now))
		}
	}
}

// publishLocked publishes: VALID at once unless the validity date is still
// to come (util/PublishPaymentUtil.java).
func (s *Server) publishLocked(p *Position, now time.Time) {
	p.PublishDate = ptr(At(now))
	p.LastUpdatedDate = ptr(At(now))
	if p.ValidityDate != nil && p.ValidityDate.After(now) {
		p.Status = StatusPublished
		return
	}
	if p.ValidityDate == nil {
		p.ValidityDate = ptr(At(now))
	}
	p.Status = StatusValid
}

// fill sets the server-side fields of a new or replaced position.
func fill(p *Position, org string, now time.Time) {
	n := ptr(At(now))
	p.OrganizationFiscalCode = org
	p.Status = StatusDraft
	p.InsertedDate, p.LastUpdatedDate, p.PublishDate, p.PaymentDate = n, n, nil, nil
	for i := range p.PaymentOption {
		o := &p.PaymentOption[i]
		o.NAV = "3" + o.IUV
		o.OrganizationFiscalCode = org
		o.Status = OptionUnpaid
		o.InsertedDate, o.LastUpdatedDate = n, n
		o.PaymentDate, o.ReportingDate = nil, nil
		o.Fee, o.NotificationFee = 0, 0
		o.PaymentMethod, o.PSPCompany, o.IDReceipt, o.IDFlowReporting = "", "", "", ""
		if o.Transfer == nil {
			o.Transfer = []Transfer{}
		}
		for j := range o.Transfer {
			t := &o.Transfer[j]
			if t.OrganizationFiscalCode == "" {
				t.OrganizationFiscalCode = org
			}
			t.Status = "T_UNREPORTED"
			t.InsertedDate, t.LastUpdatedDate = n, n
		}
	}
}

// iuvConflict reports an IUV or NAV of p already used by another position
// of the organization (AppError.DEBT_POSITION_UNIQUE_VIOLATION).
func (o *orgState) iuvConflict(p Position) string {
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

func (o *orgState) index(p Position) {
	for _, opt := range p.PaymentOption {
		o.byIUV[opt.IUV] = p.IUPD
		o.byNAV[opt.NAV] = p.IUPD
	}
}

func (o *orgState) unindex(p Position) {
	for _, opt := range p.PaymentOption {
		delete(o.byIUV, opt.IUV)
		delete(o.byNAV, opt.NAV)
	}
}

func (s *Server) payLocked(org, nav string, at time.Time) (*Option, error) {
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
	idx := slices.IndexFunc(p.PaymentOption, func(x Option) bool { return x.NAV == nav })
	if idx < 0 {
		return nil, ErrNotFound
	}
	opt := &p.PaymentOption[idx]
	if opt.Status != OptionUnpaid {
		return nil, ErrAlreadyPaid
	}
	if !payable[p.Status] {
		return nil, ErrNotPayable
	}
	now := ptr(At(s.now()))
	opt.Status = OptionPaid
	opt.PaymentDate = ptr(At(at))
	opt.LastUpdatedDate = now
	p.LastUpdatedDate = now
	p.Status = StatusPaid
	if opt.IsPartialPayment {
		for _, x := range p.PaymentOption {
			if x.IsPartialPayment && x.Status == OptionUnpaid {
				p.Status = StatusPartiallyPaid
			}
		}
	}
	if p.Status == StatusPaid {
		p.PaymentDate = ptr(At(at))
	}
	c := *opt
	return &c, nil
}

// --- HTTP handlers (the contract has checked the request) ---

func (s *Server) handleInfo(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"name": "pagopa-debt-position (ponte mock)", "version": "1.0.0", "environment": "mock"})
}

func decodePosition(w http.ResponseWriter, r *http.Request) (Position, bool) {
	var p Position
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<20)).Decode(&p); err != nil {
		writeProblem(w, http.StatusBadRequest, "Bad Request", "malformed JSON body: "+err.Error())
		return Position{}, false
	}
	if p.PaymentOption == nil {
		p.PaymentOption = []Option{}
	}
	return p, true
}

func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("org")
	toPublish := r.URL.Query().Get("toPublish") == "true"
	p, ok := decodePosition(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if errs := validate(p, now); len(errs) > 0 {
		writeProblem(w, http.StatusBadRequest, "Bad Request", problemList(errs))
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
	writeJSON(w, http.StatusCreated, p)
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

func (s *Server) handleUpdate(w http.ResponseWriter, r *http.Request) {
	org, iupd := r.PathValue("org"), r.PathValue("iupd")
	toPublish := r.URL.Query().Get("toPublish") == "true"
	p, ok := decodePosition(w, r)
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
	if errs := validate(p, now); len(errs) > 0 {
		writeProblem(w, http.StatusBadRequest, "Bad Request", problemList(errs))
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
	writeJSON(w, http.StatusOK, p)
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
	if paidStates[rec.pos.Status] {
		writeProblem(w, http.StatusConflict, "Conflict", fmt.Sprintf("Debt position %s has a related payment (status %s)", iupd, rec.pos.Status))
		return
	}
	o := s.orgs[org]
	o.unindex(rec.pos)
	delete(o.byIUPD, iupd)
	writeJSON(w, http.StatusOK, "OK")
}

// transition serves publish and invalidate: a step of the lifecycle that
// only positions in allowed states may take (rule says which).
func (s *Server) transition(allowed map[string]bool, rule string, apply func(p *Position, now time.Time)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		rec := s.lookupLocked(r.PathValue("org"), r.PathValue("iupd"))
		if rec == nil {
			notFound(w, r)
			return
		}
		if !allowed[rec.pos.Status] {
			writeProblem(w, http.StatusConflict, "Conflict",
				fmt.Sprintf("Debt position %s is in status %s: %s", rec.pos.IUPD, rec.pos.Status, rule))
			return
		}
		apply(&rec.pos, s.now())
		writeJSON(w, http.StatusOK, rec.pos)
	}
}

func invalidate(p *Position, now time.Time) {
	p.Status = StatusInvalid
	p.LastUpdatedDate = ptr(At(now))
}

func (s *Server) handlePaid(w http.ResponseWriter, r *http.Request) {
	org, nav := r.PathValue("org"), r.PathValue("nav")
	var body alreadyPaid
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&body); err != nil {
		writeProblem(w, http.StatusBadRequest, "Bad Request", "malformed JSON body: "+err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	at := s.now()
	if body.PaymentDate != nil {
		at = body.PaymentDate.Time
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
		writeJSON(w, http.StatusOK, paymentsView{Option: *opt, ServiceType: "GPD"})
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

func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	// The contract bounds limit (≤ 50) and page; these read the values.
	limit, ok := intQuery(w, q, "limit", 10, 1, 50)
	if !ok {
		return
	}
	page, ok := intQuery(w, q, "page", 0, 0, math.MaxInt32)
	if !ok {
		return
	}
	status := q.Get("status")
	orderBy := cmp.Or(q.Get("orderby"), "INSERTED_DATE")
	ordering := cmp.Or(q.Get("ordering"), "DESC")
	dateParam := func(name string) *time.Time {
		t, err := time.ParseInLocation(time.DateOnly, q.Get(name), Rome)
		if err != nil {
			return nil // absent: the contract has refused a malformed date
		}
		return &t
	}
	dueFrom, dueTo := dateParam("due_date_from"), dateParam("due_date_to")
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
				d := o.DueDate.In(Rome)
				day := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, Rome)
				if (dueFrom == nil || !day.Before(*dueFrom)) && (dueTo == nil || !day.After(*dueTo)) {
					match = true
				}
			}
			if !match {
				continue
			}
		}
		sel = append(sel, p)
	}
	slices.SortStableFunc(sel, func(a, b Position) int {
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
		List:     items,
		PageInfo: PageInfo{Page: page, Limit: limit, ItemsFound: len(items), TotalPages: (total + limit - 1) / limit},
	})
}

// --- receipts API (no embedded contract; see receipt.go) ---

func (s *Server) handleReceipt(w http.ResponseWriter, r *http.Request) {
	org, iuv := r.PathValue("org"), r.PathValue("iuv")
	s.mu.Lock()
	var rec Receipt
	ok := false
	if o := s.orgs[org]; o != nil {
		rec, ok = o.receipts[iuv]
	}
	s.mu.Unlock()
	if !ok {
		writeProblem(w, http.StatusNotFound, "Not Found", fmt.Sprintf("No receipt found for Organization Fiscal Code %s and IUV %s", org, iuv))
		return
	}
	b, err := rec.document()
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
			t, err := time.ParseInLocation(time.DateOnly, v, time.UTC)
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
		local := rc.PaymentDate.In(Rome)
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
		"page_info":     PageInfo{Page: page, Limit: limit, ItemsFound: len(items), TotalPages: (total + limit - 1) / limit},
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeProblem(w http.ResponseWriter, status int, title, detail string) {
	writeJSON(w, status, Problem{Title: title, Status: status, Detail: detail})
}
