package legacy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"

	"github.com/ponte-pa/ponte/connectors/failure"
)

// ValueFormat says how a source writes amounts and dates when they arrive as text. It is
// embedded in the config of every source but CSV (which has the same two fields).
type ValueFormat struct {
	// DecimalComma: true for 1.234,56, false for 1234.56; nil means the source's default
	// (detect per value for files, decimal point for SQL, REST and SOAP).
	DecimalComma *bool `json:"decimalComma,omitempty"`
	// DateFormat is DateDMY or DateISO; empty means the source's default.
	DateFormat string `json:"dateFormat,omitempty"`
}

func (v ValueFormat) check(kind string) error {
	switch v.DateFormat {
	case "", DateDMY, DateISO:
		return nil
	}
	return fmt.Errorf("legacy: %s: unsupported dateFormat %q (use %s or %s)", kind, v.DateFormat, DateDMY, DateISO)
}

// checker runs the validators every source shares on one record's raw field values and
// remembers the external ids already emitted, so duplicates are rejected after the first.
// It keeps a 64-bit hash per id, not the id, so that memory grows by a few bytes per
// record, whatever the record size; a false duplicate needs a hash collision (odds
// about n²/2⁶⁵: 3·10⁻⁸ for a million records) and would show in the reject report.
type checker struct {
	amounts    AmountFormat
	dateFormat string
	seed       maphash.Seed
	seen       map[uint64]int
}

func (c *checker) idHash(id string) uint64 { return maphash.String(c.seed, id) }

// newChecker uses defAmounts and defDate when vf leaves them unset.
func newChecker(vf ValueFormat, defAmounts AmountFormat, defDate string) *checker {
	c := &checker{amounts: defAmounts, dateFormat: vf.DateFormat, seed: maphash.MakeSeed(), seen: map[uint64]int{}}
	if vf.DecimalComma != nil {
		c.amounts = AmountDecimalPoint
		if *vf.DecimalComma {
			c.amounts = AmountDecimalComma
		}
	}
	if c.dateFormat == "" {
		c.dateFormat = defDate
	}
	return c
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

// check validates one record; get returns the trimmed raw value of a canonical field.
func (c *checker) check(get func(field string) string, line int, ty typed) (Debtor, *Reject) {
	for _, f := range canonicalFields {
		if v := get(f); !utf8.ValidString(v) {
			return Debtor{}, &Reject{Line: line, Field: f, Value: strings.ToValidUTF8(clip(v), "\uFFFD"), Rule: "encoding",
				MessageIT: "testo non valido in UTF-8: il file è forse in windows-1252? impostare encoding nella configurazione",
				MessageEN: "text is not valid UTF-8: is the file windows-1252? set encoding in the source config"}
		}
	}
	d := Debtor{Line: line}
	d.ExternalID = get(FieldExternalID)
	if d.ExternalID == "" {
		return d, rejectFromErr(ferr(FieldExternalID, "", "required", "identificativo della pratica mancante", "record id is missing"), line)
	}
	if utf8.RuneCountInString(d.ExternalID) > 64 {
		return d, rejectFromErr(ferr(FieldExternalID, d.ExternalID, "maxLength", "identificativo della pratica più lungo di 64 caratteri", "record id longer than 64 characters"), line)
	}
	if first, dup := c.seen[c.idHash(d.ExternalID)]; dup {
		return d, rejectFromErr(ferr(FieldExternalID, d.ExternalID, "duplicate",
			fmt.Sprintf("identificativo della pratica già presente alla riga %d", first),
			fmt.Sprintf("record id already used on line %d", first)), line)
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
	d.AmountCents = amt
	df := c.dateFormat
	if ty.dateISO {
		df = DateISO
	}
	if d.DueDate, err = ParseDate(get(FieldDueDate), df); err != nil {
		return d, rejectFromErr(err, line)
	}
	d.Description = get(FieldDescription)
	if utf8.RuneCountInString(d.Description) > 140 {
		return d, rejectFromErr(ferr(FieldDescription, d.Description, "maxLength", "la descrizione supera 140 caratteri", "description is longer than 140 characters"), line)
	}
	c.seen[c.idHash(d.ExternalID)] = line
	return d, nil
}

// counter sends each record to emit or reject and keeps Stats consistent:
// Read == Valid + Rejected whatever happens.
type counter struct {
	name   string
	st     Stats
	emit   func(Debtor) error
	reject func(Reject) error
}

func (c *counter) put(d Debtor, rj *Reject) error {
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
