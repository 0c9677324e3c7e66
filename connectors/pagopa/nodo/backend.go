package nodo

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ponte-pa/ponte/connectors/pagopa"
)

// Backend is what the comune's data implements to be paid through the Nodo.
// Methods return a *FaultError (e.g. ErrUnknown, ErrDuplicate) for business
// outcomes; any other error is answered as PAA_SYSTEM_ERROR.
type Backend interface {
	// Verify describes the notice qr identifies (paVerifyPaymentNotice).
	Verify(ctx context.Context, qr QRCode) (NoticeInfo, error)
	// GetPayment returns the payment to collect (paGetPaymentV2);
	// in.AmountCents is 0 when the PSP sent no amount.
	GetPayment(ctx context.Context, in GetPaymentInput) (Payment, error)
	// SendRT stores a receipt (paSendRTV2). The same receipt delivered again
	// must give ErrReceiptDup.
	SendRT(ctx context.Context, r pagopa.Receipt) error
}

// NoticeInfo is what verify tells the PSP about a notice.
type NoticeInfo struct {
	AmountCents  int64
	DueDate      time.Time // zero when none
	Description  string    // ≤140
	FiscalCodePA string
	CompanyName  string // ≤140
	OfficeName   string
	AllCCP       bool // every transfer can be credited to a postal account
}

// GetPaymentInput is the activation request.
type GetPaymentInput struct {
	QRCode       QRCode
	AmountCents  int64 // 0: not sent
	TransferType string
	PaymentNote  string
}

// Payment is the payment to collect.
type Payment struct {
	IUV         string
	AmountCents int64
	DueDate     time.Time
	Description string
	CompanyName string
	OfficeName  string
	Debtor      pagopa.Party
	Transfers   []pagopa.ReceiptTransfer // 1..5, adding up to AmountCents
}

// Check verifies the payment before it is sent to the Nodo: what the
// paForNode schema requires and cutting cannot mend (ctPaymentPAV2,
// ctTransferPAV2, ctSubject): an IUV of 1..35 characters, an amount of
// 0.01..999999999.99, 1..5 transfers with distinct ids 1..5 and positive
// amounts adding up to it, each to an 11-digit fiscal code with an IBAN of
// 1..35 characters, a remittance text and a taxonomy code (transferCategory,
// 1..140); a description, the creditor's name, and a debtor with a fiscal
// code (2..16) and a name. Texts over their limits are cut when the reply
// is written, with a note in the log.
func (p Payment) Check() error {
	if p.IUV == "" || len(p.IUV) > 35 {
		return fmt.Errorf("nodo: payment: IUV %q", p.IUV)
	}
	if p.AmountCents <= 0 || p.AmountCents > maxAmountCents {
		return fmt.Errorf("nodo: payment %s: amount %d cents, want 1..%d", p.IUV, p.AmountCents, maxAmountCents)
	}
	if n := len(p.Transfers); n < 1 || n > 5 {
		return fmt.Errorf("nodo: payment %s: %d transfers, want 1..5", p.IUV, n)
	}
	var sum int64
	seen := map[int]bool{}
	for _, t := range p.Transfers {
		if t.AmountCents <= 0 || t.ID < 1 || t.ID > 5 || seen[t.ID] || t.IBAN == "" || len(t.IBAN) > 35 {
			return fmt.Errorf("nodo: payment %s: transfer %d: a distinct id 1..5, a positive amount and an IBAN of 1..35 characters required", p.IUV, t.ID)
		}
		seen[t.ID] = true
		if !isDigits(t.OrgFiscalCode, 11) {
			return fmt.Errorf("nodo: payment %s: transfer %d: fiscal code %q, want 11 digits", p.IUV, t.ID, t.OrgFiscalCode)
		}
		if t.Remittance == "" || t.Category == "" || utf16Len(t.Category) > 140 {
			return fmt.Errorf("nodo: payment %s: transfer %d: remittance text and a taxonomy code (transferCategory, 1..140 characters) required", p.IUV, t.ID)
		}
		sum += t.AmountCents
	}
	if sum != p.AmountCents {
		return fmt.Errorf("nodo: payment %s: transfers add up to %d, amount is %d", p.IUV, sum, p.AmountCents)
	}
	if p.Description == "" || p.CompanyName == "" {
		return fmt.Errorf("nodo: payment %s: description and companyName required", p.IUV)
	}
	if n := len(p.Debtor.FiscalCode); n < 2 || n > 16 || p.Debtor.Name == "" {
		return fmt.Errorf("nodo: payment %s: debtor fiscal code (2..16 characters) and name required", p.IUV)
	}
	if t := p.Debtor.Type; t != "" && t != pagopa.TypePerson && t != pagopa.TypeLegal {
		return fmt.Errorf("nodo: payment %s: debtor type %q, want F or G", p.IUV, t)
	}
	return nil
}

func isDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// NoticeStatus is the state of a notice in the MemoryBackend.
type NoticeStatus string

// Notice states.
const (
	NoticeOpen      NoticeStatus = "open"
	NoticePaid      NoticeStatus = "paid"
	NoticeCancelled NoticeStatus = "cancelled"
	NoticeExpired   NoticeStatus = "expired"
)

// MemoryNotice is a notice held by the MemoryBackend.
type MemoryNotice struct {
	OrgFiscalCode string
	NAV           string
	Payment       Payment
	Status        NoticeStatus // empty means open
	// ExpireAfterDue makes the notice expired once DueDate has passed.
	ExpireAfterDue bool
	ReceiptID      string // set when paid
}

