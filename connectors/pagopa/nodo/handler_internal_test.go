package nodo

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ponte-pa/ponte/schemas/contracts/pafornode"
)

// TestWriteNeverSendsInvalid: a reply that breaks the schema (here an
// outcome outside OK/KO, and an empty paymentList) is not sent; the Nodo
// gets a schema-valid PAA_SYSTEM_ERROR instead.
func TestWriteNeverSendsInvalid(t *testing.T) {
	h := NewHandler(NewMemoryBackend(nil), Options{StationID: "st_01", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	for _, v := range []any{
		&VerifyResponse{Outcome: "MAYBE"},
		&VerifyResponse{Outcome: OutcomeOK, PaymentList: &PaymentList{}},
	} {
		w := httptest.NewRecorder()
		h.write(w, OpVerify, v)
		body := w.Body.String()
		if _, err := pafornode.CheckEnvelope([]byte(body)); err != nil {
			t.Fatalf("sent an invalid reply: %v\n%s", err, body)
		}
		if !strings.Contains(body, "<outcome>KO</outcome><fault><faultCode>PAA_SYSTEM_ERROR</faultCode>") || w.Code != 200 {
			t.Errorf("HTTP %d: %s", w.Code, body)
		}
	}
}
