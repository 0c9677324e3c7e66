package cap

import (
	"bytes"
	"cmp"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ponte-pa/ponte/connectors/failure"
)

// A regional alert system publishes its bulletins as a feed that tenants
// subscribe to: Atom 1.0 (RFC 4287), whose entries link to the CAP
// documents (as MeteoAlarm's feeds do, with link type
// application/cap+xml) or carry the alert inline in <content>; or RSS
// 2.0, whose items link to them. ReadFeed reads either, or a single CAP
// document at the feed's URL.

// AtomNamespace is Atom 1.0's XML namespace (RFC 4287 §1.2).
const AtomNamespace = "http://www.w3.org/2005/Atom"

// MediaType is CAP's media type, by which feeds mark links to CAP
// documents.
const MediaType = "application/cap+xml"

// The bounds of FeedOptions left at zero.
const (
	// DefaultMaxBytes bounds one linked CAP document: a bulletin is a few
	// kilobytes; one over a mebibyte is not a bulletin a comune relays.
	DefaultMaxBytes = 1 << 20
	// DefaultMaxFeedBytes bounds the feed document, inline alerts included.
	DefaultMaxFeedBytes = MaxSize
	// DefaultConcurrency is how many CAP documents are fetched at once.
	DefaultConcurrency = 4
	// DefaultMaxEntries is how many entries are read, from the top (feeds
	// list the newest first).
	DefaultMaxEntries = 200
)

// FeedItem is one CAP alert found in a feed.
type FeedItem struct {
	// ID is the feed entry's id (Atom id, RSS guid), else the CAP
	// identifier.
	ID string
	// URL is where the CAP document was fetched, as the feed links it
	// (redirects are followed); "" when the alert was inline.
	URL string
	// Updated is the entry's updated (Atom; published failing that) or
	// pubDate (RSS); zero if absent or unreadable.
	Updated time.Time
	Alert   *Alert
}

// FeedError is one entry of a feed that could not be read: its CAP did
// not parse or validate, its fetch failed, it links no CAP document. The
// feed still gives its other entries.
type FeedError struct {
	// Entry names the entry: its id, else its title, else "entry N"; ""
	// for a problem of the feed as a whole that still let entries be read
	// (more entries than FeedOptions.MaxEntries).
	Entry string
	// URL is the CAP document the entry links, "" if none.
	URL string
	// Err is classified by package failure: a fetch answered 5xx or 429 or
	// not at all is retryable; a document that is not CAP 1.2, too large,
	// or refused (4xx) is permanent. Errors from Parse are *Error.
	Err error
}

func (e FeedError) Error() string {
	if e.Entry == "" {
		return e.Err.Error()
	}
	return "entry " + e.Entry + ": " + e.Err.Error()
}

func (e FeedError) Unwrap() error { return e.Err }

// FeedOptions bound ReadFeed; the zero value uses the defaults above.
type FeedOptions struct {
	// MaxBytes bounds each linked CAP document, and an inline or single
	// one (DefaultMaxBytes).
	MaxBytes int64
	// MaxFeedBytes bounds the feed document (DefaultMaxFeedBytes).
	MaxFeedBytes int64
	// Concurrency is how many CAP documents are fetched at once
	// (DefaultConcurrency).
	Concurrency int
	// MaxEntries is how many entries are read (DefaultMaxEntries); the
	// rest are reported as one FeedError.
	MaxEntries int
}

func (o FeedOptions) withDefaults() FeedOptions {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxFeedBytes <= 0 {
		o.MaxFeedBytes = DefaultMaxFeedBytes
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	return o
}

// ErrTooLarge is matched by errors.Is on a document over its size bound.
var ErrTooLarge = errors.New("document over the size bound")

// FetchError is a document that could not be fetched: no answer came, or
// an HTTP status other than 2xx.
type FetchError struct {
	URL string // as requested
	// Status is the server's answer, 0 when none came.
	Status int
	// RetryAfter is the server's Retry-After hint (429, 503).
	RetryAfter time.Duration
	// Body is the start of an error answer.
	Body string
	// Err is why no answer came.
	Err error
}

func (e *FetchError) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("cap: GET %s: no answer: %v", redactURL(e.URL), e.Err)
	}
	msg := fmt.Sprintf("cap: GET %s: HTTP %d %s", redactURL(e.URL), e.Status, http.StatusText(e.Status))
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

