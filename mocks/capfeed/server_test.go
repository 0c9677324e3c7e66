package capfeedmock

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ponte-pa/ponte/mocks/fault"
)

// A hand-written bulletin, as a regional system's operator would send it:
// written from CAP 1.2's text, apart from the mock's writer.
const handWritten = `<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>EMR-2026-1012-007</identifier>
  <sender>allertameteo@regione.emilia-romagna.example</sender>
  <sent>2026-10-12T13:00:00+02:00</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
  <info>
    <language>it-IT</language>
    <category>Met</category>
    <event>Allerta gialla per temporali</event>
    <urgency>Future</urgency>
    <severity>Moderate</severity>
    <certainty>Likely</certainty>
    <expires>2026-10-13T23:59:00+02:00</expires>
    <parameter><valueName>awareness_level</valueName><value>2; yellow; Moderate</value></parameter>
    <area>
      <areaDesc>Zona di allerta EMR-B1</areaDesc>
      <polygon>44.4,11.2 44.4,11.5 44.6,11.5 44.6,11.2 44.4,11.2</polygon>
      <geocode><valueName>ZONA_ALLERTA</valueName><value>EMR-B1</value></geocode>
      <geocode><valueName>ISTAT</valueName><value>037006</value></geocode>
    </area>
  </info>
</alert>
`

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newServer(t *testing.T) (*Server, *httptest.Server, *clock) {
	t.Helper()
	c := &clock{now: time.Date(2026, 10, 12, 12, 30, 0, 0, time.UTC)}
	s := New(Options{Now: c.Now})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv, c
}

func do(t *testing.T, method, url, contentType, body string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

func TestPublishJSON(t *testing.T) {
	s, srv, _ := newServer(t)
	code, _, b := do(t, "POST", srv.URL+"/__mock/publish", "application/json",
		`{"zones":["EMR-B1","EMR-B2"],"istat":["037006"],"colour":"arancione","risk":"idraulico","phase":"preallarme",
		  "headline":{"it":"Piena del Reno","en":"The Reno is rising"},"instruction":{"it":"Non sostare sugli argini"},"expiresInHours":36}`)
	if code != http.StatusCreated {
		t.Fatalf("publish: %d %s", code, b)
	}
	var out struct{ Identifier, URL string }
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out.Identifier != "IT-MOCK-20261012-0001" || out.URL != srv.URL+"/cap/IT-MOCK-20261012-0001.xml" {
		t.Errorf("answer %+v", out)
	}
	code, h, doc := do(t, "GET", out.URL, "", "")
	if code != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), MediaType) {
		t.Fatalf("GET the document: %d %s", code, h.Get("Content-Type"))
	}
	a, err := checkCAP(doc)
	if err != nil {
		t.Fatalf("the written alert breaks the mock's own checks: %v\n%s", err, doc)
	}
	if a.Sent != "2026-10-12T14:30:00+02:00" || a.MsgType != "Alert" || a.Status != "Actual" || len(a.Info) != 2 {
		t.Fatalf("alert %+v", a)
	}
	it, en := a.Info[0], a.Info[1]
	if it.Language != "it-IT" || en.Language != "en-US" {
		t.Errorf("languages %s, %s", it.Language, en.Language)
	}
	if it.Severity != "Severe" || it.Urgency != "Expected" || it.Category[0] != "Met" || it.Expires != "2026-10-14T02:30:00+02:00" {
		t.Errorf("it-IT info %+v", it)
	}
	if it.Headline != "Piena del Reno" || en.Headline != "The Reno is rising" || it.Instruction != "Non sostare sugli argini" || en.Instruction != "" {
		t.Errorf("texts: %q %q %q %q", it.Headline, en.Headline, it.Instruction, en.Instruction)
	}
	if it.Event != "Allerta arancione per rischio idraulico" || en.Event != "Orange alert for river flooding" {
		t.Errorf("events %q, %q", it.Event, en.Event)
	}
	wantParams := []pairXML{{"awareness_level", "3; orange; Severe"}, {"awareness_type", "12; flooding"}, {"risk", "idraulico"}, {"phase", "preallarme"}}
	if !slices.Equal(it.Parameter, wantParams) || !slices.Equal(en.Parameter, wantParams) {
		t.Errorf("parameters %v", it.Parameter)
	}
	var geocodes []string
	for _, ar := range en.Area {
		for _, g := range ar.Geocode {
			geocodes = append(geocodes, ar.AreaDesc+": "+g.ValueName+"="+g.Value)
		}
	}
	if want := []string{"Alert zone EMR-B1: ZONA_ALLERTA=EMR-B1", "Alert zone EMR-B2: ZONA_ALLERTA=EMR-B2", "Comune (ISTAT 037006): ISTAT=037006"}; !slices.Equal(geocodes, want) {
		t.Errorf("areas %v, want %v", geocodes, want)
	}
	p := s.Published()
	if len(p) != 1 || !slices.Equal(p[0].Zones, []string{"EMR-B1", "EMR-B2"}) || !slices.Equal(p[0].ISTAT, []string{"037006"}) || p[0].Headline != "Piena del Reno" {
		t.Errorf("published %+v", p)
	}

	// An update that names the bulletin by identifier gets the full
	// reference; a cancel needs no colour.
	id, err := s.Publish(Publication{MsgType: "Update", References: out.Identifier, Zones: []string{"EMR-B1"}, Colour: "rosso", Risk: "idraulico", Phase: "allarme"})
	if err != nil {
		t.Fatal(err)
	}
	cancel, err := s.Publish(Publication{MsgType: "Cancel", References: id, Zones: []string{"EMR-B1"}})
	if err != nil {
		t.Fatal(err)
	}
	p = s.Published()
	upd, err := checkCAP(p[1].Document)
	if err != nil {
		t.Fatal(err)
	}
	if want := DefaultSender + "," + out.Identifier + ",2026-10-12T14:30:00+02:00"; upd.References != want || upd.Info[0].Urgency != "Immediate" || upd.Info[0].Severity != "Extreme" {
		t.Errorf("update: references %q, want %q; %+v", upd.References, want, upd.Info[0])
	}
	can, err := checkCAP(p[2].Document)
	if err != nil {
		t.Fatal(err)
	}
	if can.Identifier != cancel || can.MsgType != "Cancel" || can.Info[0].Severity != "Unknown" || can.Info[0].Event != "Revoca dell'allerta" || len(can.Info[0].Parameter) != 0 {
		t.Errorf("cancel %+v", can)
	}
}

