// Package gatewaytest is a scripted browser for the gateway's pages: it
// follows redirects with a cookie jar, reads and submits HTML forms and walks
// a SPID or CIE login from a tenant's landing page through the IdP back to
// the comune's application. Tests use it, and so does `ponte demo` to log a
// test citizen in through the real handlers; it is no part of the gateway.
package gatewaytest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/net/html"

	"github.com/ponte-pa/ponte/internal/gateway"
)

// Browser drives web pages the way a person with a browser does, minus
// JavaScript: a cookie jar, redirects followed, forms read from the HTML and
// submitted — including the IdP's self-submitting POST back to the ACS. The
// demo and the tests walk SPID logins through the real handlers with it.
type Browser struct {
	Client *http.Client

	mu      sync.Mutex
	history []string
}

// NewBrowser returns a Browser with an empty cookie jar.
func NewBrowser() *Browser {
	jar, _ := cookiejar.New(nil) // never fails without options
	b := &Browser{}
	b.Client = &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		b.visit(req.Method, req.URL)
		return nil
	}}
	return b
}

func (b *Browser) visit(method string, u *url.URL) {
	b.mu.Lock()
	b.history = append(b.history, method+" "+u.String())
	b.mu.Unlock()
}

// History lists every request made, redirects included, as "METHOD URL".
func (b *Browser) History() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.history...)
}

// Page is a loaded HTML page.
type Page struct {
	URL    *url.URL
	Status int
	Body   string
	doc    *html.Node
}

// Get loads u.
func (b *Browser) Get(ctx context.Context, u string) (*Page, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	return b.do(req)
}

func (b *Browser) do(req *http.Request) (*Page, error) {
	b.visit(req.Method, req.URL)
	resp, err := b.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	doc, err := html.Parse(strings.NewReader(string(body)))
	if err != nil {
		return nil, err
	}
	return &Page{URL: resp.Request.URL, Status: resp.StatusCode, Body: string(body), doc: doc}, nil
}

