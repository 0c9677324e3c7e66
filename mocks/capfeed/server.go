// Package capfeedmock is a regional alert system as a comune subscribes to
// it: the bulletins it publishes, as CAP 1.2 documents, listed in an Atom
// 1.0 feed (newest first, each entry linking its CAP document with type
// application/cap+xml) and an RSS 2.0 feed. Tests and people publish
// bulletins on demand — a CAP document, checked by the mock's own reading
// of the standard, or a JSON description it writes the CAP from — and the
// mocks' fault knobs apply to the feeds.
package capfeedmock

import (
	"bytes"
	"cmp"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ponte-pa/ponte/internal/rome"
	"github.com/ponte-pa/ponte/mocks/fault"
)

// The sample region's identity.
const (
	DefaultSender     = "allertameteo@regione.esempio.it"
	DefaultSenderName = "Regione Esempio - Agenzia di protezione civile"
)

// MaxDocument bounds a published CAP document: a bulletin is a few
// kilobytes.
const MaxDocument = 1 << 20

// Options configure the alert system.
type Options struct {
	// Sender and SenderName of the bulletins written from JSON; ""
	// means DefaultSender, DefaultSenderName.
	Sender, SenderName string
	// Title of the feeds; "" means "Allerte - " + SenderName.
	Title string
	// Now is the system's clock (nil: time.Now); CAP times are written in
	// Europe/Rome.
	Now func() time.Time
}

// Bulletin is a published bulletin.
type Bulletin struct {
	Identifier string `json:"identifier"`
	Sender     string `json:"sender"`
	Sent       string `json:"sent"`
	Status     string `json:"status"`
	MsgType    string `json:"msgType"`
	Headline   string `json:"headline,omitempty"`
	// Zones and ISTAT are the geocode values of its areas: ISTAT those
	// named ISTAT, Zones the others.
	Zones     []string  `json:"zones,omitempty"`
	ISTAT     []string  `json:"istat,omitempty"`
	Published time.Time `json:"published"`
	// Document is the CAP document as served at /cap/{identifier}.xml.
	Document []byte `json:"-"`
}

// Server is the alert system; its zero value works.
type Server struct {
	opts   Options
	faults fault.Injector

	once    sync.Once
	handler http.Handler
	started time.Time

	mu        sync.Mutex
	bulletins []Bulletin
	byID      map[string]int
	seq       int
}

// New returns an alert system.
func New(o Options) *Server { return &Server{opts: o} }

// Faults is the system's fault kit (also at /__mock/faults); it applies to
// the feeds and the documents, not to /__mock/.
func (s *Server) Faults() *fault.Injector { return &s.faults }

func (s *Server) now() time.Time {
	if s.opts.Now != nil {
		return s.opts.Now()
	}
	return time.Now()
}

func (s *Server) init() {
	s.once.Do(func() {
		s.started = s.now()
		m := http.NewServeMux()
		m.HandleFunc("GET /feed.atom", s.atom)
		m.HandleFunc("GET /rss.xml", s.rss)
		m.HandleFunc("GET /cap/{file}", s.document)
		m.HandleFunc("POST /__mock/publish", s.publish)
		m.HandleFunc("GET /__mock/published", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, s.Published()) })
		m.HandleFunc("POST /__mock/reset", func(w http.ResponseWriter, _ *http.Request) { s.Reset(); w.WriteHeader(http.StatusNoContent) })
		s.handler = s.faults.Middleware(m, fault.HTTPOptions{})
	})
}

// ServeHTTP serves GET /feed.atom, /rss.xml, /cap/{identifier}.xml, and
// /__mock/publish, /__mock/published, /__mock/reset, /__mock/faults.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.init()
	s.handler.ServeHTTP(w, r)
}

// publishError is a refused publication and its HTTP status.
type publishError struct {
	status int
	msg    string
}

func (e *publishError) Error() string { return e.msg }

// Publish writes a CAP 1.2 alert from p, publishes it and returns its
// identifier.
func (s *Server) Publish(p Publication) (string, error) {
	s.init()
	if err := p.check(); err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sent := s.now().In(rome.Location).Truncate(time.Second)
	id := p.Identifier
	if id == "" {
		for id == "" || s.byID[id] != 0 {
			s.seq++
			id = fmt.Sprintf("IT-MOCK-%s-%04d", sent.Format("20060102"), s.seq)
		}
	}
	if s.byID[id] != 0 {
		return "", &publishError{http.StatusConflict, fmt.Sprintf("identifier: %s is already published (CAP §3.2.1: an identifier names one message of its sender)", id)}
	}
	refs, err := s.expandLocked(p.References)
	if err != nil {
		return "", err
	}
	p.References = refs
	sender, senderName := cmp.Or(s.opts.Sender, DefaultSender), cmp.Or(s.opts.SenderName, DefaultSenderName)
	a := p.alert(id, sender, senderName, sent)
	doc, err := marshal(a)
	if err != nil {
		return "", err
	}
	// The mock's writer is held to the mock's own reader.
	if _, err := checkCAP(doc); err != nil {
		return "", fmt.Errorf("capfeedmock: the alert written from the publication breaks CAP 1.2: %w", err)
	}
	s.addLocked(a, doc)
	return id, nil
}