func TestPublishRefused(t *testing.T) {
	s, srv, _ := newServer(t)
	if code, _, b := do(t, "POST", srv.URL+"/__mock/publish", MediaType, handWritten); code != http.StatusCreated {
		t.Fatalf("the hand-written bulletin: %d %s", code, b)
	}
	swap := func(old, new string) string {
		if !strings.Contains(handWritten, old) {
			t.Fatalf("%q is not in the bulletin", old)
		}
		return strings.Replace(strings.Replace(handWritten, "EMR-2026-1012-007", "EMR-2026-1012-008", 1), old, new, 1)
	}
	for _, tt := range []struct {
		name, contentType, body string
		want                    int
		says                    string
	}{
		{"the same identifier again", MediaType, handWritten, 409, "already published"},
		{"no sent", MediaType, swap("<sent>2026-10-12T13:00:00+02:00</sent>", ""), 400, "sent: required"},
		{"sent in Z", MediaType, swap("2026-10-12T13:00:00+02:00", "2026-10-12T11:00:00Z"), 400, "not a CAP dateTime"},
		{"a status not in the list", MediaType, swap("<status>Actual</status>", "<status>Reale</status>"), 400, `status: "Reale" is not one of`},
		{"scope before msgType", MediaType, swap("<msgType>Alert</msgType>\n  <scope>Public</scope>", "<scope>Public</scope>\n  <msgType>Alert</msgType>"), 400, "<scope> comes after <msgType>"},
		{"two events", MediaType, swap("<event>Allerta gialla per temporali</event>", "<event>a</event><event>b</event>"), 400, "<event> appears twice"},
		{"an unknown element", MediaType, swap("<certainty>Likely</certainty>", "<certainty>Likely</certainty><colour>giallo</colour>"), 400, "<info> has no element <colour>"},
		{"an update without references", MediaType, swap("<msgType>Alert</msgType>", "<msgType>Update</msgType>"), 400, "references: required"},
		{"an open polygon", MediaType, swap("44.6,11.2 44.4,11.2</polygon>", "44.6,11.2</polygon>"), 400, "polygon[0]"},
		{"no areaDesc", MediaType, swap("<areaDesc>Zona di allerta EMR-B1</areaDesc>", ""), 400, "areaDesc: required"},
		{"a DTD", MediaType, strings.Replace(handWritten, "<alert ", `<!DOCTYPE alert [<!ENTITY x "y">]><alert `, 1), 400, "DTD"},
		{"CAP 1.1", "application/xml", swap("cap:1.2", "cap:1.1"), 400, `namespace "urn:oasis:names:tc:emergency:cap:1.1"`},
		{"not XML", "text/xml", "<alert", 400, "not well-formed"},
		{"too large", MediaType, swap("<event>", "<event>"+strings.Repeat("x", MaxDocument)), 413, "over 1048576 bytes"},
		{"another media type", "text/plain", "allerta", 415, "application/cap+xml"},
		{"JSON: an unknown field", "application/json", `{"zones":["A"],"colour":"giallo","risk":"vento","color":"yellow"}`, 400, `unknown field "color"`},
		{"JSON: a colour not in the list", "", `{"zones":["A"],"colour":"viola","risk":"vento"}`, 400, "colour: \"viola\": use arancione, giallo, rosso, verde"},
		{"JSON: no area", "", `{"colour":"giallo","risk":"vento"}`, 400, "at least one alert zone or comune"},
		{"JSON: a bad ISTAT code", "", `{"istat":["37006"],"colour":"giallo","risk":"vento"}`, 400, "six digits"},
		{"JSON: a cancel without references", "", `{"msgType":"Cancel","zones":["A"]}`, 400, "references: an Cancel"},
		{"JSON: a reference to nothing", "", `{"msgType":"Cancel","zones":["A"],"references":"IT-NONE"}`, 400, `"IT-NONE" is neither`},
		{"JSON: a headline in German", "", `{"zones":["A"],"colour":"giallo","risk":"vento","headline":{"de":"Sturm"}}`, 400, `language "de"`},
		{"JSON: an identifier with a space", "", `{"identifier":"A B","zones":["A"],"colour":"giallo","risk":"vento"}`, 400, "identifier"},
	} {
		code, _, b := do(t, "POST", srv.URL+"/__mock/publish", tt.contentType, tt.body)
		var answer struct{ Error string }
		if err := json.Unmarshal(b, &answer); err != nil {
			t.Fatalf("%s: %v: %s", tt.name, err, b)
		}
		if code != tt.want || !strings.Contains(answer.Error, tt.says) {
			t.Errorf("%s: %d %q, want %d saying %q", tt.name, code, answer.Error, tt.want, tt.says)
		}
	}
	if p := s.Published(); len(p) != 1 {
		t.Errorf("%d published, want only the hand-written one", len(p))
	}
	// Published as sent, byte for byte.
	if code, _, b := do(t, "GET", srv.URL+"/cap/EMR-2026-1012-007.xml", "", ""); code != 200 || string(b) != handWritten {
		t.Errorf("GET the hand-written bulletin: %d\n%s", code, b)
	}
}

