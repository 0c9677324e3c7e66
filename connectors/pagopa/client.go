package pagopa

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// Default GPD base URLs (external API v1).
const (
	GPDBaseURLProd = "https://api.platform.pagopa.it/gpd/debt-positions-service/v1"
	GPDBaseURLUAT  = "https://api.uat.platform.pagopa.it/gpd/debt-positions-service/v1"
)

// SubscriptionKeyHeader carries the API Management key on every GPD call.
const SubscriptionKeyHeader = "Ocp-Apim-Subscription-Key"

// GPDOptions configures a GPDClient. The zero value talks to the UAT base URL
// with no key, a 30 s HTTP timeout and short retries (2 retries, 50ms..500ms).
type GPDOptions struct {
	BaseURL string
	// ReceiptsBaseURL is the GPD payments service (receipts). Empty means
	// the matching default for the UAT/prod BaseURL, or BaseURL itself for any
	// other base URL (a mock serving both).
	ReceiptsBaseURL string
	SubscriptionKey string // never logged
	HTTPClient      *http.Client
	RetryMax        int // retries after the first attempt for 5xx, 429 and connection errors; <0 means none
	RetryWaitMin    time.Duration
	RetryWaitMax    time.Duration
	Logger          *slog.Logger
}

// GPDClient calls the GPD external API v1. It is safe for concurrent use.
// Its HTTP retries are brief on purpose: durable retries belong to Temporal.
type GPDClient struct {
	base         string
	receiptsBase string
	key          string
	hc           *retryablehttp.Client
	log          *slog.Logger
}

