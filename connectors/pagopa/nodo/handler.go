package nodo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/ponte-pa/ponte/connectors/pagopa"
	"github.com/ponte-pa/ponte/schemas/contracts/pafornode"
)

// DefaultMaxBodyBytes bounds request bodies (1 MiB).
const DefaultMaxBodyBytes = 1 << 20

// Options configures the EC handler. The zero value accepts any idPA,
// idBrokerPA and idStation, bounds bodies to 1 MiB and gives the backend 10 s.
type Options struct {
	// FiscalCodes are the ECs (idPA) served; empty accepts any.
	FiscalCodes []string
	// BrokerID and StationID are the expected idBrokerPA and idStation;
	// empty accepts any.
	BrokerID, StationID string
	// FaultID goes in fault/id; empty means StationID, or "ponte".
	FaultID        string
	MaxBodyBytes   int64
	BackendTimeout time.Duration
	Logger         *slog.Logger
}

// Handler serves the EC SOAP operations. Create it with NewHandler.
type Handler struct {
	b   Backend
	o   Options
	log *slog.Logger
}

// NewHandler returns the EC endpoint backed by b.
func NewHandler(b Backend, o Options) *Handler {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.BackendTimeout <= 0 {
		o.BackendTimeout = 10 * time.Second
	}
	if o.FaultID == "" {
		o.FaultID = o.StationID
	}
	if o.FaultID == "" {
		o.FaultID = "ponte"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Handler{b: b, o: o, log: o.Logger.With("component", "nodo-ec")}
}

// soapActionOp reads the operation from the SOAPAction header
// ("paGetPaymentV2", quoted or not, possibly after a URI and '/' or '#').
func soapActionOp(v string) string {
	v = strings.Trim(strings.TrimSpace(v), `"`)
	if i := strings.LastIndexAny(v, "/#"); i >= 0 {
		v = v[i+1:]
	}
	if _, ok := requestElem[v]; ok {
		return v
	}
	return ""
}

// ServeHTTP implements http.Handler. Business outcomes, and requests that
// break the schema for an operation it can tell (from the body or the
// SOAPAction), are answered HTTP 200 with outcome KO and a PAA_* fault, as
// the contract wants (the WSDL declares no wsdl:fault). What is not a
// paForNode request at all gets a SOAP 1.1 Fault with HTTP 500 (SOAP 1.1
// §6.2): Client for unknown operations and unreadable envelopes,
// VersionMismatch for SOAP 1.2, MustUnderstand for a header entry marked
// mustUnderstand.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.writeSOAPFault(w, http.StatusMethodNotAllowed, "Client", "use POST")
		return
	}
	actionOp := soapActionOp(r.Header.Get("SOAPAction"))
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.o.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			h.log.Warn("nodo request too large", "limit", h.o.MaxBodyBytes, "op", actionOp)
			if actionOp != "" {
				h.writeKO(w, actionOp, &FaultError{Code: CodeSintassiExtraXSD, Description: "request body over the size limit"})
				return
			}
			h.writeSOAPFault(w, http.StatusRequestEntityTooLarge, "Client", "request body over the size limit")
			return
		}
		h.writeSOAPFault(w, http.StatusBadRequest, "Client", "cannot read the request body")
		return
	}
	req, err := ParseRequest(body)
	if err != nil {
		var vm *VersionMismatchError
		if errors.As(err, &vm) {
			h.log.Info("nodo request refused: not SOAP 1.1", "namespace", vm.Namespace)
			h.writeSOAPFault(w, http.StatusInternalServerError, "VersionMismatch",
				"this endpoint speaks SOAP 1.1 (envelope namespace "+NSSOAP+"), not "+vm.Namespace)
			return
		}
		var mu *MustUnderstandError
		if errors.As(err, &mu) {
			h.log.Info("nodo request refused: a header entry must be understood", "header", mu.Header.Space+" "+mu.Header.Local)
			h.writeSOAPFault(w, http.StatusInternalServerError, "MustUnderstand",
				"header entry {"+mu.Header.Space+"}"+mu.Header.Local+" is marked mustUnderstand: this endpoint understands no SOAP header entries (paForNode carries everything in the Body)")
			return
		}
		var se *SyntaxError
		if !errors.As(err, &se) {
			se = &SyntaxError{Code: CodeSintassiXSD, Msg: err.Error()} // unreachable: ParseRequest's errors are these two
		}
		op := se.Op
		if op == "" {
			op = actionOp
		}
		h.log.Info("nodo request refused", "op", op, "code", se.Code, "error", se.Msg)
		if op == "" {
			h.writeSOAPFault(w, http.StatusInternalServerError, "Client", se.Msg+"; operations: "+strings.Join(operations(), ", "))
			return
		}
		h.writeKO(w, op, &FaultError{Code: se.Code, Description: se.Msg})
		return
	}
	if actionOp != "" && actionOp != req.Op {
		h.writeKO(w, req.Op, &FaultError{Code: CodeSintassiXSD, Description: "SOAPAction " + actionOp + " does not match the body element"})
		return
	}
	hd := req.Header()
	switch {
	case h.o.BrokerID != "" && hd.IDBrokerPA != h.o.BrokerID:
		h.writeKO(w, req.Op, &FaultError{Code: CodeIDIntermediarioErrato})
		return
	case h.o.StationID != "" && hd.IDStation != h.o.StationID:
		h.writeKO(w, req.Op, &FaultError{Code: CodeStazioneIntErrata})
		return
	case len(h.o.FiscalCodes) > 0 && !slices.Contains(h.o.FiscalCodes, hd.IDPA):
		h.writeKO(w, req.Op, &FaultError{Code: CodeIDDominioErrato})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.o.BackendTimeout)
	defer cancel()
	var resp any
	switch req.Op {
	case OpVerify:
		resp, err = h.verify(ctx, req.Verify)
	case OpGetPayment, OpGetPaymentV2:
		resp, err = h.getPayment(ctx, req.GetPayment, req.Op == OpGetPayment)
	case OpSendRT, OpSendRTV2:
		resp, err = h.sendRT(ctx, req.SendRT)
	case OpDemandPaymentNotice:
		// Spontaneous payments need a service catalogue entry and a way to
		// create positions on demand, which Ponte does not have: the
		// request is valid, the service is not offered.
		err = &FaultError{Code: CodeSemantica, Description: "paDemandPaymentNotice: this EC offers no spontaneous payment services"}
	}
	if err != nil {
		h.writeKO(w, req.Op, err)
		return
	}
	h.write(w, req.Op, resp)
}

