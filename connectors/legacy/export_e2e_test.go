package legacy

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"golang.org/x/text/encoding/charmap"
)

// testCF returns the i-th of 17,576 distinct valid personal fiscal codes.
func testCF(t testing.TB, i int) string {
	t.Helper()
	first := string([]byte{byte('A' + i/676%26), byte('A' + i/26%26), byte('A' + i%26)}) + "MRA80A01H501"
	c, err := CodiceFiscaleCheckChar(first)
	if err != nil {
		t.Fatal(err)
	}
	return first + string(c)
}

type exportRow struct {
	cf, surname, name, amount, date, anno, iban, description string
}

func (r exportRow) String() string {
	return strings.Join([]string{r.cf, r.surname, r.name, r.amount, r.date, r.anno, r.iban, r.description}, ";")
}

// TestRealExportEndToEnd is the export the issue describes, as a comune has it: 10,000
// rows with no record id, 1% exact duplicate rows, 1% more debts of people already in
// the file, some rows that are the same debt again under another wording, bad and
// foreign IBANs, YYYYMMDD dates, decimal commas and Windows-1252 text. Every count and
// every reason is checked.
func TestRealExportEndToEnd(t *testing.T) {
	const base = 9700
	rows := []exportRow{}
	type want struct {
		line       int
		rule, text string
	}
	var wantRejects []want
	lineOf := map[int]int{} // base row -> line
	add := func(r exportRow) int {
		rows = append(rows, r)
		return len(rows) + 1 // line 1 is the header
	}
	baseRow := func(i int) exportRow {
		r := exportRow{cf: testCF(t, i), surname: "Rossi", name: "Mario",
			amount: fmt.Sprintf("%d,%02d", 10+i%500, i%100), date: fmt.Sprintf("202606%02d", 1+i%28), anno: "2026",
			description: "TARI 2026 - utenza domestica"}
		if i%7 == 0 {
			r.surname, r.name = "D'Angelò", "Niccolò" // ò is 0xF2 in Windows-1252
		}
		if i%1000 == 7 {
			r.amount = "1.234,56"
		}
		if i%3 == 0 {
			r.iban = "IT60 X054 2811 1010 0000 0123 456"
		}
		return r
	}
	extra := 0
	for i := 0; i < base; i++ {
		lineOf[i] = add(baseRow(i))
		switch {
		case i%97 == 96: // 100 exact copies of an earlier row
			line := add(baseRow(i - 50))
			wantRejects = append(wantRejects, want{line, "duplicateRow", fmt.Sprintf("identical to line %d", lineOf[i-50])})
		case i%97 == 48: // 100 more debts of people already in the file: valid
			r := baseRow(i - 10)
			r.amount, r.description = "99,00", "TARI 2026 - seconda utenza"
			add(r)
		}
		if i%194 == 20 { // 50 IBANs with a typo
			r := baseRow(20000 + extra)
			extra++
			r.cf, r.iban = testCF(t, 12000+extra), "IT61X0542811101000000123456"
			wantRejects = append(wantRejects, want{add(r), "checksum", "IBAN check digits do not match"})
		}
		if i%485 == 30 { // 20 foreign IBANs, refused by the IT-only policy
			r := baseRow(20000 + extra)
			extra++
			r.cf, r.iban = testCF(t, 12000+extra), "DE89370400440532013000"
			wantRejects = append(wantRejects, want{add(r), "country", "only Italian IBANs are accepted, this one is DE"})
		}
		if i%330 == 5 { // 30 rows that are the same debt again, reworded
			r := baseRow(i)
			r.description = "TARI 2026 (copia)"
			wantRejects = append(wantRejects, want{add(r), "duplicate", fmt.Sprintf("same debt as line %d", lineOf[i])})
		}
	}
	if len(rows) != 10_000 {
		t.Fatalf("generated %d rows, want 10000", len(rows))
	}
	var text strings.Builder
	text.WriteString("codice_fiscale;cognome;nome;importo;scadenza;anno;iban;descrizione\r\n")
	for _, r := range rows {
		text.WriteString(r.String() + "\r\n")
	}
	enc, err := charmap.Windows1252.NewEncoder().String(text.String())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains([]byte(enc), []byte{'N', 'i', 'c', 'c', 'o', 'l', 0xF2}) {
		t.Fatal("the export is not Windows-1252")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "export.csv"), []byte(enc), 0o644); err != nil {
		t.Fatal(err)
	}

	c := readAll(t, open(t, `{"path":"export.csv","delimiter":";","encoding":"windows-1252","decimalComma":true,
		"dateFormat":"YYYYMMDD","duplicates":{"fields":["fiscalCode","amount","anno"]}}`, dir))
	if c.err != nil {
		t.Fatal(c.err)
	}
	if c.stats.Read != 10_000 || c.stats.Valid != 9_800 || c.stats.Rejected != 200 {
		t.Errorf("stats %+v, want read 10000, valid 9800, rejected 200", c.stats)
	}
	sort.Slice(wantRejects, func(i, j int) bool { return wantRejects[i].line < wantRejects[j].line })
	if len(c.rejects) != len(wantRejects) {
		t.Fatalf("%d rejects, want %d", len(c.rejects), len(wantRejects))
	}
	byRule := map[string]int{}
	for i, r := range c.rejects {
		w := wantRejects[i]
		byRule[r.Rule]++
		if r.Line != w.line || r.Rule != w.rule || !strings.Contains(r.MessageEN, w.text) || r.MessageIT == "" || r.Source != "csv:export.csv" {
			t.Errorf("reject %d: %+v\nwant line %d rule %s with %q", i, r, w.line, w.rule, w.text)
		}
	}
	if fmt.Sprint(byRule) != "map[checksum:50 country:20 duplicate:30 duplicateRow:100]" {
		t.Errorf("rejects by rule %v", byRule)
	}
	keys := map[string]bool{}
	accented, second, ibans := 0, 0, 0
	for _, d := range c.debtors {
		if want := fmt.Sprintf("csv:export.csv:%d", d.Line); d.Key != want || d.ExternalID != "" {
			t.Fatalf("debtor on line %d has key %q id %q, want %q", d.Line, d.Key, d.ExternalID, want)
		}
		keys[d.Key] = true
		if d.Name == "Niccolò" && d.Surname == "D'Angelò" {
			accented++
		}
		if d.Description == "TARI 2026 - seconda utenza" {
			second++
			if d.AmountCents != 9900 {
				t.Errorf("second debt %+v", d)
			}
		}
		if d.IBAN == "IT60X0542811101000000123456" {
			ibans++
		}
		if len(d.DueDate) != 10 || !strings.HasPrefix(d.DueDate, "2026-06-") {
			t.Errorf("due date %q on line %d", d.DueDate, d.Line)
		}
	}
	if len(keys) != 9_800 || second != 100 || accented == 0 || ibans == 0 {
		t.Errorf("distinct keys %d (want 9800), second debts %d (want 100), accented names %d, Italian IBANs %d", len(keys), second, accented, ibans)
	}
}
