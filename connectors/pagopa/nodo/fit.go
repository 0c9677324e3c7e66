package nodo

import (
	"fmt"
	"log/slog"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/ponte-pa/ponte/connectors/pagopa"
)

// fitter fits a reply's values to the paForNode schema's limits, on the
// rule that the Nodo must never get a value it refuses:
//
//   - free texts (names, descriptions, remittance) longer than their
//     stTextN are cut, and each cut is logged as a note;
//   - required texts that are empty, and codes (fiscal codes, taxonomy
//     codes, the debtor's id) outside their limits, cannot be made right by
//     cutting: the reply becomes a PAA_SYSTEM_ERROR naming the field.
//
// Cuts keep at most n UTF-16 code units, which is also at most n
// characters: XSD counts characters, the Nodo is a Java service whose
// strings count UTF-16 units, and the cut value fits either count.
type fitter struct {
	what  string // e.g. "activation of 301…"
	notes []string
	errs  []string
}

func (f *fitter) fail(format string, a ...any) { f.errs = append(f.errs, fmt.Sprintf(format, a...)) }

// text cuts an optional text to max; empty stays empty (and is omitted).
func (f *fitter) text(field, v string, max int) string {
	cut := cutUTF16(v, max)
	if cut != v {
		f.notes = append(f.notes, fmt.Sprintf("%s cut from %d to %d characters", field, utf8.RuneCountInString(v), utf8.RuneCountInString(cut)))
	}
	return cut
}

// required is text for a required stTextN (minLength 1).
func (f *fitter) required(field, v string, max int) string {
	if v == "" {
		f.fail("%s is empty, the schema requires 1..%d characters", field, max)
		return v
	}
	return f.text(field, v, max)
}

// code checks a code that must not be cut.
func (f *fitter) code(field, v string, min, max int) string {
	if n := utf8.RuneCountInString(v); n < min || n > max || utf16Len(v) > max {
		f.fail("%s %q: %d characters, the schema wants %d..%d", field, clip(v, 40), n, min, max)
	}
	return v
}

// digits checks a code of exactly n ASCII digits (stFiscalCodePA).
func (f *fitter) digits(field, v string, n int) string {
	ok := len(v) == n
	for i := 0; ok && i < len(v); i++ {
		ok = v[i] >= '0' && v[i] <= '9'
	}
	if !ok {
		f.fail("%s %q: want %d digits", field, clip(v, 40), n)
	}
	return v
}

// subject makes a ctSubject: the type F or G (F when unset), the id 2..16
// characters (never cut), the full name cut to 70 (stText70).
func (f *fitter) subject(field string, p pagopa.Party) pagopa.XMLSubject {
	s := pagopa.NewXMLSubject(p)
	if t := s.UniqueIdentifier.Type; t != "F" && t != "G" {
		f.fail("%s entityUniqueIdentifierType %q: want F or G", field, clip(t, 10))
	}
	f.code(field+" entityUniqueIdentifierValue", s.UniqueIdentifier.Value, 2, 16)
	s.FullName = f.required(field+" fullName", s.FullName, 70)
	return s
}

// done logs the notes and returns the failures as one PAA_SYSTEM_ERROR:
// the fault is the EC's (its data), not the Nodo's request.
func (f *fitter) done(log *slog.Logger) error {
	if len(f.notes) > 0 {
		log.Warn("reply fitted to the paForNode schema", "reply", f.what, "notes", strings.Join(f.notes, "; "))
	}
	if len(f.errs) == 0 {
		return nil
	}
	log.Error("reply does not fit the paForNode schema", "reply", f.what, "errors", strings.Join(f.errs, "; "))
	return &FaultError{Code: CodeSystemError, Description: "the EC's data do not fit the paForNode schema: " + strings.Join(f.errs, "; ")}
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// cutUTF16 keeps the longest prefix of whole characters within max UTF-16
// code units.
func cutUTF16(s string, max int) string {
	n := 0
	for i, r := range s {
		n += utf16.RuneLen(r)
		if n > max {
			return s[:i]
		}
	}
	return s
}

// clip shortens s to at most n characters, for messages.
func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}