// NewGPDClient returns a client configured by o.
func NewGPDClient(o GPDOptions) *GPDClient {
	if o.BaseURL == "" {
		o.BaseURL = GPDBaseURLUAT
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	switch {
	case o.RetryMax == 0:
		o.RetryMax = 2
	case o.RetryMax < 0:
		o.RetryMax = 0
	}
	if o.RetryWaitMin <= 0 {
		o.RetryWaitMin = 50 * time.Millisecond
	}
	if o.RetryWaitMax <= 0 {
		o.RetryWaitMax = 500 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	log := o.Logger.With("component", "gpd-client")
	rc := retryablehttp.NewClient()
	rc.HTTPClient = o.HTTPClient
	rc.RetryMax = o.RetryMax
	rc.RetryWaitMin = o.RetryWaitMin
	rc.RetryWaitMax = o.RetryWaitMax
	rc.Logger = nil
	maxWait := o.RetryWaitMax
	rc.CheckRetry = func(ctx context.Context, resp *http.Response, err error) (bool, error) {
		// A server asking for a longer pause than our short retries allow gets
		// its answer passed up (with RetryAfter) for a durable retry instead.
		if err == nil && resp != nil && parseRetryAfter(resp.Header.Get("Retry-After")) > maxWait {
			return false, nil
		}
		return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
	}
	rc.ErrorHandler = retryablehttp.PassthroughErrorHandler
	rc.RequestLogHook = func(_ retryablehttp.Logger, r *http.Request, attempt int) {
		if attempt > 0 {
			log.Warn("gpd retry", "method", r.Method, "path", r.URL.Path, "attempt", attempt)
		}
	}
	if o.ReceiptsBaseURL == "" {
		switch strings.TrimRight(o.BaseURL, "/") {
		case GPDBaseURLProd:
			o.ReceiptsBaseURL = GPDReceiptsBaseURLProd
		case GPDBaseURLUAT:
			o.ReceiptsBaseURL = GPDReceiptsBaseURLUAT
		default:
			o.ReceiptsBaseURL = o.BaseURL
		}
	}
	return &GPDClient{base: strings.TrimRight(o.BaseURL, "/"), receiptsBase: strings.TrimRight(o.ReceiptsBaseURL, "/"),
		key: o.SubscriptionKey, hc: rc, log: log}
}

// ListOptions selects a page of positions. Limit 0 means the server default
// (10); the server allows at most 50. Status filters by position status.
type ListOptions struct {
	Page   int
	Limit  int
	Status string
}

func posPath(org string) string {
	return "/organizations/" + url.PathEscape(org) + "/debtpositions"
}

// rawBody receives an answer's bytes undecoded.
type rawBody []byte

func (c *GPDClient) do(ctx context.Context, op, iupd, method, path string, query url.Values, body, out any) *APIError {
	return c.doAt(ctx, c.base, op, iupd, method, path, query, body, out)
}

// doAt calls base+path. out is decoded from JSON, or filled with the raw
// answer when it is a *rawBody.
func (c *GPDClient) doAt(ctx context.Context, base, op, iupd, method, path string, query url.Values, body, out any) *APIError {
	u := base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var raw any
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return &APIError{Kind: KindUnexpected, Op: op, IUPD: iupd, Err: err}
		}
		raw = b
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, method, u, raw)
	if err != nil {
		return &APIError{Kind: KindUnexpected, Op: op, IUPD: iupd, Err: err}
	}
	req.Header.Set(SubscriptionKeyHeader, c.key)
	if _, raw := out.(*rawBody); raw {
		req.Header.Set("Accept", "application/xml, application/json")
	} else {
		req.Header.Set("Accept", "application/json")
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return &APIError{Kind: KindUnexpected, Op: op, IUPD: iupd, Err: ctx.Err()}
		}
		c.log.Warn("gpd call failed", "op", op, "iupd", iupd, "error", err)
		return &APIError{Kind: KindRetryable, Op: op, IUPD: iupd, Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return &APIError{Kind: KindRetryable, Status: resp.StatusCode, Op: op, IUPD: iupd, Err: err}
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if rb, ok := out.(*rawBody); ok {
			*rb = data
		} else if out != nil {
			if err := json.Unmarshal(data, out); err != nil {
				return &APIError{Kind: KindUnexpected, Status: resp.StatusCode, Op: op, IUPD: iupd,
					Detail: "cannot decode answer: " + err.Error(), Err: err}
			}
		}
		return nil
	}
	ae := &APIError{Status: resp.StatusCode, Op: op, IUPD: iupd}
	var pj ProblemJSON
	if json.Unmarshal(data, &pj) == nil && (pj.Title != "" || pj.Detail != "") {
		ae.Title, ae.Detail = pj.Title, pj.Detail
	} else if s := strings.TrimSpace(string(data)); s != "" {
		if len(s) > 500 {
			s = s[:500]
		}
		ae.Detail = s
	}
	switch s := resp.StatusCode; {
	case s == http.StatusBadRequest:
		ae.Kind = KindValidation
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		ae.Kind = KindUnauthorized
	case s == http.StatusNotFound:
		ae.Kind = KindNotFound
	case s == http.StatusConflict || s == http.StatusUnprocessableEntity:
		ae.Kind = KindConflict
	case s == http.StatusTooManyRequests:
		ae.Kind = KindRateLimited
		ae.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"))
		if ae.RetryAfter == 0 {
			ae.RetryAfter = DefaultRetryAfter
		}
	case s >= 500:
		ae.Kind = KindRetryable
		ae.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"))
	default:
		ae.Kind = KindUnexpected
	}
	return ae
}

func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

// errOrNil keeps a nil *APIError from becoming a non-nil error.
func errOrNil(e *APIError) error {
	if e == nil {
		return nil
	}
	return e
}