func (e *FetchError) Unwrap() error { return e.Err }

// Failure classifies the error once: no answer, 408, 429 and 5xx →
// retryable (a GET is safe to repeat), after the server's Retry-After;
// any other answer → permanent.
func (e *FetchError) Failure() failure.Info {
	if e.Status == 0 || e.Status == http.StatusRequestTimeout || e.Status == http.StatusTooManyRequests || e.Status >= 500 {
		return failure.Info{Class: failure.Retryable, RetryAfter: e.RetryAfter}
	}
	return failure.Info{Class: failure.Permanent}
}

// defaultClient is used when ReadFeed is given no client: a regional
// server that hangs must not hold a poll for ever.
var defaultClient = &http.Client{Timeout: 30 * time.Second}

// ReadFeed fetches url and returns the CAP alerts it holds, with the
// default FeedOptions: see FeedOptions.Read.
func ReadFeed(ctx context.Context, hc *http.Client, url string) ([]FeedItem, []FeedError, error) {
	return FeedOptions{}.Read(ctx, hc, url)
}

// Read fetches feedURL (with hc; nil means a client with a 30 s timeout)
// and returns the CAP alerts it holds: an Atom 1.0 feed whose entries link
// to CAP documents (a link of type application/cap+xml, or failing that
// one whose path ends in .xml; relative links resolve against xml:base and
// the feed's URL after redirects) or carry the <alert> inline in
// <content>; an RSS 2.0 feed whose items link to them (an enclosure, the
// link, or a permalink guid); or a single CAP document. Linked documents
// are fetched concurrently, each once however many entries link it,
// bounded in size; items keep the feed's order.
//
// A problem of one entry is a FeedError and the other entries are still
// read. The error is for the feed as a whole — unreachable, an HTTP
// status, not XML, not a feed, a single CAP document that is not valid —
// and is classified by package failure (retryable for 5xx, 429 and no
// answer, with the server's Retry-After; permanent for 4xx and bad
// content). Read does not retry: a feed is polled, and the next poll is
// the retry.
func (o FeedOptions) Read(ctx context.Context, hc *http.Client, feedURL string) ([]FeedItem, []FeedError, error) {
	o = o.withDefaults()
	if hc == nil {
		hc = defaultClient
	}
	if _, err := httpURL(feedURL); err != nil {
		return nil, nil, failure.Permanentf("cap: feed URL: %w", err)
	}
	body, final, err := get(ctx, hc, feedURL, acceptFeed, o.MaxFeedBytes)
	if err != nil {
		return nil, nil, err
	}
	doc, err := parseFeed(body, final, o)
	if err != nil {
		return nil, nil, failure.Mark(failure.Permanent, fmt.Errorf("cap: feed %s: %w", redactURL(feedURL), err))
	}
	if doc.single != nil {
		return []FeedItem{{ID: doc.single.Identifier, URL: feedURL, Alert: doc.single}}, nil, nil
	}

	// Fetch each linked document once, at most Concurrency at a time.
	type fetched struct {
		alert *Alert
		err   error
	}
	var (
		mu      sync.Mutex
		results = map[string]fetched{}
		wg      sync.WaitGroup
		sem     = make(chan struct{}, o.Concurrency)
	)
	for _, e := range doc.entries {
		if e.url == "" || e.err != nil || e.alert != nil {
			continue
		}
		mu.Lock()
		_, dup := results[e.url]
		results[e.url] = fetched{}
		mu.Unlock()
		if dup {
			continue
		}
		wg.Add(1)
		go func(u string) {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			a, err := fetchAlert(ctx, hc, u, o.MaxBytes)
			mu.Lock()
			results[u] = fetched{a, err}
			mu.Unlock()
		}(e.url)
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		// A read cut short is not a problem of its entries.
		return nil, nil, fmt.Errorf("cap: feed %s: %w", redactURL(feedURL), err)
	}

	var (
		items []FeedItem
		errs  []FeedError
		seen  = map[string]bool{}
	)
	for i, e := range doc.entries {
		name := cmp.Or(e.id, strings.TrimSpace(e.title), fmt.Sprintf("entry %d", i+1))
		switch {
		case e.err != nil:
			errs = append(errs, FeedError{Entry: name, URL: e.url, Err: e.err})
		case e.alert != nil:
			items = append(items, FeedItem{ID: cmp.Or(e.id, e.alert.Identifier), Updated: e.updated, Alert: e.alert})
		case !seen[e.url]:
			seen[e.url] = true
			r := results[e.url]
			if r.err != nil {
				errs = append(errs, FeedError{Entry: name, URL: e.url, Err: r.err})
				continue
			}
			items = append(items, FeedItem{ID: cmp.Or(e.id, r.alert.Identifier), URL: e.url, Updated: e.updated, Alert: r.alert})
		}
	}
	if doc.dropped > 0 {
		errs = append(errs, FeedError{Err: failure.Permanentf("cap: feed %s: %d entries after the first %d were not read: raise MaxEntries, or ask the publisher to drop expired bulletins from the feed", redactURL(feedURL), doc.dropped, o.MaxEntries)})
	}
	return items, errs, nil
}

