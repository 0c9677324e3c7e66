package onboard

import (
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ponte-pa/ponte/internal/tenant"
)

func TestOpenTableDetectsDelimiterAndCase(t *testing.T) {
	for _, tc := range []struct{ name, data string }{
		{"tab", "codice_ipa\tDENOMINAZIONE_ENTE\tCodice_Categoria\nc_h501\tRoma Capitale\tL6\n"},
		{"comma, quoted, BOM", "\ufeff_id,Codice_IPA,Denominazione_ente,Codice_Categoria\n1,c_h501,\"Roma Capitale\",L6\n"},
		{"semicolon, CRLF", "Codice_IPA;Denominazione_ente;Codice_Categoria\r\nc_h501;Roma Capitale;L6\r\n"},
		{"header with spaces", " Codice_IPA ; Denominazione_ente ;Codice_Categoria\nc_h501; Roma Capitale ;L6\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb, err := openTable("f", []byte(tc.data))
			if err != nil {
				t.Fatal(err)
			}
			rec, line, err := tb.next()
			if err != nil {
				t.Fatal(err)
			}
			if line != 2 || tb.h.field(rec, "Codice_IPA") != "c_h501" || tb.h.field(rec, "denominazione_ente") != "Roma Capitale" || tb.h.field(rec, ColCategory) != "L6" {
				t.Errorf("line %d, record %q, header %q", line, rec, tb.h.names)
			}
			if _, _, err := tb.next(); !errors.Is(err, io.EOF) {
				t.Errorf("after the last row: %v, want EOF", err)
			}
		})
	}
	// Latin-1 bytes: "Comune di Sant'Agata de' Goti" is ASCII; "Città" is not.
	tb, err := openTable("f", []byte("Codice_IPA;Denominazione_ente\nc_x;Citt\xe0 di Prova\n"))
	if err != nil {
		t.Fatal(err)
	}
	rec, _, err := tb.next()
	if err != nil || tb.h.field(rec, ColName) != "Città di Prova" {
		t.Errorf("windows-1252 name: %q, %v", rec, err)
	}
}

func TestFindRegion(t *testing.T) {
	for in, want := range map[string]string{"Lombardia": "03", "lombardia": "03", "03": "03", "3": "03", "Valle d’Aosta": "02",
		"VALLE D'AOSTA": "02", "Emilia Romagna": "08", "Friuli Venezia Giulia": "06", "Trentino": "04", "Sardegna": "20"} {
		r, ok := findRegion(in)
		if !ok || r.code != want {
			t.Errorf("findRegion(%q) = %v %v, want %s", in, r.code, ok, want)
		}
	}
	for _, in := range []string{"", "Narnia", "Emi", "21"} {
		if r, ok := findRegion(in); ok {
			t.Errorf("findRegion(%q) = %s", in, r.name)
		}
	}
	seen := map[string]string{}
	for _, r := range regions {
		for _, p := range r.provinces {
			if prev, dup := seen[p]; dup {
				t.Errorf("province %s is in %s and %s", p, prev, r.name)
			}
			seen[p] = r.name
		}
	}
}

func TestUnifiedDiff(t *testing.T) {
	a := "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n"
	b := "1\n2\n3\n4\nfive\n6\n7\n8\n9\n10\n11\n12\n13\n"
	want := "--- a\n+++ b\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n@@ -10,3 +10,4 @@\n 10\n 11\n 12\n+13\n"
	if got := UnifiedDiff("a", "b", a, b); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if got := UnifiedDiff("a", "b", a, a); got != "" {
		t.Errorf("equal files: %q", got)
	}
	if got := UnifiedDiff("a", "b", "", "x\n"); got != "--- a\n+++ b\n@@ -0,0 +1 @@\n+x\n" {
		t.Errorf("from empty: %q", got)
	}
}

// FuzzIndicePARow reads one row after the export's header. Whatever the row,
// reading it does not panic; and a row that the IndicePA checks accept gives,
// with a valid extra row, a config that tenant.LoadBytes accepts: no row
// passes the import's checks only to produce an invalid config.
func FuzzIndicePARow(f *testing.F) {
	f.Add("c_h501\tRoma Capitale\t02438750586\tPubbliche Amministrazioni\tL6\t\t\t\t\t\t\t\t\t\t058091\tH501\t00184\tPiazza del Campidoglio, 1\tprotocollo@pec.comune.roma.it\tpec\t\t\t\t\t\t\t\t\twww.comune.roma.it\t\t\t\t\t2026-01-01")
	f.Add("c_x123\tComune di \"Prova\"\t80012345676\t\tL6\t\t\t\t\t\t\t\t\t\t099999\tx123\t00100\tVia Roma 1\ta@b.it\tPEC\t\t\t\t\t\t\t\t\t\t\t\t\t\t")
	f.Add("\t\t\t\t\t")
	f.Add("c_x123\tComune di Prova\t80012345676")
	header := strings.Join(indicePAHeader, "\t")
	x := &extraFile{file: "extra.csv"}
	xr := &extraRow{line: 2, values: map[string]string{XIBAN: "IT30N0103003200000001234567", XSegregation: "01", XIOPayments: "01HZESEMPIOPAGAMENTI00001A"}}
	path := filepath.Join(f.TempDir(), "t.yaml")
	f.Fuzz(func(t *testing.T, row string) {
		if len(row) > 4096 {
			return
		}
		tb, err := openTable("enti.tsv", []byte(header+"\n"+row+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		for {
			rec, line, err := tb.next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				continue
			}
			e, rerr := parseEntity(tb.h, rec, line)
			if rerr != nil || len(checkEntity(e)) > 0 {
				continue
			}
			c, errs := buildConfig(e, x, xr, Options{})
			if len(errs) > 0 {
				continue // an IPA code that gives no id
			}
			data, err := render(c, e)
			if err != nil {
				t.Fatalf("render %q: %v", row, err)
			}
			if _, err := tenant.LoadBytes(path, data); err != nil {
				t.Fatalf("row %q passed the checks, its config does not load: %v\n%s", row, err, data)
			}
		}
	})
}
