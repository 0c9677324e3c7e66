package cap

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ponte-pa/ponte/connectors/failure"
)

const exampleID = "IT-ESEMPIO-2026-0042"

// capDoc is the example alert under identifier id.
func capDoc(t testing.TB, id string) string {
	t.Helper()
	return strings.Replace(string(readExample(t)), exampleID, id, 1)
}

// inlineCAP is capDoc without its XML declaration, to sit in a feed.
func inlineCAP(t testing.TB, id string) string {
	t.Helper()
	doc := capDoc(t, id)
	return doc[strings.Index(doc, "<alert"):]
}

// site serves fixed answers by path and counts the requests to each.
type site struct {
	mu     sync.Mutex
	routes map[string]http.HandlerFunc
	hits   map[string]int
}

func (s *site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	h, ok := s.routes[r.URL.Path]
	if s.hits == nil {
		s.hits = map[string]int{}
	}
	s.hits[r.URL.Path]++
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	h(w, r)
}

func (s *site) count(p string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[p]
}

func serve(t testing.TB, ctype, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", ctype)
		if _, err := w.Write([]byte(body)); err != nil {
			t.Errorf("serving %s: %v", ctype, err)
		}
	}
}

func status(code int, retryAfter string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		http.Error(w, "servizio non disponibile", code)
	}
}

func redirect(to string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, to, http.StatusMovedPermanently) }
}

func atom(entries ...string) string {
	return `<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:cap="urn:oasis:names:tc:emergency:cap:1.2">
  <id>urn:example:allerte</id><title>Allerte</title><updated>2026-10-12T14:31:00+02:00</updated>
  ` + strings.Join(entries, "\n  ") + `
</feed>`
}

func entry(id, updated, inner string) string {
	return `<entry><id>` + id + `</id><title>Bollettino ` + id + `</title><updated>` + updated + `</updated>` + inner + `</entry>`
}

func rss(items ...string) string {
	return `<?xml version="1.0"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>Allerte</title>
<atom:link href="https://example.org/rss.xml" rel="self" type="application/rss+xml"/>
` + strings.Join(items, "\n") + `
</channel></rss>`
}

const atomType = "application/atom+xml"

// read serves routes and reads the feed at path.
func read(t *testing.T, o FeedOptions, routes map[string]http.HandlerFunc, path string) (*site, string, []FeedItem, []FeedError, error) {
	t.Helper()
	s := &site{routes: routes}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	items, errs, err := o.Read(t.Context(), srv.Client(), srv.URL+path)
	return s, srv.URL, items, errs, err
}

func ids(items []FeedItem) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.ID+"="+it.Alert.Identifier)
	}
	return out
}