// Create creates the position p for the organization org, publishing it at once
// when publish is true. It is idempotent by IUPD: when GPD answers 409 it reads
// the existing position and, if its business content (debtor data when
// returned, options, amounts, due dates, transfers) equals p, returns it
// (publishing it if publish is asked and it is still DRAFT). Otherwise it
// returns an *APIError of KindConflict naming the first differing field.
func (c *GPDClient) Create(ctx context.Context, org string, p PaymentPosition, publish bool) (*PaymentPosition, error) {
	if err := p.Validate(); err != nil {
		return nil, &APIError{Kind: KindValidation, Op: "create", IUPD: p.IUPD, Detail: err.Error(), Err: err}
	}
	q := url.Values{}
	if publish {
		q.Set("toPublish", "true")
	}
	var out PaymentPosition
	ae := c.do(ctx, "create", p.IUPD, http.MethodPost, posPath(org), q, p.ForRequest(), &out)
	if ae == nil {
		return &out, nil
	}
	if ae.Kind != KindConflict || ae.Status != http.StatusConflict {
		return nil, ae
	}
	existing, err := c.Get(ctx, org, p.IUPD)
	if err != nil {
		if IsNotFound(err) {
			// No position with this IUPD: the 409 is about an IUV used by another position.
			return nil, ae
		}
		return nil, err
	}
	if diff := DiffPositions(p, *existing); diff != "" {
		ae.Detail = "position " + p.IUPD + " already exists with different content: " + diff
		return nil, ae
	}
	c.log.Info("gpd create: position already exists with the same content", "org", org, "iupd", p.IUPD, "status", existing.Status)
	if publish && existing.Status == StatusDraft {
		return c.Publish(ctx, org, p.IUPD)
	}
	return existing, nil
}

// Get reads a position by IUPD. GPD's answer (PaymentPositionModelBaseResponse)
// does not carry the debtor's data.
func (c *GPDClient) Get(ctx context.Context, org, iupd string) (*PaymentPosition, error) {
	var out PaymentPosition
	if ae := c.do(ctx, "get", iupd, http.MethodGet, posPath(org)+"/"+url.PathEscape(iupd), nil, nil, &out); ae != nil {
		return nil, ae
	}
	return &out, nil
}

// List returns one page of the organization's positions, newest first.
func (c *GPDClient) List(ctx context.Context, org string, o ListOptions) (*PositionPage, error) {
	if o.Limit < 0 || o.Limit > 50 || o.Page < 0 {
		return nil, &APIError{Kind: KindValidation, Op: "list",
			Detail: fmt.Sprintf("page must be >= 0 and limit in 1..50, got page %d limit %d", o.Page, o.Limit)}
	}
	q := url.Values{}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Page > 0 {
		q.Set("page", strconv.Itoa(o.Page))
	}
	if o.Status != "" {
		q.Set("status", o.Status)
	}
	var out PositionPage
	if ae := c.do(ctx, "list", "", http.MethodGet, posPath(org), q, nil, &out); ae != nil {
		return nil, ae
	}
	return &out, nil
}

// Update replaces a position that has no related payment (PUT).
func (c *GPDClient) Update(ctx context.Context, org, iupd string, p PaymentPosition) (*PaymentPosition, error) {
	if p.IUPD == "" {
		p.IUPD = iupd
	}
	if err := p.Validate(); err != nil {
		return nil, &APIError{Kind: KindValidation, Op: "update", IUPD: iupd, Detail: err.Error(), Err: err}
	}
	var out PaymentPosition
	if ae := c.do(ctx, "update", iupd, http.MethodPut, posPath(org)+"/"+url.PathEscape(iupd), nil, p.ForRequest(), &out); ae != nil {
		return nil, ae
	}
	return &out, nil
}

// Publish makes a DRAFT position payable. If GPD answers 409 because the
// position is already PUBLISHED or VALID (e.g. an earlier answer was lost) it
// returns the position; otherwise the error has KindNotPublishable.
func (c *GPDClient) Publish(ctx context.Context, org, iupd string) (*PaymentPosition, error) {
	var out PaymentPosition
	ae := c.do(ctx, "publish", iupd, http.MethodPost, posPath(org)+"/"+url.PathEscape(iupd)+"/publish", nil, nil, &out)
	if ae == nil {
		return &out, nil
	}
	if ae.Status != http.StatusConflict {
		return nil, ae
	}
	if cur, err := c.Get(ctx, org, iupd); err == nil && (cur.Status == StatusPublished || cur.Status == StatusValid) {
		return cur, nil
	}
	ae.Kind = KindNotPublishable
	return nil, ae
}

