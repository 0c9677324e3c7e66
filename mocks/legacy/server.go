// Package legacymock is a fake "tributi" back office: the debtor data of a comune's
// legacy system served over REST (paged in each style the legacy connector supports)
// and SOAP (getDebitori, aggiornaStato), with status write-back, auth checks, fault
// knobs and an inspection API, for tests, the demo and people testing their connectors.
//
// REST:
//
//	GET  /api/{page|offset|cursor|link|all}/debitori   debtors, paged by style
//	PUT  /api/debitori/{id}/stato                       write a status (POST also accepted)
//
// SOAP: POST /soap with getDebitori (pagina, dimensionePagina) or aggiornaStato.
//
// Inspection: GET /__mock/updates, GET /__mock/stats, POST /__mock/reset; the
// fault knobs of every mock at /__mock/faults (Faults in Go).
package legacymock

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/ponte-pa/ponte/mocks/fault"
)

// Auth kinds the mock can require.
const (
	AuthNone   = ""
	AuthAPIKey = "apikey"
	AuthBasic  = "basic"
	AuthBearer = "bearer"
)

// Options configure a Server; the zero value serves no debtors without auth.
type Options struct {
	Debtors []Debtor
	// Auth is the credential every API request must carry: AuthNone, AuthAPIKey
	// (header APIKeyHeader, default X-API-Key, equal to Secret), AuthBasic (Username and
	// Secret) or AuthBearer (token Secret).
	Auth         string
	APIKeyHeader string
	Username     string
	Secret       string
	MaxPageSize  int // default 500
	Logger       *slog.Logger
}

// Stats counts the requests that reached the back office, by operation
// (injected faults are counted by Faults).
type Stats struct {
	Requests map[string]int `json:"requests"`
}

// Server is the mock back office; use New, then serve it with httptest.NewServer.
type Server struct {
	opts    Options
	handler http.Handler
	faults  fault.Injector

	mu      sync.Mutex
	debtors []Debtor
	byID    map[string]int
	updates []StatusUpdate
	stats   Stats
}

// New returns a server seeded with a copy of opts.Debtors.
func New(opts Options) *Server {
	if opts.MaxPageSize <= 0 {
		opts.MaxPageSize = 500
	}
	if opts.APIKeyHeader == "" {
		opts.APIKeyHeader = "X-API-Key"
	}
	s := &Server{opts: opts}
	s.seed()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/{style}/debitori", s.op("list", s.handleList))
	mux.HandleFunc("PUT /api/debitori/{id}/stato", s.op("stato", s.handleStatus))
	mux.HandleFunc("POST /api/debitori/{id}/stato", s.op("stato", s.handleStatus))
	mux.HandleFunc("POST /soap", s.op("soap", s.handleSOAP))
	mux.HandleFunc("GET /__mock/updates", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, s.Updates()) })
	mux.HandleFunc("GET /__mock/stats", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, s.Stats()) })
	mux.HandleFunc("POST /__mock/reset", func(w http.ResponseWriter, _ *http.Request) { s.Reset(); w.WriteHeader(http.StatusNoContent) })
	s.handler = s.faults.Middleware(mux, fault.HTTPOptions{})
	return s
}

func (s *Server) seed() {
	s.debtors = append([]Debtor(nil), s.opts.Debtors...)
	s.byID = map[string]int{}
	for i, d := range s.debtors {
		s.byID[d.ExternalID] = i
	}
	s.updates = nil
	s.stats = Stats{Requests: map[string]int{}}
}

func (s *Server) logger() *slog.Logger {
	if s.opts.Logger != nil {
		return s.opts.Logger
	}
	return slog.Default()
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Faults are the fault knobs of the API (REST and SOAP; plain-text error
// bodies). A lost response is a write (PUT/POST) that was applied.
func (s *Server) Faults() *fault.Injector { return &s.faults }

// Reset restores the seeded debtors and forgets updates, statistics and faults.
func (s *Server) Reset() {
	s.mu.Lock()
	s.seed()
	s.mu.Unlock()
	s.faults.Reset()
}

// --- inspection ---

// Updates returns the status updates received, in order.
func (s *Server) Updates() []StatusUpdate {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]StatusUpdate{}, s.updates...)
}

// Status returns the last status written for an external id.
func (s *Server) Status(externalID string) (StatusUpdate, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.updates) - 1; i >= 0; i-- {
		if s.updates[i].ExternalID == externalID {
			return s.updates[i], true
		}
	}
	return StatusUpdate{}, false
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := Stats{Requests: map[string]int{}}
	for k, v := range s.stats.Requests {
		c.Requests[k] = v
	}
	return c
}

// --- common request path ---

