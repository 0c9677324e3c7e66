package legacy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"

	"github.com/ponte-pa/ponte/connectors/failure"
)

// ValueFormat says how a source writes amounts and dates when they arrive as text, and
// the rules that identify its records. It is embedded in the config of every source.
type ValueFormat struct {
	// DecimalComma: true for 1.234,56, false for 1234.56; nil means the source's default
	// (detect per value for files, decimal point for SQL, REST and SOAP).
	DecimalComma *bool `json:"decimalComma,omitempty"`
	// DateFormat is the layout of due dates (see ParseDate): dd/mm/yyyy, iso, YYYYMMDD,
	// DDMMYYYY, a Go layout such as 02.01.2006 or a strftime one such as %d-%m-%Y; empty
	// means the source's default.
	DateFormat string `json:"dateFormat,omitempty"`
	// MinAmount is the smallest amount accepted, in euro (default 0.01): a comune may
	// not want notices for a few cents.
	MinAmount float64 `json:"minAmount,omitempty"`
	// IBANCountries is the policy for the iban field: IT (default: Italian IBANs only,
	// as refunds and direct debits of a comune go to Italian accounts) or SEPA (any
	// country of the SEPA scheme).
	IBANCountries string `json:"ibanCountries,omitempty"`
	RecordRules
}

func (v ValueFormat) check(kind string, columns bool) error {
	if v.DateFormat != "" {
		if _, err := CompileDateLayout(v.DateFormat); err != nil {
			return fmt.Errorf("legacy: %s: dateFormat: %w", kind, err)
		}
	}
	if _, err := minCents(v.MinAmount); err != nil {
		return fmt.Errorf("legacy: %s: minAmount: %w", kind, err)
	}
	switch v.IBANCountries {
	case "", IBANItaly, IBANSEPA:
	default:
		return fmt.Errorf("legacy: %s: ibanCountries %q: use IT or SEPA", kind, v.IBANCountries)
	}
	return v.RecordRules.check(kind, columns)
}

// minCents turns MinAmount into cents; 0 means the default, one cent.
func minCents(euro float64) (int64, error) {
	if euro == 0 {
		return 1, nil
	}
	c := math.Round(euro * 100)
	if euro < 0 || c > MaxAmountCents || math.Abs(c-euro*100) > 1e-6 {
		return 0, fmt.Errorf("%v must be a positive amount in euro with at most 2 decimals, below %s", euro, maxAmountText)
	}
	return max(int64(c), 1), nil
}

// Duplicate actions: what a source does with a record that is the same debt as an
// earlier one by the duplicate rule's fields.
const (
	DupReject = "reject" // default: the later records are rejected, naming the first
	DupWarn   = "warn"   // kept, with a warning in the check and the logs
	DupAllow  = "allow"  // kept silently: the fields do not make a debt
)

// RecordRules say what identifies a record and when two records are the same debt.
// Exact duplicate rows (every column equal) are always rejected after the first: a
// file exported twice must never become two notices.
type RecordRules struct {
	// Identity lists the fields whose values identify a record when it has no
	// externalId: canonical fields, or column names of a CSV header or SQL result. The
	// key is their normalised values joined by "|". Without it (and without an id) a
	// record is identified by its position: source, file and line (or record number).
	Identity []string `json:"identity,omitempty"`
	// Duplicates is the rule that makes two records the same debt.
	Duplicates *DuplicateRule `json:"duplicates,omitempty"`
}

// DuplicateRule: records with equal values in all Fields are the same debt; Action
// says what to do with the later ones (DupReject by default).
type DuplicateRule struct {
	Fields []string `json:"fields"`
	Action string   `json:"action,omitempty"`
}

// ruleFieldOK says whether name can be used in identity or duplicates: a canonical
// field, or (when the source has named columns) a plain column name.
func ruleFieldOK(name string, columns bool) bool {
	return containsStr(canonicalFields, name) || columns && strings.TrimSpace(name) != "" && len(name) <= 128
}

