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
)

// KindCSV is the tenant config kind of the CSV source.
const KindCSV = "csv"

func init() {
	RegisterSource(KindCSV, "legacy-csv.schema.json", func(cfg json.RawMessage, baseDir string) (DebtorSource, error) {
		var c CSVConfig
		if err := decodeStrict(KindCSV, cfg, &c); err != nil {
			return nil, err
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
	// People records only.
	FieldLang:     {"lingua", "language", "lang"},
	FieldChannels: {"canali", "canale_preferito", "channels", "canale"},
	FieldTopics:   {"consensi", "argomenti", "topics"},
	FieldZone:     {"zona", "zona_allerta", "zone", "alert_zone"},
	FieldLat:      {"lat", "latitudine", "latitude"},
	FieldLon:      {"lon", "lng", "longitudine", "longitude"},
}

func foldName(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	return strings.NewReplacer("_", "", "-", "", " ", "").Replace(s)
}

// recordLayout is what a record type (debtor, person) asks of a source's columns.
type recordLayout struct {
	fields   []string        // the record's fields, in order
	required map[string]bool // fields that must have a column
	oneOf    []string        // at least one of these must have a column; nil: no such rule
}

var debtorLayout = recordLayout{fields: canonicalFields, required: requiredColumns}

// columns maps every field of l to a 0-based column, -1 when the source has none: the
// column configured for it in mapped (a name looked up in byName, folded names to
// indexes, or a 1-based index), else the first of its headerAliases in byName. A
// configured name the source lacks, or no column for a required field or for any of
// oneOf, comes back as a *missingColumn for the source to word.
func (l recordLayout) columns(byName map[string]int, mapped map[string]Column) (map[string]int, *missingColumn) {
	idx := make(map[string]int, len(l.fields))
	for _, f := range l.fields {
		idx[f] = -1
		if c, ok := mapped[f]; ok {
			if c.Index > 0 {
				idx[f] = c.Index - 1
				continue
			}
			i, found := byName[foldName(c.Name)]
			if !found {
				return nil, &missingColumn{fields: []string{f}, column: c.Name}
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
		if idx[f] < 0 && l.required[f] {
			return nil, &missingColumn{fields: []string{f}}
		}
	}
	if len(l.oneOf) > 0 {
		for _, f := range l.oneOf {
			if idx[f] >= 0 {
				return idx, nil
			}
		}
		return nil, &missingColumn{fields: l.oneOf}
	}
	return idx, nil
}

// missingColumn is a field a source has no column for.
type missingColumn struct {
	fields []string // the field; several when any one of them would do
	column string   // the configured column the source lacks; "" when none was configured
}

// what names the field, or the fields one of which is needed.
func (m *missingColumn) what() string {
	if len(m.fields) == 1 {
		return m.fields[0]
	}
	return "one of " + strings.Join(m.fields, ", ")
}

// reason says what is missing and how to fix it; where is what lacks the column ("the
// header"), nameIt how to name a column so that it is found ("name the column").
func (m *missingColumn) reason(where, nameIt string) string {
	if m.column != "" {
		return fmt.Sprintf("columns.%s is %q but %s has no such column", m.fields[0], m.column, where)
	}
	if len(m.fields) == 1 {
		f := m.fields[0]
		return fmt.Sprintf("no column for %s: map it in columns.%s or %s %s", f, f, nameIt, headerAliases[f][0])
	}
	names := make([]string, len(m.fields))
	for i, f := range m.fields {
		names[i] = headerAliases[f][0]
	}
	return fmt.Sprintf("no column for any of %s: map one in columns or %s %s", strings.Join(m.fields, ", "), nameIt, strings.Join(names, " or "))
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

// CSVFileConfig is how a CSV export is written and where its columns are: what the
// debtor and the people CSV kinds share. The zero value of every optional field means
// its default.
type CSVFileConfig struct {
	Path      string            `json:"path"`
	Delimiter string            `json:"delimiter,omitempty"` // default ","
	Header    *bool             `json:"header,omitempty"`    // default true
	Encoding  string            `json:"encoding,omitempty"`  // utf-8 (default), windows-1252, iso-8859-1
	Columns   map[string]Column `json:"columns,omitempty"`
	// MaxLineBytes bounds one record (default 64 KiB): a longer one is rejected, not
	// buffered, so a binary file or a missing closing quote cannot eat the memory.
	MaxLineBytes int `json:"maxLineBytes,omitempty"`
}

// CSVConfig configures a CSV debtors source; it mirrors legacy-csv.schema.json.
type CSVConfig struct {
	CSVFileConfig
	ValueFormat // decimalComma (nil: detect per value), dateFormat (default dd/mm/yyyy), rules
}

// CSVSource reads debtors from a delimited file, streaming. Each Read opens the file
// again, so a retried read starts from the top.
type CSVSource struct {
	cfg  CSVConfig
	file *csvFile
}

// NewCSVSource checks cfg and returns a source; a relative Path resolves against baseDir.
// The file itself is opened by Read.
func NewCSVSource(cfg CSVConfig, baseDir string) (*CSVSource, error) {
	f, err := newCSVFile(cfg.CSVFileConfig, baseDir, debtorLayout)
	if err != nil {
		return nil, err
	}
	if err := cfg.ValueFormat.check(KindCSV, f.header); err != nil {
		return nil, err
	}
	f.extra = cfg.RecordRules.extraColumns()
	return &CSVSource{cfg: cfg, file: f}, nil
}

// csvFile is the file handling of every CSV kind, whatever its records: the path,
// delimiter, encoding (and UTF-8 byte order mark), the refusal of binary files, the
// bound on line length, the header and the columns of the record type's fields.
type csvFile struct {
	cfg     CSVFileConfig
	layout  recordLayout
	extra   []string // other columns found by name: those the record rules name
	path    string
	comma   rune
	header  bool
	maxLine int
}

func newCSVFile(cfg CSVFileConfig, baseDir string, layout recordLayout) (*csvFile, error) {
	f := &csvFile{cfg: cfg, layout: layout, header: cfg.Header == nil || *cfg.Header}
	if cfg.Path == "" {
		return nil, errors.New("legacy: csv: path is required")
	}
	f.path = cfg.Path
	if !filepath.IsAbs(f.path) && baseDir != "" {
		f.path = filepath.Join(baseDir, f.path)
	}
	f.comma = ','
	if cfg.Delimiter != "" {
		r, n := utf8.DecodeRuneInString(cfg.Delimiter)
		if n != len(cfg.Delimiter) || r == utf8.RuneError || r == '"' || r == '\r' || r == '\n' {
			return nil, fmt.Errorf("legacy: csv: delimiter %q must be one character other than a quote or newline", cfg.Delimiter)
		}
		f.comma = r
	}
	if err := checkEncoding(KindCSV, cfg.Encoding); err != nil {
		return nil, err
	}
	f.maxLine = cfg.MaxLineBytes
	if f.maxLine == 0 {
		f.maxLine = maxLineBytes
	}
	if f.maxLine < 0 {
		return nil, errors.New("legacy: csv: maxLineBytes must not be negative")
	}
	for name, c := range cfg.Columns {
		if !containsStr(layout.fields, name) {
			return nil, fmt.Errorf("legacy: csv: columns: unknown field %q (fields: %s)", name, strings.Join(layout.fields, ", "))
		}
		if !f.header && c.Index == 0 {
			return nil, fmt.Errorf("legacy: csv: columns.%s: header is false, so give a 1-based column index, not a name", name)
		}
	}
	if !f.header {
		if _, miss := layout.columns(nil, cfg.Columns); miss != nil {
			return nil, fmt.Errorf("legacy: csv: header is false, so columns must map %s to a 1-based index", miss.what())
		}
	}
	return f, nil
}

// name is "csv:" and the file name.
func (f *csvFile) name() string { return "csv:" + filepath.Base(f.path) }

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Name is "csv:" and the file name.
func (s *CSVSource) Name() string { return s.file.name() }

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

// columns finds the record type's fields in the header line (nil when the file has
// none: then every field is mapped by index), and the extra columns by name.
func (f *csvFile) columns(header []string) (csvCols, error) {
	byName := map[string]int{}
	for i, h := range header {
		k := foldName(h)
		if _, dup := byName[k]; dup && k != "" {
			return csvCols{}, &HeaderError{File: f.path, Headers: header, Reason: fmt.Sprintf("column %q appears twice", strings.TrimSpace(h))}
		}
		byName[k] = i
	}
	idx, miss := f.layout.columns(byName, f.cfg.Columns)
	if miss != nil {
		return csvCols{}, &HeaderError{File: f.path, Field: strings.Join(miss.fields, "|"), Column: miss.column, Headers: header,
			Reason: miss.reason("the header", "name the column")}
	}
	cols := csvCols{idx: idx, extra: map[string]int{}}
	for _, name := range f.extra {
		i, found := byName[foldName(name)]
		if !found {
			return csvCols{}, &HeaderError{File: f.path, Column: name, Headers: header,
				Reason: fmt.Sprintf("identity or duplicates names the column %q but the header has no such column", name)}
		}
		cols.extra[name] = i
	}
	return cols, nil
}

// csvCols are the columns of one file: the 0-based index of each field of the record
// type (-1 when the file has none) and of each extra column by name.
type csvCols struct {
	idx   map[string]int
	extra map[string]int
}

// row is a record of the right width as the checker sees it.
func (c csvCols) row(rec []string, line int) row {
	return row{line: line, raw: rec,
		get: func(f string) string {
			if i, ok := c.idx[f]; ok && i >= 0 {
				return strings.TrimSpace(rec[i])
			}
			return ""
		},
		col: func(name string) (string, bool) {
			i, ok := c.extra[name]
			if !ok || i >= len(rec) {
				return "", false
			}
			return rec[i], true
		}}
}

// Read streams the file: every data record goes to emit (as a Debtor) or to reject.
// Rows with the wrong number of fields, bad quoting, invalid UTF-8 or a physical line
// longer than MaxLineBytes are rejects, not errors. Duplicate externalIds and exact
// duplicate rows are rejected after the first, and the duplicate rule applied, which
// keeps a 64-bit hash per record in memory.
func (s *CSVSource) Read(ctx context.Context, emit func(Debtor) error, reject func(Reject) error) (Stats, error) {
	chk := newChecker(s.cfg.ValueFormat, AmountAuto, DateDMY)
	chk.source = s.Name()
	return stream(s.Name(), emit, reject, func(c *counter[Debtor]) error { return readCSV(ctx, s.file, c, chk.checkRow) })
}

// readCSV streams f, whatever its records: the header (when there is one) is matched
// to the record type's columns, and every data record of the right width is turned
// into a record (or a reject) by record; a record of the wrong width, with bad quoting
// or a physical line longer than the bound is a reject. Records and rejects go to c,
// which counts them.
func readCSV[T any](ctx context.Context, f *csvFile, c *counter[T], record func(row) (T, *Reject)) error {
	file, err := os.Open(f.path)
	if err != nil {
		return fmt.Errorf("legacy: csv: %w", err)
	}
	defer file.Close()
	raw := bufio.NewReaderSize(file, 64<<10)
	if err := sniffBinary(raw, f.path); err != nil {
		return err
	}
	lr := &lineBound{r: decodeReader(raw, f.cfg.Encoding), max: f.maxLine, maxRecord: max(16*f.maxLine, 1<<20)}
	cr := csv.NewReader(lr)
	cr.Comma = f.comma
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true

	expected := 0
	var cols csvCols
	if f.header {
		h, err := cr.Read()
		if err == io.EOF {
			return fmt.Errorf("legacy: csv %s: empty file, expected a header line", f.path)
		}
		if err != nil {
			if errors.Is(err, errRecordTooLong) {
				return fmt.Errorf("legacy: csv %s: header: %w", f.path, err)
			}
			return fmt.Errorf("legacy: csv %s: header: %w", f.path, clipErr(err))
		}
		if lr.truncatedUpTo(cr.InputOffset()) {
			return fmt.Errorf("legacy: csv %s: the header line is longer than %d bytes: is this a CSV file? (maxLineBytes)", f.path, f.maxLine)
		}
		header := append([]string(nil), h...)
		expected = len(header)
		if cols, err = f.columns(header); err != nil {
			return err
		}
	} else if cols, err = f.columns(nil); err != nil {
		return err // checked by newCSVFile: every field is mapped by index
	}
	maxIdx := 0
	for _, i := range cols.idx {
		maxIdx = max(maxIdx, i+1)
	}
	sep := string(f.comma)
	for n := 0; ; n++ {
		if n%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		rec, rerr := cr.Read()
		if rerr == io.EOF {
			return nil
		}
		var rj *Reject
		var v T
		switch {
		case rerr != nil:
			var pe *csv.ParseError
			if !errors.As(rerr, &pe) {
				return fmt.Errorf("legacy: csv %s: %w", f.path, rerr)
			}
			rj = &Reject{Line: pe.StartLine, Rule: "syntax",
				MessageIT: "riga non leggibile: virgolette non bilanciate (" + pe.Err.Error() + ")",
				MessageEN: "unreadable row: unbalanced quotes (" + pe.Err.Error() + ")"}
			if lr.truncatedUpTo(cr.InputOffset()) {
				rj.Rule, rj.MessageIT, rj.MessageEN = lineLengthMessages(f.maxLine)
			}
		case lr.truncatedUpTo(cr.InputOffset()):
			line, _ := cr.FieldPos(0)
			rj = &Reject{Line: line}
			rj.Rule, rj.MessageIT, rj.MessageEN = lineLengthMessages(f.maxLine)
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
				v, rj = record(cols.row(rec, line))
			}
		}
		lr.mark()
		if err := c.put(v, rj); err != nil {
			return err
		}
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
