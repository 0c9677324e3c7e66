package legacy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
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
	FieldIBAN        = "iban"  // optional: refunds, direct debit
	FieldPhone       = "phone" // optional: normalised to E.164
	// The address's postal code, ISTAT comune code and cadastral code, all
	// optional: for filtering by area (alerts, information campaigns).
	FieldCAP           = "cap"
	FieldISTAT         = "istat"
	FieldCadastralCode = "cadastralCode"
)

var canonicalFields = []string{FieldExternalID, FieldFiscalCode, FieldName, FieldSurname, FieldEmail, FieldAmount, FieldDueDate, FieldDescription, FieldIBAN, FieldPhone, FieldCAP, FieldISTAT, FieldCadastralCode}

// requiredColumns must be mapped to a column; the record id is not among them: without
// it a record is identified by its identity fields or its position (Debtor.Key).
var requiredColumns = map[string]bool{FieldFiscalCode: true, FieldSurname: true, FieldAmount: true, FieldDueDate: true}

// headerAliases are the column names matched automatically (case-insensitive, with
// spaces, dashes and underscores ignored) when Columns does not map a field.
var headerAliases = map[string][]string{
	FieldExternalID:    {"id_pratica", "idpratica", "codice_pratica", "pratica", "id", "external_id"},
	FieldFiscalCode:    {"codice_fiscale", "cod_fiscale", "cf", "fiscal_code", "cf_piva"},
	FieldName:          {"nome", "name", "first_name"},
	FieldSurname:       {"cognome", "cognome_ragione_sociale", "ragione_sociale", "surname", "last_name"},
	FieldEmail:         {"email", "e_mail", "mail", "indirizzo_email"},
	FieldAmount:        {"importo", "importo_dovuto", "amount", "totale"},
	FieldDueDate:       {"scadenza", "data_scadenza", "due_date"},
	FieldDescription:   {"descrizione", "causale", "description"},
	FieldIBAN:          {"iban", "codice_iban"},
	FieldPhone:         {"telefono", "cellulare", "phone", "mobile"},
	FieldCAP:           {"cap", "codice_postale", "postal_code"},
	FieldISTAT:         {"istat", "codice_istat", "cod_istat"},
	FieldCadastralCode: {"codice_catastale", "catastale", "belfiore"},
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
	Path      string            `json:"path"`
	Delimiter string            `json:"delimiter,omitempty"` // default ","
	Header    *bool             `json:"header,omitempty"`    // default true
	Encoding  string            `json:"encoding,omitempty"`  // utf-8 (default), windows-1252, iso-8859-1
	Columns   map[string]Column `json:"columns,omitempty"`
	// MaxLineBytes bounds one record (default 64 KiB): a longer one is rejected, not
	// buffered, so a binary file or a missing closing quote cannot eat the memory.
	MaxLineBytes int `json:"maxLineBytes,omitempty"`
	ValueFormat      // decimalComma (nil: detect per value), dateFormat (default dd/mm/yyyy), rules
}

