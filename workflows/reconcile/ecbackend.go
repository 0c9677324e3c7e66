package reconcile

import (
	"context"
	"errors"

	"github.com/ponte-pa/ponte/connectors/pagopa"
	"github.com/ponte-pa/ponte/connectors/pagopa/nodo"
)

// ReceiptBackend is the nodo.Backend of the ente's EC SOAP endpoint: it
// stores every receipt the Nodo pushes with paSendRTV2 in the state store,
// where the next reconciliation run matches it; verify and activation
// (paVerifyPaymentNotice, paGetPaymentV2) are answered by Next, the backend
// that knows the ente's own notices (nil: every notice is unknown).
type ReceiptBackend struct {
	Next  nodo.Backend
	Store *Store
}

var _ nodo.Backend = (*ReceiptBackend)(nil)

// Verify implements nodo.Backend.
func (b *ReceiptBackend) Verify(ctx context.Context, qr nodo.QRCode) (nodo.NoticeInfo, error) {
	if b.Next == nil {
		return nodo.NoticeInfo{}, nodo.ErrUnknown
	}
	return b.Next.Verify(ctx, qr)
}

// GetPayment implements nodo.Backend.
func (b *ReceiptBackend) GetPayment(ctx context.Context, in nodo.GetPaymentInput) (nodo.Payment, error) {
	if b.Next == nil {
		return nodo.Payment{}, nodo.ErrUnknown
	}
	return b.Next.GetPayment(ctx, in)
}

// SendRT implements nodo.Backend: the receipt is checked and stored, and
// the same receipt delivered again gives PAA_RECEIPT_DUPLICATA. A receipt
// whose amount or IUV does not match what the ente expects is still
// stored: the Nodo has collected the money, and reconciliation reports the
// anomaly rather than losing the receipt.
func (b *ReceiptBackend) SendRT(ctx context.Context, r pagopa.Receipt) error {
	if err := r.Check(); err != nil {
		return &nodo.FaultError{Code: nodo.CodeSemantica, Description: err.Error()}
	}
	if b.Store == nil {
		return errors.New("reconcile: receipt backend without a store")
	}
	r.Source = pagopa.SourceNodo
	isNew, err := b.Store.RecordReceipt(ctx, r)
	if err != nil {
		return err // answered PAA_SYSTEM_ERROR: the Nodo sends it again
	}
	if !isNew {
		return nodo.ErrReceiptDup
	}
	return nil
}