func TestFeeds(t *testing.T) {
	s, srv, c := newServer(t)
	// An empty feed is a feed.
	code, h, b := do(t, "GET", srv.URL+"/feed.atom", "", "")
	if code != 200 || h.Get("Content-Type") != "application/atom+xml; charset=utf-8" || !strings.Contains(string(b), `<feed xmlns="http://www.w3.org/2005/Atom">`) {
		t.Fatalf("empty Atom feed: %d %s\n%s", code, h.Get("Content-Type"), b)
	}
	first, err := s.Publish(Publication{Zones: []string{"EMR-B1"}, Colour: "giallo", Risk: "temporali"})
	if err != nil {
		t.Fatal(err)
	}
	c.add(time.Hour)
	if _, err := s.PublishCAP([]byte(handWritten)); err != nil {
		t.Fatal(err)
	}

	var atom struct {
		XMLName xml.Name `xml:"http://www.w3.org/2005/Atom feed"`
		ID      string   `xml:"id"`
		Title   string   `xml:"title"`
		Updated string   `xml:"updated"`
		Author  string   `xml:"author>name"`
		Links   []struct {
			Href string `xml:"href,attr"`
			Rel  string `xml:"rel,attr"`
		} `xml:"link"`
		Entries []struct {
			ID      string `xml:"id"`
			Title   string `xml:"title"`
			Updated string `xml:"updated"`
			Link    struct {
				Href string `xml:"href,attr"`
				Rel  string `xml:"rel,attr"`
				Type string `xml:"type,attr"`
			} `xml:"link"`
		} `xml:"entry"`
	}
	_, _, b = do(t, "GET", srv.URL+"/feed.atom", "", "")
	if err := xml.Unmarshal(b, &atom); err != nil {
		t.Fatal(err)
	}
	// RFC 4287 §4.1.1: id, title, updated, author; a self link.
	if atom.ID == "" || atom.Title == "" || atom.Author != DefaultSenderName || atom.Updated != "2026-10-12T13:30:00Z" || atom.Links[0].Rel != "self" || atom.Links[0].Href != srv.URL+"/feed.atom" {
		t.Errorf("feed %+v", atom)
	}
	if len(atom.Entries) != 2 {
		t.Fatalf("%d entries", len(atom.Entries))
	}
	newest, older := atom.Entries[0], atom.Entries[1]
	if newest.Link.Href != srv.URL+"/cap/EMR-2026-1012-007.xml" || newest.Link.Type != MediaType || newest.Link.Rel != "alternate" || newest.ID != newest.Link.Href || newest.Updated != "2026-10-12T13:30:00Z" {
		t.Errorf("newest entry %+v", newest)
	}
	if older.Link.Href != srv.URL+"/cap/"+first+".xml" || older.Title != "Allerta gialla per temporali" || older.Updated != "2026-10-12T12:30:00Z" {
		t.Errorf("older entry %+v", older)
	}

	var rss struct {
		Version string `xml:"version,attr"`
		Items   []struct {
			Link      string `xml:"link"`
			PubDate   string `xml:"pubDate"`
			GUID      string `xml:"guid"`
			Enclosure struct {
				URL    string `xml:"url,attr"`
				Type   string `xml:"type,attr"`
				Length int    `xml:"length,attr"`
			} `xml:"enclosure"`
		} `xml:"channel>item"`
	}
	code, h, b = do(t, "GET", srv.URL+"/rss.xml", "", "")
	if code != 200 || h.Get("Content-Type") != "application/rss+xml; charset=utf-8" {
		t.Fatalf("RSS: %d %s", code, h.Get("Content-Type"))
	}
	if err := xml.Unmarshal(b, &rss); err != nil {
		t.Fatal(err)
	}
	if rss.Version != "2.0" || len(rss.Items) != 2 {
		t.Fatalf("rss %+v", rss)
	}
	it := rss.Items[0]
	if it.Link != srv.URL+"/cap/EMR-2026-1012-007.xml" || it.GUID != it.Link || it.Enclosure.URL != it.Link || it.Enclosure.Type != MediaType ||
		it.Enclosure.Length != len(handWritten) || it.PubDate != "Mon, 12 Oct 2026 13:30:00 +0000" {
		t.Errorf("newest item %+v", it)
	}

	for _, p := range []string{"/cap/NONE.xml", "/cap/EMR-2026-1012-007", "/cap/"} {
		if code, _, _ := do(t, "GET", srv.URL+p, "", ""); code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, code)
		}
	}

	// Faults apply to the feeds, not to the mock's own API.
	s.Faults().FailNextWith(2, fault.Failure{Status: 503, RetryAfter: 30})
	if code, h, _ := do(t, "GET", srv.URL+"/feed.atom", "", ""); code != 503 || h.Get("Retry-After") != "30" {
		t.Errorf("injected fault: %d Retry-After %q", code, h.Get("Retry-After"))
	}
	if code, _, _ := do(t, "GET", srv.URL+"/__mock/published", "", ""); code != 200 {
		t.Errorf("/__mock/published under a fault: %d", code)
	}
	if code, _, _ := do(t, "GET", srv.URL+"/cap/"+first+".xml", "", ""); code != 503 {
		t.Errorf("second injected fault: %d", code)
	}
	var listed []Bulletin
	_, _, b = do(t, "GET", srv.URL+"/__mock/published", "", "")
	if err := json.Unmarshal(b, &listed); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 2 || listed[0].Identifier != first || listed[1].Identifier != "EMR-2026-1012-007" || !slices.Equal(listed[1].Zones, []string{"EMR-B1"}) {
		t.Errorf("/__mock/published %+v", listed)
	}
	if code, _, _ := do(t, "POST", srv.URL+"/__mock/reset", "", ""); code != http.StatusNoContent || len(s.Published()) != 0 {
		t.Errorf("reset: %d, %d left", code, len(s.Published()))
	}
}
