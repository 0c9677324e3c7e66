package onboard

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ponte-pa/ponte/connectors/legacy"
	"github.com/ponte-pa/ponte/internal/tenant"
	"github.com/ponte-pa/ponte/workflows/onboarding"
)

// indicePAHeader is the header of AgID's enti export (see indicepa.go).
var indicePAHeader = []string{"Codice_IPA", "Denominazione_ente", "Codice_fiscale_ente", "Tipologia", "Codice_Categoria", "Codice_natura",
	"Codice_ateco", "Ente_in_liquidazione", "Codice_MIUR", "Codice_ISTAT", "Acronimo", "Nome_responsabile", "Cognome_responsabile",
	"Titolo_responsabile", "Codice_comune_ISTAT", "Codice_catastale_comune", "CAP", "Indirizzo", "Mail1", "Tipo_Mail1", "Mail2", "Tipo_Mail2",
	"Mail3", "Tipo_Mail3", "Mail4", "Tipo_Mail4", "Mail5", "Tipo_Mail5", "Sito_istituzionale", "Url_facebook", "Url_linkedin", "Url_twitter",
	"Url_youtube", "Data_aggiornamento"}

// fiscalCode makes a valid 11-digit ente fiscal code from 10 digits.
func fiscalCode(t testing.TB, first10 string) string {
	t.Helper()
	for d := '0'; d <= '9'; d++ {
		if cf := first10 + string(d); legacy.ValidateNumericFiscalCode(cf) == nil {
			return cf
		}
	}
	t.Fatalf("no check digit for %s", first10)
	return ""
}

// iban makes a valid Italian IBAN for an account number.
func iban(account int) string {
	abi, cab, acc := "03069", "09606", fmt.Sprintf("%012d", account)
	bban := string(legacy.ItalianCIN(abi, cab, acc)) + abi + cab + acc
	return "IT" + legacy.IBANCheckDigits("IT00"+bban) + bban
}

// ente is one row of a generated IndicePA file.
type ente map[string]string

func comune(t testing.TB, i int, province string) ente {
	cad := fmt.Sprintf("L%03d", i+1)
	return ente{
		"Codice_IPA": "c_" + strings.ToLower(cad), "Denominazione_ente": fmt.Sprintf("Comune di Prova %03d", i+1),
		"Codice_fiscale_ente": fiscalCode(t, fmt.Sprintf("80%08d", 1000+i)), "Tipologia": "Pubbliche Amministrazioni",
		"Codice_Categoria": "L6", "Codice_natura": "2430", "Ente_in_liquidazione": "N", "Codice_ISTAT": fmt.Sprintf("%s%03d", province, i+1),
		"Nome_responsabile": "Maria", "Cognome_responsabile": "Rossi", "Titolo_responsabile": "Sindaco",
		"Codice_comune_ISTAT": fmt.Sprintf("%s%03d", province, i+1), "Codice_catastale_comune": cad, "CAP": fmt.Sprintf("2%04d", i+100),
		"Indirizzo": fmt.Sprintf("Piazza Municipio, %d", i+1), "Mail1": fmt.Sprintf("protocollo@pec.comune.prova%03d.it", i+1), "Tipo_Mail1": "Pec",
		"Mail2": fmt.Sprintf("info@comune.prova%03d.it", i+1), "Tipo_Mail2": "Altro", "Sito_istituzionale": fmt.Sprintf("www.comune.prova%03d.it", i+1),
		"Data_aggiornamento": "2026-10-01",
	}
}

