package legacy

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"text/template"

	"github.com/antchfx/xmlquery"
	"github.com/antchfx/xpath"
	"github.com/hashicorp/go-retryablehttp"
)

// KindSOAP is the tenant config kind of the SOAP source and sink.
const KindSOAP = "soap"

func init() {
	factory := func(cfg json.RawMessage, baseDir string) (*SOAPSource, error) {
		var c SOAPConfig
		if err := decodeStrict(KindSOAP, cfg, &c); err != nil {
			return nil, err
		}
		return NewSOAPSource(c, baseDir)
	}
	RegisterSource(KindSOAP, "legacy-soap.schema.json", func(cfg json.RawMessage, baseDir string) (DebtorSource, error) {
		s, err := factory(cfg, baseDir)
		if err != nil {
			return nil, err
		}
		if s.envelope == nil || s.items == nil {
			return nil, errors.New("legacy: soap: envelope and items are required to read debtors")
		}
		return s, nil
	})
	RegisterSink(KindSOAP, "legacy-soap.schema.json", func(cfg json.RawMessage, baseDir string) (DebtorSink, error) {
		s, err := factory(cfg, baseDir)
		if err != nil {
			return nil, err
		}
		if s.wbEnvelope == nil {
			return nil, errors.New("legacy: soap: writeBack is required to write statuses")
		}
		return s, nil
	})
}

// SOAPConfig configures a SOAP web service of the back office; it mirrors
// legacy-soap.schema.json.
type SOAPConfig struct {
	URL    string `json:"url"`
	Action string `json:"action,omitempty"` // SOAPAction header of the read operation
	// Envelope is a text/template of the request; it sees .Page (from FirstPage),
	// .PageSize, .Offset and .Params, all XML-escaped.
	Envelope string            `json:"envelope,omitempty"`
	Params   map[string]string `json:"params,omitempty"`
	// Items is the XPath of the record elements, e.g. //debitore.
	Items string `json:"items,omitempty"`
	// Fields maps canonical fields to XPaths relative to a record (codiceFiscale,
	// contribuente/cognome, @id); an unmapped field is the child of its canonical name.
	Fields map[string]string `json:"fields,omitempty"`
	// PageSize > 0 repeats the request with the next page until a short page.
	PageSize  int            `json:"pageSize,omitempty"`
	FirstPage *int           `json:"firstPage,omitempty"` // default 1
	MaxPages  int            `json:"maxPages,omitempty"`  // default 100000
	Auth      AuthConfig     `json:"auth,omitempty"`
	WriteBack *SOAPWriteBack `json:"writeBack,omitempty"`
	HTTPConfig
	ValueFormat
}

// SOAPWriteBack sends one templated request per status update.
type SOAPWriteBack struct {
	Action string `json:"action,omitempty"`
	// Envelope is a text/template over a StatusUpdate whose strings are XML-escaped.
	Envelope string `json:"envelope"`
	// Success, an optional XPath, must match the response (e.g. //esito[.='OK']).
	Success string `json:"success,omitempty"`
}

// SOAPSource reads debtors from, and writes statuses to, a SOAP service.
type SOAPSource struct {
	cfg        SOAPConfig
	baseDir    string
	rc         *retryablehttp.Client
	envelope   *template.Template
	items      *xpath.Expr
	fields     map[string]*xpath.Expr
	wbEnvelope *template.Template
	wbSuccess  *xpath.Expr
}