// MemoryBackend is an in-memory Backend for tests and the demo. It is safe
// for concurrent use; its zero value is not ready, use NewMemoryBackend.
type MemoryBackend struct {
	mu       sync.Mutex
	now      func() time.Time
	notices  map[string]*MemoryNotice // org|nav
	receipts []pagopa.Receipt
	seen     map[string]bool // org|receiptId
}

// NewMemoryBackend returns an empty backend; now nil means time.Now.
func NewMemoryBackend(now func() time.Time) *MemoryBackend {
	if now == nil {
		now = time.Now
	}
	return &MemoryBackend{now: now, notices: map[string]*MemoryNotice{}, seen: map[string]bool{}}
}

func key(org, nav string) string { return org + "|" + nav }

// Add stores a notice. The NAV must be valid and match the payment's IUV;
// the payment must pass Payment.Check.
func (m *MemoryBackend) Add(n MemoryNotice) error {
	nav, err := pagopa.ParseNAV(n.NAV)
	if err != nil {
		return err
	}
	if n.Payment.IUV == "" {
		n.Payment.IUV = nav.IUV
	}
	if n.Payment.IUV != nav.IUV {
		return fmt.Errorf("nodo: notice %s: IUV %s does not match", n.NAV, n.Payment.IUV)
	}
	if err := n.Payment.Check(); err != nil {
		return err
	}
	if n.Status == "" {
		n.Status = NoticeOpen
	}
	n.NAV = nav.Value
	m.mu.Lock()
	defer m.mu.Unlock()
	m.notices[key(n.OrgFiscalCode, n.NAV)] = &n
	return nil
}

// SetStatus changes a notice's status (cancel, expire, reopen).
func (m *MemoryBackend) SetStatus(org, nav string, s NoticeStatus) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.notices[key(org, nav)]
	if n == nil {
		return ErrUnknown
	}
	n.Status = s
	return nil
}

// Notice returns a copy of a stored notice.
func (m *MemoryBackend) Notice(org, nav string) (MemoryNotice, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.notices[key(org, nav)]
	if n == nil {
		return MemoryNotice{}, false
	}
	return *n, true
}

// Receipts returns the receipts received, in order.
func (m *MemoryBackend) Receipts() []pagopa.Receipt {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.receipts)
}

// payable returns the notice or the fault that stops its payment.
func (m *MemoryBackend) payable(qr QRCode) (*MemoryNotice, error) {
	n := m.notices[key(qr.FiscalCode, qr.NoticeNumber)]
	if n == nil {
		return nil, ErrUnknown
	}
	if n.Status == NoticeOpen && n.ExpireAfterDue && !n.Payment.DueDate.IsZero() && m.now().After(n.Payment.DueDate) {
		n.Status = NoticeExpired
	}
	switch n.Status {
	case NoticePaid:
		return nil, ErrDuplicate
	case NoticeCancelled:
		return nil, ErrCancelled
	case NoticeExpired:
		return nil, ErrExpired
	}
	return n, nil
}

// Verify implements Backend.
func (m *MemoryBackend) Verify(_ context.Context, qr QRCode) (NoticeInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.payable(qr)
	if err != nil {
		return NoticeInfo{}, err
	}
	p := n.Payment
	return NoticeInfo{AmountCents: p.AmountCents, DueDate: p.DueDate, Description: p.Description,
		FiscalCodePA: n.OrgFiscalCode, CompanyName: p.CompanyName, OfficeName: p.OfficeName}, nil
}

// GetPayment implements Backend.
func (m *MemoryBackend) GetPayment(_ context.Context, in GetPaymentInput) (Payment, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.payable(in.QRCode)
	if err != nil {
		return Payment{}, err
	}
	if in.AmountCents != 0 && in.AmountCents != n.Payment.AmountCents {
		return Payment{}, &FaultError{Code: CodeImportoNonValido,
			Description: fmt.Sprintf("amount %d cents, the notice asks %d", in.AmountCents, n.Payment.AmountCents)}
	}
	p := n.Payment
	p.Transfers = slices.Clone(p.Transfers)
	return p, nil
}

// SendRT implements Backend: an OK receipt marks the notice paid.
func (m *MemoryBackend) SendRT(_ context.Context, r pagopa.Receipt) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen[key(r.OrgFiscalCode, r.ReceiptID)] {
		return ErrReceiptDup
	}
	n := m.notices[key(r.OrgFiscalCode, r.NAV)]
	if n == nil {
		return ErrUnknown
	}
	if r.Outcome == OutcomeOK {
		if n.Status == NoticePaid {
			return &FaultError{Code: CodePagamentoDuplicato, Description: "already paid with receipt " + n.ReceiptID}
		}
		if r.AmountCents != n.Payment.AmountCents || r.IUV != n.Payment.IUV {
			return &FaultError{Code: CodeSemantica, Description: fmt.Sprintf("receipt for %s %d cents, the notice is %s %d cents",
				r.IUV, r.AmountCents, n.Payment.IUV, n.Payment.AmountCents)}
		}
		n.Status = NoticePaid
		n.ReceiptID = r.ReceiptID
	}
	m.seen[key(r.OrgFiscalCode, r.ReceiptID)] = true
	m.receipts = append(m.receipts, r)
	return nil
}
