package legacy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// KindCSV is the tenant config kind of the CSV source.
const KindCSV = "csv"

func init() {
	RegisterSource(KindCSV, "legacy-csv.schema.json", func(cfg json.RawMessage, baseDir string) (DebtorSource, error) {
		var c CSVConfig
		dec := json.NewDecoder(bytes.NewReader(cfg))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return nil, fmt.Errorf("legacy: csv config: %w", err)
		}
		return NewCSVSource(c, baseDir)
	})
}

// Canonical field names, as used in CSVConfig.Columns, Reject.Field and FieldError.Field.
const (
	FieldExternalID  = "externalId"
	FieldFiscalCode  = "fiscalCode"
	FieldName        = "name"
	FieldSurname     = "surname"
	FieldEmail       = "email"
	FieldAmount      = "amount"
	FieldDueDate     = "dueDate"
	FieldDescription = "description"
)

var canonicalFields = []string{FieldExternalID, FieldFiscalCode, FieldName, FieldSurname, FieldEmail, FieldAmount, FieldDueDate, FieldDescription}

var requiredColumns = map[string]bool{FieldExternalID: true, FieldFiscalCode: true, FieldSurname: true, FieldAmount: true, FieldDueDate: true}

// headerAliases are the column names matched automatically (case-insensitive, with
// spaces, dashes and underscores ignored) when Columns does not map a field.
var headerAliases = map[string][]string{
	FieldExternalID:  {"id_pratica", "idpratica", "codice_pratica", "pratica", "id", "external_id"},
	FieldFiscalCode:  {"codice_fiscale", "cod_fiscale", "cf", "fiscal_code", "cf_piva"},
	FieldName:        {"nome", "name", "first_name"},
	FieldSurname:     {"cognome", "cognome_ragione_sociale", "ragione_sociale", "surname", "last_name"},
	FieldEmail:       {"email", "e_mail", "mail", "indirizzo_email"},
	FieldAmount:      {"importo", "importo_dovuto", "amount", "totale"},
	FieldDueDate:     {"scadenza", "data_scadenza", "due_date"},
	FieldDescription: {"descrizione", "causale", "description"},
}

func foldName(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	return strings.NewReplacer("_", "", "-", "", " ", "").Replace(s)
}

// Column refers to a source column by header name or by 1-based index. In JSON it is a
// string or an integer.
type Column struct {
	Name  string
	Index int
}

// UnmarshalJSON accepts "name" or 3.
func (c *Column) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*c = Column{Name: s}
		return nil
	}
	var n int
	if err := json.Unmarshal(b, &n); err != nil || n < 1 {
		return fmt.Errorf("column must be a name or a 1-based index, got %s", b)
	}
	*c = Column{Index: n}
	return nil
}

// MarshalJSON writes the name or the index.
func (c Column) MarshalJSON() ([]byte, error) {
	if c.Name != "" {
		return json.Marshal(c.Name)
	}
	return json.Marshal(c.Index)
}

// CSVConfig configures a CSV debtors source; it mirrors legacy-csv.schema.json. The zero
// value of every optional field means its default.
type CSVConfig struct {
	Path         string            `json:"path"`
	Delimiter    string            `json:"delimiter,omitempty"`    // default ","
	Header       *bool             `json:"header,omitempty"`       // default true
	Encoding     string            `json:"encoding,omitempty"`     // utf-8 (default), windows-1252, iso-8859-1
	DecimalComma *bool             `json:"decimalComma,omitempty"` // nil: detect per value
	DateFormat   string            `json:"dateFormat,omitempty"`   // DateDMY (default) or DateISO
	Columns      map[string]Column `json:"columns,omitempty"`
}

// CSVSource reads debtors from a delimited file, streaming. Each Read opens the file
// again, so a retried read starts from the top.
type CSVSource struct {
	cfg     CSVConfig
	path    string
	comma   rune
	header  bool
	amounts AmountFormat
}

