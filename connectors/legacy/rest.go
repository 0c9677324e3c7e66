package legacy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"text/template"

	"github.com/hashicorp/go-retryablehttp"
)

// KindREST is the tenant config kind of the REST source and sink.
const KindREST = "rest"

func init() {
	factory := func(cfg json.RawMessage, baseDir string) (*RESTSource, error) {
		var c RESTConfig
		if err := decodeStrict(KindREST, cfg, &c); err != nil {
			return nil, err
		}
		return NewRESTSource(c, baseDir)
	}
	RegisterSource(KindREST, "legacy-rest.schema.json", func(cfg json.RawMessage, baseDir string) (DebtorSource, error) {
		s, err := factory(cfg, baseDir)
		if err != nil {
			return nil, err
		}
		if s.cfg.URL == "" {
			return nil, errors.New("legacy: rest: url is required to read debtors")
		}
		return s, nil
	})
	RegisterSink(KindREST, "legacy-rest.schema.json", func(cfg json.RawMessage, baseDir string) (DebtorSink, error) {
		s, err := factory(cfg, baseDir)
		if err != nil {
			return nil, err
		}
		if s.cfg.WriteBack == nil {
			return nil, errors.New("legacy: rest: writeBack is required to write statuses")
		}
		return s, nil
	})
}

// Pagination styles of REST sources.
const (
	PageNone   = "none"   // one request
	PageNumber = "page"   // ?page=1&size=100, 2, 3 ... until a short page
	PageOffset = "offset" // ?offset=0&limit=100, 100, ... until a short page
	PageCursor = "cursor" // ?cursor=<from the previous response>&limit=100 until no cursor
	PageLink   = "link"   // follow the Link: <...>; rel="next" header
)

// PaginationConfig says how a REST source walks pages; every field has a default.
type PaginationConfig struct {
	Style       string `json:"style,omitempty"`       // none (default), page, offset, cursor, link
	PageSize    int    `json:"pageSize,omitempty"`    // default 100
	PageParam   string `json:"pageParam,omitempty"`   // page, link: default "page"
	SizeParam   string `json:"sizeParam,omitempty"`   // page, link: default "size"
	FirstPage   *int   `json:"firstPage,omitempty"`   // page: default 1
	OffsetParam string `json:"offsetParam,omitempty"` // offset: default "offset"
	LimitParam  string `json:"limitParam,omitempty"`  // offset, cursor: default "limit"
	CursorParam string `json:"cursorParam,omitempty"` // cursor: default "cursor"
	CursorPath  string `json:"cursorPath,omitempty"`  // cursor: dotted path of the next cursor, default "next"
	MaxPages    int    `json:"maxPages,omitempty"`    // safety bound, default 100000
}

// RESTWriteBack configures status write-back over REST: one request per update.
type RESTWriteBack struct {
	Method string `json:"method,omitempty"` // PUT (default) or POST
	// URL may contain {externalId}, replaced by the path-escaped id.
	URL string `json:"url"`
	// Body is an optional text/template over a StatusUpdate whose strings are already
	// JSON-escaped (write "{{.ExternalID}}" between quotes); default: the StatusUpdate
	// as JSON.
	Body string `json:"body,omitempty"`
}

// RESTConfig configures a REST API of the back office; it mirrors legacy-rest.schema.json.
type RESTConfig struct {
	URL   string            `json:"url,omitempty"`
	Query map[string]string `json:"query,omitempty"` // fixed query parameters, e.g. anno
	// Items is the dotted path of the record array in each response; "" is the root.
	Items string `json:"items,omitempty"`
	// Fields maps canonical fields to dotted paths inside one record; an unmapped field
	// is looked up under its canonical name.
	Fields     map[string]string `json:"fields,omitempty"`
	Pagination PaginationConfig  `json:"pagination,omitempty"`
	Auth       AuthConfig        `json:"auth,omitempty"`
	WriteBack  *RESTWriteBack    `json:"writeBack,omitempty"`
	HTTPConfig
	ValueFormat
}

// RESTSource reads debtors from, and writes statuses to, a REST API.
type RESTSource struct {
	cfg     RESTConfig
	baseDir string
	rc      *retryablehttp.Client
	body    *template.Template
}

