package legacy

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// mojibake are the sequences UTF-8 text turns into when read as Windows-1252 or
// ISO-8859-1: à è é ì ò ù and the typographic apostrophe, as Italian names have them.
var mojibake = []string{"Ã\u00a0", "Ã ", "Ã¨", "Ã©", "Ã¬", "Ã²", "Ã¹", "Ã€", "Ãˆ", "Ã‰", "â€™", "â€œ", "â€", "Ã"}

// SuspectText says why a decoded value looks wrongly decoded, or "" when it looks
// fine: UTF-8 read as Windows-1252 (Ã¨ for è), control characters, or the
// replacement character of bytes that were not text. It is a hint for people
// checking a source, not a validation rule: a record is not rejected for it.
func SuspectText(s string) string {
	for _, m := range mojibake {
		if strings.Contains(s, m) {
			return "looks like UTF-8 read as windows-1252 (" + m + "): set encoding: utf-8"
		}
	}
	for _, r := range s {
		switch {
		case r == utf8.RuneError:
			return "holds the replacement character �: bytes that are not text in the declared encoding; check encoding"
		case r != '\t' && (r < 0x20 || r >= 0x7f && r < 0xa0):
			return "holds control characters: is the encoding right, or the file binary?"
		case unicode.Is(unicode.Co, r):
			return "holds private-use characters: check encoding"
		}
	}
	return ""
}
