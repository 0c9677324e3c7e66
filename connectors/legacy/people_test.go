package legacy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ponte-pa/ponte/connectors/registry"
	"github.com/ponte-pa/ponte/schemas"
)

func registryEnv(dir string) registry.Env { return registry.Env{Dir: dir} }

// personRow is a record of a source with named fields and no raw row.
func personRow(line int, vals map[string]string) row {
	return row{line: line, get: func(f string) string { return strings.TrimSpace(vals[f]) }}
}

// contact is the least a person needs; cases add or override fields.
func withContact(vals map[string]string) map[string]string {
	out := map[string]string{FieldEmail: "anna@example.it"}
	for k, v := range vals {
		out[k] = v
	}
	return out
}

func TestPersonRejects(t *testing.T) {
	tests := []struct {
		name        string
		vals        map[string]string
		field, rule string
	}{
		{"no contact at all", map[string]string{FieldName: "Anna", FieldSurname: "Neri", FieldZone: "Z1"}, "fiscalCode|email|phone", "contact"},
		{"fiscal code checksum", map[string]string{FieldFiscalCode: "RSSMRA85T10A562X"}, FieldFiscalCode, "checksum"},
		{"fiscal code length", map[string]string{FieldFiscalCode: "RSSMRA85"}, FieldFiscalCode, "length"},
		{"email", map[string]string{FieldEmail: "anna@"}, FieldEmail, "email"},
		{"phone", map[string]string{FieldPhone: "12345"}, FieldPhone, "phone"},
		{"cap", withContact(map[string]string{FieldCAP: "4790"}), FieldCAP, "format"},
		{"istat", withContact(map[string]string{FieldISTAT: "99999"}), FieldISTAT, "format"},
		{"cadastral code", withContact(map[string]string{FieldCadastralCode: "X000"}), FieldCadastralCode, "format"},
		{"language", withContact(map[string]string{FieldLang: "fr"}), FieldLang, "lang"},
		{"channel with a symbol", withContact(map[string]string{FieldChannels: "sms; whats@pp"}), FieldChannels, "channel"},
		{"channel starting with a digit", withContact(map[string]string{FieldChannels: "2fa"}), FieldChannels, "channel"},
		{"channel too long", withContact(map[string]string{FieldChannels: "a" + strings.Repeat("b", 31)}), FieldChannels, "channel"},
		{"topic with a slash", withContact(map[string]string{FieldTopics: "meteo, a/b"}), FieldTopics, "topic"},
		{"topic starting with a dash", withContact(map[string]string{FieldTopics: "-meteo"}), FieldTopics, "topic"},
		{"topic too long", withContact(map[string]string{FieldTopics: strings.Repeat("x", 65)}), FieldTopics, "topic"},
		{"zone too long", withContact(map[string]string{FieldZone: strings.Repeat("z", 65)}), FieldZone, "maxLength"},
		{"latitude without longitude", withContact(map[string]string{FieldLat: "45.1"}), FieldLon, "point"},
		{"longitude without latitude", withContact(map[string]string{FieldLon: "9.1"}), FieldLat, "point"},
		{"latitude out of range", withContact(map[string]string{FieldLat: "90.0001", FieldLon: "9"}), FieldLat, "range"},
		{"longitude out of range", withContact(map[string]string{FieldLat: "45", FieldLon: "-180,5"}), FieldLon, "range"},
		{"exponent", withContact(map[string]string{FieldLat: "4.5e1", FieldLon: "9"}), FieldLat, "format"},
		{"NaN", withContact(map[string]string{FieldLat: "45", FieldLon: "NaN"}), FieldLon, "format"},
		{"two separators", withContact(map[string]string{FieldLat: "45,1.2", FieldLon: "9"}), FieldLat, "format"},
		{"two signs", withContact(map[string]string{FieldLat: "+-45", FieldLon: "9"}), FieldLat, "format"},
		{"degrees and minutes", withContact(map[string]string{FieldLat: "45°28'", FieldLon: "9"}), FieldLat, "format"},
		{"id too long", withContact(map[string]string{FieldExternalID: strings.Repeat("i", 65)}), FieldExternalID, "maxLength"},
		{"not UTF-8", withContact(map[string]string{FieldSurname: "Nicol\xf2"}), FieldSurname, "encoding"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, rj := newPersonChecker("test").checkPerson(personRow(7, tt.vals))
			if rj == nil {
				t.Fatalf("accepted: %+v", p)
			}
			if rj.Field != tt.field || rj.Rule != tt.rule || rj.Line != 7 || rj.MessageIT == "" || rj.MessageEN == "" || rj.MessageIT == rj.MessageEN {
				t.Errorf("reject %+v, want field %s rule %s with messages in Italian and English", rj, tt.field, tt.rule)
			}
		})
	}
}