func attrOf(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasAttr(n *html.Node, key string) bool {
	for _, a := range n.Attr {
		if a.Key == key {
			return true
		}
	}
	return false
}

func find(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && match(n) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

func textOf(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

// Text is the text of the element with the given id ("" when absent).
func (p *Page) Text(id string) string {
	if n := find(p.doc, func(n *html.Node) bool { return attrOf(n, "id") == id }); len(n) > 0 {
		return textOf(n[0])
	}
	return ""
}

// Link is a link of a page.
type Link struct {
	Text string
	URL  string // absolute
}

// Links returns the links (a elements) with the given class ("" for all).
func (p *Page) Links(class string) []Link {
	var out []Link
	for _, n := range find(p.doc, func(n *html.Node) bool {
		return n.Data == "a" && (class == "" || strings.Contains(" "+attrOf(n, "class")+" ", " "+class+" "))
	}) {
		u, err := p.URL.Parse(attrOf(n, "href"))
		if err == nil {
			out = append(out, Link{Text: textOf(n), URL: u.String()})
		}
	}
	return out
}

// Form is a form of a page, with its fields' current values.
type Form struct {
	Action string // absolute
	Method string
	Values url.Values
}

// Forms returns the page's forms. A select takes its first (or selected)
// option, a radio button or checkbox counts only when checked, a textarea
// gives its text; submit buttons are left out: set the one to press in
// Values.
func (p *Page) Forms() []*Form {
	var out []*Form
	for _, f := range find(p.doc, func(n *html.Node) bool { return n.Data == "form" }) {
		action, err := p.URL.Parse(attrOf(f, "action"))
		if err != nil {
			continue
		}
		fm := &Form{Action: action.String(), Method: strings.ToUpper(attrOf(f, "method")), Values: url.Values{}}
		if fm.Method == "" {
			fm.Method = http.MethodGet
		}
		for _, in := range find(f, func(n *html.Node) bool { return n.Data == "input" || n.Data == "select" || n.Data == "textarea" }) {
			name := attrOf(in, "name")
			if name == "" {
				continue
			}
			if in.Data == "textarea" {
				var b strings.Builder
				for c := in.FirstChild; c != nil; c = c.NextSibling {
					if c.Type == html.TextNode {
						b.WriteString(c.Data)
					}
				}
				fm.Values.Add(name, strings.TrimPrefix(b.String(), "\n"))
				continue
			}
			if in.Data == "select" {
				opts := find(in, func(n *html.Node) bool { return n.Data == "option" })
				for i, o := range opts {
					sel := false
					for _, a := range o.Attr {
						sel = sel || a.Key == "selected"
					}
					if i == 0 || sel {
						v := attrOf(o, "value")
						if v == "" {
							v = textOf(o)
						}
						fm.Values.Set(name, v)
					}
				}
				continue
			}
			switch strings.ToLower(attrOf(in, "type")) {
			case "submit", "button", "image", "reset":
				continue
			case "radio", "checkbox":
				if !hasAttr(in, "checked") {
					continue
				}
				if attrOf(in, "value") == "" {
					fm.Values.Add(name, "on")
					continue
				}
			}
			fm.Values.Add(name, attrOf(in, "value"))
		}
		out = append(out, fm)
	}
	return out
}

// Submit sends a form.
func (b *Browser) Submit(ctx context.Context, f *Form) (*Page, error) {
	if f.Method != http.MethodPost {
		u, err := url.Parse(f.Action)
		if err != nil {
			return nil, err
		}
		u.RawQuery = f.Values.Encode()
		return b.Get(ctx, u.String())
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.Action, strings.NewReader(f.Values.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// LoginError is a login that ended on an error page instead of the
// application.
type LoginError struct {
	Status int
	URL    string
	Text   string // the page's text, Italian and English
}

func (e *LoginError) Error() string {
	return fmt.Sprintf("SPID login failed: HTTP %d at %s: %.300s", e.Status, e.URL, e.Text)
}

// LoginWithSPID opens a tenant's landing page, presses "Entra con SPID" and
// picks the IdP named idpName ("" for the first), logs in on the IdP's form
// as user/password, follows the signed response back to the ACS and returns
// the citizen the comune's application shows. An error page anywhere gives a
// *LoginError.
func (b *Browser) LoginWithSPID(ctx context.Context, landingURL, idpName, user, password string) (*gateway.Citizen, *Page, error) {
	p, err := b.Get(ctx, landingURL)
	if err != nil {
		return nil, nil, err
	}
	if p.Status != http.StatusOK || !strings.Contains(p.Body, "Entra con SPID") {
		return nil, p, &LoginError{Status: p.Status, URL: p.URL.String(), Text: textOf(p.doc)}
	}
	var idp *Link
	for _, l := range p.Links("spid-idp") {
		if idpName == "" || l.Text == idpName {
			idp = &l
			break
		}
	}
	if idp == nil {
		return nil, p, fmt.Errorf("SPID login: no identity provider %q on %s", idpName, landingURL)
	}
	return b.loginAt(ctx, idp.URL, user, password)
}

// LoginWithCIE is LoginWithSPID through the landing page's "Entra con CIE"
// button.
func (b *Browser) LoginWithCIE(ctx context.Context, landingURL, user, password string) (*gateway.Citizen, *Page, error) {
	p, err := b.Get(ctx, landingURL)
	if err != nil {
		return nil, nil, err
	}
	links := p.Links("cie-idp")
	if p.Status != http.StatusOK || len(links) == 0 {
		return nil, p, &LoginError{Status: p.Status, URL: p.URL.String(), Text: "no \"Entra con CIE\" button: " + textOf(p.doc)}
	}
	return b.loginAt(ctx, links[0].URL, user, password)
}

// FollowLogin follows a login link of a landing page (its "next" says
// where the SP sends the browser afterwards) through the IdP's form as
// user/password and the signed response posted to the ACS, and returns
// the page the SP sent the browser to. An error page on the way gives a
// *LoginError.
func (b *Browser) FollowLogin(ctx context.Context, loginURL, user, password string) (*Page, error) {
	p, err := b.Get(ctx, loginURL)
	if err != nil {
		return nil, err
	}
	// At the IdP: its login form, unless it answers straight away.
	for step := 0; step < 3; step++ {
		if p.Status != http.StatusOK {
			return p, &LoginError{Status: p.Status, URL: p.URL.String(), Text: textOf(p.doc)}
		}
		forms := p.Forms()
		if len(forms) == 0 {
			break
		}
		f := forms[0]
		switch {
		case f.Values.Has("SAMLResponse"): // the self-submitting POST to the ACS
		case f.Values.Has("user"):
			f.Values.Set("user", user)
			f.Values.Set("password", password)
			f.Values.Set("action", "login")
		default:
			return p, nil // past the IdP: a form of the page the SP sent the browser to
		}
		if p, err = b.Submit(ctx, f); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// loginAt follows a login link of the landing page through the IdP's form
// back to the comune's application page.
func (b *Browser) loginAt(ctx context.Context, loginURL, user, password string) (*gateway.Citizen, *Page, error) {
	p, err := b.FollowLogin(ctx, loginURL, user, password)
	if err != nil {
		return nil, p, err
	}
	if p.Status != http.StatusOK || p.Text("fiscalNumber") == "" {
		return nil, p, &LoginError{Status: p.Status, URL: p.URL.String(), Text: textOf(p.doc)}
	}
	lvl, err := strconv.Atoi(p.Text("spidLevel"))
	if err != nil {
		return nil, p, fmt.Errorf("SPID login: the application page at %s shows no SPID level: %w", p.URL, err)
	}
	ct := &gateway.Citizen{FiscalNumber: p.Text("fiscalNumber"), Name: p.Text("name"), FamilyName: p.Text("familyName"),
		Level: lvl, IdPName: p.Text("idp")}
	for _, n := range find(p.doc, func(n *html.Node) bool { return attrOf(n, "id") == "idp" }) {
		ct.IdP = attrOf(n, "data-entity-id")
	}
	return ct, p, nil
}