func (r RecordRules) check(kind string, columns bool) error {
	where := "canonical fields (" + strings.Join(canonicalFields, ", ") + ")"
	if columns {
		where += " or column names"
	}
	for i, f := range r.Identity {
		if !ruleFieldOK(f, columns) {
			return fmt.Errorf("legacy: %s: identity[%d] %q: use %s", kind, i, f, where)
		}
	}
	if d := r.Duplicates; d != nil {
		if len(d.Fields) == 0 {
			return fmt.Errorf("legacy: %s: duplicates.fields is empty: list the fields that make two records the same debt, e.g. [fiscalCode, amount, description]", kind)
		}
		for i, f := range d.Fields {
			if !ruleFieldOK(f, columns) {
				return fmt.Errorf("legacy: %s: duplicates.fields[%d] %q: use %s", kind, i, f, where)
			}
		}
		switch d.Action {
		case "", DupReject, DupWarn, DupAllow:
		default:
			return fmt.Errorf("legacy: %s: duplicates.action %q: use reject, warn or allow", kind, d.Action)
		}
	}
	return nil
}

// extraColumns lists the rule fields that are not canonical fields: columns a source
// must find by name besides the mapped ones.
func (r RecordRules) extraColumns() []string {
	var out []string
	add := func(f string) {
		if !containsStr(canonicalFields, f) && !containsStr(out, f) {
			out = append(out, f)
		}
	}
	for _, f := range r.Identity {
		add(f)
	}
	if r.Duplicates != nil {
		for _, f := range r.Duplicates.Fields {
			add(f)
		}
	}
	return out
}

// Warning is something about a valid record a person should look at (a possible
// duplicate, say); the record is still used.
type Warning struct {
	Field     string `json:"field,omitempty"`
	Rule      string `json:"rule"`
	MessageIT string `json:"messageIt"`
	MessageEN string `json:"messageEn"`
}

// checker runs the validators every source shares on one record's raw field values and
// the duplicate rules: it remembers the external ids, whole rows and duplicate-rule keys
// already seen. It keeps a 64-bit hash per value, not the value, so that memory grows by
// a few bytes per record, whatever the record size; a false duplicate needs a hash
// collision (odds about n²/2⁶⁵: 3·10⁻⁸ for a million records) and would show in the
// reject report.
type checker struct {
	amounts    AmountFormat
	dateFormat string
	layout     *DateLayout
	minCents   int64
	iban       string // IBANItaly or IBANSEPA
	rules      RecordRules
	source     string   // the source's name, for positional keys
	fields     []string // the record type's fields: canonicalFields for debtors
	seed       maphash.Seed
	seen       map[uint64]idSeen // external ids of valid records
	rows       map[uint64]int    // whole rows without an external id
	debts      map[uint64]int    // duplicate-rule keys; people: fiscal codes used as keys
}

func (c *checker) idHash(id string) uint64 { return maphash.String(c.seed, id) }

// newChecker uses defAmounts and defDate when vf leaves them unset. vf has been checked
// (ValueFormat.check) when the source was built.
func newChecker(vf ValueFormat, defAmounts AmountFormat, defDate string) *checker {
	c := &checker{amounts: defAmounts, dateFormat: vf.DateFormat, fields: canonicalFields, seed: maphash.MakeSeed(), seen: map[uint64]idSeen{},
		rows: map[uint64]int{}, debts: map[uint64]int{}, rules: vf.RecordRules, minCents: 1, iban: vf.IBANCountries}
	if vf.DecimalComma != nil {
		c.amounts = AmountDecimalPoint
		if *vf.DecimalComma {
			c.amounts = AmountDecimalComma
		}
	}
	if c.dateFormat == "" {
		c.dateFormat = defDate
	}
	if l, err := CompileDateLayout(c.dateFormat); err == nil {
		c.layout = l
	}
	if m, err := minCents(vf.MinAmount); err == nil {
		c.minCents = m
	}
	return c
}

// idSeen is where an external id was first seen, and a hash of that whole row: a
// record with an id costs one map entry, which tells a repeated id from a repeated row.
type idSeen struct {
	line int32
	row  uint32
}

