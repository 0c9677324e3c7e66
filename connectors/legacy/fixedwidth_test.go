package legacy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/text/encoding/charmap"
)

const fwLayout = `{"path":%q,"encoding":%q,"skipLines":1,"amountCents":true,"dateFormat":"iso","fields":{
 "externalId":{"start":1,"length":12},"fiscalCode":{"start":13,"length":16},"surname":{"start":29,"length":20},
 "name":{"start":49,"length":15},"amount":{"start":64,"length":9},"dueDate":{"start":73,"length":10},"description":{"start":83,"length":30}}}`

func fwLine(id, cf, surname, name string, cents int, due, desc string) string {
	return fmt.Sprintf("%-12s%-16s%-20s%-15s%09d%-10s%-30s", id, cf, surname, name, cents, due, desc)
}

func writeFW(t testing.TB, dir, name, enc string, lines []string) string {
	t.Helper()
	text := "TRACCIATO TARI 2026\n" + strings.Join(lines, "\r\n") + "\n"
	data := []byte(text)
	if enc == "windows-1252" {
		var err error
		if data, err = charmap.Windows1252.NewEncoder().Bytes(data); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

var fwSample = []string{
	fwLine("TARI-1", "RSSMRA85T10A562S", "Rossi", "Mario", 12345, "2026-05-31", "TARI 2026 rata unica"),
	fwLine("TARI-2", "BNCGLI90A41H501E", "Bianchi Niccolò", "Giulia", 99, "2026-05-31", "TARI 2026 – acconto"),
	fwLine("TARI-3", "RSSMRA85T10A562X", "Verdi", "Luca", 100, "2026-05-31", "bad checksum"),
	"",
	fwLine("TARI-4", "12345670017", "Ditta Srl", "", 5000000, "2026-06-30", ""),
	fwLine("TARI-5", "VRDLCU78C15F205X", "Verdi", "Luca", 0, "2026-05-31", "zero amount"),
	"TARI-6      VRDLCU78C15F205X",
	strings.Replace(fwLine("TARI-7", "VRDLCU78C15F205X", "Verdi", "Luca", 1, "2026-05-31", ""), "000000001", "00000x001", 1),
	fwLine("TARI-1", "VRDLCU78C15F205X", "Verdi", "Luca", 100, "2026-05-31", "duplicate id"),
}

func TestFixedWidthEncodings(t *testing.T) {
	for _, enc := range []string{"utf-8", "windows-1252"} {
		t.Run(enc, func(t *testing.T) {
			dir := t.TempDir()
			writeFW(t, dir, "tari.txt", enc, fwSample)
			src, err := OpenSource(KindFixedWidth, json.RawMessage(fmt.Sprintf(fwLayout, "tari.txt", enc)), dir)
			if err != nil {
				t.Fatal(err)
			}
			c := readAll(t, src)
			if c.err != nil {
				t.Fatal(c.err)
			}
			if c.stats != (Stats{Read: 8, Valid: 3, Rejected: 5}) {
				t.Fatalf("stats %+v rejects %+v", c.stats, c.rejects)
			}
			d := c.debtors[1]
			if d.Surname != "Bianchi Niccolò" || d.AmountCents != 99 || d.Description != "TARI 2026 – acconto" || d.Line != 3 {
				t.Errorf("debtor %+v", d)
			}
			if c.debtors[2].FiscalCode != "12345670017" || c.debtors[2].AmountCents != 5000000 || c.debtors[2].DueDate != "2026-06-30" {
				t.Errorf("legal person %+v", c.debtors[2])
			}
			wantRules := []string{"checksum", "positive", "columns", "format", "duplicate"}
			wantLines := []int{4, 7, 8, 9, 10}
			for i, r := range c.rejects {
				if r.Line != wantLines[i] || r.MessageIT == "" || r.MessageEN == "" || r.Source != "fixedwidth:tari.txt" {
					t.Errorf("reject %d: %+v", i, r)
				}
				if i != 1 && r.Rule != wantRules[i] {
					t.Errorf("reject %d rule %q want %q", i, r.Rule, wantRules[i])
				}
			}
		})
	}
}

func TestFixedWidthFields(t *testing.T) {
	specs := map[string]FieldSpec{"a": {1, 3}, "b": {4, 4}, "c": {10, 5}}
	for _, tc := range []struct {
		line, trim string
		want       map[string]string
	}{
		{"abcdefgh", TrimBoth, map[string]string{"a": "abc", "b": "defg", "c": ""}},
		{" a  b      z", TrimBoth, map[string]string{"a": "a", "b": "b", "c": "z"}},
		{" a  b      z", TrimRight, map[string]string{"a": " a", "b": " b", "c": "  z"}},
		{" a  b      z", TrimNone, map[string]string{"a": " a ", "b": " b  ", "c": "  z"}},
		{"àèìòùxyz", TrimBoth, map[string]string{"a": "àèì", "b": "òùxy", "c": ""}},
		{"", TrimBoth, map[string]string{"a": "", "b": "", "c": ""}},
	} {
		got := FixedWidthFields(tc.line, specs, tc.trim)
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("%q %s: %s = %q, want %q", tc.line, tc.trim, k, got[k], v)
			}
		}
	}
	for in, want := range map[string]string{"000012345": "123.45", "1": "0.01", "": "", "100": "1.00"} {
		if got, ok := centsToAmount(in); !ok || got != want {
			t.Errorf("centsToAmount(%q) = %q %v", in, got, ok)
		}
	}
	if _, ok := centsToAmount("12a"); ok {
		t.Error("12a accepted")
	}
}