func TestReadFeed(t *testing.T) {
	rome := time.FixedZone("", 2*3600)
	upd := time.Date(2026, 10, 12, 14, 30, 0, 0, rome)
	capXML := func(id string) http.HandlerFunc { return serve(t, MediaType, capDoc(t, id)) }
	tests := []struct {
		name      string
		routes    func(t *testing.T, base string) map[string]http.HandlerFunc
		want      []string // item ID=identifier, in order
		wantURLs  []string // item URLs, relative to the server ("" inline)
		wantErrs  []string // a word of each FeedError, in order
		wantFirst time.Time
	}{{
		name: "Atom entries linking CAP documents",
		routes: func(t *testing.T, base string) map[string]http.HandlerFunc {
			return map[string]http.HandlerFunc{
				"/feed.atom": serve(t, atomType, atom(
					entry("urn:b:2", "2026-10-12T14:30:00+02:00", `<link rel="alternate" type="text/html" href="/bollettino/2.html"/><link rel="alternate" type="application/cap+xml" href="cap/2"/>`),
					// No type: the .xml path says it; the HTML page is not fetched.
					entry("urn:b:1", "2026-10-12T10:00:00+02:00", `<link href="/bollettino/1.html"/><link rel="related" href="`+base+`/cap/1.xml"/>`),
				)),
				"/cap/2":             capXML("B-2"),
				"/cap/1.xml":         capXML("B-1"),
				"/bollettino/1.html": serve(t, "text/html", "<html/>"),
			}
		},
		want: []string{"urn:b:2=B-2", "urn:b:1=B-1"}, wantURLs: []string{"/cap/2", "/cap/1.xml"}, wantFirst: upd,
	}, {
		name: "Atom entries carrying the alert inline",
		routes: func(t *testing.T, base string) map[string]http.HandlerFunc {
			// Every element with the cap: prefix, declared on <feed> only.
			prefixed := regexp.MustCompile(`<(/?)([a-zA-Z])`).ReplaceAllString(inlineCAP(t, "I-2"), "<${1}cap:$2")
			prefixed = strings.Replace(prefixed, ` xmlns="urn:oasis:names:tc:emergency:cap:1.2"`, "", 1)
			return map[string]http.HandlerFunc{"/feed.atom": serve(t, atomType, atom(
				entry("urn:i:1", "2026-10-12T14:30:00+02:00", `<content type="application/cap+xml">`+inlineCAP(t, "I-1")+`</content>`),
				// The cap: prefix is declared on <feed>, outside the content.
				entry("urn:i:2", "2026-10-12T14:30:00+02:00", `<content type="application/cap+xml">`+prefixed+`</content>`),
				// Escaped in CDATA, as some producers write it.
				entry("urn:i:3", "", `<content type="text"><![CDATA[`+capDoc(t, "I-3")+`]]></content>`),
				// Neither a link nor an alert.
				entry("urn:i:4", "", `<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">Nessuna allerta</div></content>`),
			))}
		},
		want: []string{"urn:i:1=I-1", "urn:i:2=I-2", "urn:i:3=I-3"}, wantURLs: []string{"", "", ""},
		wantErrs: []string{"urn:i:4: the entry neither links"}, wantFirst: upd,
	}, {
		name: "RSS items: enclosure, link, permalink guid",
		routes: func(t *testing.T, base string) map[string]http.HandlerFunc {
			return map[string]http.HandlerFunc{
				"/rss.xml": serve(t, "application/rss+xml", rss(
					`<item><title>Uno</title><link>/bollettino/1.html</link><guid isPermaLink="false">r-1</guid><pubDate>Mon, 12 Oct 2026 14:30:00 +0200</pubDate><enclosure url="/cap/r1" length="100" type="application/cap+xml"/></item>`,
					`<item><title>Due</title><link>/cap/r2.xml</link><guid isPermaLink="false">r-2</guid><pubDate>Mon, 2 Nov 2026 9:00:00 +0100</pubDate></item>`,
					`<item><title>Tre</title><guid>`+base+`/cap/r3.xml</guid></item>`,
					`<item><title>Quattro</title><guid isPermaLink="false">r-4</guid></item>`,
				)),
				"/cap/r1":     capXML("R-1"),
				"/cap/r2.xml": capXML("R-2"),
				"/cap/r3.xml": capXML("R-3"),
			}
		},
		want: []string{"r-1=R-1", "r-2=R-2", "BASE/cap/r3.xml=R-3"}, wantURLs: []string{"/cap/r1", "/cap/r2.xml", "/cap/r3.xml"},
		wantErrs: []string{"r-4: the item links no CAP document"}, wantFirst: upd,
	}, {
		name: "a single CAP document",
		routes: func(t *testing.T, base string) map[string]http.HandlerFunc {
			return map[string]http.HandlerFunc{"/feed.atom": capXML("S-1")}
		},
		want: []string{"S-1=S-1"}, wantURLs: []string{"/feed.atom"},
	}, {
		name: "redirects: links resolve against where the feed was found",
		routes: func(t *testing.T, base string) map[string]http.HandlerFunc {
			return map[string]http.HandlerFunc{
				"/feed.atom":            redirect("/allerte/v2/feed.atom"),
				"/allerte/v2/feed.atom": serve(t, atomType, atom(entry("urn:r:1", "", `<link type="application/cap+xml" href="cap/1.xml"/>`))),
				"/allerte/v2/cap/1.xml": redirect("/archivio/1.xml"),
				"/archivio/1.xml":       capXML("M-1"),
			}
		},
		want: []string{"urn:r:1=M-1"}, wantURLs: []string{"/allerte/v2/cap/1.xml"},
	}, {
		name: "xml:base",
		routes: func(t *testing.T, base string) map[string]http.HandlerFunc {
			return map[string]http.HandlerFunc{
				"/feed.atom":      serve(t, atomType, strings.Replace(atom(entry("urn:x:1", "", `<link type="application/cap+xml" href="1.xml"/>`)), "<feed ", `<feed xml:base="/docs/cap/" `, 1)),
				"/docs/cap/1.xml": capXML("X-1"),
			}
		},
		want: []string{"urn:x:1=X-1"}, wantURLs: []string{"/docs/cap/1.xml"},
	}, {
		name: "bad entries among good ones",
		routes: func(t *testing.T, base string) map[string]http.HandlerFunc {
			return map[string]http.HandlerFunc{
				"/feed.atom": serve(t, atomType, atom(
					entry("urn:g:1", "", `<link type="application/cap+xml" href="/cap/good1.xml"/>`),
					entry("urn:g:2", "", `<link type="application/cap+xml" href="/cap/gone.xml"/>`),
					entry("urn:g:3", "", `<link type="application/cap+xml" href="/cap/invalid.xml"/>`),
					entry("urn:g:4", "", `<link type="application/cap+xml" href="/cap/busy.xml"/>`),
					entry("urn:g:5", "", `<link href="/cap/page.xml"/>`),
					entry("urn:g:6", "", `<link type="application/cap+xml" href="file:///etc/passwd"/>`),
					entry("urn:g:7", "", `<content type="application/cap+xml">`+strings.Replace(inlineCAP(t, "I-7"), "<severity>Severe</severity>", "<severity>Alta</severity>", 1)+`</content>`),
					entry("urn:g:8", "", `<link type="application/cap+xml" href="/cap/good2.xml"/>`),
				)),
				"/cap/good1.xml":   capXML("G-1"),
				"/cap/invalid.xml": serve(t, MediaType, strings.Replace(capDoc(t, "G-3"), "<sent>2026-10-12T14:30:00+02:00</sent>", "", 1)),
				"/cap/busy.xml":    status(http.StatusServiceUnavailable, "7"),
				"/cap/page.xml":    serve(t, "text/html", "<html><body>Allerta</body></html>"),
				"/cap/good2.xml":   capXML("G-8"),
			}
		},
		want: []string{"urn:g:1=G-1", "urn:g:8=G-8"}, wantURLs: []string{"/cap/good1.xml", "/cap/good2.xml"},
		wantErrs: []string{"urn:g:2: cap: GET", "urn:g:3: cap: not a valid CAP 1.2 alert: sent: required", "urn:g:4: cap: GET", "urn:g:5: cap: the root is <html>", "urn:g:6: cap: link:", "urn:g:7: cap: not a valid CAP 1.2 alert: info[0].severity"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &site{}
			srv := httptest.NewServer(s)
			defer srv.Close()
			s.routes = tt.routes(t, srv.URL)
			path := "/feed.atom"
			if _, ok := s.routes["/rss.xml"]; ok {
				path = "/rss.xml"
			}
			items, errs, err := ReadFeed(t.Context(), srv.Client(), srv.URL+path)
			if err != nil {
				t.Fatal(err)
			}
			want := slices.Clone(tt.want)
			for i := range want {
				want[i] = strings.ReplaceAll(want[i], "BASE", srv.URL)
			}
			if got := ids(items); !slices.Equal(got, want) {
				t.Errorf("items %v, want %v (errors %v)", got, want, errs)
			}
			for i, it := range items {
				if i < len(tt.wantURLs) {
					w := tt.wantURLs[i]
					if w != "" {
						w = srv.URL + w
					}
					if it.URL != w {
						t.Errorf("item %d URL %q, want %q", i, it.URL, w)
					}
				}
			}
			if len(items) > 0 && !tt.wantFirst.IsZero() && !items[0].Updated.Equal(tt.wantFirst) {
				t.Errorf("updated %v, want %v", items[0].Updated, tt.wantFirst)
			}
			if len(errs) != len(tt.wantErrs) {
				t.Fatalf("errors %v, want %d", errs, len(tt.wantErrs))
			}
			for i, e := range errs {
				if !strings.HasPrefix(e.Error(), "entry "+tt.wantErrs[i]) {
					t.Errorf("error %d %q, want it to start %q", i, e.Error(), "entry "+tt.wantErrs[i])
				}
			}
		})
	}
}

