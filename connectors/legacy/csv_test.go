package legacy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ponte-pa/ponte/schemas"
)

type collected struct {
	debtors []Debtor
	rejects []Reject
	stats   Stats
	err     error
}

func readAll(t testing.TB, src DebtorSource) collected {
	t.Helper()
	var c collected
	c.stats, c.err = src.Read(context.Background(),
		func(d Debtor) error { c.debtors = append(c.debtors, d); return nil },
		func(r Reject) error { c.rejects = append(c.rejects, r); return nil })
	if c.stats.Read != c.stats.Valid+c.stats.Rejected || c.stats.Valid != len(c.debtors) || c.stats.Rejected != len(c.rejects) {
		t.Fatalf("stats %+v do not match %d debtors + %d rejects", c.stats, len(c.debtors), len(c.rejects))
	}
	return c
}

func open(t testing.TB, cfg string, dir string) DebtorSource {
	t.Helper()
	src, err := OpenSource(KindCSV, json.RawMessage(cfg), dir)
	if err != nil {
		t.Fatalf("OpenSource(%s): %v", cfg, err)
	}
	return src
}

func TestCSVUTF8WithBOM(t *testing.T) {
	c := readAll(t, open(t, `{"path":"utf8_bom.csv"}`, "testdata"))
	if c.err != nil {
		t.Fatal(c.err)
	}
	want := []Debtor{
		{Line: 2, ExternalID: "P1", Key: "P1", FiscalCode: "RSSMRA85T10A562S", Name: "Mario", Surname: "Rossi", Email: "mario.rossi@example.it", AmountCents: 123456, DueDate: "2026-05-31", Description: "TARI 2026, saldo"},
		{Line: 3, ExternalID: "P2", Key: "P2", FiscalCode: "BNCNCC80A01H501A", Name: "Niccolò", Surname: "Bianco", AmountCents: 8990, DueDate: "2026-06-01", Description: "TARI 2026"},
	}
	if fmt.Sprint(c.debtors) != fmt.Sprint(want) {
		t.Errorf("debtors:\n got %+v\nwant %+v", c.debtors, want)
	}
	if len(c.rejects) != 2 {
		t.Fatalf("rejects = %+v", c.rejects)
	}
	if r := c.rejects[0]; r.Line != 4 || r.Rule != "columns" || r.Source != "csv:utf8_bom.csv" || !strings.Contains(r.MessageEN, "6 fields instead of 8") {
		t.Errorf("reject 0 = %+v", r)
	}
	if r := c.rejects[1]; r.Line != 5 || r.Rule != "date" || r.Field != "dueDate" || r.Value != "31/02/2026" {
		t.Errorf("reject 1 = %+v", r)
	}
	if c.stats != (Stats{Read: 4, Valid: 2, Rejected: 2}) {
		t.Errorf("stats = %+v", c.stats)
	}
}

func TestCSVWindows1252(t *testing.T) {
	c := readAll(t, open(t, `{"path":"win1252.csv","delimiter":";","encoding":"windows-1252","dateFormat":"iso","decimalComma":true}`, "testdata"))
	if c.err != nil || len(c.rejects) != 0 || len(c.debtors) != 2 {
		t.Fatalf("err %v rejects %+v debtors %+v", c.err, c.rejects, c.debtors)
	}
	if d := c.debtors[0]; d.Name != "Niccolò" || d.AmountCents != 123450 || d.ExternalID != "W1" || d.DueDate != "2026-06-30" {
		t.Errorf("debtor 0 = %+v", d)
	}
	// Read as UTF-8, the 0xF2 byte is a reject that points at the encoding setting.
	c = readAll(t, open(t, `{"path":"win1252.csv","delimiter":";","dateFormat":"iso"}`, "testdata"))
	if len(c.rejects) != 1 || c.rejects[0].Rule != "encoding" || c.rejects[0].Line != 2 || c.rejects[0].Field != "name" {
		t.Fatalf("rejects = %+v", c.rejects)
	}
}