func TestFixedWidthConfigErrors(t *testing.T) {
	for _, tc := range []struct{ cfg, want string }{
		{`{"path":"x","fields":{"externalId":{"start":1,"length":5}}}`, "required"},
		{`{"path":"x","trim":"left","fields":{}}`, "enum"},
		{strings.Replace(fmt.Sprintf(fwLayout, "x", "utf-8"), `"dateFormat":"iso"`, `"dateFormat":"mm/dd"`, 1), "does not give year, month and day"},
		{strings.Replace(fmt.Sprintf(fwLayout, "x", "utf-8"), `"dateFormat":"iso"`, `"duplicates":{"fields":["anno"]}`, 1), `duplicates.fields[0] "anno"`},
	} {
		_, err := OpenSource(KindFixedWidth, json.RawMessage(tc.cfg), "")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

func TestFixedWidthLongLine(t *testing.T) {
	dir := t.TempDir()
	p := writeFW(t, dir, "long.txt", "utf-8", []string{strings.Repeat("x", maxLineBytes+10), fwSample[0]})
	src, err := NewFixedWidthSource(FixedWidthConfig{}, dir)
	if err == nil {
		t.Fatal("empty config accepted")
	}
	var cfg FixedWidthConfig
	if err := json.Unmarshal([]byte(fmt.Sprintf(fwLayout, p, "utf-8")), &cfg); err != nil {
		t.Fatal(err)
	}
	if src, err = NewFixedWidthSource(cfg, ""); err != nil {
		t.Fatal(err)
	}
	c := readAll(t, src)
	if c.err != nil || c.stats.Valid != 1 || len(c.rejects) != 1 || c.rejects[0].Rule != "lineLength" || c.rejects[0].Line != 2 {
		t.Fatalf("%+v %+v %v", c.stats, c.rejects, c.err)
	}
}

func FuzzFixedWidthLine(f *testing.F) {
	for _, l := range fwSample {
		f.Add(l)
	}
	f.Add("àèìòù\x00\xff")
	var cfg FixedWidthConfig
	if err := json.Unmarshal([]byte(fmt.Sprintf(fwLayout, "x", "utf-8")), &cfg); err != nil {
		f.Fatal(err)
	}
	src, err := NewFixedWidthSource(cfg, "")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, line string) {
		chk := newChecker(cfg.ValueFormat, AmountAuto, DateISO)
		d, rj := src.record(line, cfg.Fields, 2, chk)
		if rj != nil {
			if rj.Rule == "" || rj.MessageIT == "" || rj.MessageEN == "" {
				t.Fatalf("incomplete reject %+v", rj)
			}
			return
		}
		if ValidateCodiceFiscale(d.FiscalCode) != nil || d.AmountCents <= 0 || len(d.DueDate) != 10 || d.ExternalID == "" {
			t.Fatalf("invalid debtor emitted: %+v", d)
		}
	})
}

func inboxSource(t *testing.T, dir string) *InboxSource {
	t.Helper()
	cfg := fmt.Sprintf(`{"dir":%q,"pattern":"*.csv","format":"csv","config":{"delimiter":";","decimalComma":true}}`, dir)
	src, err := OpenSource(KindInbox, json.RawMessage(cfg), "")
	if err != nil {
		t.Fatal(err)
	}
	return src.(*InboxSource)
}