// Invalidate cancels a PUBLISHED or VALID position. A position that is already
// INVALID is returned without error.
func (c *GPDClient) Invalidate(ctx context.Context, org, iupd string) (*PaymentPosition, error) {
	var out PaymentPosition
	ae := c.do(ctx, "invalidate", iupd, http.MethodPost, posPath(org)+"/"+url.PathEscape(iupd)+"/invalidate", nil, nil, &out)
	if ae == nil {
		return &out, nil
	}
	if ae.Status == http.StatusConflict {
		if cur, err := c.Get(ctx, org, iupd); err == nil && cur.Status == StatusInvalid {
			return cur, nil
		}
	}
	return nil, ae
}

// Delete removes a position that has no related payment.
func (c *GPDClient) Delete(ctx context.Context, org, iupd string) error {
	return errOrNil(c.do(ctx, "delete", iupd, http.MethodDelete, posPath(org)+"/"+url.PathEscape(iupd), nil, nil, nil))
}

// MarkPaid records that the option with notice number nav was paid outside
// pagoPA ("already paid"). 409 (already paid) and 422 (not payable) give KindConflict.
func (c *GPDClient) MarkPaid(ctx context.Context, org, nav string) (*PaymentOption, error) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	var out PaymentOption
	path := "/organizations/" + url.PathEscape(org) + "/paymentoptions/paids/" + url.PathEscape(nav)
	if ae := c.do(ctx, "mark-paid", "", http.MethodPost, path, nil, AlreadyPaid{PaymentDate: &now}, &out); ae != nil {
		ae.Detail = strings.TrimSpace("nav " + nav + ": " + ae.Detail)
		return nil, ae
	}
	return &out, nil
}