func (s *Server) authorized(r *http.Request) bool {
	o := s.opts
	switch o.Auth {
	case AuthAPIKey:
		return r.Header.Get(o.APIKeyHeader) == o.Secret
	case AuthBasic:
		u, p, ok := r.BasicAuth()
		return ok && u == o.Username && p == o.Secret
	case AuthBearer:
		return r.Header.Get("Authorization") == "Bearer "+o.Secret
	}
	return true
}

func (s *Server) op(name string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.stats.Requests[name]++
		s.mu.Unlock()
		if !s.authorized(r) {
			if s.opts.Auth == AuthBasic {
				w.Header().Set("WWW-Authenticate", `Basic realm="tributi"`)
			}
			http.Error(w, "credenziali non valide / invalid credentials", http.StatusUnauthorized)
			return
		}
		h(w, r)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// --- REST ---

type restContribuente struct {
	CodiceFiscale string `json:"codiceFiscale"`
	Nome          string `json:"nome,omitempty"`
	Cognome       string `json:"cognome"`
	Email         string `json:"email,omitempty"`
}

type restDebito struct {
	IDPratica    string           `json:"idPratica"`
	Contribuente restContribuente `json:"contribuente"`
	Importo      json.Number      `json:"importo"`
	Scadenza     string           `json:"scadenza"`
	Causale      string           `json:"causale,omitempty"`
}

// Amount renders cents as the number the back office sends (123.45).
func Amount(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return fmt.Sprintf("%s%d.%02d", sign, cents/100, cents%100)
}

func toREST(d Debtor) restDebito {
	return restDebito{IDPratica: d.ExternalID, Contribuente: restContribuente{CodiceFiscale: d.FiscalCode, Nome: d.Name, Cognome: d.Surname, Email: d.Email},
		Importo: json.Number(Amount(d.AmountCents)), Scadenza: d.DueDate, Causale: d.Description}
}

func intParam(r *http.Request, name string, def int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s must be a non-negative integer", name)
	}
	return n, nil
}

func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	style := r.PathValue("style")
	var from, size int
	var err error
	sizeParam := "size"
	if style == "offset" || style == "cursor" {
		sizeParam = "limit"
	}
	if size, err = intParam(r, sizeParam, 50); err == nil && (size < 1 || size > s.opts.MaxPageSize) {
		err = fmt.Errorf("%s must be between 1 and %d", sizeParam, s.opts.MaxPageSize)
	}
	page := 1
	if err == nil {
		switch style {
		case "page", "link":
			page, err = intParam(r, "page", 1)
			if err == nil && page < 1 {
				err = fmt.Errorf("page starts at 1")
			}
			from = (page - 1) * size
		case "offset":
			from, err = intParam(r, "offset", 0)
		case "cursor":
			if c := r.URL.Query().Get("cursor"); c != "" {
				n, cerr := strconv.Atoi(strings.TrimPrefix(c, "c"))
				if cerr != nil || !strings.HasPrefix(c, "c") || n < 0 {
					err = fmt.Errorf("invalid cursor")
				}
				from = n
			}
		case "all":
			from, size = 0, 1<<30
		default:
			http.NotFound(w, r)
			return
		}
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"errore": err.Error()})
		return
	}
	s.mu.Lock()
	total := len(s.debtors)
	items := []restDebito{}
	for i := from; i < total && i < from+size; i++ {
		items = append(items, toREST(s.debtors[i]))
	}
	s.mu.Unlock()
	body := map[string]any{"data": map[string]any{"items": items}, "totale": total}
	end := from + len(items)
	switch style {
	case "page":
		body["pagina"] = page
	case "cursor":
		next := ""
		if end < total {
			next = "c" + strconv.Itoa(end)
		}
		body["meta"] = map[string]any{"nextCursor": next}
	case "link":
		if end < total {
			q := r.URL.Query()
			q.Set("page", strconv.Itoa(page+1))
			w.Header().Set("Link", fmt.Sprintf(`</api/link/debitori?%s>; rel="next"`, q.Encode()))
		}
	}
	if style == "all" {
		writeJSON(w, http.StatusOK, items)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var u StatusUpdate
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	if err := dec.Decode(&u); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"errore": "JSON non valido: " + err.Error()})
		return
	}
	if u.ExternalID == "" {
		u.ExternalID = id
	}
	if u.ExternalID != id {
		writeJSON(w, http.StatusBadRequest, map[string]string{"errore": "externalId del corpo diverso da quello del percorso"})
		return
	}
	if err := u.check(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"errore": err.Error()})
		return
	}
	s.mu.Lock()
	_, known := s.byID[id]
	if known {
		s.updates = append(s.updates, u)
	}
	s.mu.Unlock()
	if !known {
		writeJSON(w, http.StatusNotFound, map[string]string{"errore": "pratica sconosciuta: " + id})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"esito": "OK"})
}

// --- SOAP ---

// Namespace is the target namespace of the mock's SOAP operations.
const Namespace = "urn:tributi:comune:v1"