const inboxHeader = "codice_fiscale;cognome;nome;importo;scadenza;id_pratica\n"

func TestInbox(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "a.csv"), []byte(inboxHeader+"RSSMRA85T10A562S;Rossi;Mario;10,00;31/05/2026;A1\nXX;Bad;X;1,00;31/05/2026;A2\n"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "b.csv"), []byte(inboxHeader+"BNCGLI90A41H501E;Bianchi;Giulia;5,00;31/05/2026;B1\n"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "c.csv"), []byte("nothing;useful\n1;2\n"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "ignored.txt"), []byte("x"), 0o644))
	src := inboxSource(t, dir)

	// Preview reads everything and moves nothing.
	c := readAll(t, ForPreview(src))
	var ie *InboxError
	if !errors.As(c.err, &ie) || len(ie.Failed) != 1 || ie.Failed["c.csv"] == nil || c.stats != (Stats{Read: 3, Valid: 2, Rejected: 1}) {
		t.Fatalf("preview: %+v %v", c.stats, c.err)
	}
	if files, _ := src.Files(); len(files) != 3 {
		t.Fatalf("preview moved files: %v", files)
	}

	// A callback error stops the read and leaves the file in the inbox.
	stop := errors.New("stop")
	if _, err := src.Read(context.Background(), func(Debtor) error { return stop }, func(Reject) error { return nil }); !errors.Is(err, stop) {
		t.Fatalf("err = %v", err)
	}
	if files, _ := src.Files(); len(files) != 3 {
		t.Fatalf("files after a stopped read: %v", files)
	}

	c = readAll(t, src)
	if !errors.As(c.err, &ie) || c.stats != (Stats{Read: 3, Valid: 2, Rejected: 1}) || c.rejects[0].Source != "csv:a.csv" {
		t.Fatalf("read: %+v %+v %v", c.stats, c.rejects, c.err)
	}
	for _, p := range []string{"processed/a.csv", "processed/b.csv", "failed/c.csv", "failed/c.csv.error.txt", "ignored.txt", LedgerName} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("missing %s: %v", p, err)
		}
	}
	// Nothing left: a second read reads nothing. The same content dropped again is
	// recognized through the ledger and not read.
	if c = readAll(t, src); c.err != nil || c.stats.Read != 0 {
		t.Fatalf("second read: %+v %v", c.stats, c.err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "processed", "b.csv"))
	if err != nil {
		t.Fatal(err)
	}
	must(os.WriteFile(filepath.Join(dir, "b-again.csv"), data, 0o644))
	if c = readAll(t, src); c.err != nil || c.stats.Read != 0 {
		t.Fatalf("duplicate read: %+v %v", c.stats, c.err)
	}
	if _, err := os.Stat(filepath.Join(dir, "processed", "b-again.csv")); err != nil {
		t.Errorf("duplicate not moved: %v", err)
	}
	ledger, err := os.ReadFile(filepath.Join(dir, LedgerName))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(ledger), "\n"); n != 4 || !strings.Contains(string(ledger), `"outcome":"duplicate"`) {
		t.Errorf("ledger:\n%s", ledger)
	}
}

func TestInboxConfigErrors(t *testing.T) {
	for _, cfg := range []string{
		`{"dir":"x","format":"xml"}`,
		`{"dir":"x","format":"csv","config":{"path":"a.csv"}}`,
		`{"dir":"x","format":"csv","config":{"delimiter":";;"}}`,
		`{"dir":"x","format":"csv","pattern":"[","config":{}}`,
	} {
		if _, err := OpenSource(KindInbox, json.RawMessage(cfg), ""); err == nil {
			t.Errorf("%s accepted", cfg)
		}
	}
}

var updateGolden = flag.Bool("update", false, "rewrite golden files under testdata")