func fetchAlert(ctx context.Context, hc *http.Client, u string, limit int64) (*Alert, error) {
	body, _, err := get(ctx, hc, u, acceptCAP, limit)
	if err != nil {
		return nil, err
	}
	a, err := Parse(bytes.NewReader(body))
	if err != nil {
		return nil, failure.Mark(failure.Permanent, err)
	}
	return a, nil
}

const (
	acceptFeed = "application/atom+xml, application/rss+xml, application/cap+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1"
	acceptCAP  = "application/cap+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1"
)

// get fetches u and returns its body, at most limit bytes, and the URL
// it came from after redirects.
func get(ctx context.Context, hc *http.Client, u, accept string, limit int64) ([]byte, *url.URL, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, failure.Permanentf("cap: GET %s: %w", redactURL(u), err)
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", "Ponte-CAP-reader")
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			// Cancelled by the caller: failure.Of says what that means.
			return nil, nil, fmt.Errorf("cap: GET %s: %w", redactURL(u), ctx.Err())
		}
		// The client's *url.Error repeats the URL, query and all.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, nil, &FetchError{URL: u, Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &FetchError{URL: u, Status: resp.StatusCode}
		if d, ok := failure.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			e.RetryAfter = d
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, 512))
		if err == nil {
			e.Body = snippet(b)
		}
		return nil, nil, e
	}
	tooLarge := func() error {
		return failure.Mark(failure.Permanent, fmt.Errorf("cap: GET %s: %w (over %d bytes): not a bulletin to relay", redactURL(u), ErrTooLarge, limit))
	}
	if resp.ContentLength > limit {
		return nil, nil, tooLarge()
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, fmt.Errorf("cap: GET %s: %w", redactURL(u), ctx.Err())
		}
		// The answer broke off: as with no answer, a later GET may do.
		return nil, nil, &FetchError{URL: u, Err: fmt.Errorf("reading the body: %w", err)}
	}
	if int64(len(b)) > limit {
		return nil, nil, tooLarge()
	}
	return b, resp.Request.URL, nil
}

// snippet is the start of an error answer, on one line.
func snippet(b []byte) string {
	s := strings.Join(strings.Fields(strings.ToValidUTF8(string(b), "?")), " ")
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	return s
}

// redactURL is u as errors show it: without credentials or query, where
// tokens travel.
func redactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(an unreadable URL)"
	}
	q := p.RawQuery != ""
	p.User, p.RawQuery, p.Fragment = nil, "", ""
	if q {
		return p.String() + "?…"
	}
	return p.String()
}

// httpURL checks that u is an absolute http(s) URL.
func httpURL(u string) (*url.URL, error) {
	p, err := url.Parse(strings.TrimSpace(u))
	if err != nil {
		return nil, fmt.Errorf("%q is not a URL: %v", u, err)
	}
	if (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return nil, fmt.Errorf("%q is not an http:// or https:// URL", redactURL(u))
	}
	return p, nil
}