func writeFile(t testing.TB, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCSVRowRules(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "d.csv", strings.Join([]string{
		"id_pratica;codice_fiscale;cognome;nome;email;importo;scadenza;descrizione",
		"A1;RSSMRA85T10A562S;Rossi;Mario;;10,00;31/05/2026;ok",
		"A1;RSSMRA85T10A562S;Rossi;Mario;;10,00;31/05/2026;duplicate id",
		";RSSMRA85T10A562S;Rossi;Mario;;10,00;31/05/2026;no id",
		"A2;RSSMRA85T10A562S;;Mario;;10,00;31/05/2026;no surname",
		"A3;RSSMRA85T10A562S;Rossi;;;10,00;31/05/2026;no name for a person",
		"A4;12345670017;ACME S.p.A.;;;10,00;31/05/2026;legal person, no name needed",
		"A5;RSSMRA85T10A562S;Rossi;Mario;not-an-email;10,00;31/05/2026;bad email",
		"A6;RSSMRA85T10A562S;Rossi;Mario;;1.234;31/05/2026;ambiguous amount",
		"A7;RSSMRA85T10A562S;Rossi;Mario;;10,00;31/05/2026;" + strings.Repeat("x", 141),
		`A8;RSSMRA85T10A562S;Ro"ssi;Mario;;10,00;31/05/2026;bare quote`,
		"A9;rssmra85t10a562s;Rossi;Mario;;10,00;31/05/2026;lower-case cf",
		"",
		"A10;RSSMRA85T10A562S;Rossi;Mario;;10,00;31/05/2026;after a blank line",
	}, "\n")+"\n")
	c := readAll(t, open(t, `{"path":"d.csv","delimiter":";"}`, dir))
	if c.err != nil {
		t.Fatal(c.err)
	}
	type lr struct {
		Line        int
		Field, Rule string
	}
	var got []lr
	for _, r := range c.rejects {
		got = append(got, lr{r.Line, r.Field, r.Rule})
	}
	// Line 4 has no id: it is valid, identified by its position (the id is optional).
	want := []lr{{3, "externalId", "duplicate"}, {5, "surname", "required"},
		{6, "name", "required"}, {8, "email", "email"}, {9, "amount", "ambiguous"}, {10, "description", "maxLength"}, {11, "", "syntax"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("rejects\n got %v\nwant %v", got, want)
	}
	var ids []string
	for _, d := range c.debtors {
		ids = append(ids, fmt.Sprintf("%s@%d:%s", d.ExternalID, d.Line, d.FiscalCode))
	}
	if w := "A1@2:RSSMRA85T10A562S @4:RSSMRA85T10A562S A4@7:12345670017 A9@12:RSSMRA85T10A562S A10@14:RSSMRA85T10A562S"; strings.Join(ids, " ") != w {
		t.Errorf("debtors %v, want %s", ids, w)
	}
}

func TestCSVNoHeaderIndexes(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "n.csv", "RSSMRA85T10A562S,Rossi,Mario,1234.56,2026-05-31,X1\nBNCGLI90A41H501E,Bianchi,Giulia,7,2026-05-31,X2,extra\n")
	c := readAll(t, open(t, `{"path":"n.csv","header":false,"dateFormat":"iso","decimalComma":false,
		"columns":{"fiscalCode":1,"surname":2,"name":3,"amount":4,"dueDate":5,"externalId":6}}`, dir))
	if c.err != nil || len(c.debtors) != 1 || c.debtors[0].AmountCents != 123456 || c.debtors[0].Line != 1 {
		t.Fatalf("got %+v err %v", c.debtors, c.err)
	}
	if len(c.rejects) != 1 || c.rejects[0].Rule != "columns" || c.rejects[0].Line != 2 {
		t.Fatalf("rejects %+v", c.rejects)
	}
}

func TestCSVConfigErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "h.csv", "cf;cognome;importo\nRSSMRA85T10A562S;Rossi;1\n")
	writeFile(t, dir, "empty.csv", "")
	tests := []struct {
		name, cfg, want string
	}{
		{"missing column", `{"path":"h.csv","delimiter":";"}`, "no column for dueDate"},
		{"mapped column absent", `{"path":"h.csv","delimiter":";","columns":{"externalId":"pratica"}}`, `columns.externalId is "pratica"`},
		{"empty file", `{"path":"empty.csv"}`, "empty file"},
		{"no file", `{"path":"missing.csv"}`, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := readAll(t, open(t, tt.cfg, dir))
			if c.err == nil || !strings.Contains(c.err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", c.err, tt.want)
			}
		})
	}
	var he *HeaderError
	c := readAll(t, open(t, tests[0].cfg, dir))
	if !errors.As(c.err, &he) || he.Field != "dueDate" || len(he.Headers) != 3 {
		t.Errorf("HeaderError = %+v", he)
	}
	// header false needs indexes for the required fields.
	if _, err := OpenSource(KindCSV, json.RawMessage(`{"path":"h.csv","header":false}`), dir); err == nil || !strings.Contains(err.Error(), "1-based index") {
		t.Errorf("header false without columns: %v", err)
	}
}

func TestOpenSourceSchemaAndRegistry(t *testing.T) {
	_, err := OpenSource(KindCSV, json.RawMessage(`{"path":"x.csv","delimter":";","encoding":"latin1"}`), "")
	var ve *schemas.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v, want schemas.ValidationError", err)
	}
	got := fmt.Sprint(ve.Problems)
	if !strings.Contains(got, "/delimter: additionalProperties: unknown field") || !strings.Contains(got, `did you mean "delimiter"?`) || !strings.Contains(got, "/encoding: enum: must be one of") {
		t.Errorf("problems = %s", got)
	}
	_, err = OpenSource("xml", nil, "")
	var uk *UnknownKindError
	if !errors.As(err, &uk) || uk.Kind != "xml" || !strings.Contains(err.Error(), "known kinds: csv") {
		t.Errorf("unknown kind err = %v", err)
	}
	if s, ok := ConfigSchema(KindCSV); !ok || s != "legacy-csv.schema.json" {
		t.Errorf("ConfigSchema(csv) = %q, %v", s, ok)
	}
	if _, ok := ConfigSchema("nope"); ok {
		t.Error("ConfigSchema(nope) found")
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("duplicate RegisterSource did not panic")
			}
		}()
		RegisterSource(KindCSV, "", func(json.RawMessage, string) (DebtorSource, error) { return nil, nil })
	}()
}