// Whole-feed failures are the error, classified once.
func TestReadFeedFailures(t *testing.T) {
	good := atom(entry("urn:1", "", `<link type="application/cap+xml" href="/cap/1.xml"/>`))
	tests := []struct {
		name       string
		feed       http.HandlerFunc
		class      failure.Class
		retryAfter time.Duration
		want       string
	}{
		{"503 with Retry-After", status(http.StatusServiceUnavailable, "30"), failure.Retryable, 30 * time.Second, "HTTP 503 Service Unavailable: servizio non disponibile"},
		{"429", status(http.StatusTooManyRequests, "5"), failure.Retryable, 5 * time.Second, "HTTP 429"},
		{"500 without a hint", status(http.StatusInternalServerError, ""), failure.Retryable, 0, "HTTP 500"},
		{"404", status(http.StatusNotFound, ""), failure.Permanent, 0, "HTTP 404"},
		{"403", status(http.StatusForbidden, ""), failure.Permanent, 0, "HTTP 403"},
		{"not XML", serve(t, "text/plain", "allerta gialla"), failure.Permanent, 0, `not XML: no element (it begins "allerta gialla")`},
		{"empty", serve(t, atomType, ""), failure.Permanent, 0, "the document is empty"},
		{"an HTML page", serve(t, "text/html", "<html><body>Allerte</body></html>"), failure.Permanent, 0, "the document is <html>"},
		{"RSS 1.0", serve(t, "application/rdf+xml", `<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>`), failure.Permanent, 0, "not an Atom 1.0 feed"},
		{"a DTD", serve(t, atomType, strings.Replace(good, "<feed ", `<!DOCTYPE feed [<!ENTITY a "aaaa">]><feed `, 1)), failure.Permanent, 0, "DTD"},
		{"truncated", serve(t, atomType, good[:len(good)/2]), failure.Permanent, 0, "not well-formed XML"},
		{"CAP 1.1", serve(t, MediaType, strings.Replace(capDoc(t, "S"), "cap:1.2", "cap:1.1", 1)), failure.Permanent, 0, `namespace "urn:oasis:names:tc:emergency:cap:1.1"`},
		{"an invalid single CAP", serve(t, MediaType, strings.Replace(capDoc(t, "S"), "<msgType>Alert</msgType>", "", 1)), failure.Permanent, 0, "msgType: required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, items, errs, err := read(t, FeedOptions{}, map[string]http.HandlerFunc{"/feed.atom": tt.feed}, "/feed.atom")
			if err == nil {
				t.Fatalf("no error; items %v, errors %v", ids(items), errs)
			}
			if got := failure.Of(err); got.Class != tt.class || got.RetryAfter != tt.retryAfter {
				t.Errorf("classified %+v, want %v after %v", got, tt.class, tt.retryAfter)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to say %q", err, tt.want)
			}
		})
	}
	t.Run("a single CAP's problems are *Error", func(t *testing.T) {
		_, _, _, _, err := read(t, FeedOptions{}, map[string]http.HandlerFunc{"/feed.atom": serve(t, MediaType, strings.Replace(capDoc(t, "S"), "<scope>Public</scope>", "", 1))}, "/feed.atom")
		var ce *Error
		if !errors.As(err, &ce) || ce.Problems[0].Path != "scope" {
			t.Errorf("error %v is not a *cap.Error about scope", err)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		u := srv.URL + "/feed.atom?token=segreto"
		srv.Close()
		_, _, err := ReadFeed(t.Context(), nil, u)
		var fe *FetchError
		if !errors.As(err, &fe) || fe.Status != 0 || !failure.IsRetryable(err) {
			t.Fatalf("error %v: want a retryable *FetchError without status", err)
		}
		if strings.Contains(err.Error(), "segreto") || !strings.Contains(err.Error(), "/feed.atom?…") {
			t.Errorf("the error shows the query: %v", err)
		}
	})
	t.Run("not an http URL", func(t *testing.T) {
		for _, u := range []string{"file:///etc/passwd", "feed.atom", "ftp://example.org/f.xml"} {
			if _, _, err := ReadFeed(t.Context(), nil, u); err == nil || !failure.IsPermanent(err) || !strings.Contains(err.Error(), "not an http:// or https:// URL") {
				t.Errorf("%s: %v", u, err)
			}
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		s := &site{routes: map[string]http.HandlerFunc{"/feed.atom": serve(t, atomType, good)}}
		srv := httptest.NewServer(s)
		defer srv.Close()
		_, _, err := ReadFeed(ctx, srv.Client(), srv.URL+"/feed.atom")
		if !errors.Is(err, context.Canceled) || !failure.IsPermanent(err) {
			t.Errorf("error %v: want context.Canceled, permanent", err)
		}
	})
}

// Per-entry problems are classified like whole-feed ones.
func TestFeedErrorClasses(t *testing.T) {
	_, _, items, errs, err := read(t, FeedOptions{}, map[string]http.HandlerFunc{
		"/feed.atom": serve(t, atomType, atom(
			entry("urn:1", "", `<link type="application/cap+xml" href="/cap/busy.xml"/>`),
			entry("urn:2", "", `<link type="application/cap+xml" href="/cap/gone.xml"/>`),
			entry("urn:3", "", `<link type="application/cap+xml" href="/cap/bad.xml"/>`),
		)),
		"/cap/busy.xml": status(http.StatusTooManyRequests, "7"),
		"/cap/bad.xml":  serve(t, MediaType, strings.Replace(capDoc(t, "B"), "<status>Actual</status>", "<status>Reale</status>", 1)),
	}, "/feed.atom")
	if err != nil || len(items) != 0 || len(errs) != 3 {
		t.Fatalf("items %v, errors %v, err %v", ids(items), errs, err)
	}
	var fe *FetchError
	if !errors.As(errs[0], &fe) || fe.Status != 429 || !failure.IsRetryable(errs[0].Err) || failure.RetryAfter(errs[0].Err) != 7*time.Second {
		t.Errorf("429: %v (%+v)", errs[0], failure.Of(errs[0].Err))
	}
	if !errors.As(errs[1], &fe) || fe.Status != 404 || !failure.IsPermanent(errs[1].Err) {
		t.Errorf("404: %v", errs[1])
	}
	var ce *Error
	if !errors.As(errs[2], &ce) || !failure.IsPermanent(errs[2].Err) || ce.Problems[0].Rule != "enumeration" {
		t.Errorf("invalid CAP: %v", errs[2])
	}
	if !strings.HasSuffix(errs[2].URL, "/cap/bad.xml") || errs[2].Entry != "urn:3" {
		t.Errorf("entry and URL: %+v", errs[2])
	}
}

func TestReadFeedBounds(t *testing.T) {
	big := strings.Replace(capDoc(t, "BIG"), "<note>", "", 1)
	big = strings.Replace(big, "<description>", "<description>"+strings.Repeat("pioggia ", 1024), 1)
	t.Run("a linked document over MaxBytes", func(t *testing.T) {
		_, _, items, errs, err := read(t, FeedOptions{MaxBytes: 4 << 10}, map[string]http.HandlerFunc{
			"/feed.atom": serve(t, atomType, atom(
				entry("urn:1", "", `<link type="application/cap+xml" href="/cap/big.xml"/>`),
				entry("urn:2", "", `<link type="application/cap+xml" href="/cap/small.xml"/>`),
			)),
			"/cap/big.xml": func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", MediaType)
				w.Header().Set("Content-Length", fmt.Sprint(len(big)))
				if _, err := w.Write([]byte(big)); err != nil {
					t.Logf("the reader refused the large document before its end, as it may: %v", err)
				}
			},
			// No Content-Length: the bound holds while reading.
			"/cap/small.xml": func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", MediaType)
				w.(http.Flusher).Flush()
				if _, err := w.Write([]byte(capDoc(t, "SMALL"))); err != nil {
					t.Error(err)
				}
			},
		}, "/feed.atom")
		if err != nil || len(items) != 1 || items[0].Alert.Identifier != "SMALL" || len(errs) != 1 {
			t.Fatalf("items %v, errors %v, err %v", ids(items), errs, err)
		}
		if !errors.Is(errs[0], ErrTooLarge) || !failure.IsPermanent(errs[0].Err) || !strings.Contains(errs[0].Error(), "over 4096 bytes") {
			t.Errorf("oversize entry: %v", errs[0])
		}
	})
	t.Run("a streamed document over MaxBytes", func(t *testing.T) {
		_, _, _, errs, err := read(t, FeedOptions{MaxBytes: 4 << 10}, map[string]http.HandlerFunc{
			"/feed.atom": serve(t, atomType, atom(entry("urn:1", "", `<link type="application/cap+xml" href="/cap/big.xml"/>`))),
			"/cap/big.xml": func(w http.ResponseWriter, r *http.Request) {
				w.(http.Flusher).Flush() // chunked: no Content-Length to refuse early
				for range 100 {
					if _, err := w.Write([]byte(strings.Repeat("x", 1024))); err != nil {
						return // the reader stopped at its bound
					}
				}
			},
		}, "/feed.atom")
		if err != nil || len(errs) != 1 || !errors.Is(errs[0], ErrTooLarge) {
			t.Fatalf("errors %v, err %v", errs, err)
		}
	})
	t.Run("an inline alert over MaxBytes", func(t *testing.T) {
		_, _, _, errs, err := read(t, FeedOptions{MaxBytes: 4 << 10}, map[string]http.HandlerFunc{
			"/feed.atom": serve(t, atomType, atom(entry("urn:1", "", `<content type="application/cap+xml">`+big[strings.Index(big, "<alert"):]+`</content>`))),
		}, "/feed.atom")
		if err != nil || len(errs) != 1 || !errors.Is(errs[0], ErrTooLarge) {
			t.Fatalf("errors %v, err %v", errs, err)
		}
	})
	t.Run("a feed over MaxFeedBytes", func(t *testing.T) {
		_, _, _, _, err := read(t, FeedOptions{MaxFeedBytes: 1 << 10}, map[string]http.HandlerFunc{
			"/feed.atom": serve(t, atomType, atom(entry("urn:1", "", `<content type="application/cap+xml">`+inlineCAP(t, "I")+`</content>`))),
		}, "/feed.atom")
		if !errors.Is(err, ErrTooLarge) || !failure.IsPermanent(err) {
			t.Errorf("error %v: want ErrTooLarge, permanent", err)
		}
	})
	t.Run("a single document over MaxBytes", func(t *testing.T) {
		_, _, _, _, err := read(t, FeedOptions{MaxBytes: 4 << 10}, map[string]http.HandlerFunc{"/feed.atom": serve(t, MediaType, big)}, "/feed.atom")
		if !errors.Is(err, ErrTooLarge) || !failure.IsPermanent(err) {
			t.Errorf("error %v: want ErrTooLarge, permanent", err)
		}
	})
	t.Run("MaxEntries", func(t *testing.T) {
		var entries []string
		routes := map[string]http.HandlerFunc{}
		for i := range 5 {
			entries = append(entries, entry(fmt.Sprintf("urn:%d", i), "", fmt.Sprintf(`<link type="application/cap+xml" href="/cap/%d.xml"/>`, i)))
			routes[fmt.Sprintf("/cap/%d.xml", i)] = serve(t, MediaType, capDoc(t, fmt.Sprintf("E-%d", i)))
		}
		routes["/feed.atom"] = serve(t, atomType, atom(entries...))
		s, _, items, errs, err := read(t, FeedOptions{MaxEntries: 3}, routes, "/feed.atom")
		if err != nil || len(items) != 3 || len(errs) != 1 || errs[0].Entry != "" || !strings.Contains(errs[0].Error(), "2 entries after the first 3 were not read") {
			t.Fatalf("items %v, errors %v, err %v", ids(items), errs, err)
		}
		if s.count("/cap/4.xml") != 0 {
			t.Error("an entry past MaxEntries was fetched")
		}
	})
}