type soapEnvelope struct {
	Body struct {
		GetDebitori *struct {
			Pagina           int `xml:"pagina"`
			DimensionePagina int `xml:"dimensionePagina"`
		} `xml:"getDebitori"`
		AggiornaStato *struct {
			IDPratica     string `xml:"idPratica"`
			Stato         string `xml:"stato"`
			NAV           string `xml:"nav"`
			IUPD          string `xml:"iupd"`
			DataPagamento string `xml:"dataPagamento"`
		} `xml:"aggiornaStato"`
	} `xml:"Body"`
}

func soapFault(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(status)
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(msg))
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault><faultcode>soap:%s</faultcode><faultstring>%s</faultstring></soap:Fault></soap:Body></soap:Envelope>`, code, b.String())
}

func soapOK(w http.ResponseWriter, inner string) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>%s</soap:Body></soap:Envelope>`, inner)
}

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

func (s *Server) handleSOAP(w http.ResponseWriter, r *http.Request) {
	var env soapEnvelope
	if err := xml.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&env); err != nil {
		soapFault(w, http.StatusInternalServerError, "Client", "richiesta non valida: "+err.Error())
		return
	}
	switch {
	case env.Body.GetDebitori != nil:
		g := env.Body.GetDebitori
		size := g.DimensionePagina
		if size == 0 {
			size = s.opts.MaxPageSize
		}
		if g.Pagina < 0 || size < 1 || size > s.opts.MaxPageSize {
			soapFault(w, http.StatusInternalServerError, "Client", fmt.Sprintf("dimensionePagina deve essere tra 1 e %d", s.opts.MaxPageSize))
			return
		}
		page := max(g.Pagina, 1)
		var b strings.Builder
		s.mu.Lock()
		total := len(s.debtors)
		fmt.Fprintf(&b, `<tns:getDebitoriResponse xmlns:tns="%s"><tns:totale>%d</tns:totale>`, Namespace, total)
		for i := (page - 1) * size; i < total && i < page*size; i++ {
			d := s.debtors[i]
			fmt.Fprintf(&b, `<tns:debitore id="%s"><tns:codiceFiscale>%s</tns:codiceFiscale><tns:cognome>%s</tns:cognome><tns:nome>%s</tns:nome><tns:email>%s</tns:email><tns:importo>%s</tns:importo><tns:scadenza>%s</tns:scadenza><tns:causale>%s</tns:causale></tns:debitore>`,
				esc(d.ExternalID), esc(d.FiscalCode), esc(d.Surname), esc(d.Name), esc(d.Email), Amount(d.AmountCents), esc(d.DueDate), esc(d.Description))
		}
		s.mu.Unlock()
		b.WriteString(`</tns:getDebitoriResponse>`)
		soapOK(w, b.String())
	case env.Body.AggiornaStato != nil:
		a := env.Body.AggiornaStato
		u := StatusUpdate{ExternalID: a.IDPratica, Status: a.Stato, NAV: a.NAV, IUPD: a.IUPD, PaidDate: a.DataPagamento}
		if err := u.check(); err != nil {
			soapFault(w, http.StatusInternalServerError, "Client", err.Error())
			return
		}
		s.mu.Lock()
		_, known := s.byID[u.ExternalID]
		if known {
			s.updates = append(s.updates, u)
		}
		s.mu.Unlock()
		if !known {
			soapFault(w, http.StatusInternalServerError, "Client", "PRATICA_SCONOSCIUTA: "+u.ExternalID)
			return
		}
		soapOK(w, fmt.Sprintf(`<tns:aggiornaStatoResponse xmlns:tns="%s"><tns:esito>OK</tns:esito></tns:aggiornaStatoResponse>`, Namespace))
	default:
		soapFault(w, http.StatusInternalServerError, "Client", "operazione sconosciuta: usare getDebitori o aggiornaStato")
	}
}

// SOAPGetDebitori is a request envelope template for the legacy soap source reading
// this mock (pagina and dimensionePagina from .Page and .PageSize).
const SOAPGetDebitori = `<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:tns="urn:tributi:comune:v1">
<soap:Body><tns:getDebitori><tns:pagina>{{.Page}}</tns:pagina><tns:dimensionePagina>{{.PageSize}}</tns:dimensionePagina></tns:getDebitori></soap:Body>
</soap:Envelope>`

// SOAPAggiornaStato is a write-back envelope template for the legacy soap sink.
const SOAPAggiornaStato = `<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:tns="urn:tributi:comune:v1">
<soap:Body><tns:aggiornaStato><tns:idPratica>{{.ExternalID}}</tns:idPratica><tns:stato>{{.Status}}</tns:stato><tns:nav>{{.NAV}}</tns:nav><tns:iupd>{{.IUPD}}</tns:iupd><tns:dataPagamento>{{.PaidDate}}</tns:dataPagamento></tns:aggiornaStato></soap:Body>
</soap:Envelope>`