func TestReadStopsOnCallbackErrorAndCancel(t *testing.T) {
	src := open(t, `{"path":"utf8_bom.csv"}`, "testdata")
	boom := errors.New("boom")
	st, err := src.Read(context.Background(), func(Debtor) error { return boom }, func(Reject) error { return nil })
	if !errors.Is(err, boom) || st != (Stats{}) {
		t.Errorf("emit error: %+v %v", st, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := src.Read(ctx, func(Debtor) error { return nil }, func(Reject) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	if _, err := src.Read(context.Background(), func(Debtor) error { return nil }, nil); err == nil {
		t.Error("nil reject accepted")
	}
}

func TestRejectReport(t *testing.T) {
	rj := []Reject{
		{Source: "csv:d.csv", Line: 4, Field: "amount", Value: "-12", Rule: "positive", MessageIT: "l'importo deve essere positivo", MessageEN: "amount must be positive"},
		{Source: "csv:d.csv", Line: 9, Field: "surname", Value: "=HYPERLINK(\"x\")", Rule: "required", MessageIT: "a; b", MessageEN: "c"},
	}
	var b bytes.Buffer
	r, err := NewRejectReport(&b, "csv")
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range rj {
		if err := r.Write(x); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	want := "source,line,field,value,rule,message_it,message_en\n" +
		"csv:d.csv,4,amount,'-12,positive,l'importo deve essere positivo,amount must be positive\n" +
		"csv:d.csv,9,surname,\"'=HYPERLINK(\"\"x\"\")\",required,a; b,c\n"
	if b.String() != want {
		t.Errorf("csv report:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	r, err = NewRejectReport(&b, "json")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Write(rj[0]); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	var back []Reject
	if err := json.Unmarshal(b.Bytes(), &back); err != nil || len(back) != 1 || back[0] != rj[0] || r.Count() != 1 {
		t.Errorf("json report %q: %v %+v", b.String(), err, back)
	}
	if r.Write(rj[0]) == nil {
		t.Error("write after close accepted")
	}
	b.Reset()
	r, err = NewRejectReport(&b, "json")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if b.String() != "[]\n" {
		t.Errorf("empty json report = %q", b.String())
	}
	if _, err := NewRejectReport(&b, "xml"); err == nil {
		t.Error("xml format accepted")
	}
}

func FuzzCSVRow(f *testing.F) {
	for _, s := range []string{
		"RSSMRA85T10A562S;Rossi;Mario;;123,45;31/05/2026;TARI;P1",
		"RSSMRA85T10A562S;Rossi;Mario;;123,45;31/05/2026;TARI",
		`"RSSMRA85T10A562S;Rossi;Mario;;1;31/05/2026;x;P1`,
		"12345670017;ACME;;a@b.it;1.234,56;1/1/2026;\"a\"\"b\";P2\r\n;;;;;;;\n",
		"\xef\xbb\xbf\xff;;",
	} {
		f.Add(s)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, row string) {
		p := filepath.Join(dir, "f.csv")
		data := "codice_fiscale;cognome;nome;email;importo;scadenza;descrizione;id_pratica\n" + row + "\n"
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		src, err := NewCSVSource(CSVConfig{CSVFileConfig: CSVFileConfig{Path: p, Delimiter: ";"}}, "")
		if err != nil {
			t.Fatal(err)
		}
		c := readAll(t, src) // checks Read == Valid + Rejected
		if c.err != nil {
			// The one whole-file refusal of outside data: it is not text at all.
			if strings.Contains(c.err.Error(), "not a CSV file") && c.stats.Read == 0 {
				return
			}
			t.Fatalf("Read error on outside data: %v", c.err)
		}
		lines := strings.Count(data, "\n") + 1
		for _, d := range c.debtors {
			if ValidateCodiceFiscale(d.FiscalCode) != nil || d.AmountCents <= 0 || d.AmountCents > MaxAmountCents || len(d.DueDate) != 10 || d.Key == "" || d.Line < 2 || d.Line > lines {
				t.Fatalf("invalid debtor emitted: %+v", d)
			}
		}
		for _, r := range c.rejects {
			if r.Rule == "" || r.MessageIT == "" || r.MessageEN == "" || r.Line < 2 || r.Line > lines {
				t.Fatalf("incomplete reject: %+v", r)
			}
		}
	})
}

// BenchmarkCSVSource reads a generated 100k-row file; rows/s is reported.
func BenchmarkCSVSource(b *testing.B) {
	const rows = 100_000
	p := filepath.Join(b.TempDir(), "big.csv")
	var buf bytes.Buffer
	buf.WriteString("codice_fiscale;cognome;nome;email;importo;scadenza;descrizione;id_pratica\n")
	cfs := []string{"RSSMRA85T10A562S", "BNCGLI90A41H501E", "RSSMRA85T10A56NH", "12345670017"}
	for i := 0; i < rows; i++ {
		fmt.Fprintf(&buf, "%s;Rossi;Mario;mario.rossi@example.it;%d,%02d;31/05/2026;TARI 2026 - rata unica;TARI-%07d\n", cfs[i%4], 1+i%5000, i%100, i)
	}
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	src, err := NewCSVSource(CSVConfig{CSVFileConfig: CSVFileConfig{Path: p, Delimiter: ";"}}, "")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		st, err := src.Read(context.Background(), func(Debtor) error { return nil }, func(Reject) error { return nil })
		if err != nil || st.Valid != rows {
			b.Fatalf("%+v %v", st, err)
		}
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
}
