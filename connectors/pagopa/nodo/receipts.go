package nodo

import (
	"context"
	"errors"

	"github.com/ponte-pa/ponte/connectors/pagopa"
)

// ReceiptRecorder keeps the receipts the Nodo pushes until reconciliation
// matches them; the reconciliation store (workflows/reconcile.Store) is one.
type ReceiptRecorder interface {
	// RecordReceipt stores r. It reports false, changing nothing, when the
	// same receipt (organization and receipt id) was stored before.
	RecordReceipt(ctx context.Context, r pagopa.Receipt) (bool, error)
}

// ReceiptBackend is the Backend of an ente's EC SOAP endpoint: it stores
// every receipt the Nodo pushes with paSendRTV2 through Receipts, where the
// next reconciliation run matches it; verify and activation
// (paVerifyPaymentNotice, paGetPaymentV2) are answered by Next, the backend
// that knows the ente's own notices (nil: every notice is unknown, as when
// the ente's positions live on GPD, which answers the Nodo itself).
type ReceiptBackend struct {
	Next     Backend
	Receipts ReceiptRecorder
}

var _ Backend = (*ReceiptBackend)(nil)

// Verify implements Backend.
func (b *ReceiptBackend) Verify(ctx context.Context, qr QRCode) (NoticeInfo, error) {
	if b.Next == nil {
		return NoticeInfo{}, ErrUnknown
	}
	return b.Next.Verify(ctx, qr)
}

// GetPayment implements Backend.
func (b *ReceiptBackend) GetPayment(ctx context.Context, in GetPaymentInput) (Payment, error) {
	if b.Next == nil {
		return Payment{}, ErrUnknown
	}
	return b.Next.GetPayment(ctx, in)
}

// SendRT implements Backend: the receipt is checked and stored, and the
// same receipt delivered again gives PAA_RECEIPT_DUPLICATA. A receipt whose
// amount or IUV does not match what the ente expects is still stored: the
// Nodo has collected the money, and reconciliation reports the anomaly
// rather than losing the receipt.
func (b *ReceiptBackend) SendRT(ctx context.Context, r pagopa.Receipt) error {
	if err := r.Check(); err != nil {
		return &FaultError{Code: CodeSemantica, Description: err.Error()}
	}
	if b.Receipts == nil {
		return errors.New("nodo: receipt backend without a ReceiptRecorder")
	}
	r.Source = pagopa.SourceNodo
	isNew, err := b.Receipts.RecordReceipt(ctx, r)
	if err != nil {
		return err // answered PAA_SYSTEM_ERROR: the Nodo sends it again
	}
	if !isNew {
		return ErrReceiptDup
	}
	return nil
}
