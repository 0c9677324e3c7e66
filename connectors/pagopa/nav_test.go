package pagopa

import (
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
)

func TestCheckDigits(t *testing.T) {
	tests := []struct {
		aux        int
		code, base string
		want       string
		wantErr    string
	}{
		{3, "01", "0000000000001", "44", ""},
		{3, "00", "0000000000000", bigMod93("3000000000000000"), ""},
		{3, "99", "9999999999999", bigMod93("3999999999999999"), ""},
		{0, "12", "3456789012345", bigMod93("0123456789012345"), ""},
		{2, "", "123456789012345", bigMod93("2123456789012345"), ""},
		{3, "0a", "0000000000001", "", RuleDigit},
		{10, "01", "0000000000001", "", RuleAux},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d-%s-%s", tt.aux, tt.code, tt.base), func(t *testing.T) {
			got, err := CheckDigits(tt.aux, tt.code, tt.base)
			if tt.wantErr != "" {
				var ne *NAVError
				if !errors.As(err, &ne) || ne.Rule != tt.wantErr {
					t.Fatalf("err = %v, want rule %s", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("CheckDigits = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func bigMod93(s string) string {
	n, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic("bigMod93: not a number: " + s) // a table's constant: a mistake in the test
	}
	return fmt.Sprintf("%02d", new(big.Int).Mod(n, big.NewInt(93)).Int64())
}

func TestNewIUVAndNAV(t *testing.T) {
	iuv, err := NewIUV("01", "0000000000001")
	if err != nil || iuv != "01000000000000144" {
		t.Fatalf("NewIUV = %q, %v; want 01000000000000144", iuv, err)
	}
	nav, err := NAVFromIUV(3, "", iuv)
	if err != nil || nav != "301000000000000144" {
		t.Fatalf("NAVFromIUV = %q, %v; want 301000000000000144", nav, err)
	}
	if _, err := NAVFromIUV(3, "02", iuv); err == nil {
		t.Fatal("NAVFromIUV with the wrong segregation code: want error")
	}
	if _, err := NAVFromIUV(3, "", "01000000000000145"); err == nil {
		t.Fatal("NAVFromIUV with a bad check digit: want error")
	}
	for _, bad := range [][2]string{{"1", "0000000000001"}, {"01", "000000000001"}, {"01", "000000000000x"}} {
		if _, err := NewIUV(bad[0], bad[1]); err == nil {
			t.Errorf("NewIUV(%q, %q): want error", bad[0], bad[1])
		}
	}
	// aux 0: application code is outside the IUV.
	c, err := CheckDigits(0, "12", "3456789012345")
	if err != nil {
		t.Fatal(err)
	}
	nav0, err := NAVFromIUV(0, "12", "3456789012345"+c)
	if err != nil || nav0 != "0123456789012345"+c {
		t.Fatalf("NAVFromIUV aux 0 = %q, %v", nav0, err)
	}
}

func TestParseNAV(t *testing.T) {
	c2, err := CheckDigits(2, "", "123456789012345")
	if err != nil {
		t.Fatal(err)
	}
	c0, err := CheckDigits(0, "07", "0000000000042")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in      string
		want    NAV
		rule    string
		pos     int
		grouped string
	}{
		{in: "301000000000000144", want: NAV{Aux: 3, Code: "01", Base: "0000000000001", Check: "44", IUV: "01000000000000144", Value: "301000000000000144"}, grouped: "3010 0000 0000 0001 44"},
		{in: "3010 0000 0000 0001 44", want: NAV{Aux: 3, Code: "01", Base: "0000000000001", Check: "44", IUV: "01000000000000144", Value: "301000000000000144"}, grouped: "3010 0000 0000 0001 44"},
		{in: "112345678901234567", want: NAV{Aux: 1, Base: "12345678901234567", IUV: "12345678901234567", Value: "112345678901234567"}, grouped: "1123 4567 8901 2345 67"},
		{in: "2123456789012345" + c2, want: NAV{Aux: 2, Base: "123456789012345", Check: c2, IUV: "123456789012345" + c2, Value: "2123456789012345" + c2}},
		{in: "0070000000000042" + c0, want: NAV{Aux: 0, Code: "07", Base: "0000000000042", Check: c0, IUV: "0000000000042" + c0, Value: "0070000000000042" + c0}},
		{in: "301000000000000145", rule: RuleCheck, pos: 16},
		{in: "3010 0000 0000 0001 45", rule: RuleCheck, pos: 20},
		{in: "30100000000000014", rule: RuleLength, pos: -1},
		{in: "3010000000000001444", rule: RuleLength, pos: -1},
		{in: "", rule: RuleLength, pos: -1},
		{in: "30100000000000014x", rule: RuleDigit, pos: 17},
		{in: "-01000000000000144", rule: RuleDigit, pos: 0},
		{in: "401000000000000144", rule: RuleAux, pos: 0},
		{in: "９01000000000000144", rule: RuleDigit, pos: 0},
		{in: strings.Repeat("1", 100), rule: RuleLength, pos: -1},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseNAV(tt.in)
			if tt.rule != "" {
				var ne *NAVError
				if !errors.As(err, &ne) {
					t.Fatalf("err = %v, want *NAVError", err)
				}
				if ne.Rule != tt.rule || ne.Pos != tt.pos || ne.Input != tt.in {
					t.Fatalf("err = %+v, want rule %s pos %d", ne, tt.rule, tt.pos)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("ParseNAV = %+v, want %+v", got, tt.want)
			}
			if tt.grouped != "" && got.Grouped() != tt.grouped {
				t.Fatalf("Grouped = %q, want %q", got.Grouped(), tt.grouped)
			}
		})
	}
}

func TestQRPayload(t *testing.T) {
	tests := []struct {
		nav, cf string
		amount  int64
		want    string
	}{
		{"301000000000000144", "00000000000", 9999, "PAGOPA|002|301000000000000144|00000000000|9999"},
		{"1000000000000144", "123", 12050, "PAGOPA|002|001000000000000144|00000000123|12050"},
	}
	for _, tt := range tests {
		if got := QRPayload(tt.nav, tt.cf, tt.amount); got != tt.want {
			t.Errorf("QRPayload = %q, want %q", got, tt.want)
		}
	}
}

func FuzzParseNAV(f *testing.F) {
	for _, s := range []string{"301000000000000144", "3010 0000 0000 0001 44", "112345678901234567", "", "abc", "401000000000000144", "30100000000000014x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseNAV(s)
		if err != nil {
			var ne *NAVError
			if !errors.As(err, &ne) {
				t.Fatalf("error is not *NAVError: %v", err)
			}
			if ne.Pos >= len(s) {
				t.Fatalf("Pos %d out of range for %q", ne.Pos, s)
			}
			return
		}
		if len(n.Value) != 18 || n.Aux < 0 || n.Aux > 3 {
			t.Fatalf("bad NAV %+v from %q", n, s)
		}
		// Round trip: the value and its grouped form parse to the same NAV.
		for _, again := range []string{n.Value, n.Grouped()} {
			m, err := ParseNAV(again)
			if err != nil || m != n {
				t.Fatalf("round trip of %q: %+v, %v", again, m, err)
			}
		}
		if n.Aux == 3 {
			nav, err := NAVFromIUV(3, n.Code, n.IUV)
			if err != nil || nav != n.Value {
				t.Fatalf("NAVFromIUV(%q) = %q, %v", n.IUV, nav, err)
			}
		}
	})
}

func BenchmarkNAVGenerate(b *testing.B) {
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		base := fmt.Sprintf("%013d", i)
		iuv, err := NewIUV("01", base)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := NAVFromIUV(3, "", iuv); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseNAV(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseNAV("301000000000000144"); err != nil {
			b.Fatal(err)
		}
	}
}