// NewRESTSource checks cfg and fills in defaults.
func NewRESTSource(cfg RESTConfig, baseDir string) (*RESTSource, error) {
	s := &RESTSource{cfg: cfg, baseDir: baseDir, rc: newRetryClient(cfg.HTTPConfig, false)}
	if cfg.URL != "" {
		if u, err := url.Parse(cfg.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("legacy: rest: url %q must be an absolute http(s) URL", redact(cfg.URL))
		}
	}
	if err := cfg.Auth.check(KindREST); err != nil {
		return nil, err
	}
	if err := cfg.ValueFormat.check(KindREST, false); err != nil {
		return nil, err
	}
	for f := range cfg.Fields {
		if !containsStr(canonicalFields, f) {
			return nil, fmt.Errorf("legacy: rest: fields: unknown field %q (fields: %s)", f, strings.Join(canonicalFields, ", "))
		}
	}
	p := &s.cfg.Pagination
	def := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	def(&p.Style, PageNone)
	def(&p.PageParam, "page")
	def(&p.SizeParam, "size")
	def(&p.OffsetParam, "offset")
	def(&p.LimitParam, "limit")
	def(&p.CursorParam, "cursor")
	def(&p.CursorPath, "next")
	if p.PageSize <= 0 {
		p.PageSize = 100
	}
	if p.MaxPages <= 0 {
		p.MaxPages = 100000
	}
	if p.FirstPage == nil {
		one := 1
		p.FirstPage = &one
	}
	switch p.Style {
	case PageNone, PageNumber, PageOffset, PageCursor, PageLink:
	default:
		return nil, fmt.Errorf("legacy: rest: pagination.style %q: use none, page, offset, cursor or link", p.Style)
	}
	if wb := cfg.WriteBack; wb != nil {
		switch wb.Method {
		case "":
			s.cfg.WriteBack = &RESTWriteBack{Method: "PUT", URL: wb.URL, Body: wb.Body}
		case "PUT", "POST":
		default:
			return nil, fmt.Errorf("legacy: rest: writeBack.method %q: use PUT or POST", wb.Method)
		}
		if u, err := url.Parse(strings.ReplaceAll(wb.URL, "{externalId}", "x")); err != nil || u.Host == "" {
			return nil, fmt.Errorf("legacy: rest: writeBack.url %q must be an absolute http(s) URL", redact(wb.URL))
		}
		if wb.Body != "" {
			t, err := template.New("body").Option("missingkey=error").Parse(wb.Body)
			if err != nil {
				return nil, fmt.Errorf("legacy: rest: writeBack.body: %w", err)
			}
			s.body = t
		}
	}
	return s, nil
}

// Name is "rest:" and the host.
func (s *RESTSource) Name() string {
	u, _ := url.Parse(s.cfg.URL)
	if (u == nil || u.Host == "") && s.cfg.WriteBack != nil {
		u, _ = url.Parse(strings.ReplaceAll(s.cfg.WriteBack.URL, "{externalId}", "x"))
	}
	if u == nil {
		return "rest:"
	}
	return "rest:" + u.Host
}

func (s *RESTSource) pageURL(q url.Values) string {
	u, _ := url.Parse(s.cfg.URL)
	v := u.Query()
	for k, x := range s.cfg.Query {
		v.Set(k, x)
	}
	for k, x := range q {
		v[k] = x
	}
	u.RawQuery = v.Encode()
	return u.String()
}

// RESTMapError says a response did not have the configured shape.
type RESTMapError struct {
	URL    string
	Reason string
}

func (e *RESTMapError) Error() string { return "legacy: rest " + e.URL + ": " + e.Reason }

// MapRESTPage decodes one response body and returns its records (at items), the raw
// value of cursorPath ("" when absent or empty) and an error when the body is not JSON
// or items is not an array.
func MapRESTPage(body []byte, items, cursorPath string) ([]any, string, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, "", fmt.Errorf("response is not JSON: %w", err)
	}
	arr, ok := JSONPath(doc, items)
	if !ok {
		return nil, "", fmt.Errorf("response has no %q", items)
	}
	list, ok := arr.([]any)
	if !ok && arr != nil {
		return nil, "", fmt.Errorf("%q is not an array", items)
	}
	cursor := ""
	if cursorPath != "" {
		if c, ok := JSONPath(doc, cursorPath); ok && c != nil {
			cursor, _, _ = rawString(c)
		}
	}
	return list, cursor, nil
}

// restRecord extracts the canonical fields of one record.
func (s *RESTSource) restRecord(rec any, line int, chk *checker) (Debtor, *Reject) {
	var ty typed
	vals := map[string]string{}
	if _, ok := rec.(map[string]any); !ok {
		return Debtor{}, &Reject{Line: line, Rule: "format", Value: clip(fmt.Sprint(rec)),
			MessageIT: "il record non è un oggetto JSON", MessageEN: "record is not a JSON object"}
	}
	for _, f := range canonicalFields {
		p := s.cfg.Fields[f]
		if p == "" {
			p = f
		}
		v, ok := JSONPath(rec, p)
		if !ok {
			continue
		}
		switch v.(type) {
		case map[string]any, []any:
			return Debtor{}, &Reject{Line: line, Field: f, Rule: "format",
				MessageIT: fmt.Sprintf("il campo %s (%s) non è un valore semplice", f, p),
				MessageEN: fmt.Sprintf("field %s (%s) is not a plain value", f, p)}
		}
		str, isNum, _ := rawString(v)
		vals[f] = strings.TrimSpace(str)
		if f == FieldAmount && isNum {
			ty.amountNumber = true
		}
	}
	return chk.check(func(f string) string { return vals[f] }, line, ty)
}