// operations lists the operations served, for the fault of an unknown one.
func operations() []string {
	out := make([]string, 0, len(requestElem))
	for op := range requestElem {
		out = append(out, op)
	}
	slices.Sort(out)
	return out
}

func date(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format("2006-01-02")
}

// maxAmountCents is the schema's maxInclusive for amounts, 999999999.99
// (stAmount, stAmountNotZero).
const maxAmountCents = 99999999999

func (h *Handler) verify(ctx context.Context, req *VerifyRequest) (any, error) {
	if req.QRCode.FiscalCode != req.IDPA {
		return nil, &FaultError{Code: CodeIDDominioErrato, Description: "qrCode/fiscalCode differs from idPA"}
	}
	info, err := h.b.Verify(ctx, req.QRCode)
	if err != nil {
		return nil, err
	}
	f := &fitter{what: "verify of " + req.QRCode.NoticeNumber}
	if info.AmountCents <= 0 || info.AmountCents > maxAmountCents {
		// stAmountNotZero: 0.01..999999999.99. A notice with nothing to pay
		// cannot be verified.
		f.fail("amount %d cents is outside 0.01..999999999.99", info.AmountCents)
	}
	fc := info.FiscalCodePA
	if fc == "" {
		fc = req.QRCode.FiscalCode
	}
	res := &VerifyResponse{
		Outcome: OutcomeOK,
		PaymentList: &PaymentList{Option: PaymentOptionDescription{Amount: pagopa.Amount(info.AmountCents), Options: "EQ",
			DueDate: date(info.DueDate), AllCCP: info.AllCCP}},
		PaymentDescription: f.text("paymentDescription", info.Description, 140),
		FiscalCodePA:       f.digits("fiscalCodePA", fc, 11),
		CompanyName:        f.text("companyName", info.CompanyName, 140),
		OfficeName:         f.text("officeName", info.OfficeName, 140),
	}
	if err := f.done(h.log); err != nil {
		return nil, err
	}
	return res, nil
}