// NewSOAPSource checks cfg: the templates parse and the XPaths compile.
func NewSOAPSource(cfg SOAPConfig, baseDir string) (*SOAPSource, error) {
	s := &SOAPSource{cfg: cfg, baseDir: baseDir, rc: newRetryClient(cfg.HTTPConfig, true), fields: map[string]*xpath.Expr{}}
	if u, err := url.Parse(cfg.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("legacy: soap: url %q must be an absolute http(s) URL", redact(cfg.URL))
	}
	if err := cfg.Auth.check(KindSOAP); err != nil {
		return nil, err
	}
	if err := cfg.ValueFormat.check(KindSOAP, false); err != nil {
		return nil, err
	}
	var err error
	if cfg.Envelope != "" {
		if s.envelope, err = template.New("envelope").Option("missingkey=error").Parse(cfg.Envelope); err != nil {
			return nil, fmt.Errorf("legacy: soap: envelope: %w", err)
		}
	}
	if cfg.Items != "" {
		if s.items, err = xpath.Compile(cfg.Items); err != nil {
			return nil, fmt.Errorf("legacy: soap: items %q: %w", cfg.Items, err)
		}
	}
	for _, f := range canonicalFields {
		p, ok := cfg.Fields[f]
		if !ok {
			p = f
		}
		if s.fields[f], err = xpath.Compile(p); err != nil {
			return nil, fmt.Errorf("legacy: soap: fields.%s %q: %w", f, p, err)
		}
	}
	for f := range cfg.Fields {
		if !containsStr(canonicalFields, f) {
			return nil, fmt.Errorf("legacy: soap: fields: unknown field %q (fields: %s)", f, strings.Join(canonicalFields, ", "))
		}
	}
	if s.cfg.FirstPage == nil {
		one := 1
		s.cfg.FirstPage = &one
	}
	if s.cfg.MaxPages <= 0 {
		s.cfg.MaxPages = 100000
	}
	if wb := cfg.WriteBack; wb != nil {
		if s.wbEnvelope, err = template.New("writeBack").Option("missingkey=error").Parse(wb.Envelope); err != nil {
			return nil, fmt.Errorf("legacy: soap: writeBack.envelope: %w", err)
		}
		if wb.Success != "" {
			if s.wbSuccess, err = xpath.Compile(wb.Success); err != nil {
				return nil, fmt.Errorf("legacy: soap: writeBack.success %q: %w", wb.Success, err)
			}
		}
	}
	return s, nil
}

// Name is "soap:" and the host.
func (s *SOAPSource) Name() string {
	u, _ := url.Parse(s.cfg.URL)
	return "soap:" + u.Host
}

// SOAPFault is a fault returned by the service.
type SOAPFault struct {
	Code, String string
}

func (e *SOAPFault) Error() string { return "legacy: soap fault " + e.Code + ": " + e.String }

func xmlEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// ParseSOAPResponse parses a response body and returns its document with namespace
// prefixes removed (XPaths then use local names), or a *SOAPFault when it holds a Fault
// (SOAP 1.1 faultcode/faultstring or 1.2 Code/Reason).
func ParseSOAPResponse(body []byte) (*xmlquery.Node, error) {
	doc, err := xmlquery.Parse(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("legacy: soap: response is not XML: %w", err)
	}
	stripPrefixes(doc)
	if f := xmlquery.FindOne(doc, "//*[local-name()='Fault']"); f != nil {
		fault := &SOAPFault{}
		if n := xmlquery.FindOne(f, "*[local-name()='faultcode'] | *[local-name()='Code']/*[local-name()='Value']"); n != nil {
			fault.Code = strings.TrimSpace(n.InnerText())
		}
		if n := xmlquery.FindOne(f, "*[local-name()='faultstring'] | *[local-name()='Reason']/*[local-name()='Text']"); n != nil {
			fault.String = strings.TrimSpace(n.InnerText())
		}
		return nil, fault
	}
	return doc, nil
}

// stripPrefixes drops namespace prefixes from elements and attributes, so that the
// configured XPaths name local names (//debitore matches <tns:debitore>): back-office
// services change prefixes between versions far more often than element names.
func stripPrefixes(n *xmlquery.Node) {
	for depth, stack := 0, []*xmlquery.Node{n}; len(stack) > 0 && depth < 1<<22; depth++ {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if x.Type == xmlquery.ElementNode {
			x.Prefix, x.NamespaceURI = "", ""
			for i := range x.Attr {
				if x.Attr[i].Name.Space != "xmlns" && x.Attr[i].Name.Local != "xmlns" {
					x.Attr[i].Name.Space = ""
				}
			}
		}
		for c := x.FirstChild; c != nil; c = c.NextSibling {
			stack = append(stack, c)
		}
	}
}