func writeTable(t testing.TB, path string, delim string, header []string, rows []ente) {
	t.Helper()
	var b strings.Builder
	b.WriteString(strings.Join(header, delim) + "\n")
	for _, r := range rows {
		vals := make([]string, len(header))
		for i, h := range header {
			vals[i] = r[h]
			if strings.Contains(vals[i], delim) {
				vals[i] = `"` + strings.ReplaceAll(vals[i], `"`, `""`) + `"`
			}
		}
		line := strings.Join(vals, delim)
		if r["_short"] != "" {
			line = strings.Join(vals[:len(vals)-1], delim) // a column lost
		}
		b.WriteString(line + "\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fixture is a generated IndicePA file of 300 Lombard comuni, 15 of them bad,
// with non-comuni and comuni of Lazio in between, and its extra CSV.
type fixture struct {
	dir, file, extra string
	want             []string // "file:line:column:rule" of every expected error, in order
	comuni           int      // Lombard comuni rows
	read             int
	skipped          int
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{dir: t.TempDir()}
	f.file = filepath.Join(f.dir, "enti.tsv")
	f.extra = filepath.Join(f.dir, "extra.csv")
	provinces := []string{"012", "013", "015", "016", "017", "018", "019", "020", "097", "098", "108"}
	var rows, extras []ente
	extraLine := map[string]int{}
	addExtra := func(x ente) {
		extras = append(extras, x)
		extraLine[x["Codice_IPA"]] = len(extras) + 1 // header is line 1
	}
	addExtra(ente{"Codice_IPA": "*", "stationId": "80012345676_01", "smtpAddr": "smtp.regione.example:587", "smtpUsername": "ponte"})
	type bad struct {
		col, rule string
		extra     bool
	}
	bads := map[int]bad{}
	for i := 0; i < 300; i++ {
		e := comune(t, i, provinces[i%len(provinces)])
		x := ente{"Codice_IPA": e["Codice_IPA"], "iban": iban(i + 1), "segregationCode": "01",
			"ioPaymentsServiceId": fmt.Sprintf("01HZPROVA%017d", i+1), "smtpFrom": fmt.Sprintf("Comune di Prova %03d <tributi@comune.prova%03d.it>", i+1, i+1)}
		if i%3 == 0 {
			x["ioAlertsServiceId"] = fmt.Sprintf("01HZALLERTA%015d", i+1)
			x["ioAlertsKey"] = fmt.Sprintf("env:PONTE_IO_ALERTS_%03d", i+1)
		}
		switch i {
		case 10:
			cf := e["Codice_fiscale_ente"]
			e["Codice_fiscale_ente"] = cf[:10] + string('0'+(cf[10]-'0'+1)%10)
			bads[i] = bad{"Codice_fiscale_ente", "checksum", false}
		case 20:
			e["Codice_comune_ISTAT"] = "12A021"
			bads[i] = bad{"Codice_comune_ISTAT", "format", false}
		case 30:
			e["Tipo_Mail1"] = "Altro"
			bads[i] = bad{"Mail1", "pec", false}
		case 40:
			b := []byte(x["iban"])
			b[len(b)-1] = '0' + (b[len(b)-1]-'0'+1)%10
			x["iban"] = string(b)
			bads[i] = bad{"iban", "checksum", true}
		case 50:
			e["Codice_IPA"] = rows[len(rows)-1]["Codice_IPA"] // the previous comune's
			x = nil
			bads[i] = bad{"Codice_IPA", "duplicate", false}
		case 60:
			e["Codice_catastale_comune"] = "1234"
			bads[i] = bad{"Codice_catastale_comune", "format", false}
		case 70:
			e["CAP"] = "2070"
			bads[i] = bad{"CAP", "format", false}
		case 80:
			e["Codice_fiscale_ente"] = e["Codice_fiscale_ente"][:10]
			bads[i] = bad{"Codice_fiscale_ente", "length", false}
		case 90:
			e["Denominazione_ente"] = ""
			bads[i] = bad{"Denominazione_ente", "required", false}
		case 100:
			// Right check digits, wrong CIN.
			acc := fmt.Sprintf("%012d", i+1)
			bban := "Z" + "03069" + "09606" + acc
			if legacy.ItalianCIN("03069", "09606", acc) == 'Z' {
				bban = "Y" + bban[1:]
			}
			x["iban"] = "IT" + legacy.IBANCheckDigits("IT00"+bban) + bban
			bads[i] = bad{"iban", "cin", true}
		case 110:
			x["ioPaymentsKey"] = "4f2d9c1e8b7a4e6f9d0c1b2a3e4f5d6c" // a key pasted as a value
			bads[i] = bad{"ioPaymentsKey", "secret-ref", true}
		case 120:
			x = nil
			bads[i] = bad{"Codice_IPA", "extra-missing", false}
		case 130:
			x["segregationCode"] = "1"
			bads[i] = bad{"segregationCode", "format", true}
		case 140:
			e["Codice_IPA"] = "c.l141"
			x["Codice_IPA"] = "c.l141"
			bads[i] = bad{"Codice_IPA", "format", false}
		case 150:
			e["_short"] = "y"
			bads[i] = bad{"", "columns", false}
		}
		rows = append(rows, e)
		f.comuni++
		if x != nil {
			addExtra(x)
		}
		if b, ok := bads[i]; ok {
			line, file := len(rows)+1, "enti.tsv"
			if b.extra {
				line, file = extraLine[x["Codice_IPA"]], "extra.csv"
			}
			f.want = append(f.want, fmt.Sprintf("%s:%d:%s:%s", file, line, b.col, b.rule))
		}
		// Rows the filters drop: a non-comune every 10 rows, a comune of Lazio every 15.
		if i%10 == 5 {
			n := comune(t, 500+i, provinces[0])
			n["Codice_Categoria"], n["Codice_IPA"], n["Denominazione_ente"] = "L8", fmt.Sprintf("asl_%d", i), "Azienda Sanitaria di Prova"
			rows = append(rows, n)
			f.skipped++
		}
		if i%15 == 7 {
			n := comune(t, 600+i, "058")
			rows = append(rows, n)
			f.skipped++
			if i%30 == 7 { // their extra rows are ignored, not errors
				addExtra(ente{"Codice_IPA": n["Codice_IPA"], "iban": iban(600 + i), "segregationCode": "02", "ioPaymentsServiceId": "01HZLAZIO0000000000000000X"})
			}
		}
	}
	f.read = len(rows)
	writeTable(t, f.file, "\t", indicePAHeader, rows)
	writeTable(t, f.extra, ",", []string{"Codice_IPA", "iban", "segregationCode", "stationId", "ioPaymentsServiceId", "ioPaymentsKey",
		"ioAlertsServiceId", "ioAlertsKey", "smtpAddr", "smtpFrom", "smtpUsername"}, extras)
	return f
}

func errorKeys(errs []RowError) []string {
	var out []string
	for _, e := range errs {
		out = append(out, fmt.Sprintf("%s:%d:%s:%s", filepath.Base(e.File), e.Line, e.Column, e.Rule))
	}
	return out
}

func TestImport300Comuni(t *testing.T) {
	f := newFixture(t)
	out := filepath.Join(f.dir, "tenants")
	opts := Options{File: f.file, Extra: f.extra, Region: "Lombardia", Out: out}
	res, err := Import(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := errorKeys(res.Errors); !slices.Equal(got, f.want) {
		t.Errorf("errors:\n got %q\nwant %q", got, f.want)
	}
	for _, e := range res.Errors {
		if e.IT == "" || e.EN == "" || e.FixIT == "" || e.FixEN == "" {
			t.Errorf("error without message or fix in both languages: %+v", e)
		}
		if strings.Contains(e.String(), "4f2d9c1e8b7a") {
			t.Errorf("a secret value is echoed: %s", e)
		}
	}
	if res.Read != f.read || res.Skipped != f.skipped || res.Valid != 285 || res.Written != 285 || res.Refused != 15 || res.Unchanged != 0 || res.Changed != 0 {
		t.Errorf("summary %+v, want read %d skipped %d valid 285 written 285 refused 15", summary(res), f.read, f.skipped)
	}
	loaded, err := tenant.LoadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded) != 285 {
		t.Fatalf("%d configs load from %s, want 285", len(loaded), out)
	}
	for _, fr := range res.Files {
		if _, err := tenant.Load(fr.Path); err != nil {
			t.Errorf("%s: %v", fr.Path, err)
		}
	}

	// One config, field by field.
	tn, err := tenant.Load(filepath.Join(out, "c-l001.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if tn.ID != "c-l001" || tn.IPACode != "c_l001" || tn.Name.IT != "Comune di Prova 001" || tn.Name.EN != "Municipality of Prova 001" ||
		tn.FiscalCode != fiscalCode(t, "8000001000") || tn.PagoPA.IBAN != iban(1) || tn.PagoPA.AuxDigit != 3 || tn.PagoPA.SegregationCode != "01" ||
		tn.PagoPA.StationID != "80012345676_01" || tn.PagoPA.GPD.BaseURL != DefaultGPDURL || tn.PagoPA.GPD.SubscriptionKey.Ref != "file:secrets/c-l001/gpd.key" ||
		tn.AppIO.BaseURL != DefaultIOURL || tn.AppIO.Services["payments"].ServiceID != "01HZPROVA00000000000000001" ||
		tn.AppIO.Services["payments"].Key.Ref != "file:secrets/c-l001/io-payments.key" || tn.AppIO.Services["alerts"].Key.Ref != "env:PONTE_IO_ALERTS_001" {
		t.Errorf("c-l001 loads as %+v", tn)
	}
	if len(tn.Channels) != 1 || tn.Channels[0].Kind != "email" || !strings.Contains(string(tn.Channels[0].Config), `"smtp.regione.example:587"`) ||
		!strings.Contains(string(tn.Channels[0].Config), `"file:secrets/c-l001/smtp.password"`) {
		t.Errorf("c-l001 channels: %+v", tn.Channels)
	}
	raw, err := os.ReadFile(filepath.Join(out, "c-l001.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"#   PEC: protocollo@pec.comune.prova001.it\n", "#   ISTAT: 012001\n", "#   file:secrets/c-l001/gpd.key\n"} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("c-l001.yaml lacks %q:\n%s", want, raw)
		}
	}

	// Again: nothing to write.
	res, err = Import(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Valid != 285 || res.Written != 0 || res.Unchanged != 285 || res.Changed != 0 || res.Refused != 15 {
		t.Errorf("second run: %+v, want 285 unchanged", summary(res))
	}

	// A hand edit is kept, and shown, without --force.
	p := filepath.Join(out, "c-l002.yaml")
	orig, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(orig), "segregationCode: \"01\"", "segregationCode: \"07\"", 1)
	if edited == string(orig) {
		t.Fatalf("c-l002.yaml has no segregationCode \"01\":\n%s", orig)
	}
	if err := os.WriteFile(p, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err = Import(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Written != 0 || res.Unchanged != 284 || res.Changed != 1 {
		t.Errorf("after a hand edit: %+v, want 284 unchanged, 1 changed", summary(res))
	}
	var changed *FileResult
	for i := range res.Files {
		if res.Files[i].Status == Changed {
			changed = &res.Files[i]
		}
	}
	if changed == nil || changed.ID != "c-l002" || !strings.Contains(changed.Diff, "\n-  segregationCode: \"07\"\n+  segregationCode: \"01\"\n") ||
		!strings.HasPrefix(changed.Diff, "--- "+p+" (on disk)\n+++ "+p+" (from IndicePA)\n@@ ") {
		t.Errorf("changed file: %+v", changed)
	}
	if now, err := os.ReadFile(p); err != nil || string(now) != edited {
		t.Errorf("the hand-edited file was touched (err %v)", err)
	}

	// With --force it is replaced.
	opts.Force = true
	res, err = Import(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Written != 1 || res.Unchanged != 284 || res.Changed != 0 {
		t.Errorf("with --force: %+v, want 1 written, 284 unchanged", summary(res))
	}
	if now, err := os.ReadFile(p); err != nil || string(now) != string(orig) {
		t.Errorf("--force did not restore the generated file (err %v)", err)
	}

	// The region's first readiness run, before the comuni have put their
	// secrets in place: the offline checks of all 285, one checklist each
	// in Italian and English, and the summary.
	ts, err := tenant.LoadDir(out)
	if err != nil || len(ts) != 285 {
		t.Fatalf("%d configs load (%v), want 285", len(ts), err)
	}
	checker := &onboarding.Checker{Only: onboarding.Offline}
	var reports []onboarding.Report
	for _, tn := range ts {
		reports = append(reports, checker.All(context.Background(), tn, time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)))
	}
	lists := filepath.Join(f.dir, "checklists")
	files, err := onboarding.WriteChecklists(lists, reports, onboarding.DefaultGuide)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 285*4+4 {
		t.Errorf("%d checklist files, want %d (md and html, it and en, per comune, and the summary)", len(files), 285*4+4)
	}
	for _, r := range reports {
		if r.Count(onboarding.OK) == 0 || r.Ready() || len(r.Items) != len(onboarding.Offline) {
			t.Errorf("%s: %d of %d offline checks ok, ready %v", r.Tenant, r.Count(onboarding.OK), len(r.Items), r.Ready())
			break
		}
	}
	sum, err := os.ReadFile(filepath.Join(lists, "summary.it.md"))
	if err != nil || !strings.Contains(string(sum), "Pronti: 0 su 285") || !strings.Contains(string(sum), "| Comune | Configurazione | Segreti | SPID: chiavi e metadata | Fonti dati | verifiche ok | Pronto |") {
		t.Errorf("summary (%v):\n%.600s", err, sum)
	}
}

func summary(r Result) string {
	return fmt.Sprintf("read %d skipped %d valid %d written %d unchanged %d changed %d refused %d",
		r.Read, r.Skipped, r.Valid, r.Written, r.Unchanged, r.Changed, r.Refused)
}

func ibanAt(abi, cab string, account int) string {
	acc := fmt.Sprintf("%012d", account)
	bban := string(legacy.ItalianCIN(abi, cab, acc)) + abi + cab + acc
	return "IT" + legacy.IBANCheckDigits("IT00"+bban) + bban
}

// TestImportExtraColumns covers the extra CSV's other columns: the * row,
// auxDigit 0, a BancoPosta account, an id of one's own, a sources file, and
// the rows refused for them.
func TestImportExtraColumns(t *testing.T) {
	dir := t.TempDir()
	file, extra := filepath.Join(dir, "enti.csv"), filepath.Join(dir, "extra.csv")
	var rows []ente
	for i := 0; i < 4; i++ {
		rows = append(rows, comune(t, i, "058"))
	}
	writeTable(t, file, ",", append([]string{"_id"}, indicePAHeader...), rows)
	src := "sources:\n  tributi-csv:\n    kind: csv\n    config:\n      path: export/tari.csv\n      delimiter: \";\"\n"
	if err := os.WriteFile(filepath.Join(dir, "fonti.yaml"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	x := []ente{
		{"Codice_IPA": "*", "iban": iban(99), "postalOwner": "Tesoreria comunale", "smtpAddr": "smtp.example.it:587", "sourcesFile": "fonti.yaml"},
		{"Codice_IPA": "c_l001", "id": "prova-uno", "iban": iban(1), "auxDigit": "0", "applicationCode": "05", "postalIban": ibanAt("07601", "03200", 1),
			"cbill": "A0B1C", "ioPaymentsServiceId": "01HZPROVA00000000000000001", "smtpFrom": "Comune di Prova 001 <tributi@prova001.it>"},
		{"Codice_IPA": "c_l002", "iban": iban(2), "segregationCode": "02", "postalIban": ibanAt("03069", "09606", 2),
			"ioPaymentsServiceId": "01HZPROVA00000000000000002", "smtpFrom": "Comune di Prova 002 <tributi@prova002.it>"},
		{"Codice_IPA": "c_l003", "iban": iban(3), "segregationCode": "03", "ioPaymentsServiceId": "01HZPROVA00000000000000003"},
		{"Codice_IPA": "c_l004", "iban": iban(4), "segregationCode": "04", "ioAlertsKey": "env:PONTE_ALERTS", "smtpFrom": "Comune di Prova 004 <tributi@prova004.it>"},
		{"Codice_IPA": "c_zzz9", "iban": iban(5), "segregationCode": "05", "ioPaymentsServiceId": "01HZPROVA00000000000000005"},
	}
	cols := []string{"Codice_IPA", "id", "iban", "auxDigit", "applicationCode", "segregationCode", "postalIban", "postalOwner", "cbill",
		"ioPaymentsServiceId", "ioAlertsKey", "smtpAddr", "smtpFrom", "sourcesFile"}
	writeTable(t, extra, ";", cols, x)
	out := filepath.Join(dir, "tenants")
	res, err := Import(context.Background(), Options{File: file, Extra: extra, Province: "058", Out: out})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"extra.csv:2:iban:default",
		"extra.csv:4:postalIban:postal",
		"extra.csv:5:smtpFrom:required",
		"extra.csv:6:ioAlertsServiceId:required",
		"extra.csv:6:ioPaymentsServiceId:required",
		"extra.csv:7:Codice_IPA:unknown",
	}
	if got := errorKeys(res.Errors); !slices.Equal(got, want) {
		t.Errorf("errors:\n got %q\nwant %q", got, want)
	}
	if res.Valid != 1 || res.Written != 1 || res.Refused != 3 {
		t.Errorf("summary: %s", summary(res))
	}
	tn, err := tenant.Load(filepath.Join(out, "prova-uno.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	p := tn.PagoPA
	if tn.ID != "prova-uno" || p.AuxDigit != 0 || p.ApplicationCode != "05" || p.SegregationCode != "" || p.PostalIBAN != ibanAt("07601", "03200", 1) ||
		p.PostalOwner != "Tesoreria comunale" || p.CBILL != "A0B1C" || p.IBAN != iban(1) {
		t.Errorf("prova-uno: %+v", tn)
	}
	if s, ok := tn.Sources["tributi-csv"]; !ok || s.Kind != "csv" || !strings.Contains(string(s.Config), `"path":"export/tari.csv"`) {
		t.Errorf("prova-uno sources: %+v", tn.Sources)
	}

	// Options and files refused as a whole.
	for name, o := range map[string]Options{
		"region and province":          {File: file, Region: "Lazio", Province: "058", Out: out},
		"unknown region":               {File: file, Region: "Narnia", Out: out},
		"province name, no column":     {File: file, Province: "RM", Out: out},
		"extra with an unknown column": {File: file, Extra: filepath.Join(dir, "bad.csv"), Out: out},
	} {
		if err := os.WriteFile(filepath.Join(dir, "bad.csv"), []byte("Codice_IPA,IBAN2\nc_l001,x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Import(context.Background(), o)
		var fe *FileError
		if !errors.As(err, &fe) || fe.IT == "" || fe.EN == "" {
			t.Errorf("%s: got %v, want a *FileError", name, err)
		}
	}
}

// TestRegionFilter: the region follows from the ISTAT code, or from a region
// column when the file has one; a comune of a province not in the table is
// refused, not dropped.
func TestRegionFilter(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "enti.tsv")
	a, b, c := comune(t, 0, "090"), comune(t, 1, "112"), comune(t, 2, "058")
	writeTable(t, file, "\t", indicePAHeader, []ente{a, b, c})
	res, err := Import(context.Background(), Options{File: file, Region: "Sardegna", Out: filepath.Join(dir, "t1")})
	if err != nil {
		t.Fatal(err)
	}
	// a is Sardinian but has no extra row; b cannot be placed; c is in Lazio.
	if got, want := errorKeys(res.Errors), []string{"enti.tsv:2:Codice_IPA:extra-missing", "enti.tsv:3:Codice_comune_ISTAT:region"}; !slices.Equal(got, want) {
		t.Errorf("errors %q, want %q", got, want)
	}
	if res.Skipped != 1 || res.Refused != 2 {
		t.Errorf("summary: %s", summary(res))
	}
	// With a region column, the file's names decide.
	a["Denominazione_regione"], b["Denominazione_regione"], c["Denominazione_regione"] = "Sardegna", "SARDEGNA", "Lazio"
	writeTable(t, file, "\t", append(slices.Clone(indicePAHeader), "Denominazione_regione"), []ente{a, b, c})
	res, err = Import(context.Background(), Options{File: file, Region: "20", Out: filepath.Join(dir, "t2")})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := errorKeys(res.Errors), []string{"enti.tsv:2:Codice_IPA:extra-missing", "enti.tsv:3:Codice_IPA:extra-missing"}; !slices.Equal(got, want) {
		t.Errorf("with a region column: errors %q, want %q", got, want)
	}
}
