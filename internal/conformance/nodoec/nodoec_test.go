package nodoec_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ponte-pa/ponte/connectors/pagopa"
	"github.com/ponte-pa/ponte/connectors/pagopa/nodo"
	"github.com/ponte-pa/ponte/internal/conformance"
	"github.com/ponte-pa/ponte/internal/conformance/nodoec"
)

const (
	org     = "01234567890"
	broker  = "15376371009"
	station = "15376371009_01"
	tenant  = "comune-di-esempio"
)

func payment(t *testing.T, base string, cents int64) (string, nodo.Payment) {
	t.Helper()
	iuv, err := pagopa.NewIUV("01", base)
	if err != nil {
		t.Fatal(err)
	}
	return "3" + iuv, nodo.Payment{IUV: iuv, AmountCents: cents, DueDate: time.Date(2030, 12, 31, 0, 0, 0, 0, time.UTC),
		Description: "TARI 2030", CompanyName: "Comune di Esempio", OfficeName: "Tributi",
		Debtor: pagopa.Party{Type: "F", FiscalCode: "RSSMRA80A01H501U", Name: "Mario Rossi"},
		Transfers: []pagopa.ReceiptTransfer{
			{ID: 1, AmountCents: cents - 500, OrgFiscalCode: org, IBAN: "IT60X0542811101000000123456", Remittance: "TARI", Category: "9/0101100IM/"},
			{ID: 2, AmountCents: 500, OrgFiscalCode: "80000000000", IBAN: "IT60X0542811101000000654321", Remittance: "TEFA", Category: "9/0101100IM/"},
		}}
}

// ponteEC is Ponte's own EC endpoint for one tenant, mounted as the
// gateway mounts it, over a backend holding two open notices of a
// campaign (the second for the V1 primitives).
type ponteEC struct {
	mem        *nodo.MemoryBackend
	mux        *http.ServeMux
	nav, navV1 string
}

func newPonteEC(t *testing.T) *ponteEC {
	t.Helper()
	e := &ponteEC{mem: nodo.NewMemoryBackend(nil), mux: http.NewServeMux()}
	var p1, p2 nodo.Payment
	e.nav, p1 = payment(t, "0000000000042", 12050)
	e.navV1, p2 = payment(t, "0000000000043", 3000)
	for _, n := range []nodo.MemoryNotice{{OrgFiscalCode: org, NAV: e.nav, Payment: p1}, {OrgFiscalCode: org, NAV: e.navV1, Payment: p2}} {
		if err := e.mem.Add(n); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := nodo.MountTenant(e.mux, tenant, org, e.mem, nodo.Options{StationID: station, BrokerID: broker, Logger: slog.New(slog.DiscardHandler)}); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *ponteEC) options() map[string]string {
	return map[string]string{"ec": org, "station": station, "broker": broker, "nav": e.nav, "amount": "120.50",
		"nav-v1": e.navV1, "amount-v1": "30"}
}

func run(t *testing.T, h http.Handler, opts map[string]string) (*conformance.Report, string) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	s, err := conformance.Lookup(nodoec.Name)
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	rep, err := conformance.Run(context.Background(), s, &conformance.Target{URL: srv.URL + nodo.TenantPath(tenant), Options: opts, Log: &log}, 0)
	if err != nil {
		t.Fatal(err)
	}
	return rep, log.String()
}

func TestPonteECConforms(t *testing.T) {
	e := newPonteEC(t)
	rep, log := run(t, e.mux, e.options())
	if len(rep.Results) != len(nodoec.List()) {
		t.Errorf("%d results, want one per case (%d)", len(rep.Results), len(nodoec.List()))
	}
	for _, r := range rep.Results {
		if r.Err != nil {
			t.Errorf("%s: %v", r.Case.Name, r.Err)
		}
	}
	if t.Failed() {
		t.Logf("run:\n%s", log)
	}
	for _, nav := range []string{e.nav, e.navV1} {
		if n, ok := e.mem.Notice(org, nav); !ok || n.Status != nodo.NoticePaid || !strings.HasPrefix(n.ReceiptID, "PONTECONF") {
			t.Errorf("notice %s after the suite: %+v, want paid by the suite's receipt", nav, n)
		}
	}
	if got := len(e.mem.Receipts()); got != 2 {
		t.Errorf("%d receipts stored, want 2 (V2 and V1)", got)
	}
}

// TestWithoutOptionalOptions skips, saying why, the cases that need a
// broker or a second notice, and derives a notice the EC does not hold.
func TestWithoutOptionalOptions(t *testing.T) {
	ec := newPonteEC(t)
	opts := ec.options()
	delete(opts, "nav-v1")
	delete(opts, "amount-v1")
	delete(opts, "broker")
	// A station accepting any broker, as 'ponte serve' mounts it.
	ec.mux = http.NewServeMux()
	if _, err := nodo.MountTenant(ec.mux, tenant, org, ec.mem, nodo.Options{StationID: station}); err != nil {
		t.Fatal(err)
	}
	rep, log := run(t, ec.mux, opts)
	var skipped []string
	for _, r := range rep.Results {
		switch {
		case r.Skipped:
			skipped = append(skipped, r.Case.Name)
		case r.Err != nil:
			t.Errorf("%s: %v\n%s", r.Case.Name, r.Err, log)
		}
	}
	if want := []string{"verify/wrong-broker", "sendRT-v1/ok"}; !slices.Equal(skipped, want) {
		t.Errorf("skipped %q, want %q", skipped, want)
	}
}