// TestSampleFilesInEncodings reads the sample exports under testdata (windows-1252
// fixed-width, iso-8859-1 CSV) and compares the reject report with a golden file.
func TestSampleFilesInEncodings(t *testing.T) {
	for _, tc := range []struct{ name, kind, cfg, golden string }{
		{"fixed-win1252", KindFixedWidth, fmt.Sprintf(fwLayout, "tari_fixed_win1252.txt", "windows-1252"), "tari_fixed_rejects.golden.json"},
		{"csv-latin1", KindCSV, `{"path":"tari_latin1.csv","delimiter":";","encoding":"iso-8859-1","decimalComma":true}`, "tari_latin1_rejects.golden.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, err := OpenSource(tc.kind, json.RawMessage(tc.cfg), "testdata")
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			rep, err := NewRejectReport(&buf, "json")
			if err != nil {
				t.Fatal(err)
			}
			var debtors []Debtor
			st, err := src.Read(context.Background(), func(d Debtor) error { debtors = append(debtors, d); return nil }, rep.Write)
			if err != nil || rep.Close() != nil {
				t.Fatal(err)
			}
			if st != (Stats{Read: 4, Valid: 3, Rejected: 1}) {
				t.Fatalf("stats %+v", st)
			}
			if debtors[1].Surname != "D'Angelo Niccolò" || debtors[2].Surname != "Società Ànfora Srl" || debtors[2].AmountCents != 500000 || debtors[0].AmountCents != 12345 {
				t.Errorf("decoded %+v", debtors)
			}
			golden := filepath.Join("testdata", tc.golden)
			if *updateGolden {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil || !bytes.Equal(want, buf.Bytes()) {
				t.Errorf("reject report differs from %s (run with -update):\n%s", golden, buf.Bytes())
			}
		})
	}
}

// FuzzRESTRecord maps arbitrary JSON records with the mock's field paths: no panic, and
// every record is either a valid Debtor or a complete reject.
func FuzzRESTRecord(f *testing.F) {
	f.Add(`{"idPratica":"A1","contribuente":{"codiceFiscale":"RSSMRA85T10A562S","nome":"Mario","cognome":"Rossi"},"importo":12.5,"scadenza":"2026-05-31"}`)
	f.Add(`{"idPratica":1e400,"importo":"1.234,56","contribuente":[]}`)
	f.Add(`[1,2]`)
	src, err := NewRESTSource(RESTConfig{URL: "http://127.0.0.1/x", Fields: map[string]string{FieldExternalID: "idPratica", FieldFiscalCode: "contribuente.codiceFiscale",
		FieldName: "contribuente.nome", FieldSurname: "contribuente.cognome", FieldAmount: "importo", FieldDueDate: "scadenza"}}, "")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		recs, _, err := MapRESTPage([]byte("["+body+"]"), "", "")
		if err != nil {
			return
		}
		chk := newChecker(ValueFormat{}, AmountDecimalPoint, DateISO)
		for i, r := range recs {
			d, rj := src.restRecord(r, i+1, chk)
			if rj != nil {
				if rj.Rule == "" || rj.MessageIT == "" || rj.MessageEN == "" {
					t.Fatalf("incomplete reject %+v", rj)
				}
				continue
			}
			if ValidateCodiceFiscale(d.FiscalCode) != nil || d.AmountCents <= 0 || len(d.DueDate) != 10 || d.ExternalID == "" {
				t.Fatalf("invalid debtor emitted: %+v", d)
			}
		}
	})
}

// FuzzSOAPRecords maps arbitrary XML with XPath field mapping, like FuzzRESTRecord.
func FuzzSOAPRecords(f *testing.F) {
	f.Add(`<r><tns:debitore xmlns:tns="urn:x" id="A1"><tns:codiceFiscale>RSSMRA85T10A562S</tns:codiceFiscale><tns:nome>Mario</tns:nome><tns:cognome>Rossi</tns:cognome><tns:importo>10.00</tns:importo><tns:scadenza>2026-05-31</tns:scadenza></tns:debitore></r>`)
	f.Add(`<debitore id=""><importo>-1</importo></debitore>`)
	src, err := NewSOAPSource(SOAPConfig{URL: "http://127.0.0.1/soap", Envelope: "x", Items: "//debitore",
		Fields: map[string]string{FieldExternalID: "@id", FieldFiscalCode: "codiceFiscale", FieldName: "nome", FieldSurname: "cognome", FieldAmount: "importo", FieldDueDate: "scadenza"}}, "")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		doc, err := ParseSOAPResponse([]byte(body))
		if err != nil {
			return
		}
		chk := newChecker(ValueFormat{}, AmountDecimalPoint, DateISO)
		for i, vals := range src.mapRecords(doc) {
			d, rj := chk.check(func(f string) string { return vals[f] }, i+1, typed{})
			if rj == nil && (ValidateCodiceFiscale(d.FiscalCode) != nil || d.AmountCents <= 0 || d.ExternalID == "") {
				t.Fatalf("invalid debtor emitted: %+v", d)
			}
		}
	})
}
