package legacy

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"
)

// KindFixedWidth is the tenant config kind of the fixed-width file source.
const KindFixedWidth = "fixedwidth"

func init() {
	RegisterSource(KindFixedWidth, "legacy-fixedwidth.schema.json", func(cfg json.RawMessage, baseDir string) (DebtorSource, error) {
		var c FixedWidthConfig
		if err := decodeStrict(KindFixedWidth, cfg, &c); err != nil {
			return nil, err
		}
		return NewFixedWidthSource(c, baseDir)
	})
}

// FieldSpec places a field in a fixed-width line: Start is the 1-based position of its
// first character, Length its width in characters (after decoding).
type FieldSpec struct {
	Start  int `json:"start"`
	Length int `json:"length"`
}

// Trim modes of fixed-width fields.
const (
	TrimBoth  = "both"  // default: spaces on both sides
	TrimRight = "right" // trailing padding only
	TrimNone  = "none"  // keep every character
)

// FixedWidthConfig configures a fixed-width debtors file (the tracciato record of many
// tributi back offices); it mirrors legacy-fixedwidth.schema.json.
type FixedWidthConfig struct {
	Path     string `json:"path"`
	Encoding string `json:"encoding,omitempty"` // utf-8 (default), windows-1252, iso-8859-1
	// SkipLines is the number of header lines to ignore.
	SkipLines int `json:"skipLines,omitempty"`
	// Trim is TrimBoth (default), TrimRight or TrimNone.
	Trim string `json:"trim,omitempty"`
	// AmountCents says the amount field is an integer number of cents, zero padded
	// (000012345 is 123,45 euro), as COBOL-era layouts write it.
	AmountCents bool                 `json:"amountCents,omitempty"`
	Fields      map[string]FieldSpec `json:"fields"`
	ValueFormat
}

// FixedWidthSource reads debtors from a fixed-width file, streaming line by line.
type FixedWidthSource struct {
	cfg    FixedWidthConfig
	path   string
	fields []fwField
	minLen int // characters needed to hold every required field
}

type fwField struct {
	name string
	spec FieldSpec
}

// maxLineBytes bounds one line; longer lines are rejected, not buffered.
const maxLineBytes = 64 << 10

// NewFixedWidthSource checks cfg; a relative Path resolves against baseDir.
func NewFixedWidthSource(cfg FixedWidthConfig, baseDir string) (*FixedWidthSource, error) {
	if cfg.Path == "" {
		return nil, errors.New("legacy: fixedwidth: path is required")
	}
	s := &FixedWidthSource{cfg: cfg, path: cfg.Path}
	if !filepath.IsAbs(s.path) && baseDir != "" {
		s.path = filepath.Join(baseDir, s.path)
	}
	if err := checkEncoding(KindFixedWidth, cfg.Encoding); err != nil {
		return nil, err
	}
	if err := cfg.ValueFormat.check(KindFixedWidth, false); err != nil {
		return nil, err
	}
	switch cfg.Trim {
	case "", TrimBoth, TrimRight, TrimNone:
	default:
		return nil, fmt.Errorf("legacy: fixedwidth: trim %q: use both, right or none", cfg.Trim)
	}
	if cfg.SkipLines < 0 {
		return nil, errors.New("legacy: fixedwidth: skipLines must not be negative")
	}
	for f, sp := range cfg.Fields {
		if !containsStr(canonicalFields, f) {
			return nil, fmt.Errorf("legacy: fixedwidth: fields: unknown field %q (fields: %s)", f, strings.Join(canonicalFields, ", "))
		}
		if sp.Start < 1 || sp.Length < 1 || sp.Length > maxLineBytes {
			return nil, fmt.Errorf("legacy: fixedwidth: fields.%s: start must be >= 1 and length between 1 and %d", f, maxLineBytes)
		}
		s.fields = append(s.fields, fwField{f, sp})
		if requiredColumns[f] {
			s.minLen = max(s.minLen, sp.Start) // the field must at least begin on the line
		}
	}
	for f := range requiredColumns {
		if _, ok := cfg.Fields[f]; !ok {
			return nil, fmt.Errorf("legacy: fixedwidth: fields.%s is required (start and length)", f)
		}
	}
	// Fields may overlap: a tracciato may use the same characters twice (the codice
	// fiscale as the record id, say), and cutting a field never consumes the line.
	sort.Slice(s.fields, func(i, j int) bool { return s.fields[i].spec.Start < s.fields[j].spec.Start })
	return s, nil
}

func checkEncoding(kind, enc string) error {
	switch enc {
	case "", "utf-8", "windows-1252", "iso-8859-1":
		return nil
	}
	return fmt.Errorf("legacy: %s: unsupported encoding %q (use utf-8, windows-1252 or iso-8859-1)", kind, enc)
}

// Name is "fixedwidth:" and the file name.
func (s *FixedWidthSource) Name() string { return "fixedwidth:" + filepath.Base(s.path) }