// feedDoc is what a feed URL held: entries of a feed, or one alert.
type feedDoc struct {
	entries []feedEntry
	dropped int // entries past MaxEntries
	single  *Alert
}

// feedEntry is an entry of a feed: a link to a CAP document, an inline
// alert, or why it has neither.
type feedEntry struct {
	id, title string
	updated   time.Time
	url       string // the CAP document to fetch, absolute
	alert     *Alert // inline
	err       error
}

// parseFeed reads a fetched document. It does no I/O: links are resolved
// against base, the URL the document came from.
func parseFeed(data []byte, base *url.URL, o FeedOptions) (*feedDoc, error) {
	o = o.withDefaults()
	dec := newDecoder(data)
	text := false
	for {
		tok, err := dec.Token()
		if err == io.EOF && text {
			return nil, fmt.Errorf("not XML: no element (it begins %q)", snippet(data[:min(len(data), 40)]))
		}
		if err == io.EOF {
			return nil, errors.New("the document is empty: neither a feed nor a CAP alert")
		}
		if err != nil {
			return nil, fmt.Errorf("not well-formed XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.CharData:
			text = text || len(bytes.TrimSpace(t)) > 0
		case xml.Directive:
			return nil, errors.New("the document carries a DTD (<!DOCTYPE/<!ENTITY): no feed needs one, so it is refused")
		case xml.StartElement:
			switch {
			case t.Name.Space == AtomNamespace && t.Name.Local == "feed":
				var f atomFeed
				if err := dec.DecodeElement(&f, &t); err != nil {
					return nil, fmt.Errorf("Atom feed: not well-formed XML: %w", err)
				}
				return f.doc(base, o), nil
			case t.Name.Space == "" && t.Name.Local == "rss":
				var r rssDoc
				if err := dec.DecodeElement(&r, &t); err != nil {
					return nil, fmt.Errorf("RSS feed: not well-formed XML: %w", err)
				}
				return r.doc(base, o), nil
			case t.Name.Local == "alert":
				// Parse names a wrong namespace (CAP 1.1) plainly.
				if int64(len(data)) > o.MaxBytes {
					return nil, fmt.Errorf("%w (over %d bytes): not a bulletin to relay", ErrTooLarge, o.MaxBytes)
				}
				a, err := Parse(bytes.NewReader(data))
				if err != nil {
					return nil, err
				}
				return &feedDoc{single: a}, nil
			}
			return nil, fmt.Errorf("the document is <%s> in namespace %q: not an Atom 1.0 feed (<feed xmlns=%q>), an RSS 2.0 feed (<rss>) or a CAP 1.2 alert", t.Name.Local, t.Name.Space, AtomNamespace)
		}
	}
}

// xmlNamespace is the namespace of the xml: prefix (xml:base).
const xmlNamespace = "http://www.w3.org/XML/1998/namespace"

type atomFeed struct {
	Attrs   []xml.Attr  `xml:",any,attr"`
	Entries []atomEntry `xml:"http://www.w3.org/2005/Atom entry"`
}

type atomEntry struct {
	Attrs     []xml.Attr   `xml:",any,attr"`
	ID        string       `xml:"http://www.w3.org/2005/Atom id"`
	Title     string       `xml:"http://www.w3.org/2005/Atom title"`
	Updated   string       `xml:"http://www.w3.org/2005/Atom updated"`
	Published string       `xml:"http://www.w3.org/2005/Atom published"`
	Links     []atomLink   `xml:"http://www.w3.org/2005/Atom link"`
	Content   *atomContent `xml:"http://www.w3.org/2005/Atom content"`
}

type atomLink struct {
	Href string `xml:"href,attr"`
	Rel  string `xml:"rel,attr"`
	Type string `xml:"type,attr"`
}

// atomContent keeps both the raw inner XML (an inline <alert> element) and
// the text (an alert escaped or in CDATA, as some feeds write it).
type atomContent struct {
	Attrs []xml.Attr `xml:",any,attr"`
	Type  string     `xml:"type,attr"`
	Src   string     `xml:"src,attr"`
	Inner []byte     `xml:",innerxml"`
	Text  string     `xml:",chardata"`
}

func (f *atomFeed) doc(base *url.URL, o FeedOptions) *feedDoc {
	d := &feedDoc{}
	base = withXMLBase(base, f.Attrs)
	for i, e := range f.Entries {
		if i == o.MaxEntries {
			d.dropped = len(f.Entries) - i
			break
		}
		fe := feedEntry{id: strings.TrimSpace(e.ID), title: e.Title, updated: parseAtomTime(cmp.Or(e.Updated, e.Published))}
		eb := withXMLBase(base, e.Attrs)
		var href string
		for _, l := range e.Links {
			if isCAPType(l.Type) {
				href = l.Href
				break
			}
		}
		if c := e.Content; c != nil {
			if a, found, err := c.inlineAlert(o.MaxBytes, f.Attrs, e.Attrs); found {
				fe.alert, fe.err = a, err
				d.entries = append(d.entries, fe)
				continue
			}
			if href == "" && c.Src != "" && (isCAPType(c.Type) || isXMLPath(c.Src)) {
				href, eb = c.Src, withXMLBase(eb, c.Attrs)
			}
		}
		if href == "" {
			for _, l := range e.Links {
				if l.Rel != "self" && l.Rel != "edit" && isXMLPath(l.Href) {
					href = l.Href
					break
				}
			}
		}
		if href == "" {
			fe.err = failure.Permanentf("the entry neither links a CAP document (a link of type %s or to an .xml file) nor carries one in <content>", MediaType)
		} else {
			fe.url, fe.err = resolve(eb, href)
		}
		d.entries = append(d.entries, fe)
	}
	return d
}

// inlineAlert reads a CAP alert carried in the content: as an <alert>
// element, or as text (escaped, or in CDATA). found is false when the
// content holds no alert at all. The namespace declarations in scope
// (scopes, outermost first) are kept, so a <cap:alert> declared on <feed>
// reads as one.
func (c *atomContent) inlineAlert(limit int64, scopes ...[]xml.Attr) (a *Alert, found bool, err error) {
	if int64(len(c.Inner)) > limit {
		return nil, true, failure.Mark(failure.Permanent, fmt.Errorf("cap: inline alert: %w (over %d bytes): not a bulletin to relay", ErrTooLarge, limit))
	}
	ns := map[string]string{}
	for _, attrs := range append(scopes, c.Attrs) {
		for _, at := range attrs {
			switch {
			case at.Name.Space == "xmlns":
				ns["xmlns:"+at.Name.Local] = at.Value
			case at.Name.Space == "" && at.Name.Local == "xmlns":
				ns["xmlns"] = at.Value
			}
		}
	}
	var w bytes.Buffer
	w.WriteString("<content")
	for _, k := range slices.Sorted(maps.Keys(ns)) {
		w.WriteString(" " + k + `="`)
		if err := xml.EscapeText(&w, []byte(ns[k])); err != nil {
			return nil, true, err
		}
		w.WriteString(`"`)
	}
	w.WriteString(">")
	w.Write(c.Inner)
	w.WriteString("</content>")
	dec := newDecoder(w.Bytes())
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			break // the inner XML was part of a well-formed feed: this is its end
		}
		switch t := tok.(type) {
		case xml.EndElement:
			depth--
		case xml.StartElement:
			depth++
			if depth != 2 {
				continue
			}
			if t.Name.Local != "alert" {
				return nil, false, nil // XHTML or other content
			}
			if t.Name.Space != Namespace {
				return nil, true, failure.Permanentf("cap: inline <alert> in namespace %q: a CAP 1.2 alert is <alert xmlns=%q>", t.Name.Space, Namespace)
			}
			var al Alert
			if err := dec.DecodeElement(&al, &t); err != nil {
				return nil, true, failure.Mark(failure.Permanent, fmt.Errorf("cap: inline alert: %w", err))
			}
			if err := al.Validate(); err != nil {
				return nil, true, failure.Mark(failure.Permanent, err)
			}
			return &al, true, nil
		}
	}
	if text := strings.TrimSpace(c.Text); strings.HasPrefix(text, "<") {
		if int64(len(text)) > limit {
			return nil, true, failure.Mark(failure.Permanent, fmt.Errorf("cap: inline alert: %w (over %d bytes): not a bulletin to relay", ErrTooLarge, limit))
		}
		al, err := Parse(strings.NewReader(text))
		if err != nil {
			return nil, true, failure.Mark(failure.Permanent, err)
		}
		return al, true, nil
	}
	return nil, false, nil
}