func TestPersonValues(t *testing.T) {
	tests := []struct {
		name string
		vals map[string]string
		want Person
	}{
		{"fiscal code only, the key", map[string]string{FieldFiscalCode: " rssmra85t10a562s "},
			Person{FiscalCode: "RSSMRA85T10A562S", Key: "RSSMRA85T10A562S"}},
		{"phone only, a positional key", map[string]string{FieldPhone: "347 555 0101"},
			Person{Phone: "+393475550101", Key: "test:7"}},
		{"the id is the key", map[string]string{FieldExternalID: "ISC-1", FieldFiscalCode: "RSSMRA85T10A562S", FieldName: "Mario", FieldSurname: "Rossi"},
			Person{Key: "ISC-1", FiscalCode: "RSSMRA85T10A562S", Name: "Mario", Surname: "Rossi"}},
		{"codes upper case", withContact(map[string]string{FieldCAP: "47921", FieldISTAT: "099014", FieldCadastralCode: "h294"}),
			Person{Email: "anna@example.it", Key: "test:7", CAP: "47921", ISTAT: "099014", Cadastral: "H294"}},
		{"Italiano", withContact(map[string]string{FieldLang: "Italiano"}), Person{Email: "anna@example.it", Key: "test:7", Lang: "it"}},
		{"it_IT", withContact(map[string]string{FieldLang: "it_IT"}), Person{Email: "anna@example.it", Key: "test:7", Lang: "it"}},
		{"ITA", withContact(map[string]string{FieldLang: "ITA"}), Person{Email: "anna@example.it", Key: "test:7", Lang: "it"}},
		{"Inglese", withContact(map[string]string{FieldLang: "Inglese"}), Person{Email: "anna@example.it", Key: "test:7", Lang: "en"}},
		{"en-US", withContact(map[string]string{FieldLang: "EN-us"}), Person{Email: "anna@example.it", Key: "test:7", Lang: "en"}},
		{"english", withContact(map[string]string{FieldLang: "english"}), Person{Email: "anna@example.it", Key: "test:7", Lang: "en"}},
		{"channel aliases, in order, once", withContact(map[string]string{FieldChannels: "SMS; App  IO | e-mail,io cellulare mail"}),
			Person{Email: "anna@example.it", Key: "test:7", Channels: []string{"sms", "appio", "email"}}},
		{"another channel kind", withContact(map[string]string{FieldChannels: "telegram,webhook-crm"}),
			Person{Email: "anna@example.it", Key: "test:7", Channels: []string{"telegram", "webhook-crm"}}},
		{"whatsapp is not App IO", withContact(map[string]string{FieldChannels: "whatsapp io"}),
			Person{Email: "anna@example.it", Key: "test:7", Channels: []string{"whatsapp", "appio"}}},
		{"topics", withContact(map[string]string{FieldTopics: "Allerta-Meteo, viabilità|eventi_culturali allerta-meteo"}),
			Person{Email: "anna@example.it", Key: "test:7", Topics: []string{"allerta-meteo", "viabilità", "eventi_culturali"}}},
		{"zone trimmed", withContact(map[string]string{FieldZone: "  Zona 2 - Fiume "}), Person{Email: "anna@example.it", Key: "test:7", Zone: "Zona 2 - Fiume"}},
		{"decimal comma", withContact(map[string]string{FieldLat: "45,4642", FieldLon: "9,19"}),
			Person{Email: "anna@example.it", Key: "test:7", Lat: 45.4642, Lon: 9.19, HasPoint: true}},
		{"limits and signs", withContact(map[string]string{FieldLat: "-90", FieldLon: "+180.000"}),
			Person{Email: "anna@example.it", Key: "test:7", Lat: -90, Lon: 180, HasPoint: true}},
		{"0,0 is kept with a warning", withContact(map[string]string{FieldLat: "0", FieldLon: "0,0"}),
			Person{Email: "anna@example.it", Key: "test:7", HasPoint: true, Warnings: []Warning{{Field: "lat+lon", Rule: "point",
				MessageIT: "coordinate 0,0 (nel golfo di Guinea): probabilmente mancano nell'esportazione",
				MessageEN: "coordinates 0,0 (in the Gulf of Guinea): probably missing from the export"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, rj := newPersonChecker("test").checkPerson(personRow(7, tt.vals))
			if rj != nil {
				t.Fatalf("rejected: %+v", rj)
			}
			tt.want.Line = 7
			if !reflect.DeepEqual(p, tt.want) {
				t.Errorf("person\n got %+v\nwant %+v", p, tt.want)
			}
		})
	}
}

func TestPersonDuplicates(t *testing.T) {
	c := newPersonChecker("test")
	type result struct {
		key         string
		field, rule string
	}
	rows := []map[string]string{
		{FieldExternalID: "A", FieldFiscalCode: "RSSMRA85T10A562S"},
		{FieldExternalID: "A", FieldFiscalCode: "BNCGLI90A41H501E"}, // the id again
		{FieldExternalID: "A", FieldFiscalCode: "RSSMRA85T10A562S"}, // the same row again
		{FieldExternalID: "B", FieldFiscalCode: "RSSMRA85T10A562S"}, // same person, another id: both kept
		{FieldFiscalCode: "BNCGLI90A41H501E", FieldEmail: "g@x.it"}, // keyed by the fiscal code
		{FieldFiscalCode: "bncgli90a41h501e", FieldEmail: "h@x.it"}, // the same key
		{FieldFiscalCode: "BNCGLI90A41H501E", FieldEmail: "g@x.it"}, // the same row
		{FieldPhone: "3331234567"},
		{FieldPhone: "3331234567"},
	}
	var got []result
	for i, vals := range rows {
		p, rj := c.checkPerson(personRow(i+2, vals))
		if rj != nil {
			got = append(got, result{"", rj.Field, rj.Rule})
			continue
		}
		got = append(got, result{p.Key, "", ""})
	}
	want := []result{{"A", "", ""}, {"", FieldExternalID, "duplicate"}, {"", "", "duplicateRow"}, {"B", "", ""},
		{"BNCGLI90A41H501E", "", ""}, {"", FieldFiscalCode, "duplicate"}, {"", "", "duplicateRow"}, {"test:9", "", ""}, {"", "", "duplicateRow"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("results\n got %v\nwant %v", got, want)
	}
}

type collectedPeople struct {
	people  []Person
	rejects []Reject
	stats   Stats
	err     error
}

func readPeople(t testing.TB, src PeopleSource) collectedPeople {
	t.Helper()
	var c collectedPeople
	c.stats, c.err = src.Read(context.Background(),
		func(p Person) error { c.people = append(c.people, p); return nil },
		func(r Reject) error { c.rejects = append(c.rejects, r); return nil })
	if c.stats.Read != c.stats.Valid+c.stats.Rejected || c.stats.Valid != len(c.people) || c.stats.Rejected != len(c.rejects) {
		t.Fatalf("stats %+v do not match %d people + %d rejects", c.stats, len(c.people), len(c.rejects))
	}
	return c
}

func openPeople(t testing.TB, kind, cfg, dir string) PeopleSource {
	t.Helper()
	src, err := People.Open(kind, json.RawMessage(cfg), registryEnv(dir))
	if err != nil {
		t.Fatalf("People.Open(%s, %s): %v", kind, cfg, err)
	}
	return src
}

// TestPeopleCSV reads testdata/people.csv: English column names, a byte order
// mark, the rejects of the file handling (width, quotes) and of people records.
func TestPeopleCSV(t *testing.T) {
	c := readPeople(t, openPeople(t, KindCSV, `{"path":"people.csv","delimiter":";"}`, "testdata"))
	if c.err != nil {
		t.Fatal(c.err)
	}
	const src = "csv:people.csv"
	want := []Person{
		{Line: 2, Key: "S-1", FiscalCode: "RSSMRA85T10A562S", Name: "Mario", Surname: "Rossi", Email: "mario.rossi@example.it", Phone: "+393331234567",
			Lang: "it", Channels: []string{"appio", "sms"}, Topics: []string{"allerta-meteo"}, ISTAT: "099999", Zone: "Zona 1", Lat: 44.0612, Lon: 12.5662, HasPoint: true},
		{Line: 3, Key: "S-2", Name: "John", Surname: "Smith", Email: "john.smith@example.com", Lang: "en", Channels: []string{"email"}, Topics: []string{"eventi", "viabilità"}},
		{Line: 4, Key: src + ":4", Phone: "+393475550101", Channels: []string{"sms"}, Zone: "Zona 3", Lat: 44.05, Lon: 12.54, HasPoint: true},
		{Line: 5, Key: "BNCGLI90A41H501E", FiscalCode: "BNCGLI90A41H501E", Name: "Giulia", Surname: "Bianchi", Lang: "it", CAP: "47921"},
		// A quoted cell holds the delimiter, and a line break.
		{Line: 10, Key: "S-8", Name: "Anna", Surname: "Neri", Email: "anna.neri@example.it", Channels: []string{"email", "appio"}, Zone: "Zona 2;\nvia del Porto"},
	}
	if !reflect.DeepEqual(c.people, want) {
		t.Errorf("people:\n got %+v\nwant %+v", c.people, want)
	}
	type lr struct {
		Line        int
		Field, Rule string
	}
	var got []lr
	for _, r := range c.rejects {
		if r.Source != src {
			t.Errorf("reject source %q", r.Source)
		}
		got = append(got, lr{r.Line, r.Field, r.Rule})
	}
	wantRj := []lr{{6, "", "columns"}, {7, "fiscalCode|email|phone", "contact"}, {8, "lang", "lang"}, {9, "", "syntax"}}
	if !reflect.DeepEqual(got, wantRj) {
		t.Errorf("rejects\n got %v\nwant %v", got, wantRj)
	}
	if c.stats != (Stats{Read: 9, Valid: 5, Rejected: 4}) {
		t.Errorf("stats %+v", c.stats)
	}
}

func TestPeopleCSVColumns(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "nocontact.csv", "nome;cognome;zona\nAnna;Neri;Z1\n")
	writeFile(t, dir, "mapped.csv", "CODICE;NOME;CELL;PREF\nX1;Anna;3331234567;sms\n")
	writeFile(t, dir, "noheader.csv", "Anna,+39 333 1234567,en,io\nMario,,it,sms\n")
	writeFile(t, dir, "binary.csv", "PK\x03\x04zip")

	c := readPeople(t, openPeople(t, KindCSV, `{"path":"nocontact.csv","delimiter":";"}`, dir))
	var he *HeaderError
	if !errors.As(c.err, &he) || he.Field != "fiscalCode|email|phone" || !strings.Contains(c.err.Error(), "no column for any of fiscalCode, email, phone") ||
		!strings.Contains(c.err.Error(), "codice_fiscale or email or telefono") || c.stats.Read != 0 {
		t.Errorf("no contact column: %+v %v", he, c.err)
	}

	c = readPeople(t, openPeople(t, KindCSV, `{"path":"mapped.csv","delimiter":";","columns":{"externalId":"codice","phone":"cell","channels":"PREF"}}`, dir))
	if c.err != nil || len(c.people) != 1 || c.people[0].Key != "X1" || c.people[0].Phone != "+393331234567" || fmt.Sprint(c.people[0].Channels) != "[sms]" || c.people[0].Name != "Anna" {
		t.Errorf("mapped columns: %+v %v", c.people, c.err)
	}

	c = readPeople(t, openPeople(t, KindCSV, `{"path":"noheader.csv","header":false,"columns":{"name":1,"phone":2,"lang":3,"channels":4}}`, dir))
	if c.err != nil || len(c.people) != 1 || c.people[0].Lang != "en" || fmt.Sprint(c.people[0].Channels) != "[appio]" || c.people[0].Key != "csv:noheader.csv:1" ||
		len(c.rejects) != 1 || c.rejects[0].Rule != "contact" || c.rejects[0].Line != 2 {
		t.Errorf("no header: %+v %+v %v", c.people, c.rejects, c.err)
	}

	c = readPeople(t, openPeople(t, KindCSV, `{"path":"binary.csv"}`, dir))
	if c.err == nil || !strings.Contains(c.err.Error(), "not a CSV file") {
		t.Errorf("binary: %v", c.err)
	}

	for cfg, want := range map[string]string{
		`{"path":"mapped.csv","columns":{"amount":"CODICE"}}`:               `unknown field "amount"`,
		`{"path":"noheader.csv","header":false,"columns":{"name":1}}`:       "columns must map one of fiscalCode, email, phone to a 1-based index",
		`{"path":"noheader.csv","header":false,"columns":{"phone":"CELL"}}`: "give a 1-based column index",
	} {
		if _, err := People.Open(KindCSV, json.RawMessage(cfg), registryEnv(dir)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", cfg, err, want)
		}
	}
}

func TestPeopleRegistry(t *testing.T) {
	if got := fmt.Sprint(People.Kinds()); got != "[csv sql]" {
		t.Errorf("People.Kinds() = %s", got)
	}
	_, err := People.Open(KindCSV, json.RawMessage(`{"path":"p.csv","decimalComma":true,"columns":{"dueDate":"scadenza"}}`), registryEnv(""))
	var ve *schemas.ValidationError
	if !errors.As(err, &ve) || ve.Schema != "people-csv.schema.json" || !strings.Contains(err.Error(), "/decimalComma: additionalProperties") ||
		!strings.Contains(err.Error(), "/columns/dueDate: additionalProperties") {
		t.Errorf("people-csv schema: %v", err)
	}
	_, err = People.Open(KindSQL, json.RawMessage(`{"driver":"sqlite","dsn":"env:X","query":"SELECT 1","writeBack":"UPDATE x SET y = :status"}`), registryEnv(""))
	if !errors.As(err, &ve) || ve.Schema != "people-sql.schema.json" || !strings.Contains(err.Error(), "/writeBack: additionalProperties") {
		t.Errorf("people-sql schema: %v", err)
	}
	_, err = People.Open(KindSQL, json.RawMessage(`{"driver":"sqlite","dsn":"env:X","query":"DELETE FROM persone"}`), registryEnv(""))
	var qe *QueryError
	if !errors.As(err, &qe) {
		t.Errorf("a people query that writes: %v", err)
	}
	_, err = People.Open("fixedwidth", json.RawMessage(`{}`), registryEnv(""))
	var uk *UnknownKindError
	if !errors.As(err, &uk) || !strings.Contains(err.Error(), `unknown people source kind "fixedwidth" (known kinds: csv, sql)`) {
		t.Errorf("unknown kind: %v", err)
	}
	if _, err := NewPeopleSQLSource(SQLConfig{Driver: "sqlite", DSN: "env:X", Query: "SELECT 1", WriteBack: "UPDATE x SET y = :status WHERE id = :externalId"}, ""); err == nil {
		t.Error("a people source with writeBack accepted")
	}
	src := openPeople(t, KindCSV, `{"path":"people.csv","delimiter":";"}`, "testdata")
	if _, err := src.Read(context.Background(), func(Person) error { return nil }, nil); !errors.Is(err, errNoReject) {
		t.Errorf("nil reject: %v", err)
	}
	boom := errors.New("boom")
	if st, err := src.Read(context.Background(), func(Person) error { return boom }, func(Reject) error { return nil }); !errors.Is(err, boom) || st != (Stats{}) {
		t.Errorf("emit error: %+v %v", st, err)
	}
}

func TestPeopleSQL(t *testing.T) {
	for name, tg := range sqlTargets() {
		t.Run(name, func(t *testing.T) {
			dsn, db := tg.db(t)
			table := fmt.Sprintf("ponte_people_%d", time.Now().UnixNano())
			if _, err := db.Exec(fmt.Sprintf(`CREATE TABLE %s (riga INTEGER PRIMARY KEY, codice_fiscale VARCHAR(16), nome VARCHAR(80), cellulare VARCHAR(30),
				email VARCHAR(120), lingua VARCHAR(10), canali VARCHAR(60), zona VARCHAR(64), lat REAL, lon REAL)`, table)); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if _, err := db.Exec("DROP TABLE " + table); err != nil {
					t.Errorf("dropping %s: %v", table, err)
				}
			})
			for _, ins := range []string{
				"(3, 'RSSMRA85T10A562S', 'Mario', '333 1234567', NULL, 'it', 'sms,io', 'Z1', 44.0625, 12.5)",
				"(1, NULL, 'John', NULL, 'john@example.com', 'en', 'email', NULL, NULL, NULL)",
				"(2, NULL, 'Anna', NULL, NULL, 'it', 'sms', 'Z2', NULL, NULL)",
			} {
				if _, err := db.Exec("INSERT INTO " + table + " VALUES " + ins); err != nil {
					t.Fatal(err)
				}
			}
			env := "PONTE_TEST_PEOPLE_DSN_" + strings.ToUpper(name)
			t.Setenv(env, dsn)
			src := openPeople(t, KindSQL, fmt.Sprintf(`{"driver":%q,"dsn":"env:%s","query":"SELECT * FROM %s","keyColumn":"riga","pageSize":2,
				"columns":{"lat":"lat","lon":"lon"}}`, tg.driver, env, table), "")
			c := readPeople(t, src)
			if c.err != nil {
				t.Fatal(c.err)
			}
			// riga is no id: the key is the fiscal code, else the position.
			want := []Person{
				{Line: 1, Key: "sql:" + tg.driver + ":1", Name: "John", Email: "john@example.com", Lang: "en", Channels: []string{"email"}},
				{Line: 3, Key: "RSSMRA85T10A562S", FiscalCode: "RSSMRA85T10A562S", Name: "Mario", Phone: "+393331234567", Lang: "it",
					Channels: []string{"sms", "appio"}, Zone: "Z1", Lat: 44.0625, Lon: 12.5, HasPoint: true},
			}
			if !reflect.DeepEqual(c.people, want) {
				t.Errorf("people\n got %+v\nwant %+v", c.people, want)
			}
			if len(c.rejects) != 1 || c.rejects[0].Rule != "contact" || c.rejects[0].Key != "riga=2" || c.rejects[0].Line != 2 {
				t.Errorf("rejects %+v", c.rejects)
			}
		})
	}
}