func TestOptionErrors(t *testing.T) {
	good := map[string]string{"ec": org, "station": station, "nav": "301000000000000042", "amount": "1.00"}
	for _, tc := range []struct {
		name, key, value string
		want             string
	}{
		{"no ec", "ec", "", "needs --opt ec=…"},
		{"no nav and amount", "nav", "", "needs --opt nav=…"},
		{"bad ec", "ec", "0123", "11 digits"},
		{"bad nav", "nav", "30100", "18 digits"},
		{"bad amount", "amount", "12.345", "two decimals"},
		{"zero amount", "amount", "0", "positive"},
		{"long station", "station", strings.Repeat("S", 36), "35 characters"},
		{"nav-v1 without amount", "nav-v1", "301000000000000143", "amount-v1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := map[string]string{}
			for k, v := range good {
				opts[k] = v
			}
			if tc.value == "" {
				delete(opts, tc.key)
			} else {
				opts[tc.key] = tc.value
			}
			_, err := nodoec.Cases(context.Background(), &conformance.Target{URL: "http://127.0.0.1:1/ec", Options: opts})
			if !errors.Is(err, conformance.ErrOption) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want an option error saying %q", err, tc.want)
			}
		})
	}
}

// broken is an EC endpoint with four defects in front of Ponte's: a KO
// for an unknown notice carries an empty paymentList (which the schema
// forbids), a body that is not XML gets a bare HTTP 500 error page, a
// duplicate receipt gets PAA_SYSTEM_ERROR instead of PAA_RECEIPT_DUPLICATA,
// and header entries are ignored, mustUnderstand or not.
type broken struct {
	next       http.Handler
	unknownNAV string
}

func (b broken) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if bytes.Contains(body, []byte("this is not XML")) {
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	body = bytes.ReplaceAll(body, []byte(` soapenv:mustUnderstand="1"`), nil)
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := httptest.NewRecorder()
	b.next.ServeHTTP(rec, r)
	out := rec.Body.String()
	if strings.Contains(string(body), "paVerifyPaymentNoticeReq") && strings.Contains(string(body), b.unknownNAV) {
		out = strings.Replace(out, "</fault>", "</fault><paymentList></paymentList>", 1)
	}
	out = strings.Replace(out, "<faultCode>PAA_RECEIPT_DUPLICATA</faultCode>", "<faultCode>PAA_SYSTEM_ERROR</faultCode>", 1)
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	if _, err := io.WriteString(w, out); err != nil {
		return // the suite sees a cut answer
	}
}

func TestBrokenECFailsCaseByCase(t *testing.T) {
	e := newPonteEC(t)
	opts := e.options()
	opts["unknown-nav"] = "301000000000999999"
	rep, log := run(t, broken{next: e.mux, unknownNAV: opts["unknown-nav"]}, opts)
	want := map[string]string{
		"verify/unknown-notice": "paVerifyPaymentNoticeRes breaks 1 rule(s): paVerifyPaymentNoticeRes/paymentList: tns:ctPaymentOptionsDescriptionListPA: required element paymentOptionDescription is missing",
		"soap/malformed":        `Content-Type "text/plain; charset=utf-8", want text/xml`,
		"sendRTV2/duplicate":    "paSendRTV2: outcome KO with faultCode PAA_SYSTEM_ERROR",
		"soap/must-understand":  "the Body holds paVerifyPaymentNoticeRes, want a SOAP 1.1 Fault MustUnderstand",
	}
	for _, r := range rep.Results {
		msg, bad := want[r.Case.Name]
		switch {
		case bad && r.Err == nil:
			t.Errorf("%s passed against the broken endpoint", r.Case.Name)
		case bad && !strings.Contains(r.Err.Error(), msg):
			t.Errorf("%s: %v\nwant it to say %q", r.Case.Name, r.Err, msg)
		case !bad && r.Err != nil:
			t.Errorf("%s: %v (only the broken behaviours should fail)", r.Case.Name, r.Err)
		}
	}
	if rep.Failed() != len(want) {
		t.Errorf("%d failed, want %d\n%s", rep.Failed(), len(want), log)
	}
	var junit bytes.Buffer
	if err := rep.WriteJUnit(&junit); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`failures="4"`, `<testcase name="soap/malformed" classname="conformance.nodo-ec"`, "rule: SOAP 1.1 §4.4, §6.2"} {
		if !strings.Contains(junit.String(), s) {
			t.Errorf("JUnit report lacks %q:\n%s", s, junit.String())
		}
	}
}