type rssDoc struct {
	Channel struct {
		Items []rssItem `xml:"item"`
	} `xml:"channel"`
}

type rssItem struct {
	Title string `xml:"title"`
	// Links also collects atom:link and the like; only RSS's own counts.
	Links []struct {
		XMLName xml.Name
		Value   string `xml:",chardata"`
	} `xml:"link"`
	GUID struct {
		Value       string `xml:",chardata"`
		IsPermaLink string `xml:"isPermaLink,attr"`
	} `xml:"guid"`
	PubDate    string `xml:"pubDate"`
	Enclosures []struct {
		URL  string `xml:"url,attr"`
		Type string `xml:"type,attr"`
	} `xml:"enclosure"`
}

func (r *rssDoc) doc(base *url.URL, o FeedOptions) *feedDoc {
	d := &feedDoc{}
	for i, it := range r.Channel.Items {
		if i == o.MaxEntries {
			d.dropped = len(r.Channel.Items) - i
			break
		}
		guid := strings.TrimSpace(it.GUID.Value)
		fe := feedEntry{id: guid, title: it.Title, updated: parseRSSTime(it.PubDate)}
		var href string
		for _, e := range it.Enclosures {
			if isCAPType(e.Type) {
				href = e.URL
				break
			}
		}
		if href == "" {
			for _, e := range it.Enclosures {
				if isXMLPath(e.URL) {
					href = e.URL
					break
				}
			}
		}
		if href == "" {
			for _, l := range it.Links {
				if l.XMLName.Space == "" && strings.TrimSpace(l.Value) != "" {
					href = strings.TrimSpace(l.Value)
					break
				}
			}
		}
		// A guid is a link only when it says so (isPermaLink defaults to
		// true in RSS 2.0) and looks like one.
		if href == "" && !strings.EqualFold(it.GUID.IsPermaLink, "false") && (strings.HasPrefix(guid, "http://") || strings.HasPrefix(guid, "https://")) {
			href = guid
		}
		if href == "" {
			fe.err = failure.Permanentf("the item links no CAP document (no enclosure, link or permalink guid)")
		} else {
			fe.url, fe.err = resolve(base, href)
		}
		d.entries = append(d.entries, fe)
	}
	return d
}