func FuzzPeopleCSVRow(f *testing.F) {
	for _, s := range []string{
		"S-1;RSSMRA85T10A562S;Mario;Rossi;m@example.it;+39 333 1234567;it;appio,sms;allerta-meteo;099999;Zona 1;44,06;12,56",
		";;;;;3475550101;EN;App IO;eventi viabilità;;;;",
		";;;;;;it;sms;;;;45;",
		`"S-2;x";bncgli90a41h501e;"a""b";;;;en-GB;e-mail|io;;;;-90;+180.0`,
		"S-3;;;;a@b.it;;fr;;;;;;\r\n;;;;;;;;;;;;\n",
		"\xef\xbb\xbf\xff;;",
		";;;;x@y.it;;;;;;;0;0,0",
	} {
		f.Add(s)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, row string) {
		p := filepath.Join(dir, "p.csv")
		data := "id;codice_fiscale;nome;cognome;email;cellulare;lingua;canali;consensi;istat;zona;lat;lon\n" + row + "\n"
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		src, err := NewPeopleCSVSource(PeopleCSVConfig{CSVFileConfig{Path: p, Delimiter: ";"}}, "")
		if err != nil {
			t.Fatal(err)
		}
		c := readPeople(t, src) // checks Read == Valid + Rejected
		if c.err != nil {
			if strings.Contains(c.err.Error(), "not a CSV file") && c.stats.Read == 0 {
				return // the one whole-file refusal of outside data: it is not text at all
			}
			t.Fatalf("Read error on outside data: %v", c.err)
		}
		lines := strings.Count(data, "\n") + 1
		keys := map[string]bool{}
		for _, ps := range c.people {
			ok := ps.Key != "" && !keys[ps.Key] && ps.Line >= 2 && ps.Line <= lines &&
				(ps.FiscalCode != "" || ps.Email != "" || ps.Phone != "") &&
				(ps.FiscalCode == "" || ValidateCodiceFiscale(ps.FiscalCode) == nil) &&
				(ps.Lang == "" || ps.Lang == "it" || ps.Lang == "en") &&
				utf8.ValidString(ps.Zone) && len([]rune(ps.Zone)) <= 64
			if ps.HasPoint {
				ok = ok && ps.Lat >= -90 && ps.Lat <= 90 && ps.Lon >= -180 && ps.Lon <= 180
			} else {
				ok = ok && ps.Lat == 0 && ps.Lon == 0
			}
			for _, ch := range ps.Channels {
				ok = ok && channelToken.MatchString(ch)
			}
			for _, tp := range ps.Topics {
				ok = ok && topicOK(tp) && tp == strings.ToLower(tp)
			}
			if !ok {
				t.Fatalf("invalid person emitted: %+v", ps)
			}
			keys[ps.Key] = true
		}
		for _, r := range c.rejects {
			if r.Rule == "" || r.MessageIT == "" || r.MessageEN == "" || r.Line < 2 || r.Line > lines {
				t.Fatalf("incomplete reject: %+v", r)
			}
		}
	})
}