// mapRecords returns the raw canonical field values of every record matched by items.
func (s *SOAPSource) mapRecords(doc *xmlquery.Node) []map[string]string {
	nodes := xmlquery.QuerySelectorAll(doc, s.items)
	out := make([]map[string]string, 0, len(nodes))
	for _, n := range nodes {
		vals := map[string]string{}
		for f, e := range s.fields {
			if v := xmlquery.QuerySelector(n, e); v != nil {
				vals[f] = strings.TrimSpace(v.InnerText())
			}
		}
		out = append(out, vals)
	}
	return out
}

type soapPage struct {
	Page, PageSize, Offset int
	Params                 map[string]string
}

// Read requests every page and validates every record, numbered from 1 in the order
// received.
func (s *SOAPSource) Read(ctx context.Context, emit func(Debtor) error, reject func(Reject) error) (Stats, error) {
	if emit == nil || reject == nil {
		return Stats{}, errNoReject
	}
	auth, err := s.cfg.Auth.resolve(s.baseDir)
	if err != nil {
		return Stats{}, err
	}
	params := map[string]string{}
	for k, v := range s.cfg.Params {
		params[k] = xmlEscape(v)
	}
	c := &counter[Debtor]{name: s.Name(), emit: emit, reject: reject}
	chk := newChecker(s.cfg.ValueFormat, AmountDecimalPoint, DateISO)
	chk.source = s.Name()
	line := 0
	for n := 0; ; n++ {
		if n >= s.cfg.MaxPages {
			return c.st, fmt.Errorf("legacy: soap: more than %d pages: raise maxPages", s.cfg.MaxPages)
		}
		var buf bytes.Buffer
		if err := s.envelope.Execute(&buf, soapPage{Page: *s.cfg.FirstPage + n, PageSize: s.cfg.PageSize, Offset: n * s.cfg.PageSize, Params: params}); err != nil {
			return c.st, fmt.Errorf("legacy: soap: envelope: %w", err)
		}
		doc, err := s.call(ctx, auth, s.cfg.Action, buf.Bytes())
		if err != nil {
			return c.st, err
		}
		recs := s.mapRecords(doc)
		for _, vals := range recs {
			line++
			d, rj := chk.check(func(f string) string { return vals[f] }, line, typed{})
			if err := c.put(d, rj); err != nil {
				return c.st, err
			}
		}
		if err := ctx.Err(); err != nil {
			return c.st, err
		}
		if s.cfg.PageSize <= 0 || len(recs) < s.cfg.PageSize {
			return c.st, nil
		}
	}
}

func (s *SOAPSource) call(ctx context.Context, auth authorizer, action string, body []byte) (*xmlquery.Node, error) {
	h := map[string]string{"Content-Type": "text/xml; charset=utf-8", "SOAPAction": `"` + action + `"`}
	_, b, err := doHTTP(ctx, s.rc, auth, "POST", s.cfg.URL, body, h, 500)
	if err != nil {
		return nil, err
	}
	return ParseSOAPResponse(b)
}

// WriteStatus sends one request per update; faults and failures are listed in a
// *WriteError, the other updates are written.
func (s *SOAPSource) WriteStatus(ctx context.Context, updates []StatusUpdate) error {
	if s.wbEnvelope == nil {
		return errors.New("legacy: soap: no writeBack configured")
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
		e := up
		e.ExternalID, e.Status, e.IUPD, e.NAV, e.IUV, e.PaidDate, e.Message = xmlEscape(up.ExternalID), xmlEscape(up.Status), xmlEscape(up.IUPD), xmlEscape(up.NAV), xmlEscape(up.IUV), xmlEscape(up.PaidDate), xmlEscape(up.Message)
		var buf bytes.Buffer
		if err := s.wbEnvelope.Execute(&buf, e); err != nil {
			return fmt.Errorf("legacy: soap: writeBack.envelope: %w", err)
		}
		doc, err := s.call(ctx, auth, s.cfg.WriteBack.Action, buf.Bytes())
		if err == nil && s.wbSuccess != nil && xmlquery.QuerySelector(doc, s.wbSuccess) == nil {
			err = fmt.Errorf("legacy: soap: response does not match writeBack.success %s", s.cfg.WriteBack.Success)
		}
		if err != nil {
			if errors.Is(err, ErrUnauthorized) {
				return err
			}
			failed[up.ExternalID] = err
		}
	}
	if len(failed) > 0 {
		return &WriteError{Sink: s.Name(), Failed: failed}
	}
	return nil
}
