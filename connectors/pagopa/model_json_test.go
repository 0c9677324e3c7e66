package pagopa_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ponte-pa/ponte/connectors/pagopa"
)

// GPD reads date-times as java.time.LocalDateTime: they go out as Rome
// wall time without an offset, and come back as the same instant.
func TestDateTimesGoOutAsLocalDateTime(t *testing.T) {
	due := time.Date(2026, 12, 31, 22, 59, 59, 0, time.UTC) // 23:59:59 in Rome
	validity := time.Date(2026, 7, 1, 8, 0, 0, 0, time.UTC) // 10:00 in Rome (CEST)
	paidAt := time.Date(2026, 8, 1, 10, 30, 0, 0, time.UTC)
	p := pagopa.PaymentPosition{IUPD: "I", ValidityDate: &validity, PaymentOption: []pagopa.PaymentOption{{IUV: "1", DueDate: due, RetentionDate: &due}}}
	b, err := json.Marshal(p.ForRequest())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"validityDate":"2026-07-01T10:00:00"`, `"dueDate":"2026-12-31T23:59:59"`, `"retentionDate":"2026-12-31T23:59:59"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %s", b, want)
		}
	}
	if strings.Contains(string(b), "Z\"") || strings.Contains(string(b), "+0") {
		t.Errorf("a date-time carries an offset: %s", b)
	}
	var back pagopa.PaymentPosition
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !back.ValidityDate.Equal(validity) || !back.PaymentOption[0].DueDate.Equal(due) {
		t.Errorf("round trip: %v %v", back.ValidityDate, back.PaymentOption[0].DueDate)
	}
	b, err = json.Marshal(pagopa.AlreadyPaid{PaymentDate: &paidAt})
	if err != nil || string(b) != `{"paymentDate":"2026-08-01T12:30:00"}` {
		t.Errorf("AlreadyPaid: %s %v", b, err)
	}
	if b, err := json.Marshal(pagopa.AlreadyPaid{}); err != nil || string(b) != `{}` {
		t.Errorf("empty AlreadyPaid: %s %v", b, err)
	}
}