// Entries that link the same document (MeteoAlarm lists one entry per
// area of an alert) give one item, fetched once; at most Concurrency
// documents are fetched at a time.
func TestReadFeedFetchesOnceAndBounded(t *testing.T) {
	var (
		mu              sync.Mutex
		inFlight, worst int
	)
	routes := map[string]http.HandlerFunc{}
	var entries []string
	for i := range 8 {
		p := fmt.Sprintf("/cap/%d.xml", i)
		doc := capDoc(t, fmt.Sprintf("C-%d", i))
		routes[p] = func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			inFlight++
			worst = max(worst, inFlight)
			mu.Unlock()
			time.Sleep(10 * time.Millisecond) // let others pile up, if the bound let them
			mu.Lock()
			inFlight--
			mu.Unlock()
			serve(t, MediaType, doc)(w, r)
		}
		for _, area := range []string{"A", "B"} {
			entries = append(entries, entry(fmt.Sprintf("urn:%d:%s", i, area), "", `<link type="application/cap+xml" href="`+p+`"/>`))
		}
	}
	routes["/feed.atom"] = serve(t, atomType, atom(entries...))
	s, _, items, errs, err := read(t, FeedOptions{Concurrency: 2}, routes, "/feed.atom")
	if err != nil || len(errs) != 0 || len(items) != 8 {
		t.Fatalf("items %v, errors %v, err %v", ids(items), errs, err)
	}
	for i, it := range items {
		if want := fmt.Sprintf("urn:%d:A=C-%d", i, i); it.ID+"="+it.Alert.Identifier != want {
			t.Errorf("item %d is %s=%s, want %s", i, it.ID, it.Alert.Identifier, want)
		}
		if n := s.count(fmt.Sprintf("/cap/%d.xml", i)); n != 1 {
			t.Errorf("/cap/%d.xml fetched %d times", i, n)
		}
	}
	if worst > 2 {
		t.Errorf("%d documents fetched at once, want at most 2", worst)
	}
}