// resolve makes href absolute against base and checks it is http(s).
func resolve(base *url.URL, href string) (string, error) {
	ref, err := url.Parse(strings.TrimSpace(href))
	if err != nil {
		return "", failure.Permanentf("cap: link %q is not a URL: %v", href, err)
	}
	if base != nil {
		ref = base.ResolveReference(ref)
	}
	if _, err := httpURL(ref.String()); err != nil {
		return "", failure.Permanentf("cap: link: %w", err)
	}
	return ref.String(), nil
}

// withXMLBase applies an xml:base among attrs (RFC 4287 §2) to base.
func withXMLBase(base *url.URL, attrs []xml.Attr) *url.URL {
	for _, a := range attrs {
		if a.Name.Space == xmlNamespace && a.Name.Local == "base" {
			ref, err := url.Parse(strings.TrimSpace(a.Value))
			if err != nil {
				return base
			}
			if base == nil {
				return ref
			}
			return base.ResolveReference(ref)
		}
	}
	return base
}

// isCAPType reports whether a media type is CAP's, parameters aside.
func isCAPType(t string) bool {
	mt, _, _ := strings.Cut(t, ";")
	return strings.EqualFold(strings.TrimSpace(mt), MediaType)
}

// isXMLPath reports whether a link's path ends in .xml.
func isXMLPath(href string) bool {
	u, err := url.Parse(strings.TrimSpace(href))
	return err == nil && strings.EqualFold(path.Ext(u.Path), ".xml")
}