// PublishCAP publishes a CAP 1.2 document as it is, after the mock's
// checks, and returns its identifier.
func (s *Server) PublishCAP(doc []byte) (string, error) {
	s.init()
	if len(doc) > MaxDocument {
		return "", &publishError{http.StatusRequestEntityTooLarge, fmt.Sprintf("the document is over %d bytes: not a bulletin", MaxDocument)}
	}
	a, err := checkCAP(doc)
	if err != nil {
		return "", &publishError{http.StatusBadRequest, "not a valid CAP 1.2 alert: " + err.Error()}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byID[a.Identifier] != 0 {
		return "", &publishError{http.StatusConflict, fmt.Sprintf("identifier: %s is already published (CAP §3.2.1: an identifier names one message of its sender)", a.Identifier)}
	}
	s.addLocked(a, bytes.Clone(doc))
	return a.Identifier, nil
}

// expandLocked turns identifiers of bulletins published here into
// "sender,identifier,sent" references.
func (s *Server) expandLocked(refs string) (string, error) {
	var out []string
	for _, r := range strings.Fields(refs) {
		if p := strings.Split(r, ","); len(p) == 3 {
			if !dateTimeRE.MatchString(p[2]) {
				return "", &publishError{http.StatusBadRequest, fmt.Sprintf("references: %q: the sent part is not a CAP dateTime", r)}
			}
			out = append(out, r)
			continue
		}
		i := s.byID[r]
		if i == 0 {
			return "", &publishError{http.StatusBadRequest, fmt.Sprintf("references: %q is neither sender,identifier,sent nor a bulletin published here", r)}
		}
		b := s.bulletins[i-1]
		out = append(out, b.Sender+","+b.Identifier+","+b.Sent)
	}
	return strings.Join(out, " "), nil
}

func (s *Server) addLocked(a *alertXML, doc []byte) {
	b := Bulletin{Identifier: a.Identifier, Sender: a.Sender, Sent: a.Sent, Status: a.Status, MsgType: a.MsgType, Published: s.now(), Document: doc}
	for _, in := range a.Info {
		b.Headline = cmp.Or(b.Headline, cmp.Or(in.Headline, in.Event))
		for _, ar := range in.Area {
			for _, g := range ar.Geocode {
				if strings.EqualFold(g.ValueName, GeocodeISTAT) || strings.EqualFold(g.ValueName, "ISTAT_COMUNE") {
					b.ISTAT = appendNew(b.ISTAT, g.Value)
				} else {
					b.Zones = appendNew(b.Zones, g.Value)
				}
			}
		}
	}
	if s.byID == nil {
		s.byID = map[string]int{}
	}
	s.bulletins = append(s.bulletins, b)
	s.byID[b.Identifier] = len(s.bulletins) // index+1: 0 is "none"
}

func appendNew(xs []string, x string) []string {
	if slices.Contains(xs, x) {
		return xs
	}
	return append(xs, x)
}

// Published returns the published bulletins, in the order published.
func (s *Server) Published() []Bulletin {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.bulletins)
}

// Reset forgets every bulletin, and the faults.
func (s *Server) Reset() {
	s.mu.Lock()
	s.bulletins, s.byID, s.seq = nil, nil, 0
	s.mu.Unlock()
	s.faults.Reset()
}

// newestFirst is what the feeds list.
func (s *Server) newestFirst() []Bulletin {
	bs := s.Published()
	slices.Reverse(bs)
	return bs
}

