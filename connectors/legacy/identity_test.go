package legacy

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const identityCSV = "codice_fiscale;cognome;nome;importo;scadenza;anno;descrizione\n" +
	"RSSMRA85T10A562S;Rossi;Mario;10,00;31/05/2026;2026;TARI\n" + // 2
	"RSSMRA85T10A562S;Rossi;Mario;10,00;31/05/2026;2026;TARI\n" + // 3: exact copy of 2
	"RSSMRA85T10A562S;Rossi;Mario;10,00;31/05/2026;2026;TARI acconto\n" + // 4: same debt as 2 by fiscalCode+amount+anno
	"RSSMRA85T10A562S;Rossi;Mario;25,00;31/05/2026;2026;TARI saldo\n" + // 5: same person, another debt
	"BNCGLI90A41H501E;Bianchi;Giulia;10,00;31/05/2026;2026;TARI\n" // 6

func TestRecordIdentityAndDuplicateRules(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "d.csv", identityCSV)
	type want struct {
		valid   []string // keys of the valid records
		rejects []string // line:rule
		warned  []int    // lines with a warning
	}
	tests := []struct {
		name, rules string
		want        want
	}{
		{"no rule: positions, exact copies still rejected", ``, want{
			valid:   []string{"csv:d.csv:2", "csv:d.csv:4", "csv:d.csv:5", "csv:d.csv:6"},
			rejects: []string{"3:duplicateRow"}}},
		{"identity fields", `,"identity":["fiscalCode","anno","amount"]`, want{
			valid:   []string{"RSSMRA85T10A562S|2026|10.00", "RSSMRA85T10A562S|2026|10.00", "RSSMRA85T10A562S|2026|25.00", "BNCGLI90A41H501E|2026|10.00"},
			rejects: []string{"3:duplicateRow"}}},
		{"reject the same debt", `,"duplicates":{"fields":["fiscalCode","amount","anno"]}`, want{
			valid:   []string{"csv:d.csv:2", "csv:d.csv:5", "csv:d.csv:6"},
			rejects: []string{"3:duplicateRow", "4:duplicate"}}},
		{"warn on the same debt", `,"duplicates":{"fields":["fiscalCode","amount","anno"],"action":"warn"}`, want{
			valid:   []string{"csv:d.csv:2", "csv:d.csv:4", "csv:d.csv:5", "csv:d.csv:6"},
			rejects: []string{"3:duplicateRow"}, warned: []int{4}}},
		{"allow: exact copies are still rejected", `,"duplicates":{"fields":["fiscalCode"],"action":"allow"}`, want{
			valid:   []string{"csv:d.csv:2", "csv:d.csv:4", "csv:d.csv:5", "csv:d.csv:6"},
			rejects: []string{"3:duplicateRow"}}},
		{"same person is not the same debt with the amount in the rule", `,"duplicates":{"fields":["fiscalCode","amount"]}`, want{
			valid:   []string{"csv:d.csv:2", "csv:d.csv:5", "csv:d.csv:6"},
			rejects: []string{"3:duplicateRow", "4:duplicate"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := readAll(t, open(t, `{"path":"d.csv","delimiter":";"`+tt.rules+`}`, dir))
			if c.err != nil {
				t.Fatal(c.err)
			}
			var keys, rj []string
			var warned []int
			for _, d := range c.debtors {
				keys = append(keys, d.Key)
				if len(d.Warnings) > 0 {
					warned = append(warned, d.Line)
					if w := d.Warnings[0]; w.Rule != "duplicate" || !strings.Contains(w.MessageEN, "same debt as line 2") || !strings.Contains(w.MessageIT, "stesso debito della riga 2") {
						t.Errorf("warning %+v", w)
					}
				}
			}
			for _, r := range c.rejects {
				rj = append(rj, fmt.Sprintf("%d:%s", r.Line, r.Rule))
				if r.Rule == "duplicateRow" && (!strings.Contains(r.MessageEN, "identical to line 2") || !strings.Contains(r.MessageIT, "identica alla riga 2")) {
					t.Errorf("duplicateRow reject %+v", r)
				}
				if r.Rule == "duplicate" && (r.Field != "fiscalCode+amount+anno" && r.Field != "fiscalCode+amount" || !strings.Contains(r.MessageEN, "same debt as line 2")) {
					t.Errorf("duplicate reject %+v", r)
				}
			}
			if fmt.Sprint(keys) != fmt.Sprint(tt.want.valid) || fmt.Sprint(rj) != fmt.Sprint(tt.want.rejects) || fmt.Sprint(warned) != fmt.Sprint(tt.want.warned) {
				t.Errorf("got keys %v rejects %v warned %v\nwant %+v", keys, rj, warned, tt.want)
			}
		})
	}
}

func TestRecordRulesConfigErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "d.csv", identityCSV)
	for _, tc := range []struct{ cfg, want string }{
		{`{"path":"d.csv","delimiter":";","duplicates":{"fields":["fiscalCode"],"action":"drop"}}`, "enum"},
		{`{"path":"d.csv","delimiter":";","duplicates":{"fields":[]}}`, "minItems"},
		{`{"path":"d.csv","header":false,"columns":{"fiscalCode":1,"surname":2,"amount":4,"dueDate":5},"identity":["anno"]}`, `identity[0] "anno"`},
	} {
		if _, err := OpenSource(KindCSV, json.RawMessage(tc.cfg), dir); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.cfg, err, tc.want)
		}
	}
	// A rule column the header lacks is a header error naming it.
	c := readAll(t, open(t, `{"path":"d.csv","delimiter":";","duplicates":{"fields":["fiscalCode","tributo"]}}`, dir))
	if c.err == nil || !strings.Contains(c.err.Error(), `names the column "tributo"`) {
		t.Errorf("missing rule column: %v", c.err)
	}
}