// NewCSVSource checks cfg and returns a source; a relative Path resolves against baseDir.
// The file itself is opened by Read.
func NewCSVSource(cfg CSVConfig, baseDir string) (*CSVSource, error) {
	s := &CSVSource{cfg: cfg, header: cfg.Header == nil || *cfg.Header}
	if cfg.Path == "" {
		return nil, errors.New("legacy: csv: path is required")
	}
	s.path = cfg.Path
	if !filepath.IsAbs(s.path) && baseDir != "" {
		s.path = filepath.Join(baseDir, s.path)
	}
	s.comma = ','
	if cfg.Delimiter != "" {
		r, n := utf8.DecodeRuneInString(cfg.Delimiter)
		if n != len(cfg.Delimiter) || r == utf8.RuneError || r == '"' || r == '\r' || r == '\n' {
			return nil, fmt.Errorf("legacy: csv: delimiter %q must be one character other than a quote or newline", cfg.Delimiter)
		}
		s.comma = r
	}
	switch cfg.Encoding {
	case "", "utf-8", "windows-1252", "iso-8859-1":
	default:
		return nil, fmt.Errorf("legacy: csv: unsupported encoding %q (use utf-8, windows-1252 or iso-8859-1)", cfg.Encoding)
	}
	switch cfg.DateFormat {
	case "", DateDMY, DateISO:
	default:
		return nil, fmt.Errorf("legacy: csv: unsupported dateFormat %q (use %s or %s)", cfg.DateFormat, DateDMY, DateISO)
	}
	if cfg.DecimalComma != nil {
		s.amounts = AmountDecimalPoint
		if *cfg.DecimalComma {
			s.amounts = AmountDecimalComma
		}
	}
	for f, c := range cfg.Columns {
		if !containsStr(canonicalFields, f) {
			return nil, fmt.Errorf("legacy: csv: columns: unknown field %q (fields: %s)", f, strings.Join(canonicalFields, ", "))
		}
		if !s.header && c.Index == 0 {
			return nil, fmt.Errorf("legacy: csv: columns.%s: header is false, so give a 1-based column index, not a name", f)
		}
	}
	if !s.header {
		for _, f := range canonicalFields {
			if _, ok := cfg.Columns[f]; !ok && requiredColumns[f] {
				return nil, fmt.Errorf("legacy: csv: header is false, so columns must map %s to a 1-based index", f)
			}
		}
	}
	return s, nil
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Name is "csv:" and the file name.
func (s *CSVSource) Name() string { return "csv:" + filepath.Base(s.path) }

// HeaderError is returned by Read when the header line cannot be matched to the
// configured columns.
type HeaderError struct {
	File    string
	Field   string   // canonical field that has no column
	Column  string   // configured column name, if any
	Headers []string // what the file has
	Reason  string
}

func (e *HeaderError) Error() string {
	return fmt.Sprintf("legacy: csv %s: %s (columns in the file: %s)", e.File, e.Reason, strings.Join(e.Headers, ", "))
}

// resolveColumns maps canonical fields to 0-based indexes (-1 when absent).
func (s *CSVSource) resolveColumns(header []string) (map[string]int, error) {
	idx := map[string]int{}
	byName := map[string]int{}
	for i, h := range header {
		k := foldName(h)
		if _, dup := byName[k]; dup && k != "" {
			return nil, &HeaderError{File: s.path, Headers: header, Reason: fmt.Sprintf("column %q appears twice", strings.TrimSpace(h))}
		}
		byName[k] = i
	}
	for _, f := range canonicalFields {
		idx[f] = -1
		if c, ok := s.cfg.Columns[f]; ok {
			if c.Index > 0 {
				idx[f] = c.Index - 1
				continue
			}
			i, found := byName[foldName(c.Name)]
			if !found {
				return nil, &HeaderError{File: s.path, Field: f, Column: c.Name, Headers: header,
					Reason: fmt.Sprintf("columns.%s is %q but the header has no such column", f, c.Name)}
			}
			idx[f] = i
			continue
		}
		for _, a := range headerAliases[f] {
			if i, found := byName[foldName(a)]; found {
				idx[f] = i
				break
			}
		}
		if idx[f] < 0 && requiredColumns[f] {
			return nil, &HeaderError{File: s.path, Field: f, Headers: header,
				Reason: fmt.Sprintf("no column for %s: map it in columns.%s or name the column %s", f, f, headerAliases[f][0])}
		}
	}
	return idx, nil
}

func (s *CSVSource) openReader(f io.Reader) (io.Reader, error) {
	switch s.cfg.Encoding {
	case "windows-1252":
		return charmap.Windows1252.NewDecoder().Reader(f), nil
	case "iso-8859-1":
		return charmap.ISO8859_1.NewDecoder().Reader(f), nil
	}
	br := bufio.NewReaderSize(f, 64<<10)
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte{0xEF, 0xBB, 0xBF}) {
		_, _ = br.Discard(3)
	}
	return br, nil
}