// DiffPositions compares the business content of want (what we asked to
// create) with got (what GPD holds) and describes the first difference, or
// returns "" when they match. Server-filled fields are ignored, and so are
// debtor fields that got does not carry (GPD's GET omits them).
func DiffPositions(want, got PaymentPosition) string {
	type pair struct{ name, w, g string }
	fields := []pair{
		{"iupd", want.IUPD, got.IUPD},
		{"type", want.Type, got.Type},
		{"companyName", want.CompanyName, got.CompanyName},
		{"officeName", want.OfficeName, got.OfficeName},
	}
	optional := []pair{
		{"fiscalCode", want.FiscalCode, got.FiscalCode},
		{"fullName", want.FullName, got.FullName},
		{"streetName", want.StreetName, got.StreetName},
		{"civicNumber", want.CivicNumber, got.CivicNumber},
		{"postalCode", want.PostalCode, got.PostalCode},
		{"city", want.City, got.City},
		{"province", want.Province, got.Province},
		{"region", want.Region, got.Region},
		{"country", want.Country, got.Country},
		{"email", want.Email, got.Email},
		{"phone", want.Phone, got.Phone},
	}
	for _, f := range fields {
		if f.w != f.g {
			return fmt.Sprintf("%s: want %q, have %q", f.name, f.w, f.g)
		}
	}
	for _, f := range optional {
		if f.g != "" && f.w != f.g {
			return fmt.Sprintf("%s: want %q, have %q", f.name, f.w, f.g)
		}
	}
	if want.ValidityDate != nil && (got.ValidityDate == nil || !sameTime(*want.ValidityDate, *got.ValidityDate)) {
		return fmt.Sprintf("validityDate: want %s, have %s", fmtTime(want.ValidityDate), fmtTime(got.ValidityDate))
	}
	if len(want.PaymentOption) != len(got.PaymentOption) {
		return fmt.Sprintf("paymentOption: want %d options, have %d", len(want.PaymentOption), len(got.PaymentOption))
	}
	byIUV := map[string]PaymentOption{}
	for _, o := range got.PaymentOption {
		byIUV[o.IUV] = o
	}
	for i, w := range want.PaymentOption {
		p := fmt.Sprintf("paymentOption[%d]", i)
		g, ok := byIUV[w.IUV]
		if !ok {
			return fmt.Sprintf("%s.iuv: %q not in the existing position", p, w.IUV)
		}
		switch {
		case w.Amount != g.Amount:
			return fmt.Sprintf("%s.amount: want %d, have %d", p, w.Amount, g.Amount)
		case w.Description != g.Description:
			return fmt.Sprintf("%s.description: want %q, have %q", p, w.Description, g.Description)
		case w.IsPartialPayment != g.IsPartialPayment:
			return fmt.Sprintf("%s.isPartialPayment: want %t, have %t", p, w.IsPartialPayment, g.IsPartialPayment)
		case !sameTime(w.DueDate, g.DueDate):
			return fmt.Sprintf("%s.dueDate: want %s, have %s", p, fmtTime(&w.DueDate), fmtTime(&g.DueDate))
		case w.RetentionDate != nil && (g.RetentionDate == nil || !sameTime(*w.RetentionDate, *g.RetentionDate)):
			return fmt.Sprintf("%s.retentionDate: want %s, have %s", p, fmtTime(w.RetentionDate), fmtTime(g.RetentionDate))
		case !sameMetadata(w.PaymentOptionMetadata, g.PaymentOptionMetadata):
			return p + ".paymentOptionMetadata differs"
		case len(w.Transfer) != len(g.Transfer):
			return fmt.Sprintf("%s.transfer: want %d transfers, have %d", p, len(w.Transfer), len(g.Transfer))
		}
		byID := map[string]Transfer{}
		for _, t := range g.Transfer {
			byID[t.IDTransfer] = t
		}
		for j, wt := range w.Transfer {
			tp := fmt.Sprintf("%s.transfer[%d]", p, j)
			gt, ok := byID[wt.IDTransfer]
			if !ok {
				return fmt.Sprintf("%s.idTransfer: %q not in the existing option", tp, wt.IDTransfer)
			}
			tf := []pair{
				{"remittanceInformation", wt.RemittanceInformation, gt.RemittanceInformation},
				{"category", wt.Category, gt.Category},
				{"iban", wt.IBAN, gt.IBAN},
				{"postalIban", wt.PostalIBAN, gt.PostalIBAN},
				{"stamp", stampString(wt.Stamp), stampString(gt.Stamp)},
			}
			if wt.OrganizationFiscalCode != "" {
				tf = append(tf, pair{"organizationFiscalCode", wt.OrganizationFiscalCode, gt.OrganizationFiscalCode})
			}
			if wt.Amount != gt.Amount {
				return fmt.Sprintf("%s.amount: want %d, have %d", tp, wt.Amount, gt.Amount)
			}
			for _, f := range tf {
				if f.w != f.g {
					return fmt.Sprintf("%s.%s: want %q, have %q", tp, f.name, f.w, f.g)
				}
			}
			if !sameMetadata(wt.TransferMetadata, gt.TransferMetadata) {
				return tp + ".transferMetadata differs"
			}
		}
	}
	return ""
}

// sameTime compares at second precision: GPD may drop sub-second digits.
func sameTime(a, b time.Time) bool { return a.Truncate(time.Second).Equal(b.Truncate(time.Second)) }

func fmtTime(t *time.Time) string {
	if t == nil {
		return "none"
	}
	return t.Format(time.RFC3339)
}

func stampString(s *Stamp) string {
	if s == nil {
		return ""
	}
	return s.StampType + "/" + s.ProvincialResidence + "/" + s.HashDocument
}

func sameMetadata(a, b []Metadata) bool {
	if len(a) != len(b) {
		return false
	}
	key := func(m Metadata) string { return m.Key + "\x00" + m.Value }
	as, bs := make([]string, len(a)), make([]string, len(b))
	for i := range a {
		as[i], bs[i] = key(a[i]), key(b[i])
	}
	slices.Sort(as)
	slices.Sort(bs)
	return slices.Equal(as, bs)
}