// base is the URL the client reached the mock at.
func base(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func docURL(base, id string) string { return base + "/cap/" + url.PathEscape(id) + ".xml" }

func (s *Server) title() string {
	return cmp.Or(s.opts.Title, "Allerte - "+cmp.Or(s.opts.SenderName, DefaultSenderName))
}

// atom serves the Atom 1.0 feed (RFC 4287): the feed's id, title,
// updated, author and self link (§4.1.1), and per bulletin an entry with
// id, title, updated (§4.1.2) and an alternate link to its CAP document,
// which an entry without content must have.
func (s *Server) atom(w http.ResponseWriter, r *http.Request) {
	type link struct {
		Href string `xml:"href,attr"`
		Rel  string `xml:"rel,attr,omitempty"`
		Type string `xml:"type,attr,omitempty"`
	}
	type entry struct {
		ID        string `xml:"id"`
		Title     string `xml:"title"`
		Updated   string `xml:"updated"`
		Published string `xml:"published"`
		Summary   string `xml:"summary,omitempty"`
		Link      link   `xml:"link"`
	}
	type feed struct {
		XMLName xml.Name `xml:"http://www.w3.org/2005/Atom feed"`
		ID      string   `xml:"id"`
		Title   string   `xml:"title"`
		Updated string   `xml:"updated"`
		Author  struct {
			Name string `xml:"name"`
		} `xml:"author"`
		Links   []link  `xml:"link"`
		Entries []entry `xml:"entry"`
	}
	b := base(r)
	f := feed{ID: b + "/feed.atom", Title: s.title(), Updated: s.started.Format(time.RFC3339),
		Links: []link{{Href: b + "/feed.atom", Rel: "self", Type: "application/atom+xml"}, {Href: b + "/rss.xml", Rel: "alternate", Type: "application/rss+xml"}}}
	f.Author.Name = cmp.Or(s.opts.SenderName, DefaultSenderName)
	for i, bl := range s.newestFirst() {
		at := bl.Published.Format(time.RFC3339)
		if i == 0 {
			f.Updated = at
		}
		u := docURL(b, bl.Identifier)
		f.Entries = append(f.Entries, entry{ID: u, Title: cmp.Or(bl.Headline, bl.Identifier), Updated: at, Published: at,
			Summary: bl.MsgType + " " + bl.Identifier, Link: link{Href: u, Rel: "alternate", Type: MediaType}})
	}
	writeXML(w, "application/atom+xml; charset=utf-8", f)
}

// rss serves the RSS 2.0 feed: per bulletin an item whose link, guid and
// enclosure are its CAP document.
func (s *Server) rss(w http.ResponseWriter, r *http.Request) {
	type guid struct {
		Value       string `xml:",chardata"`
		IsPermaLink string `xml:"isPermaLink,attr"`
	}
	type enclosure struct {
		URL    string `xml:"url,attr"`
		Length int    `xml:"length,attr"`
		Type   string `xml:"type,attr"`
	}
	type item struct {
		Title       string    `xml:"title"`
		Link        string    `xml:"link"`
		Description string    `xml:"description"`
		GUID        guid      `xml:"guid"`
		PubDate     string    `xml:"pubDate"`
		Enclosure   enclosure `xml:"enclosure"`
	}
	type doc struct {
		XMLName xml.Name `xml:"rss"`
		Version string   `xml:"version,attr"`
		Channel struct {
			Title         string `xml:"title"`
			Link          string `xml:"link"`
			Description   string `xml:"description"`
			LastBuildDate string `xml:"lastBuildDate"`
			Items         []item `xml:"item"`
		} `xml:"channel"`
	}
	b := base(r)
	d := doc{Version: "2.0"}
	d.Channel.Title, d.Channel.Link = s.title(), b+"/feed.atom"
	d.Channel.Description = "Bollettini di allerta in formato CAP 1.2"
	d.Channel.LastBuildDate = s.started.Format(time.RFC1123Z)
	for i, bl := range s.newestFirst() {
		if i == 0 {
			d.Channel.LastBuildDate = bl.Published.Format(time.RFC1123Z)
		}
		u := docURL(b, bl.Identifier)
		d.Channel.Items = append(d.Channel.Items, item{Title: cmp.Or(bl.Headline, bl.Identifier), Link: u, Description: bl.MsgType + " " + bl.Identifier,
			GUID: guid{u, "true"}, PubDate: bl.Published.Format(time.RFC1123Z), Enclosure: enclosure{u, len(bl.Document), MediaType}})
	}
	writeXML(w, "application/rss+xml; charset=utf-8", d)
}

// document serves /cap/{identifier}.xml.
func (s *Server) document(w http.ResponseWriter, r *http.Request) {
	id, ok := strings.CutSuffix(r.PathValue("file"), ".xml")
	s.mu.Lock()
	i := s.byID[id]
	var doc []byte
	if ok && i != 0 {
		doc = s.bulletins[i-1].Document
	}
	s.mu.Unlock()
	if doc == nil {
		http.Error(w, "no bulletin "+r.PathValue("file"), http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", MediaType+"; charset=utf-8")
	_, _ = w.Write(doc) // the client went away: nothing to tell it
}

// publish takes a CAP document (application/cap+xml, application/xml,
// text/xml) or a JSON Publication (application/json), told by the
// Content-Type or, without one, by the first character.
func (s *Server) publish(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxDocument))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": fmt.Sprintf("the body is over %d bytes: not a bulletin", MaxDocument)})
			return
		}
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unreadable body: " + err.Error()})
		return
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		mt = ""
	}
	first := byte(0)
	if t := bytes.TrimSpace(body); len(t) > 0 {
		first = t[0]
	}
	var id string
	switch {
	case mt == "application/json" || (mt == "" && first == '{'):
		var p Publication
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "publication: " + err.Error()})
			return
		}
		id, err = s.Publish(p)
	case mt == MediaType || mt == "application/xml" || mt == "text/xml" || (mt == "" && first == '<'):
		id, err = s.PublishCAP(body)
	default:
		writeJSON(w, http.StatusUnsupportedMediaType, map[string]string{"error": "send a CAP 1.2 document (Content-Type: application/cap+xml) or a JSON publication (Content-Type: application/json)"})
		return
	}
	if err != nil {
		status := http.StatusInternalServerError
		var pe *publishError
		if errors.As(err, &pe) {
			status = pe.status
		}
		writeJSON(w, status, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"identifier": id, "url": docURL(base(r), id)})
}

func writeXML(w http.ResponseWriter, contentType string, v any) {
	b, err := xml.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentType)
	_, _ = w.Write(append([]byte(xml.Header), b...)) // the client went away: nothing to tell it
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client went away: nothing to tell it
}
