package spid

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"sync"
)

// The ACS reads its form in one pass over a pooled buffer: net/http's
// ParseForm copies the 10 KB body into a string, splits it, unescapes each
// value into a new string and builds a map, and the base64 decoding of the
// response then copied it twice more to drop whitespace: about 90 µs and
// 56 KB of garbage a login, a tenth of the ACS's work. readACSForm keeps
// ParseForm's rules for the two fields it reads (application/x-www-form-
// urlencoded, '&'-separated, '+' is a space, %XX escapes, the first value
// of a repeated field, a ';' refused as Go refuses it since 1.17).

var formBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// errFormTooLarge is the body over its limit (http.MaxBytesReader's error).
var errFormTooLarge = errors.New("form too large")

// acsForm is what the browser posts to the ACS.
type acsForm struct {
	// Response is the SAMLResponse field, URL-decoded (still base64).
	Response []byte
	// RelayState is the RelayState field.
	RelayState string
}

// readACSForm reads r's urlencoded body into buf (which the result's
// Response points into).
func readACSForm(r *http.Request, buf *bytes.Buffer) (acsForm, error) {
	var f acsForm
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return f, errors.New("no Content-Type")
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return f, fmt.Errorf("content type %q is not a form", ct)
	}
	if _, err := buf.ReadFrom(r.Body); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return f, errFormTooLarge
		}
		return f, err
	}
	body := buf.Bytes()
	var gotResponse, gotRelay bool
	for len(body) > 0 {
		var pair []byte
		if i := bytes.IndexByte(body, '&'); i >= 0 {
			pair, body = body[:i], body[i+1:]
		} else {
			pair, body = body, nil
		}
		if bytes.IndexByte(pair, ';') >= 0 {
			return f, errors.New("invalid semicolon separator in the form")
		}
		if len(pair) == 0 {
			continue
		}
		key, value, _ := bytes.Cut(pair, []byte("="))
		k, err := unescapeForm(key)
		if err != nil {
			return f, err
		}
		// Every field's value is unescaped, as ParseForm does, so that a
		// malformed escape anywhere refuses the form.
		v, err := unescapeForm(value)
		if err != nil {
			return f, err
		}
		switch string(k) {
		case "SAMLResponse":
			if !gotResponse {
				f.Response, gotResponse = v, true
			}
		case "RelayState":
			if !gotRelay {
				f.RelayState, gotRelay = string(v), true
			}
		}
	}
	return f, nil
}

// unescapeForm decodes a urlencoded form value in place ('+' is a space,
// %XX a byte) and returns the decoded prefix of b.
func unescapeForm(b []byte) ([]byte, error) {
	i := bytes.IndexAny(b, "%+")
	if i < 0 {
		return b, nil
	}
	n := i
	for ; i < len(b); i++ {
		switch c := b[i]; c {
		case '+':
			b[n] = ' '
		case '%':
			if i+2 >= len(b) {
				return nil, fmt.Errorf("invalid URL escape %q", b[i:])
			}
			hi, lo := unhex(b[i+1]), unhex(b[i+2])
			if hi < 0 || lo < 0 {
				return nil, fmt.Errorf("invalid URL escape %q", b[i:i+3])
			}
			b[n] = byte(hi<<4 | lo)
			i += 2
		default:
			b[n] = c
		}
		n++
	}
	return b[:n], nil
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}

// decodeResponse decodes a base64 SAMLResponse, which IdPs may wrap in
// lines: ASCII whitespace is dropped (in place: b is overwritten).
func decodeResponse(b []byte) ([]byte, error) {
	n := 0
	for _, c := range b {
		switch c {
		case ' ', '\t', '\n', '\r', '\v', '\f':
		default:
			b[n] = c
			n++
		}
	}
	b = b[:n]
	out := make([]byte, base64.StdEncoding.DecodedLen(len(b)))
	m, err := base64.StdEncoding.Decode(out, b)
	if err != nil {
		return nil, err
	}
	return out[:m], nil
}

// putFormBuf returns a buffer to the pool unless a huge form grew it.
func putFormBuf(b *bytes.Buffer) {
	if b.Cap() > 1<<20 {
		return
	}
	b.Reset()
	formBufs.Put(b)
}