// typed says which raw values came as typed numbers or dates (from SQL or JSON) rather
// than text, so they are read in their one canonical notation.
type typed struct {
	amountNumber bool // the amount is a number rendered with a decimal point
	dateISO      bool // the due date is YYYY-MM-DD
}

func rejectFromErr(err error, line int) *Reject {
	var fe *FieldError
	if errors.As(err, &fe) {
		return &Reject{Line: line, Field: fe.Field, Value: clip(fe.Value), Rule: fe.Rule, MessageIT: fe.MessageIT, MessageEN: fe.MessageEN}
	}
	return &Reject{Line: line, Rule: "invalid", MessageIT: err.Error(), MessageEN: err.Error()}
}

// row is one source record as the checker sees it.
type row struct {
	line int
	get  func(field string) string        // trimmed raw value of a canonical field
	col  func(name string) (string, bool) // any other column by name; nil when the source has none
	raw  []string                         // the whole record, for exact duplicates; nil means the canonical values
	key  string                           // the record's key in its system (SQL key columns), if any
	ty   typed
}

// check validates one record; get returns the trimmed raw value of a canonical field.
func (c *checker) check(get func(field string) string, line int, ty typed) (Debtor, *Reject) {
	return c.checkRow(row{line: line, get: get, ty: ty})
}

func (c *checker) checkRow(r row) (Debtor, *Reject) {
	d, rj := c.validate(r)
	if rj != nil {
		rj.Key = r.key
		if rj.Key == "" {
			rj.Key = c.ruleKey(r, nil, c.rules.Identity)
		}
	}
	return d, rj
}

// value returns a rule field's value: the normalised one of the debtor when it is a
// canonical field and d is valid, else the trimmed raw value.
func (c *checker) value(r row, d *Debtor, f string) string {
	if d != nil {
		switch f {
		case FieldFiscalCode:
			return d.FiscalCode
		case FieldAmount:
			return formatEuro(d.AmountCents)
		case FieldDueDate:
			return d.DueDate
		case FieldIBAN:
			return d.IBAN
		case FieldPhone:
			return d.Phone
		case FieldCAP:
			return d.CAP
		case FieldISTAT:
			return d.ISTAT
		case FieldCadastralCode:
			return d.Cadastral
		case FieldEmail:
			return strings.ToLower(d.Email)
		}
	}
	if containsStr(canonicalFields, f) {
		return r.get(f)
	}
	if r.col != nil {
		v, _ := r.col(f)
		return strings.TrimSpace(v)
	}
	return ""
}

// ruleKey joins the values of fields with "|"; "" when fields is empty.
func (c *checker) ruleKey(r row, d *Debtor, fields []string) string {
	if len(fields) == 0 {
		return ""
	}
	parts := make([]string, len(fields))
	for i, f := range fields {
		parts[i] = c.value(r, d, f)
	}
	return strings.Join(parts, "|")
}

func (c *checker) rowHash(r row) uint64 {
	var h maphash.Hash
	h.SetSeed(c.seed)
	if r.raw != nil {
		for _, v := range r.raw {
			_, _ = h.WriteString(v)
			_ = h.WriteByte(0x1f)
		}
		return h.Sum64()
	}
	for _, f := range c.fields {
		_, _ = h.WriteString(r.get(f))
		_ = h.WriteByte(0x1f)
	}
	return h.Sum64()
}