func TestMatches(t *testing.T) {
	a, err := Parse(strings.NewReader(capDoc(t, "M")))
	if err != nil {
		t.Fatal(err)
	}
	a.Info[0].Area = append(a.Info[0].Area,
		Area{AreaDesc: "EMR-B1", Geocode: []ValuePair{{ValueName: "ZONA_ALLERTA", Value: "EMR-B2"}, {ValueName: "istat_comune", Value: "37006"}}},
		Area{AreaDesc: "Bologna", Geocode: []ValuePair{{ValueName: "EMMA_ID", Value: "IT005"}, {ValueName: "CAP", Value: "040100"}}},
	)
	for _, tt := range []struct {
		name         string
		zones, istat []string
		want         []string
	}{
		{"the example's ISTAT geocode", nil, []string{"058091"}, []string{"058091"}},
		{"ISTAT without its leading zero", nil, []string{"58091"}, []string{"58091"}},
		{"ISTAT_COMUNE, lower case, zeros dropped by the producer", nil, []string{"037006"}, []string{"037006"}},
		{"a zone as areaDesc", []string{"emr-b1"}, nil, []string{"emr-b1"}},
		{"a zone as a geocode", []string{"EMR-B2"}, nil, []string{"EMR-B2"}},
		{"a MeteoAlarm region as a zone", []string{"IT005"}, nil, []string{"IT005"}},
		{"a CAP geocode is no ISTAT code", nil, []string{"040100"}, nil},
		{"zone ids are not ISTAT codes", []string{"058091"}, nil, []string{"058091"}},
		{"several, in the order found, once each", []string{"EMR-B2", "EMR-B1", "EMR-C1"}, []string{"037006", "058091", "058091"}, []string{"058091", "EMR-B1", "EMR-B2", "037006"}},
		{"nothing", []string{"EMR-C1", ""}, []string{"001001", ""}, nil},
	} {
		if got := Matches(a, tt.zones, tt.istat); !slices.Equal(got, tt.want) {
			t.Errorf("%s: Matches = %v, want %v", tt.name, got, tt.want)
		}
	}
	if got := Matches(nil, []string{"EMR-B1"}, nil); got != nil {
		t.Errorf("nil alert: %v", got)
	}
}