// Read streams the file: every data record goes to emit (as a Debtor) or to reject.
// Rows with the wrong number of fields, bad quoting or invalid UTF-8 are rejects, not
// errors. Duplicate externalIds are rejected after the first (the id keys idempotent
// creation downstream), which keeps a 64-bit hash per id in memory.
func (s *CSVSource) Read(ctx context.Context, emit func(Debtor) error, reject func(Reject) error) (st Stats, err error) {
	if emit == nil || reject == nil {
		return st, errNoReject
	}
	f, err := os.Open(s.path)
	if err != nil {
		return st, fmt.Errorf("legacy: csv: %w", err)
	}
	defer f.Close()
	r, err := s.openReader(f)
	if err != nil {
		return st, err
	}
	cr := csv.NewReader(r)
	cr.Comma = s.comma
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true

	expected := 0
	var idx map[string]int
	if s.header {
		h, err := cr.Read()
		if err == io.EOF {
			return st, fmt.Errorf("legacy: csv %s: empty file, expected a header line", s.path)
		}
		if err != nil {
			return st, fmt.Errorf("legacy: csv %s: header: %w", s.path, err)
		}
		header := append([]string(nil), h...)
		expected = len(header)
		if idx, err = s.resolveColumns(header); err != nil {
			return st, err
		}
	} else {
		idx, _ = s.resolveColumns(nil)
	}
	maxIdx := 0
	for _, i := range idx {
		maxIdx = max(maxIdx, i+1)
	}
	chk := &checker{amounts: s.amounts, dateFormat: s.cfg.DateFormat, seed: maphash.MakeSeed(), seen: map[uint64]int{}}
	name := s.Name()
	for n := 0; ; n++ {
		if n%256 == 0 {
			if err := ctx.Err(); err != nil {
				return st, err
			}
		}
		rec, rerr := cr.Read()
		if rerr == io.EOF {
			return st, nil
		}
		var rj *Reject
		var d Debtor
		if rerr != nil {
			var pe *csv.ParseError
			if !errors.As(rerr, &pe) {
				return st, fmt.Errorf("legacy: csv %s: %w", s.path, rerr)
			}
			rj = &Reject{Line: pe.StartLine, Rule: "syntax",
				MessageIT: "riga non leggibile: virgolette non bilanciate (" + pe.Err.Error() + ")",
				MessageEN: "unreadable row: unbalanced quotes (" + pe.Err.Error() + ")"}
		} else {
			line, _ := cr.FieldPos(0)
			if expected == 0 {
				expected = len(rec) // no header: the first record sets the width
			}
			if len(rec) != expected || len(rec) < maxIdx {
				rj = &Reject{Line: line, Value: clip(strings.Join(rec, string(s.comma))), Rule: "columns",
					MessageIT: fmt.Sprintf("la riga ha %d campi invece di %d: controllare il separatore e le virgolette", len(rec), max(expected, maxIdx)),
					MessageEN: fmt.Sprintf("row has %d fields instead of %d: check the delimiter and quoting", len(rec), max(expected, maxIdx))}
			} else {
				d, rj = s.record(rec, idx, line, chk)
			}
		}
		if rj != nil {
			rj.Source = name
			if err := reject(*rj); err != nil {
				return st, err
			}
			st.Read++
			st.Rejected++
			continue
		}
		if err := emit(d); err != nil {
			return st, err
		}
		st.Read++
		st.Valid++
	}
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// record validates one row of the right width.
func (s *CSVSource) record(rec []string, idx map[string]int, line int, c *checker) (Debtor, *Reject) {
	return c.check(func(f string) string {
		if i := idx[f]; i >= 0 {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}, line, typed{})
}