// admit runs the checks every record type shares before its own: values that are
// valid UTF-8, no copy of an earlier row, an externalId of at most 64 characters that
// no earlier valid record has. It returns the id and the row's hash, for remember
// once the record passed its own checks.
func (c *checker) admit(r row) (id string, rh uint64, rj *Reject) {
	get, line := r.get, r.line
	for _, f := range c.fields {
		if v := get(f); !utf8.ValidString(v) {
			return "", 0, &Reject{Line: line, Field: f, Value: strings.ToValidUTF8(clip(v), "\uFFFD"), Rule: "encoding",
				MessageIT: "testo non valido in UTF-8: il file è forse in windows-1252? impostare encoding nella configurazione",
				MessageEN: "text is not valid UTF-8: is the file windows-1252? set encoding in the source config"}
		}
	}
	rh = c.rowHash(r)
	dupRow := func(first int) *Reject {
		return &Reject{Line: line, Rule: "duplicateRow",
			MessageIT: fmt.Sprintf("riga identica alla riga %d: lo stesso record esportato due volte? togliere la copia dall'esportazione", first),
			MessageEN: fmt.Sprintf("row identical to line %d: the same record exported twice? remove the copy from the export", first)}
	}
	id = get(FieldExternalID)
	if id == "" {
		if first, dup := c.rows[rh]; dup {
			return "", rh, dupRow(first)
		}
		c.rows[rh] = line
	}
	if utf8.RuneCountInString(id) > 64 {
		return id, rh, rejectFromErr(ferr(FieldExternalID, id, "maxLength", "identificativo del record più lungo di 64 caratteri", "record id longer than 64 characters"), line)
	}
	if id != "" {
		if first, dup := c.seen[c.idHash(id)]; dup {
			if first.row == uint32(rh) {
				return id, rh, dupRow(int(first.line))
			}
			return id, rh, rejectFromErr(ferr(FieldExternalID, id, "duplicate",
				fmt.Sprintf("identificativo del record già presente alla riga %d", first.line),
				fmt.Sprintf("record id already used on line %d", first.line)), line)
		}
	}
	return id, rh, nil
}

// remember keeps the id of a record that passed every check, so that a later one
// with the same id is rejected.
func (c *checker) remember(id string, line int, rh uint64) {
	if id != "" {
		c.seen[c.idHash(id)] = idSeen{line: int32(line), row: uint32(rh)}
	}
}

// optionalFields validates the optional phone and address codes debtors and people
// share, and stores their normalised values: phone in E.164, CAP, ISTAT and
// cadastral code upper case and trimmed.
func optionalFields(get func(string) string, phone, postal, istat, cadastral *string) error {
	if v := get(FieldPhone); v != "" {
		p, err := NormalizePhoneIT(v)
		if err != nil {
			return err
		}
		*phone = p
	}
	for _, f := range []struct {
		name  string
		check func(string) error
		dst   *string
	}{{FieldCAP, ValidateCAP, postal}, {FieldISTAT, ValidateISTAT, istat}, {FieldCadastralCode, ValidateCadastralCode, cadastral}} {
		if v := get(f.name); v != "" {
			if err := f.check(v); err != nil {
				return err
			}
			*f.dst = strings.ToUpper(strings.TrimSpace(v))
		}
	}
	return nil
}

