package pagopa_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ponte-pa/ponte/connectors/failure"
	"github.com/ponte-pa/ponte/connectors/pagopa"
	"github.com/ponte-pa/ponte/connectors/pagopa/pagopatest"
	"github.com/ponte-pa/ponte/mocks/gpd"
	"github.com/ponte-pa/ponte/schemas/contracts/contractstest"
)

const (
	org = "01234567890"
	key = "test-key"
)

type env struct {
	mock   *gpd.Server
	srv    *httptest.Server
	tr     *contractstest.Transport
	client *pagopa.GPDClient
}

func newEnv(t *testing.T, opts gpd.Options) *env {
	t.Helper()
	if opts.SubscriptionKeys == nil {
		opts.SubscriptionKeys = []string{key}
	}
	m := gpd.New(opts)
	srv := httptest.NewServer(m)
	t.Cleanup(srv.Close)
	tr := pagopatest.NewTransport(t)
	c := pagopa.NewGPDClient(pagopa.GPDOptions{
		BaseURL:         srv.URL,
		SubscriptionKey: key,
		HTTPClient:      &http.Client{Transport: tr, Timeout: 10 * time.Second},
		RetryWaitMin:    time.Millisecond,
		RetryWaitMax:    5 * time.Millisecond,
		Logger:          slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	return &env{mock: m, srv: srv, tr: tr, client: c}
}

func iuv(t testing.TB, n int) string {
	s, err := pagopa.NewIUV("01", fmt.Sprintf("%013d", n))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func position(t testing.TB, n int) pagopa.PaymentPosition {
	due := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Second)
	return pagopa.PaymentPosition{
		IUPD: fmt.Sprintf("TARI-2026-%06d", n), Type: pagopa.TypePerson,
		FiscalCode: "RSSMRA80A01H501U", FullName: "Mario Rossi", Email: "mario@example.org",
		CompanyName: "Comune di Prova", OfficeName: "Ufficio Tributi", Country: "IT",
		PaymentOption: []pagopa.PaymentOption{{
			IUV: iuv(t, n), Amount: 12050, Description: "TARI 2026 rata unica", DueDate: due,
			Transfer: []pagopa.Transfer{
				{IDTransfer: "1", Amount: 10000, RemittanceInformation: "TARI 2026", Category: "9/0101100IM/", IBAN: "IT60X0542811101000000123456"},
				{IDTransfer: "2", Amount: 2050, RemittanceInformation: "TEFA 2026", Category: "9/0101100IM/", IBAN: "IT60X0542811101000000654321", OrganizationFiscalCode: "80000000000"},
			},
			PaymentOptionMetadata: []pagopa.Metadata{{Key: "campaign", Value: "tari-2026"}},
		}},
	}
}

func TestClientCreatePublishGet(t *testing.T) {
	e := newEnv(t, gpd.Options{})
	ctx := context.Background()
	p := position(t, 1)
	got, err := e.client.Create(ctx, org, p, true)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != pagopa.StatusValid || got.PaymentOption[0].NAV != "3"+p.PaymentOption[0].IUV {
		t.Fatalf("created: status %s nav %s", got.Status, got.PaymentOption[0].NAV)
	}
	read, err := e.client.Get(ctx, org, p.IUPD)
	if err != nil {
		t.Fatal(err)
	}
	if read.Status != pagopa.StatusValid || read.PaymentOption[0].Amount != 12050 || len(read.PaymentOption[0].Transfer) != 2 {
		t.Fatalf("read back: %+v", read)
	}
	if read.PaymentOption[0].Transfer[0].OrganizationFiscalCode != org {
		t.Fatalf("transfer 1 organizationFiscalCode = %q, want %q", read.PaymentOption[0].Transfer[0].OrganizationFiscalCode, org)
	}
	if d := pagopa.DiffPositions(p, *read); d != "" {
		t.Fatalf("read back differs: %s", d)
	}
	// Draft then publish.
	p2 := position(t, 2)
	d, err := e.client.Create(ctx, org, p2, false)
	if err != nil || d.Status != pagopa.StatusDraft {
		t.Fatalf("create draft: %v %v", d, err)
	}
	pub, err := e.client.Publish(ctx, org, p2.IUPD)
	if err != nil || pub.Status != pagopa.StatusValid {
		t.Fatalf("publish: %v %v", pub, err)
	}
	// Publishing again is idempotent (already VALID).
	if again, err := e.client.Publish(ctx, org, p2.IUPD); err != nil || again.Status != pagopa.StatusValid {
		t.Fatalf("publish again: %v %v", again, err)
	}
	if _, n := e.tr.Checked(); n < 6 {
		t.Fatalf("only %d exchanges validated against the spec", n)
	}
}

func TestClientPublishNotPublishable(t *testing.T) {
	e := newEnv(t, gpd.Options{})
	ctx := context.Background()
	p := position(t, 1)
	if _, err := e.client.Create(ctx, org, p, true); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.Invalidate(ctx, org, p.IUPD); err != nil {
		t.Fatal(err)
	}
	_, err := e.client.Publish(ctx, org, p.IUPD)
	var ae *pagopa.APIError
	if !errors.As(err, &ae) || ae.Kind != pagopa.KindNotPublishable || ae.Status != 409 {
		t.Fatalf("publish INVALID: %v", err)
	}
	if !strings.Contains(ae.Error(), p.IUPD) || !strings.Contains(ae.Error(), "INVALID") {
		t.Fatalf("error lacks IUPD or server detail: %v", ae)
	}
}

func TestClientListPaging(t *testing.T) {
	e := newEnv(t, gpd.Options{})
	ctx := context.Background()
	for i := 1; i <= 7; i++ {
		if _, err := e.client.Create(ctx, org, position(t, i), i%2 == 1); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for page := 0; page < 3; page++ {
		pg, err := e.client.List(ctx, org, pagopa.ListOptions{Page: page, Limit: 3})
		if err != nil {
			t.Fatal(err)
		}
		want := []int{3, 3, 1}[page]
		if len(pg.Positions) != want || pg.PageInfo.TotalPages != 3 || pg.PageInfo.Page != page || pg.PageInfo.Limit != 3 {
			t.Fatalf("page %d: %d items, info %+v", page, len(pg.Positions), pg.PageInfo)
		}
		for _, p := range pg.Positions {
			seen[p.IUPD] = true
		}
	}
	if len(seen) != 7 {
		t.Fatalf("paging saw %d distinct positions, want 7", len(seen))
	}
	first, err := e.client.List(ctx, org, pagopa.ListOptions{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if first.Positions[0].IUPD != position(t, 7).IUPD {
		t.Fatalf("newest first: got %s", first.Positions[0].IUPD)
	}
	drafts, err := e.client.List(ctx, org, pagopa.ListOptions{Limit: 50, Status: pagopa.StatusDraft})
	if err != nil || len(drafts.Positions) != 3 {
		t.Fatalf("DRAFT filter: %v, %v", drafts, err)
	}
	_, err = e.client.List(ctx, org, pagopa.ListOptions{Limit: 51})
	if pagopa.KindOf(err) != pagopa.KindValidation {
		t.Fatalf("limit 51: %v", err)
	}
}

func TestClientInvalidateMarkPaidDelete(t *testing.T) {
	e := newEnv(t, gpd.Options{})
	ctx := context.Background()
	p1, p2 := position(t, 1), position(t, 2)
	for _, p := range []pagopa.PaymentPosition{p1, p2} {
		if _, err := e.client.Create(ctx, org, p, true); err != nil {
			t.Fatal(err)
		}
	}
	inv, err := e.client.Invalidate(ctx, org, p1.IUPD)
	if err != nil || inv.Status != pagopa.StatusInvalid {
		t.Fatalf("invalidate: %v %v", inv, err)
	}
	if again, err := e.client.Invalidate(ctx, org, p1.IUPD); err != nil || again.Status != pagopa.StatusInvalid {
		t.Fatalf("invalidate again: %v %v", again, err)
	}
	nav := "3" + p2.PaymentOption[0].IUV
	paid, err := e.client.MarkPaid(ctx, org, nav)
	if err != nil || paid.Status != pagopa.OptionPaid || paid.PaymentDate == nil {
		t.Fatalf("mark paid: %+v %v", paid, err)
	}
	if got, err := e.client.Get(ctx, org, p2.IUPD); err != nil || got.Status != pagopa.StatusPaid {
		t.Fatalf("after payment: %+v, %v", got, err)
	}
	if _, err := e.client.MarkPaid(ctx, org, nav); pagopa.KindOf(err) != pagopa.KindConflict {
		t.Fatalf("pay twice: %v", err)
	}
	if _, err := e.client.MarkPaid(ctx, org, "3"+p1.PaymentOption[0].IUV); pagopa.KindOf(err) != pagopa.KindConflict {
		t.Fatalf("pay INVALID (422): %v", err)
	}
	if _, err := e.client.MarkPaid(ctx, org, "301999999999999999"); !pagopa.IsNotFound(err) {
		t.Fatalf("pay unknown nav: %v", err)
	}
	if err := e.client.Delete(ctx, org, p2.IUPD); pagopa.KindOf(err) != pagopa.KindConflict {
		t.Fatalf("delete PAID: %v", err)
	}
	if err := e.client.Delete(ctx, org, p1.IUPD); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.Get(ctx, org, p1.IUPD); !pagopa.IsNotFound(err) {
		t.Fatalf("get deleted: %v", err)
	}
}

func TestClientUpdate(t *testing.T) {
	e := newEnv(t, gpd.Options{})
	ctx := context.Background()
	p := position(t, 1)
	if _, err := e.client.Create(ctx, org, p, false); err != nil {
		t.Fatal(err)
	}
	p.PaymentOption[0].Description = "TARI 2026 (rettifica)"
	up, err := e.client.Update(ctx, org, p.IUPD, p)
	if err != nil || up.PaymentOption[0].Description != "TARI 2026 (rettifica)" {
		t.Fatalf("update: %v %v", up, err)
	}
	if _, err := e.client.Update(ctx, org, "NOPE", position(t, 9)); err == nil {
		t.Fatal("update with mismatching iupd: want error")
	}
}

func TestClientServerValidationDetail(t *testing.T) {
	// The mock's clock is a year ahead, so a due date the client accepts is
	// in the past for the server: the 400 detail must reach the caller.
	e := newEnv(t, gpd.Options{Now: func() time.Time { return time.Now().Add(365 * 24 * time.Hour) }})
	_, err := e.client.Create(context.Background(), org, position(t, 1), false)
	var ae *pagopa.APIError
	if !errors.As(err, &ae) || ae.Kind != pagopa.KindValidation || ae.Status != 400 {
		t.Fatalf("err = %v, want 400 validation", err)
	}
	if !strings.Contains(ae.Detail, "paymentOption[0].dueDate") || !strings.Contains(err.Error(), "paymentOption[0].dueDate") {
		t.Fatalf("server detail missing: %q", err.Error())
	}
}

func TestClientClientSideValidation(t *testing.T) {
	e := newEnv(t, gpd.Options{})
	p := position(t, 1)
	p.PaymentOption[0].Transfer[1].Stamp = &pagopa.Stamp{HashDocument: "x", StampType: "01", ProvincialResidence: "RM"}
	_, err := e.client.Create(context.Background(), org, p, false)
	var ve *pagopa.ValidationError
	if pagopa.KindOf(err) != pagopa.KindValidation || !errors.As(err, &ve) || ve.Path != "paymentOption[0].transfer[1].iban" {
		t.Fatalf("err = %v", err)
	}
	if st := e.mock.Stats(); st.Requests["createPosition"] != 0 {
		t.Fatalf("invalid position was sent: %+v", st)
	}
}

func TestClientUnauthorizedAndNotFound(t *testing.T) {
	e := newEnv(t, gpd.Options{})
	bad := pagopa.NewGPDClient(pagopa.GPDOptions{BaseURL: e.srv.URL, SubscriptionKey: "wrong", HTTPClient: e.tr.Client()})
	_, err := bad.Get(context.Background(), org, "X")
	var ae *pagopa.APIError
	if !errors.As(err, &ae) || ae.Kind != pagopa.KindUnauthorized || ae.Status != 401 {
		t.Fatalf("wrong key: %v", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Fatalf("error leaks the key: %v", err)
	}
	_, err = e.client.Get(context.Background(), org, "MISSING-1")
	if !errors.As(err, &ae) || ae.Kind != pagopa.KindNotFound || ae.Op != "get" || !strings.Contains(ae.Error(), "MISSING-1") {
		t.Fatalf("missing: %v", err)
	}
}

func TestClientRetries(t *testing.T) {
	e := newEnv(t, gpd.Options{})
	ctx := context.Background()
	e.mock.Faults().FailNext(2, 500)
	if _, err := e.client.Create(ctx, org, position(t, 1), true); err != nil {
		t.Fatalf("two 500s then success: %v", err)
	}
	e.mock.Faults().FailNext(3, 500)
	_, err := e.client.Get(ctx, org, position(t, 1).IUPD)
	if !failure.IsRetryable(err) {
		t.Fatalf("three 500s: %v, want retryable", err)
	}
	e.mock.Faults().DropNext(1)
	if _, err := e.client.Get(ctx, org, position(t, 1).IUPD); err != nil {
		t.Fatalf("dropped connection then success: %v", err)
	}
	if st := e.mock.Faults().Stats(); st.Injected != 6 {
		t.Fatalf("faults = %d, want 6", st.Injected)
	}
}

func TestClientIdempotentCreate(t *testing.T) {
	e := newEnv(t, gpd.Options{})
	ctx := context.Background()
	p := position(t, 1)
	if _, err := e.client.Create(ctx, org, p, false); err != nil {
		t.Fatal(err)
	}
	// Same content: success, publishes the DRAFT it finds.
	got, err := e.client.Create(ctx, org, p, true)
	if err != nil || got.Status != pagopa.StatusValid {
		t.Fatalf("same content again: %v %v", got, err)
	}
	if n := len(e.mock.Positions(org)); n != 1 {
		t.Fatalf("%d positions, want 1", n)
	}
	// Different content, same IUPD: conflict naming the field.
	q := position(t, 1)
	q.PaymentOption[0].Amount, q.PaymentOption[0].Transfer[0].Amount = 13050, 11000
	_, err = e.client.Create(ctx, org, q, true)
	var ae *pagopa.APIError
	if !errors.As(err, &ae) || ae.Kind != pagopa.KindConflict || !strings.Contains(ae.Detail, "paymentOption[0].amount") {
		t.Fatalf("different content: %v", err)
	}
	// Another IUPD reusing the IUV: conflict from the server.
	r := position(t, 2)
	r.PaymentOption[0].IUV = p.PaymentOption[0].IUV
	if _, err := e.client.Create(ctx, org, r, false); pagopa.KindOf(err) != pagopa.KindConflict {
		t.Fatalf("duplicate IUV: %v", err)
	}
	if st := e.mock.Stats(); st.Creates != 1 || st.DuplicatesRejected != 3 {
		t.Fatalf("stats %+v", st)
	}
}

func TestClientCreateResponseLost(t *testing.T) {
	e := newEnv(t, gpd.Options{})
	ctx := context.Background()
	p := position(t, 1)
	e.mock.Faults().LoseNext(1)
	got, err := e.client.Create(ctx, org, p, true)
	if err != nil {
		t.Fatalf("create after lost response: %v", err)
	}
	if got.IUPD != p.IUPD || got.Status != pagopa.StatusValid {
		t.Fatalf("got %+v", got)
	}
	ps := e.mock.Positions(org)
	if len(ps) != 1 || ps[0].FiscalCode != p.FiscalCode {
		t.Fatalf("positions after retry: %+v", ps)
	}
	st := e.mock.Stats()
	if st.Creates != 1 || st.Requests["createPosition"] != 2 || st.DuplicatesRejected != 1 {
		t.Fatalf("stats %+v", st)
	}
	// A crash after the lost answer: the workflow retries Create later.
	if again, err := e.client.Create(ctx, org, p, true); err != nil || again.Status != pagopa.StatusValid {
		t.Fatalf("durable retry: %v %v", again, err)
	}
	if len(e.mock.Positions(org)) != 1 {
		t.Fatal("duplicate position created")
	}
}

func BenchmarkClientCreateAgainstMock(b *testing.B) {
	m := gpd.New(gpd.Options{})
	srv := httptest.NewServer(m)
	defer srv.Close()
	c := pagopa.NewGPDClient(pagopa.GPDOptions{BaseURL: srv.URL, SubscriptionKey: "k",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := c.Create(ctx, org, position(b, i+1), true); err != nil {
			b.Fatal(err)
		}
	}
}