// Read walks every page and validates every record. Records are numbered from 1 in
// the order received (Debtor.Line and Reject.Line).
func (s *RESTSource) Read(ctx context.Context, emit func(Debtor) error, reject func(Reject) error) (Stats, error) {
	if emit == nil || reject == nil {
		return Stats{}, errNoReject
	}
	auth, err := s.cfg.Auth.resolve(s.baseDir)
	if err != nil {
		return Stats{}, err
	}
	c := &counter[Debtor]{name: s.Name(), emit: emit, reject: reject}
	chk := newChecker(s.cfg.ValueFormat, AmountDecimalPoint, DateISO)
	chk.source = s.Name()
	p := s.cfg.Pagination
	size := strconv.Itoa(p.PageSize)
	line := 0
	page, offset, cursor := *p.FirstPage, 0, ""
	next := ""
	for n := 0; ; n++ {
		if n >= p.MaxPages {
			return c.st, fmt.Errorf("legacy: rest: more than %d pages: raise pagination.maxPages or check the pagination style", p.MaxPages)
		}
		u := next
		if u == "" {
			q := url.Values{}
			switch p.Style {
			case PageNumber, PageLink:
				q.Set(p.PageParam, strconv.Itoa(page))
				q.Set(p.SizeParam, size)
			case PageOffset:
				q.Set(p.OffsetParam, strconv.Itoa(offset))
				q.Set(p.LimitParam, size)
			case PageCursor:
				if cursor != "" {
					q.Set(p.CursorParam, cursor)
				}
				q.Set(p.LimitParam, size)
			}
			u = s.pageURL(q)
		}
		resp, body, err := doHTTP(ctx, s.rc, auth, "GET", u, nil, map[string]string{"Accept": "application/json"}, 0)
		if err != nil {
			return c.st, err
		}
		recs, cur, err := MapRESTPage(body, s.cfg.Items, p.CursorPath)
		if err != nil {
			return c.st, &RESTMapError{URL: redact(u), Reason: err.Error()}
		}
		for _, r := range recs {
			line++
			d, rj := s.restRecord(r, line, chk)
			if err := c.put(d, rj); err != nil {
				return c.st, err
			}
		}
		if err := ctx.Err(); err != nil {
			return c.st, err
		}
		switch p.Style {
		case PageNone:
			return c.st, nil
		case PageNumber, PageOffset:
			if len(recs) < p.PageSize {
				return c.st, nil
			}
			page++
			offset += len(recs)
		case PageCursor:
			if cur == "" || len(recs) == 0 {
				return c.st, nil
			}
			if cur == cursor {
				return c.st, &RESTMapError{URL: redact(u), Reason: "the server returned the same cursor twice"}
			}
			cursor = cur
		case PageLink:
			if next = nextLink(resp.Header, u); next == "" {
				return c.st, nil
			}
		}
	}
}

// WriteStatus sends one request per update; updates that fail are listed in a
// *WriteError, the others are written. PUT is idempotent; POST endpoints should be too
// (the update is keyed by externalId).
func (s *RESTSource) WriteStatus(ctx context.Context, updates []StatusUpdate) error {
	wb := s.cfg.WriteBack
	if wb == nil {
		return errors.New("legacy: rest: no writeBack configured")
	}
	for _, u := range updates {
		if err := u.validateWithID(); err != nil {
			return err
		}
	}
	auth, err := s.cfg.Auth.resolve(s.baseDir)
	if err != nil {
		return err
	}
	failed := map[string]error{}
	for _, up := range updates {
		if err := ctx.Err(); err != nil {
			return err
		}
		var body []byte
		if s.body != nil {
			var buf bytes.Buffer
			if err := s.body.Execute(&buf, jsonEscaped(up)); err != nil {
				return fmt.Errorf("legacy: rest: writeBack.body: %w", err)
			}
			body = buf.Bytes()
		} else {
			body, _ = json.Marshal(up)
		}
		u := strings.ReplaceAll(wb.URL, "{externalId}", url.PathEscape(up.ExternalID))
		if _, _, err := doHTTP(ctx, s.rc, auth, wb.Method, u, body, map[string]string{"Content-Type": "application/json"}, 0); err != nil {
			if errors.Is(err, ErrUnauthorized) {
				return err // every other update would fail the same way
			}
			failed[up.ExternalID] = err
		}
	}
	if len(failed) > 0 {
		return &WriteError{Sink: s.Name(), Failed: failed}
	}
	return nil
}

// jsonEscaped returns u with every string escaped for use between JSON quotes.
func jsonEscaped(u StatusUpdate) StatusUpdate {
	esc := func(s string) string {
		b, _ := json.Marshal(s)
		return string(b[1 : len(b)-1])
	}
	u.ExternalID, u.Status, u.IUPD, u.NAV, u.IUV, u.PaidDate, u.Message = esc(u.ExternalID), esc(u.Status), esc(u.IUPD), esc(u.NAV), esc(u.IUV), esc(u.PaidDate), esc(u.Message)
	return u
}