func (c *checker) validate(r row) (Debtor, *Reject) {
	get, line, ty := r.get, r.line, r.ty
	id, rh, rj := c.admit(r)
	d := Debtor{Line: line, ExternalID: id}
	if rj != nil {
		return d, rj
	}
	cf := get(FieldFiscalCode)
	if err := ValidateCodiceFiscale(cf); err != nil {
		return d, rejectFromErr(err, line)
	}
	d.FiscalCode = NormalizeCodiceFiscale(cf)
	d.Surname = get(FieldSurname)
	if d.Surname == "" {
		return d, rejectFromErr(ferr(FieldSurname, "", "required", "cognome o ragione sociale mancante", "surname or company name is missing"), line)
	}
	d.Name = get(FieldName)
	if d.Name == "" && len(d.FiscalCode) == 16 {
		return d, rejectFromErr(ferr(FieldName, "", "required", "nome mancante per una persona fisica", "first name is missing for a natural person"), line)
	}
	d.Email = get(FieldEmail)
	if err := ValidateEmail(d.Email); err != nil {
		return d, rejectFromErr(err, line)
	}
	amounts := c.amounts
	if ty.amountNumber {
		amounts = AmountDecimalPoint
	}
	amt, err := ParseAmount(get(FieldAmount), amounts)
	if err != nil {
		return d, rejectFromErr(err, line)
	}
	if amt < c.minCents {
		return d, rejectFromErr(ferr(FieldAmount, get(FieldAmount), "minimum",
			fmt.Sprintf("l'importo è sotto il minimo di %s euro fissato per questa fonte (minAmount)", formatEuro(c.minCents)),
			fmt.Sprintf("amount is below this source's minimum of %s euro (minAmount)", formatEuro(c.minCents))), line)
	}
	d.AmountCents = amt
	if ty.dateISO || c.layout == nil {
		df := c.dateFormat
		if ty.dateISO {
			df = DateISO
		}
		d.DueDate, err = ParseDate(get(FieldDueDate), df)
	} else {
		d.DueDate, err = c.layout.Parse(get(FieldDueDate))
	}
	if err != nil {
		return d, rejectFromErr(err, line)
	}
	d.Description = get(FieldDescription)
	if utf8.RuneCountInString(d.Description) > 140 {
		return d, rejectFromErr(ferr(FieldDescription, d.Description, "maxLength", "la descrizione supera 140 caratteri", "description is longer than 140 characters"), line)
	}
	if v := get(FieldIBAN); v != "" {
		if err := ValidateIBANPolicy(v, c.iban); err != nil {
			return d, rejectFromErr(err, line)
		}
		d.IBAN = NormalizeIBAN(v)
	}
	if err := optionalFields(get, &d.Phone, &d.CAP, &d.ISTAT, &d.Cadastral); err != nil {
		return d, rejectFromErr(err, line)
	}
	switch {
	case d.ExternalID != "":
		d.Key = d.ExternalID
	case r.key != "":
		d.Key = r.key
	case len(c.rules.Identity) > 0:
		d.Key = c.ruleKey(r, &d, c.rules.Identity)
	default:
		d.Key = c.source + ":" + strconv.Itoa(line)
	}
	if dr := c.rules.Duplicates; dr != nil && dr.Action != DupAllow {
		k := c.ruleKey(r, &d, dr.Fields)
		h := maphash.String(c.seed, k)
		if first, dup := c.debts[h]; dup {
			it := fmt.Sprintf("stesso debito della riga %d (stessi %s): togliere una delle due righe, o impostare duplicates.action a warn o allow se sono entrambi dovuti", first, strings.Join(dr.Fields, ", "))
			en := fmt.Sprintf("same debt as line %d (same %s): remove one of the rows, or set duplicates.action to warn or allow if both are due", first, strings.Join(dr.Fields, ", "))
			if dr.Action == DupWarn {
				d.Warnings = append(d.Warnings, Warning{Field: strings.Join(dr.Fields, "+"), Rule: "duplicate", MessageIT: it, MessageEN: en})
			} else {
				return d, &Reject{Line: line, Field: strings.Join(dr.Fields, "+"), Value: clip(k), Rule: "duplicate", MessageIT: it, MessageEN: en}
			}
		} else {
			c.debts[h] = line
		}
	}
	c.remember(d.ExternalID, line, rh)
	return d, nil
}

// counter sends each record (a Debtor, a Person) to emit or reject and keeps
// Stats consistent: Read == Valid + Rejected whatever happens.
type counter[T any] struct {
	name   string
	st     Stats
	emit   func(T) error
	reject func(Reject) error
}

// stream is a Read: it refuses missing callbacks, then runs read with a counter
// of records named name, and returns the counter's stats with read's error.
func stream[T any](name string, emit func(T) error, reject func(Reject) error, read func(*counter[T]) error) (Stats, error) {
	if emit == nil || reject == nil {
		return Stats{}, errNoReject
	}
	c := &counter[T]{name: name, emit: emit, reject: reject}
	err := read(c)
	return c.st, err
}

func (c *counter[T]) put(d T, rj *Reject) error {
	if rj != nil {
		rj.Source = c.name
		if err := c.reject(*rj); err != nil {
			return err
		}
		c.st.Read++
		c.st.Rejected++
		return nil
	}
	if err := c.emit(d); err != nil {
		return err
	}
	c.st.Read++
	c.st.Valid++
	return nil
}

// SecretResolver turns a secret reference into its value. Sources use ResolveSecret
// unless a caller sets its own (for a vault, say) with SetSecretResolver.
type SecretResolver func(ref, baseDir string) (string, error)