// CSVSource reads debtors from a delimited file, streaming. Each Read opens the file
// again, so a retried read starts from the top.
type CSVSource struct {
	cfg     CSVConfig
	path    string
	comma   rune
	header  bool
	maxLine int
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
	if err := cfg.ValueFormat.check(KindCSV, s.header); err != nil {
		return nil, err
	}
	s.maxLine = cfg.MaxLineBytes
	if s.maxLine == 0 {
		s.maxLine = maxLineBytes
	}
	if s.maxLine < 0 {
		return nil, errors.New("legacy: csv: maxLineBytes must not be negative")
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
	return fmt.Sprintf("legacy: csv %s: %s (columns in the file: %s)%s", e.File, e.Reason, clip(strings.Join(e.Headers, ", ")), delimiterHint(e.Headers))
}

// delimiterHint guesses a wrong delimiter: a header that is one column holding another
// common delimiter several times was split on the wrong one.
func delimiterHint(header []string) string {
	if len(header) != 1 {
		return ""
	}
	best, n := "", 1
	for _, d := range []string{";", ",", "\t", "|"} {
		if c := strings.Count(header[0], d); c > n {
			best, n = d, c
		}
	}
	if best == "" {
		return ""
	}
	shown := best
	if best == "\t" {
		shown = "tab"
	}
	return fmt.Sprintf("; the header is one column, and split on %q it would be %d: is the delimiter %q? (set delimiter) / il separatore è %q?", shown, n+1, shown, shown)
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
// Rows with the wrong number of fields, bad quoting, invalid UTF-8 or a physical line
// longer than MaxLineBytes are rejects, not errors. Duplicate externalIds and exact
// duplicate rows are rejected after the first, and the duplicate rule applied, which
// keeps a 64-bit hash per record in memory.
func (s *CSVSource) Read(ctx context.Context, emit func(Debtor) error, reject func(Reject) error) (st Stats, err error) {
	if emit == nil || reject == nil {
		return st, errNoReject
	}
	f, err := os.Open(s.path)
	if err != nil {
		return st, fmt.Errorf("legacy: csv: %w", err)
	}
	defer f.Close()
	raw := bufio.NewReaderSize(f, 64<<10)
	if err := sniffBinary(raw, s.path); err != nil {
		return st, err
	}
	r, err := s.openReader(raw)
	if err != nil {
		return st, err
	}
	lr := &lineBound{r: r, max: s.maxLine, maxRecord: max(16*s.maxLine, 1<<20)}
	cr := csv.NewReader(lr)
	cr.Comma = s.comma
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true

	expected := 0
	var idx map[string]int
	var extra map[string]int
	if s.header {
		h, err := cr.Read()
		if err == io.EOF {
			return st, fmt.Errorf("legacy: csv %s: empty file, expected a header line", s.path)
		}
		if err != nil {
			if errors.Is(err, errRecordTooLong) {
				return st, fmt.Errorf("legacy: csv %s: header: %w", s.path, err)
			}
			return st, fmt.Errorf("legacy: csv %s: header: %w", s.path, clipErr(err))
		}
		if lr.truncatedUpTo(cr.InputOffset()) {
			return st, fmt.Errorf("legacy: csv %s: the header line is longer than %d bytes: is this a CSV file? (maxLineBytes)", s.path, s.maxLine)
		}
		header := append([]string(nil), h...)
		expected = len(header)
		if idx, err = s.resolveColumns(header); err != nil {
			return st, err
		}
		if extra, err = s.resolveExtra(header); err != nil {
			return st, err
		}
	} else {
		idx, _ = s.resolveColumns(nil)
	}
	maxIdx := 0
	for _, i := range idx {
		maxIdx = max(maxIdx, i+1)
	}
	chk := newChecker(s.cfg.ValueFormat, AmountAuto, DateDMY)
	chk.source = s.Name()
	name := s.Name()
	sep := string(s.comma)
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
		switch {
		case rerr != nil:
			var pe *csv.ParseError
			if !errors.As(rerr, &pe) {
				return st, fmt.Errorf("legacy: csv %s: %w", s.path, rerr)
			}
			rj = &Reject{Line: pe.StartLine, Rule: "syntax",
				MessageIT: "riga non leggibile: virgolette non bilanciate (" + pe.Err.Error() + ")",
				MessageEN: "unreadable row: unbalanced quotes (" + pe.Err.Error() + ")"}
			if lr.truncatedUpTo(cr.InputOffset()) {
				rj.Rule, rj.MessageIT, rj.MessageEN = lineLengthMessages(s.maxLine)
			}
		case lr.truncatedUpTo(cr.InputOffset()):
			line, _ := cr.FieldPos(0)
			rj = &Reject{Line: line}
			rj.Rule, rj.MessageIT, rj.MessageEN = lineLengthMessages(s.maxLine)
		default:
			line, _ := cr.FieldPos(0)
			if expected == 0 {
				expected = len(rec) // no header: the first record sets the width
			}
			if len(rec) != expected || len(rec) < maxIdx {
				rj = &Reject{Line: line, Value: clip(strings.Join(rec, sep)), Rule: "columns",
					MessageIT: fmt.Sprintf("la riga ha %d campi invece di %d: controllare il separatore e le virgolette", len(rec), max(expected, maxIdx)),
					MessageEN: fmt.Sprintf("row has %d fields instead of %d: check the delimiter and quoting", len(rec), max(expected, maxIdx))}
			} else {
				d, rj = s.record(rec, idx, extra, line, chk)
			}
		}
		lr.mark()
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

func lineLengthMessages(n int) (rule, it, en string) {
	return "lineLength", fmt.Sprintf("riga più lunga di %d byte (maxLineBytes): il file è davvero un CSV? contenuto non mostrato", n),
		fmt.Sprintf("line longer than %d bytes (maxLineBytes): is the file really a CSV? content not shown", n)
}

// clipErr keeps a parser error short: the CSV parser may quote a whole line.
func clipErr(err error) error { return errors.New(clip(err.Error())) }

// errRecordTooLong stops a read whose record runs on past the bound: an unclosed
// quote in a binary or broken file would otherwise buffer the rest of the file.
var errRecordTooLong = errors.New("a record runs on for more than the limit (an unclosed quote? a binary file?): read stopped")

// lineBound passes a text through, cutting every physical line to max bytes (the rest
// of a longer line is dropped and its end offset recorded, so that the record holding
// it is rejected) and failing when one record grows past maxRecord.
type lineBound struct {
	r         io.Reader
	max       int
	maxRecord int
	lineLen   int   // bytes of the current line passed so far
	dropping  bool  // inside the dropped tail of a long line
	out       int64 // bytes passed
	sinceMark int   // bytes passed since the last record ended
	cuts      []int64
	buf       []byte
}

func (l *lineBound) Read(p []byte) (int, error) {
	if len(l.buf) < len(p) {
		l.buf = make([]byte, len(p))
	}
	for {
		n, err := l.r.Read(l.buf[:len(p)])
		w := 0
		for _, c := range l.buf[:n] {
			if c == '\n' {
				l.lineLen, l.dropping = 0, false
				p[w] = c
				w++
				continue
			}
			if l.dropping {
				continue
			}
			if l.lineLen >= l.max {
				l.dropping = true
				l.cuts = append(l.cuts, l.out+int64(w))
				continue
			}
			l.lineLen++
			p[w] = c
			w++
		}
		l.out += int64(w)
		l.sinceMark += w
		if l.sinceMark > l.maxRecord {
			return w, errRecordTooLong
		}
		if w > 0 || err != nil {
			return w, err
		}
	}
}

// truncatedUpTo reports (and forgets) whether a line was cut before offset end.
func (l *lineBound) truncatedUpTo(end int64) bool {
	cut := false
	for len(l.cuts) > 0 && l.cuts[0] <= end {
		l.cuts, cut = l.cuts[1:], true
	}
	return cut
}

func (l *lineBound) mark() { l.sinceMark = 0 }

// sniffBinary refuses a file that is not text at all (a spreadsheet, a zip, a PDF)
// before the CSV parser turns it into "bare quote" errors on every line.
func sniffBinary(br *bufio.Reader, path string) error {
	head, _ := br.Peek(8 << 10)
	what := ""
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		what = "a zip archive (an .xlsx or .ods spreadsheet?): save it as CSV"
	case bytes.HasPrefix(head, []byte{0xD0, 0xCF, 0x11, 0xE0}):
		what = "an old Excel (.xls) file: save it as CSV"
	case bytes.HasPrefix(head, []byte("%PDF")):
		what = "a PDF: export the data as CSV"
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}) || bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		what = "UTF-16 text: save it as UTF-8 or windows-1252 CSV"
	case bytes.Count(head, []byte{0}) >= 8:
		// A stray NUL is a bad row, rejected as such; many are a binary file.
		what = fmt.Sprintf("binary data (%d NUL bytes, the first at offset %d): is it the right file?", bytes.Count(head, []byte{0}), bytes.IndexByte(head, 0))
	default:
		return nil
	}
	return fmt.Errorf("legacy: csv %s: not a CSV file: it looks like %s / non è un file CSV", path, what)
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// record validates one row of the right width; extra are the columns the record rules
// name besides the canonical fields.
func (s *CSVSource) record(rec []string, idx, extra map[string]int, line int, c *checker) (Debtor, *Reject) {
	return c.checkRow(row{line: line, raw: rec,
		get: func(f string) string {
			if i := idx[f]; i >= 0 {
				return strings.TrimSpace(rec[i])
			}
			return ""
		},
		col: func(name string) (string, bool) {
			i, ok := extra[name]
			if !ok || i >= len(rec) {
				return "", false
			}
			return rec[i], true
		}})
}

// resolveExtra finds the columns named by the record rules (identity, duplicates)
// that are not canonical fields.
func (s *CSVSource) resolveExtra(header []string) (map[string]int, error) {
	out := map[string]int{}
	for _, name := range s.cfg.RecordRules.extraColumns() {
		found := false
		for i, h := range header {
			if foldName(h) == foldName(name) {
				out[name], found = i, true
				break
			}
		}
		if !found {
			return nil, &HeaderError{File: s.path, Column: name, Headers: header,
				Reason: fmt.Sprintf("identity or duplicates names the column %q but the header has no such column", name)}
		}
	}
	return out, nil
}