// parseAtomTime reads an Atom date (RFC 3339, §3.3); zero if unreadable.
func parseAtomTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}
	}
	return t
}

// rssLayouts are the RFC 822 dates RSS 2.0 asks for, with the variations
// feeds write: a one-digit day, no weekday, a zone name, four-digit years.
var rssLayouts = []string{
	time.RFC1123Z, time.RFC1123, "Mon, 2 Jan 2006 15:04:05 -0700", "Mon, 2 Jan 2006 15:04:05 MST",
	"2 Jan 2006 15:04:05 -0700", "02 Jan 2006 15:04:05 -0700", "Mon, 02 Jan 2006 15:04 -0700", time.RFC822Z, time.RFC822,
}

// parseRSSTime reads an RSS pubDate; zero if unreadable.
func parseRSSTime(s string) time.Time {
	s = strings.TrimSpace(s)
	for _, l := range rssLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t
		}
	}
	return time.Time{}
}

// Geocode value names (CAP §3.2.4 leaves them to each community of use).
const (
	// GeocodeISTAT and GeocodeISTATComune carry a comune's ISTAT code
	// ("037006"). "ISTAT" is the name found in practice: an unofficial CAP
	// republication of the Regione Basilicata bulletins writes one ISTAT
	// geocode per comune of each alert zone.
	GeocodeISTAT       = "ISTAT"
	GeocodeISTATComune = "ISTAT_COMUNE"
	// GeocodeZonaAllerta carries an alert zone as the regional system
	// names it ("EMR-B1"). No published Italian CAP profile naming it was
	// found (the Vigili del Fuoco profile, DM 23 May 2011, GU n. 142 of 21
	// June 2011, is about their control rooms): Matches reads zones from
	// any geocode, so it does not depend on this name; mocks/capfeed
	// writes it.
	GeocodeZonaAllerta = "ZONA_ALLERTA"
	// GeocodeEMMA is MeteoAlarm's warning-region id, as its Atom feeds
	// (feeds.meteoalarm.org) write it; such ids match when given as zones.
	GeocodeEMMA = "EMMA_ID"
)

// Matches reports whether a's areas concern one of the given zone ids or
// ISTAT comune codes, and returns the codes matched, as given, in the
// order first found (nil for none). An area matches a zone when any of its
// geocodes has the zone id as value, or its areaDesc is the zone id
// (case-insensitive, spaces trimmed); it matches a comune when a geocode
// named ISTAT or ISTAT_COMUNE (case-insensitive) has its code as value,
// leading zeros aside ("37006" is "037006": spreadsheets drop them).
func Matches(a *Alert, zones, istat []string) []string {
	if a == nil {
		return nil
	}
	var out []string
	add := func(code string) {
		if !slices.Contains(out, code) {
			out = append(out, code)
		}
	}
	for _, in := range a.Info {
		for _, ar := range in.Area {
			for _, z := range zones {
				if sameCode(ar.AreaDesc, z) {
					add(z)
				}
			}
			for _, g := range ar.Geocode {
				for _, z := range zones {
					if sameCode(g.Value, z) {
						add(z)
					}
				}
				name := strings.TrimSpace(g.ValueName)
				if !strings.EqualFold(name, GeocodeISTAT) && !strings.EqualFold(name, GeocodeISTATComune) {
					continue
				}
				for _, c := range istat {
					if sameISTAT(g.Value, c) {
						add(c)
					}
				}
			}
		}
	}
	return out
}

func sameCode(v, code string) bool {
	code = strings.TrimSpace(code)
	return code != "" && strings.EqualFold(strings.TrimSpace(v), code)
}

// sameISTAT compares ISTAT codes leading zeros aside, other codes as text.
func sameISTAT(v, code string) bool {
	v, code = strings.TrimSpace(v), strings.TrimSpace(code)
	digits := func(s string) bool { return s != "" && strings.Trim(s, "0123456789") == "" }
	if digits(v) && digits(code) {
		v, code = strings.TrimLeft(v, "0"), strings.TrimLeft(code, "0")
		return v == code && v != ""
	}
	return sameCode(v, code)
}