func (h *Handler) getPayment(ctx context.Context, req *GetPaymentRequest, v1 bool) (any, error) {
	if req.QRCode.FiscalCode != req.IDPA {
		return nil, &FaultError{Code: CodeIDDominioErrato, Description: "qrCode/fiscalCode differs from idPA"}
	}
	in := GetPaymentInput{QRCode: req.QRCode, TransferType: req.TransferType, PaymentNote: req.PaymentNote}
	if req.Amount != nil {
		in.AmountCents = int64(*req.Amount)
	}
	p, err := h.b.GetPayment(ctx, in)
	if err != nil {
		return nil, err
	}
	if err := p.Check(); err != nil {
		h.log.Error("backend payment refused", "nav", req.QRCode.NoticeNumber, "error", err)
		return nil, &FaultError{Code: CodeSystemError, Description: "the EC's data for this notice break the contract: " + err.Error()}
	}
	f := &fitter{what: "activation of " + req.QRCode.NoticeNumber}
	d := &PaymentData{CreditorReferenceID: p.IUV, PaymentAmount: pagopa.Amount(p.AmountCents), DueDate: date(p.DueDate),
		Description: f.required("description", p.Description, 140),
		CompanyName: f.required("companyName", p.CompanyName, 140),
		OfficeName:  f.text("officeName", p.OfficeName, 140),
		Debtor:      f.subject("debtor", p.Debtor)}
	if d.DueDate == "" {
		d.DueDate = "9999-12-31" // dueDate is required; a notice without one never falls due
	}
	for _, t := range p.Transfers {
		pre := fmt.Sprintf("transfer %d ", t.ID)
		d.TransferList = append(d.TransferList, Transfer{IDTransfer: t.ID, TransferAmount: pagopa.Amount(t.AmountCents),
			FiscalCodePA: t.OrgFiscalCode, IBAN: t.IBAN,
			RemittanceInformation: f.required(pre+"remittanceInformation", t.Remittance, 140),
			TransferCategory:      f.code(pre+"transferCategory", t.Category, 1, 140)})
	}
	if err := f.done(h.log); err != nil {
		return nil, err
	}
	if !v1 {
		return &GetPaymentResponse{Outcome: OutcomeOK, Data: d}, nil
	}
	d1 := &PaymentDataV1{CreditorReferenceID: d.CreditorReferenceID, PaymentAmount: d.PaymentAmount, DueDate: d.DueDate,
		Description: d.Description, CompanyName: d.CompanyName, OfficeName: d.OfficeName, Debtor: d.Debtor}
	for _, t := range d.TransferList {
		d1.TransferList = append(d1.TransferList, TransferV1{IDTransfer: t.IDTransfer, TransferAmount: t.TransferAmount,
			FiscalCodePA: t.FiscalCodePA, IBAN: t.IBAN, RemittanceInformation: t.RemittanceInformation, TransferCategory: t.TransferCategory})
	}
	return &GetPaymentV1Response{Outcome: OutcomeOK, Data: d1}, nil
}

func (h *Handler) sendRT(ctx context.Context, req *SendRTRequest) (any, error) {
	if req.Receipt.FiscalCode != req.IDPA {
		return nil, &FaultError{Code: CodeIDDominioErrato, Description: "receipt/fiscalCode differs from idPA"}
	}
	rc, err := req.Receipt.Receipt(pagopa.SourceNodo)
	if err != nil {
		return nil, &FaultError{Code: CodeSemantica, Description: err.Error()}
	}
	if err := h.b.SendRT(ctx, rc); err != nil {
		return nil, err
	}
	h.log.Info("receipt stored", "org", rc.OrgFiscalCode, "iuv", rc.IUV, "receipt", rc.ReceiptID, "outcome", rc.Outcome)
	return &SendRTResponse{Outcome: OutcomeOK}, nil
}

// write sends a reply after checking it against the schema: a reply that
// breaks it (a bug here, or data no fitting caught) is logged and replaced
// by a PAA_SYSTEM_ERROR KO, which the Nodo can read, rather than sent for
// the Nodo to drop.
func (h *Handler) write(w http.ResponseWriter, op string, v any) {
	b, err := envelope(responseElem[op], v)
	if err == nil {
		_, err = pafornode.CheckEnvelope(b)
	}
	if err != nil {
		h.log.Error("reply refused by the paForNode schema, answering PAA_SYSTEM_ERROR", "op", op, "error", err)
		ko, kerr := envelope(responseElem[op], koResponse(op, &Fault{FaultCode: CodeSystemError,
			FaultString: faultStrings[CodeSystemError], ID: h.o.FaultID}))
		if kerr != nil {
			h.writeSOAPFault(w, http.StatusInternalServerError, "Server", "internal error")
			return
		}
		b = ko
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// koResponse is op's response element with outcome KO and fault f, and
// nothing else: the optional elements (paymentList, data) are left out.
func koResponse(op string, f *Fault) any {
	switch op {
	case OpVerify:
		return &VerifyResponse{Outcome: OutcomeKO, Fault: f}
	case OpGetPaymentV2:
		return &GetPaymentResponse{Outcome: OutcomeKO, Fault: f}
	case OpGetPayment:
		return &GetPaymentV1Response{Outcome: OutcomeKO, Fault: f}
	case OpDemandPaymentNotice:
		return &DemandResponse{Outcome: OutcomeKO, Fault: f}
	}
	return &SendRTResponse{Outcome: OutcomeKO, Fault: f}
}

// writeKO answers a business error: outcome KO with a fault block.
func (h *Handler) writeKO(w http.ResponseWriter, op string, err error) {
	var fe *FaultError
	if !errors.As(err, &fe) {
		h.log.Error("backend error", "op", op, "error", err)
		fe = &FaultError{Code: CodeSystemError}
	}
	f := &Fault{FaultCode: fe.Code, FaultString: fe.FaultString(), ID: h.o.FaultID, Description: clip(fe.Description, 500)}
	h.write(w, op, koResponse(op, f))
}

func (h *Handler) writeSOAPFault(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(soapFault(code, msg))
}