func TestCSVLineBounds(t *testing.T) {
	dir := t.TempDir()
	long := "RSSMRA85T10A562S;Rossi;Mario;10,00;31/05/2026;2026;" + strings.Repeat("x", 70<<10)
	writeFile(t, dir, "long.csv", "codice_fiscale;cognome;nome;importo;scadenza;anno;descrizione\n"+
		"RSSMRA85T10A562S;Rossi;Mario;10,00;31/05/2026;2026;ok\n"+long+"\n"+
		"BNCGLI90A41H501E;Bianchi;Giulia;10,00;31/05/2026;2026;after\n")
	c := readAll(t, open(t, `{"path":"long.csv","delimiter":";"}`, dir))
	if c.err != nil {
		t.Fatal(c.err)
	}
	if len(c.debtors) != 2 || c.debtors[1].Line != 4 || len(c.rejects) != 1 {
		t.Fatalf("debtors %+v rejects %+v", c.debtors, c.rejects)
	}
	if r := c.rejects[0]; r.Line != 3 || r.Rule != "lineLength" || r.Value != "" || !strings.Contains(r.MessageEN, "65536 bytes") {
		t.Errorf("reject %+v", r)
	}

	// A huge header is not echoed back.
	writeFile(t, dir, "header.csv", strings.Repeat("colonna;", 2<<20)+"\n")
	c = readAll(t, open(t, `{"path":"header.csv","delimiter":";"}`, dir))
	if c.err == nil || len(c.err.Error()) > 1000 || !strings.Contains(c.err.Error(), "header line is longer than 65536") {
		t.Errorf("huge header: %.300v (%d bytes)", c.err, len(fmt.Sprint(c.err)))
	}

	// An unclosed quote does not swallow the file into memory.
	writeFile(t, dir, "quote.csv", "codice_fiscale;cognome;nome;importo;scadenza\n\"RSSMRA85T10A562S;"+strings.Repeat("Rossi;Mario;10,00\n", 200_000))
	c = readAll(t, open(t, `{"path":"quote.csv","delimiter":";"}`, dir))
	if c.err == nil || !strings.Contains(c.err.Error(), "unclosed quote") {
		t.Errorf("unclosed quote: %v", c.err)
	}
}

func TestCSVNotText(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"x.xlsx": "PK\x03\x04\x14\x00\x06\x00" + strings.Repeat("\x00\x8f\"", 100),
		"x.bin":  "\"\x01\x02\x00\xff\"abc\n\"" + strings.Repeat("\x00\x07\"", 20),
		"x.pdf":  "%PDF-1.7\n",
	} {
		writeFile(t, dir, name, content)
		c := readAll(t, open(t, `{"path":"`+name+`"}`, dir))
		if c.err == nil || !strings.Contains(c.err.Error(), "not a CSV file") || strings.Contains(c.err.Error(), "bare") {
			t.Errorf("%s: %v", name, c.err)
		}
	}
}

func TestCSVDelimiterHint(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "semi.csv", identityCSV)
	c := readAll(t, open(t, `{"path":"semi.csv"}`, dir)) // delimiter defaults to ","
	if c.err == nil || !strings.Contains(c.err.Error(), `is the delimiter ";"?`) {
		t.Errorf("err = %v", c.err)
	}
}

func TestFixedWidthOverlapAndYYYYMMDD(t *testing.T) {
	dir := t.TempDir()
	// The codice fiscale (1–16) is also the record id; dates are YYYYMMDD.
	lines := "RSSMRA85T10A562SRossi               Mario     0000001000" + "20260531\n" +
		"BNCGLI90A41H501EBianchi             Giulia    0000002550" + "20260230\n"
	if err := os.WriteFile(filepath.Join(dir, "f.txt"), []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := `{"path":"f.txt","amountCents":true,"dateFormat":"YYYYMMDD","fields":{
		"externalId":{"start":1,"length":16},"fiscalCode":{"start":1,"length":16},"surname":{"start":17,"length":20},
		"name":{"start":37,"length":10},"amount":{"start":47,"length":10},"dueDate":{"start":57,"length":8}}}`
	src, err := OpenSource(KindFixedWidth, json.RawMessage(cfg), dir)
	if err != nil {
		t.Fatal(err)
	}
	c := readAll(t, src)
	if c.err != nil {
		t.Fatal(c.err)
	}
	if len(c.debtors) != 1 || c.debtors[0].ExternalID != "RSSMRA85T10A562S" || c.debtors[0].DueDate != "2026-05-31" || c.debtors[0].AmountCents != 1000 {
		t.Errorf("debtors %+v", c.debtors)
	}
	if len(c.rejects) != 1 || c.rejects[0].Rule != "date" || c.rejects[0].Line != 2 {
		t.Errorf("rejects %+v", c.rejects)
	}
}