// FuzzParseFeed feeds parseFeed arbitrary documents: it must not panic,
// what it returns must be consistent, and every link it yields must be an
// absolute http(s) URL.
func FuzzParseFeed(f *testing.F) {
	f.Add([]byte(atom(entry("urn:1", "2026-10-12T14:30:00+02:00", `<link type="application/cap+xml" href="cap/1.xml"/>`))))
	f.Add([]byte(atom(entry("urn:2", "", `<content type="application/cap+xml">`+inlineCAP(f, "I")+`</content>`))))
	f.Add([]byte(atom(entry("urn:3", "", `<content type="text"><![CDATA[`+capDoc(f, "T")+`]]></content>`))))
	f.Add([]byte(rss(`<item><link>/c.xml</link><guid>g</guid><pubDate>Mon, 12 Oct 2026 14:30:00 +0200</pubDate><enclosure url="x" type="application/cap+xml"/></item>`)))
	f.Add(readExample(f))
	f.Add([]byte(`<feed xmlns="http://www.w3.org/2005/Atom" xml:base="ftp://x/"><entry><link href="a.xml"/></entry></feed>`))
	base, err := url.Parse("https://allerte.example.org/feeds/feed.atom")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 64<<10 {
			return // the bound is ReadFeed's, tested apart
		}
		doc, err := parseFeed(b, base, FeedOptions{MaxEntries: 50})
		if err != nil {
			if doc != nil {
				t.Fatal("a document and an error")
			}
			return
		}
		if doc.single != nil {
			if len(doc.entries) != 0 || doc.single.Validate() != nil {
				t.Fatalf("single alert with entries or invalid: %+v", doc)
			}
			return
		}
		if len(doc.entries) > 50 {
			t.Fatalf("%d entries past MaxEntries", len(doc.entries))
		}
		for _, e := range doc.entries {
			switch {
			case e.err != nil:
				if e.alert != nil {
					t.Fatal("an entry with an alert and an error")
				}
			case e.alert != nil:
				if e.alert.Validate() != nil {
					t.Fatal("an invalid inline alert returned as valid")
				}
			default:
				if _, err := httpURL(e.url); err != nil {
					t.Fatalf("link %q: %v", e.url, err)
				}
			}
		}
	})
}
