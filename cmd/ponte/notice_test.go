package main

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ponte-pa/ponte/connectors/pagopa"
)

func noticeCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	old := stdout
	stdout = &out
	defer func() { stdout = old }()
	err := runGroup(context.Background(), "notice", args)
	return out.String(), err
}

func TestNoticeNAV(t *testing.T) {
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"nav", "--aux", "3", "--segregation", "01", "--base", "0000000000001"},
			[]string{"NAV:           301000000000000144", "NAV (grouped): 3010 0000 0000 0001 44", "IUV:           01000000000000144", "check digits:  44", "segregation:   01"}},
		{[]string{"nav", "--segregation", "01", "--base", "0000000000001", "--ec", "00000000000", "--amount", "9999"},
			[]string{"QR payload:    PAGOPA|002|301000000000000144|00000000000|9999"}},
		{[]string{"nav", "--aux", "0", "--app-code", "12", "--base", "0000000000001"},
			[]string{"app code:      12", "IUV:           000000000000116"}},
		{[]string{"nav", "--aux", "2", "--base", "000000000000001"}, []string{"NAV:           200000000000000"}},
		{[]string{"nav", "--aux", "1", "--base", "00000000000000001"}, []string{"check digits:  none (aux 1)"}},
	}
	for _, c := range cases {
		out, err := noticeCmd(t, c.args...)
		if err != nil {
			t.Errorf("%v: %v", c.args, err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v: output lacks %q:\n%s", c.args, w, out)
			}
		}
		// Whatever we print must parse back.
		for _, line := range strings.Split(out, "\n") {
			if v, ok := strings.CutPrefix(line, "NAV:           "); ok {
				if _, err := pagopa.ParseNAV(v); err != nil {
					t.Errorf("%v printed an invalid NAV: %v", c.args, err)
				}
			}
		}
	}
	bad := [][]string{
		{"nav"}, {"nav", "--base", "0000000000001"}, {"nav", "--segregation", "1", "--base", "0000000000001"},
		{"nav", "--segregation", "01", "--base", "123"}, {"nav", "--aux", "7", "--base", "1"},
		{"nav", "--aux", "0", "--base", "0000000000001"}, {"nav", "--segregation", "01", "--base", "0000000000001", "--ec", "1"},
		{}, {"bogus"},
	}
	for _, args := range bad {
		if _, err := noticeCmd(t, args...); !errors.As(err, new(usageError)) {
			t.Errorf("%v: want a usage error, got %v", args, err)
		}
	}
	if _, err := noticeCmd(t, "nav", "--segregation", "zz", "--base", "0000000000001"); err == nil || !strings.Contains(err.Error(), `--segregation "zz"`) {
		t.Errorf("segregation zz: the error does not name the flag: %v", err)
	}
}

func TestNoticeParse(t *testing.T) {
	out, err := noticeCmd(t, "parse", "3010", "0000", "0000", "0001", "44")
	if err != nil || !strings.Contains(out, "valid notice number") || !strings.Contains(out, "IUV:           01000000000000144") {
		t.Errorf("grouped: %v\n%s", err, out)
	}
	out, err = noticeCmd(t, "parse", "301000000000000145")
	var ne *pagopa.NAVError
	if !errors.As(err, &ne) || ne.Rule != pagopa.RuleCheck || !strings.Contains(err.Error(), "got 45, want 44") {
		t.Errorf("check digits: %v", err)
	}
	if !strings.Contains(out, "301000000000000145\n"+strings.Repeat(" ", 16)+"^") {
		t.Errorf("no caret under the check digits:\n%s", out)
	}
	_, err = noticeCmd(t, "parse", "30100000000000x144")
	if !errors.As(err, &ne) || ne.Rule != pagopa.RuleDigit || ne.Pos != 14 || !strings.Contains(err.Error(), "at character 15") {
		t.Errorf("letter: %v", err) // people count from 1: the x is the 15th character
	}
	_, err = noticeCmd(t, "parse", "4010000000000001")
	if !errors.As(err, &ne) || ne.Rule != pagopa.RuleLength {
		t.Errorf("short: %v", err)
	}
	if _, err := noticeCmd(t, "parse"); !errors.As(err, new(usageError)) {
		t.Errorf("no NAV: %v", err)
	}
}

func TestNoticePDF(t *testing.T) {
	dir := t.TempDir()
	example := filepath.Join("..", "..", "connectors", "pagopa", "notice", "testdata", "notice.json")
	pdf := filepath.Join(dir, "n.pdf")
	out, err := noticeCmd(t, "pdf", "--in", example, "--out", pdf, "--lang", "en")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "1 notices, 1 pages") {
		t.Errorf("output %q", out)
	}
	b, err := os.ReadFile(pdf)
	if err != nil || !bytes.HasPrefix(b, []byte("%PDF-")) {
		t.Fatalf("not a PDF: %v", err)
	}
	// An array of two notices, as a zip.
	one, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	other := strings.Replace(strings.Replace(string(one), "301000000000000144", "301000000000000447", 1), "Mario Rossi", "Anna Bianchi", 1)
	arr := filepath.Join(dir, "two.json")
	if err := os.WriteFile(arr, []byte("["+string(one)+","+other+"]"), 0o644); err != nil {
		t.Fatal(err)
	}
	zf := filepath.Join(dir, "n.zip")
	if _, err := noticeCmd(t, "pdf", "--in", arr, "--out", zf, "--zip"); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.OpenReader(zf)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	if len(zr.File) != 2 || zr.File[1].Name != "301000000000000447.pdf" {
		t.Errorf("zip entries: %d", len(zr.File))
	}
	// Bad input is a usage error naming the field.
	badJSON := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(badJSON, []byte(strings.Replace(string(one), "01234567890", "0123", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := noticeCmd(t, "pdf", "--in", badJSON, "--out", pdf); !errors.As(err, new(usageError)) || !strings.Contains(err.Error(), "ec.fiscalCode") {
		t.Errorf("bad fiscal code: %v", err)
	}
	typo := filepath.Join(dir, "typo.json")
	if err := os.WriteFile(typo, []byte(strings.Replace(string(one), `"subject"`, `"subjet"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := noticeCmd(t, "pdf", "--in", typo, "--out", pdf); !errors.As(err, new(usageError)) || !strings.Contains(err.Error(), "subjet") {
		t.Errorf("unknown field: %v", err)
	}
	for _, args := range [][]string{{"pdf"}, {"pdf", "--in", example}, {"pdf", "--in", example, "--out", pdf, "--lang", "de"}} {
		if _, err := noticeCmd(t, args...); !errors.As(err, new(usageError)) {
			t.Errorf("%v: %v", args, err)
		}
	}
	help, err := noticeCmd(t, "--help")
	if !errors.Is(err, flag.ErrHelp) || !strings.Contains(help, `"amountCents"`) || !strings.Contains(help, "ponte notice pdf --in notice.json") {
		t.Errorf("help: %v\n%s", err, help)
	}
}