// FixedWidthFields cuts one line into its fields as configured, trimming per trim. A
// field that starts after the end of the line is empty; one that runs past it is cut
// short. Positions count characters, so line must be valid UTF-8 to be cut exactly;
// invalid bytes count as one character each.
func FixedWidthFields(line string, specs map[string]FieldSpec, trim string) map[string]string {
	out := make(map[string]string, len(specs))
	ascii := true
	for i := 0; i < len(line); i++ {
		if line[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	var runes []rune
	if !ascii {
		runes = []rune(line)
	}
	for f, sp := range specs {
		out[f] = cutField(line, runes, ascii, sp, trim)
	}
	return out
}

func cutField(line string, runes []rune, ascii bool, sp FieldSpec, trim string) string {
	start := sp.Start - 1
	var v string
	if ascii {
		if start >= len(line) || start < 0 {
			return ""
		}
		v = line[start:min(len(line), start+sp.Length)]
	} else {
		if start >= len(runes) || start < 0 {
			return ""
		}
		v = string(runes[start:min(len(runes), start+sp.Length)])
	}
	switch trim {
	case TrimNone:
		return v
	case TrimRight:
		return strings.TrimRight(v, " \t")
	}
	return strings.TrimSpace(v)
}

// centsToAmount turns "000012345" into "123.45"; ok is false when v is not digits.
func centsToAmount(v string) (string, bool) {
	if v == "" {
		return "", true
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return v, false
		}
	}
	v = strings.TrimLeft(v, "0")
	for len(v) < 3 {
		v = "0" + v
	}
	return v[:len(v)-2] + "." + v[len(v)-2:], true
}

// readLongLine reads one line without its line ending; a line longer than limit is
// consumed and reported with tooLong, its content dropped.
func readLongLine(br *bufio.Reader, limit int) (line string, tooLong bool, err error) {
	var buf []byte
	for {
		chunk, isPrefix, err := br.ReadLine()
		if err != nil {
			if err == io.EOF && (len(buf) > 0 || tooLong) {
				return string(buf), tooLong, nil
			}
			return "", false, err
		}
		if !tooLong {
			if len(buf)+len(chunk) > limit {
				tooLong, buf = true, nil
			} else {
				buf = append(buf, chunk...)
			}
		}
		if !isPrefix {
			return string(buf), tooLong, nil
		}
	}
}

// Read streams the file: every non-blank line after SkipLines goes to emit or reject.
func (s *FixedWidthSource) Read(ctx context.Context, emit func(Debtor) error, reject func(Reject) error) (Stats, error) {
	if emit == nil || reject == nil {
		return Stats{}, errNoReject
	}
	f, err := os.Open(s.path)
	if err != nil {
		return Stats{}, fmt.Errorf("legacy: fixedwidth: %w", err)
	}
	defer f.Close()
	r := decodeReader(f, s.cfg.Encoding)
	br := bufio.NewReaderSize(r, 64<<10)
	chk := newChecker(s.cfg.ValueFormat, AmountAuto, DateDMY)
	chk.source = s.Name()
	c := &counter[Debtor]{name: s.Name(), emit: emit, reject: reject}
	specs := s.cfg.Fields
	for line := 1; ; line++ {
		if line%256 == 0 {
			if err := ctx.Err(); err != nil {
				return c.st, err
			}
		}
		text, tooLong, err := readLongLine(br, maxLineBytes)
		if err == io.EOF {
			return c.st, nil
		}
		if err != nil {
			return c.st, fmt.Errorf("legacy: fixedwidth %s: line %d: %w", s.path, line, err)
		}
		if line == 1 {
			text = strings.TrimPrefix(text, "\uFEFF")
		}
		if line <= s.cfg.SkipLines || (!tooLong && strings.TrimSpace(text) == "") {
			continue
		}
		var d Debtor
		var rj *Reject
		switch {
		case tooLong:
			rj = &Reject{Line: line, Rule: "lineLength",
				MessageIT: fmt.Sprintf("riga più lunga di %d byte: il file è davvero a larghezza fissa?", maxLineBytes),
				MessageEN: fmt.Sprintf("line longer than %d bytes: is the file really fixed-width?", maxLineBytes)}
		case utf8.RuneCountInString(text) < s.minLen:
			rj = &Reject{Line: line, Value: clip(text), Rule: "columns",
				MessageIT: fmt.Sprintf("riga troppo corta: %d caratteri, ne servono almeno %d", utf8.RuneCountInString(text), s.minLen),
				MessageEN: fmt.Sprintf("line too short: %d characters, at least %d needed", utf8.RuneCountInString(text), s.minLen)}
		default:
			d, rj = s.record(text, specs, line, chk)
		}
		if err := c.put(d, rj); err != nil {
			return c.st, err
		}
	}
}

func (s *FixedWidthSource) record(text string, specs map[string]FieldSpec, line int, chk *checker) (Debtor, *Reject) {
	vals := FixedWidthFields(text, specs, s.cfg.Trim)
	var ty typed
	if s.cfg.AmountCents {
		a, ok := centsToAmount(strings.TrimSpace(vals[FieldAmount]))
		if !ok {
			return Debtor{}, rejectFromErr(ferr(FieldAmount, vals[FieldAmount], "format",
				"l'importo in centesimi deve contenere solo cifre", "an amount in cents must contain digits only"), line)
		}
		vals[FieldAmount], ty.amountNumber = a, true
	}
	return chk.checkRow(row{line: line, get: func(f string) string { return vals[f] }, raw: []string{text}, ty: ty})
}