var secretResolver SecretResolver = ResolveSecret

// SetSecretResolver replaces the resolver used by sources opened afterwards; nil restores
// ResolveSecret. It is meant for program start-up.
func SetSecretResolver(r SecretResolver) {
	if r == nil {
		r = ResolveSecret
	}
	secretMu.Lock()
	secretResolver = r
	secretMu.Unlock()
}

func resolveSecret(ref, baseDir string) (string, error) {
	secretMu.RLock()
	r := secretResolver
	secretMu.RUnlock()
	return r(ref, baseDir)
}

// SecretError says which reference could not be resolved; it never holds the value.
type SecretError struct {
	Ref    string
	Reason string
}

func (e *SecretError) Error() string { return "legacy: secret " + e.Ref + ": " + e.Reason }

// Failure: a missing secret is a configuration problem no retry fixes.
func (e *SecretError) Failure() failure.Info { return failure.Info{Class: failure.Permanent} }

// ResolveSecret reads "env:NAME" (a non-empty environment variable) or "file:path" (a
// file of at most 64 KiB, relative to baseDir), trimming surrounding whitespace. It is
// the same contract as the tenant package's Secret, kept here so that connectors do not
// depend on tenant configuration.
func ResolveSecret(ref, baseDir string) (string, error) {
	switch {
	case strings.HasPrefix(ref, "env:"):
		name := strings.TrimPrefix(ref, "env:")
		v := strings.TrimSpace(os.Getenv(name))
		if v == "" {
			return "", &SecretError{Ref: ref, Reason: "environment variable " + name + " is unset or empty"}
		}
		return v, nil
	case strings.HasPrefix(ref, "file:"):
		p := strings.TrimPrefix(ref, "file:")
		if !filepath.IsAbs(p) && baseDir != "" {
			p = filepath.Join(baseDir, p)
		}
		f, err := os.Open(p)
		if err != nil {
			return "", &SecretError{Ref: ref, Reason: "cannot read file: " + err.Error()}
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, 64<<10+1))
		if err != nil || len(b) > 64<<10 {
			return "", &SecretError{Ref: ref, Reason: "cannot read file or larger than 64 KiB"}
		}
		v := strings.TrimSpace(string(b))
		if v == "" {
			return "", &SecretError{Ref: ref, Reason: "file is empty"}
		}
		return v, nil
	case ref == "":
		return "", &SecretError{Ref: "(none)", Reason: "no secret reference configured"}
	}
	return "", &SecretError{Ref: ref, Reason: "reference must start with env: or file:"}
}

// rawString renders a value scanned from SQL or decoded from JSON/XML as text, and says
// whether it was a typed number or date.
func rawString(v any) (s string, isNumber, isDate bool) {
	switch x := v.(type) {
	case nil:
		return "", false, false
	case string:
		return x, false, false
	case []byte:
		return string(x), false, false
	case json.Number:
		return x.String(), true, false
	case int64:
		return strconv.FormatInt(x, 10), true, false
	case int32:
		return strconv.FormatInt(int64(x), 10), true, false
	case int:
		return strconv.Itoa(x), true, false
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true, false
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32), true, false
	case bool:
		return strconv.FormatBool(x), false, false
	case time.Time:
		return x.Format("2006-01-02"), false, true
	case fmt.Stringer:
		return x.String(), false, false
	}
	return fmt.Sprint(v), false, false
}

// decodeReader decodes a file in one of the supported encodings into UTF-8, skipping a
// UTF-8 byte order mark.
func decodeReader(f io.Reader, encoding string) io.Reader {
	switch encoding {
	case "windows-1252":
		return charmap.Windows1252.NewDecoder().Reader(f)
	case "iso-8859-1":
		return charmap.ISO8859_1.NewDecoder().Reader(f)
	}
	br := bufio.NewReaderSize(f, 64<<10)
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte{0xEF, 0xBB, 0xBF}) {
		_, _ = br.Discard(3)
	}
	return br
}
