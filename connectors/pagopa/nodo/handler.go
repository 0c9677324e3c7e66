package nodo

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/ponte-pa/ponte/connectors/pagopa"
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

// ServeHTTP implements http.Handler.
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
		var se *SyntaxError
		errors.As(err, &se)
		op := se.Op
		if op == "" {
			op = actionOp
		}
		h.log.Info("nodo request refused", "op", op, "code", se.Code, "error", se.Msg)
		if op == "" {
			h.writeSOAPFault(w, http.StatusInternalServerError, "Client", se.Msg)
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
	case OpGetPaymentV2:
		resp, err = h.getPayment(ctx, req.GetPayment)
	case OpSendRTV2:
		resp, err = h.sendRT(ctx, req.SendRT)
	}
	if err != nil {
		h.writeKO(w, req.Op, err)
		return
	}
	h.write(w, req.Op, resp)
}

func date(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format("2006-01-02")
}

func (h *Handler) verify(ctx context.Context, req *VerifyRequest) (any, error) {
	if req.QRCode.FiscalCode != req.IDPA {
		return nil, &FaultError{Code: CodeIDDominioErrato, Description: "qrCode/fiscalCode differs from idPA"}
	}
	info, err := h.b.Verify(ctx, req.QRCode)
	if err != nil {
		return nil, err
	}
	return &VerifyResponse{
		Outcome: OutcomeOK,
		PaymentList: []PaymentOptionDescription{{Amount: pagopa.Amount(info.AmountCents), Options: "EQ",
			DueDate: date(info.DueDate), AllCCP: info.AllCCP}},
		PaymentDescription: clip(info.Description, 140), FiscalCodePA: info.FiscalCodePA,
		CompanyName: clip(info.CompanyName, 140), OfficeName: clip(info.OfficeName, 140),
	}, nil
}

func (h *Handler) getPayment(ctx context.Context, req *GetPaymentRequest) (any, error) {
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
		return nil, err // a backend bug: answered as PAA_SYSTEM_ERROR
	}
	d := &PaymentData{CreditorReferenceID: p.IUV, PaymentAmount: pagopa.Amount(p.AmountCents), DueDate: date(p.DueDate),
		Description: clip(p.Description, 140), CompanyName: clip(p.CompanyName, 140), OfficeName: clip(p.OfficeName, 140),
		Debtor: pagopa.NewXMLSubject(p.Debtor)}
	if d.DueDate == "" {
		d.DueDate = "9999-12-31"
	}
	for _, t := range p.Transfers {
		d.TransferList = append(d.TransferList, Transfer{IDTransfer: t.ID, TransferAmount: pagopa.Amount(t.AmountCents),
			FiscalCodePA: t.OrgFiscalCode, IBAN: t.IBAN, RemittanceInformation: clip(t.Remittance, 140), TransferCategory: t.Category})
	}
	return &GetPaymentResponse{Outcome: OutcomeOK, Data: d}, nil
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

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}

func (h *Handler) write(w http.ResponseWriter, op string, v any) {
	b, err := envelope(responseElem[op], v)
	if err != nil {
		h.log.Error("cannot marshal response", "op", op, "error", err)
		h.writeSOAPFault(w, http.StatusInternalServerError, "Server", "internal error")
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// writeKO answers a business error: outcome KO with a fault block.
func (h *Handler) writeKO(w http.ResponseWriter, op string, err error) {
	var fe *FaultError
	if !errors.As(err, &fe) {
		h.log.Error("backend error", "op", op, "error", err)
		fe = &FaultError{Code: CodeSystemError}
	}
	f := &Fault{FaultCode: fe.Code, FaultString: fe.FaultString(), ID: h.o.FaultID, Description: clip(fe.Description, 500)}
	var v any
	switch op {
	case OpVerify:
		v = &VerifyResponse{Outcome: OutcomeKO, Fault: f}
	case OpGetPaymentV2:
		v = &GetPaymentResponse{Outcome: OutcomeKO, Fault: f}
	default:
		v = &SendRTResponse{Outcome: OutcomeKO, Fault: f}
	}
	h.write(w, op, v)
}

func (h *Handler) writeSOAPFault(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(soapFault(code, msg))
}
