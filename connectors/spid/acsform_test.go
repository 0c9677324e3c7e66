package spid

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzReadACSForm holds readACSForm to net/http's ParseForm: the same
// verdict on every body, and when both accept it the same SAMLResponse
// and RelayState.
func FuzzReadACSForm(f *testing.F) {
	for _, s := range []string{
		"SAMLResponse=PHg%2BPC94Pg%3D%3D&RelayState=rs_1",
		"RelayState=a+b&SAMLResponse=x&SAMLResponse=y",
		"SAMLResponse=%zz", "SAMLResponse=%4", "a=1;b=2", "&&=&SAMLResponse", "%53AMLResponse=k",
		"SAMLResponse=" + strings.Repeat("QUJD", 100) + "&RelayState=%E2%82%AC",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		std := httptest.NewRequest(http.MethodPost, "/spid/acs", strings.NewReader(body))
		std.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		stdErr := std.ParseForm()
		ours := httptest.NewRequest(http.MethodPost, "/spid/acs", strings.NewReader(body))
		ours.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		got, err := readACSForm(ours, new(bytes.Buffer))
		if (err == nil) != (stdErr == nil) {
			t.Fatalf("%q: readACSForm error %v, ParseForm error %v", body, err, stdErr)
		}
		if err != nil {
			return
		}
		if string(got.Response) != std.PostForm.Get("SAMLResponse") || got.RelayState != std.PostForm.Get("RelayState") {
			t.Fatalf("%q: got (%q, %q), ParseForm (%q, %q)", body, got.Response, got.RelayState,
				std.PostForm.Get("SAMLResponse"), std.PostForm.Get("RelayState"))
		}
	})
}

func TestReadACSFormRefuses(t *testing.T) {
	for _, c := range []struct{ name, ct, body string }{
		{"no content type", "", "SAMLResponse=x"},
		{"multipart", "multipart/form-data; boundary=x", "SAMLResponse=x"},
		{"bad escape", "application/x-www-form-urlencoded", "SAMLResponse=%G0"},
		{"semicolon", "application/x-www-form-urlencoded", "SAMLResponse=x;RelayState=y"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/spid/acs", strings.NewReader(c.body))
			if c.ct != "" {
				r.Header.Set("Content-Type", c.ct)
			}
			if _, err := readACSForm(r, new(bytes.Buffer)); err == nil {
				t.Error("accepted")
			}
		})
	}
	t.Run("over the limit", func(t *testing.T) {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/spid/acs", strings.NewReader("SAMLResponse="+strings.Repeat("A", 100)))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Body = http.MaxBytesReader(w, r.Body, 50)
		if _, err := readACSForm(r, new(bytes.Buffer)); !errors.Is(err, errFormTooLarge) {
			t.Errorf("error %v, want errFormTooLarge", err)
		}
	})
}

// TestDecodeResponse: base64 wrapped in lines (ASCII whitespace of any
// kind) decodes as the unwrapped text; anything else that is not base64 is
// refused.
func TestDecodeResponse(t *testing.T) {
	want := []byte("<samlp:Response ID=\"_1\"/>\x00\xff")
	enc := base64.StdEncoding.EncodeToString(want)
	for _, in := range []string{enc, enc[:8] + "\r\n" + enc[8:16] + "\n\t " + enc[16:] + "\n", " " + enc + "\f\v"} {
		got, err := decodeResponse([]byte(in))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("decodeResponse(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{enc[:len(enc)-1], "not base64!", enc + "\u00a0", url.QueryEscape(enc)} {
		if got, err := decodeResponse([]byte(in)); err == nil {
			t.Errorf("decodeResponse(%q) = %q, want an error", in, got)
		}
	}
}
