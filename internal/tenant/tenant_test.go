package tenant

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ponte-pa/ponte/connectors/legacy"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestLoadValid(t *testing.T) {
	tn, err := Load("testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	if tn.ID != "prova" || tn.Name.EN != "Municipality of Prova" || tn.FiscalCode != "80012345676" ||
		tn.PagoPA.AuxDigit != 3 || tn.PagoPA.SegregationCode != "01" || tn.PagoPA.GPD.SubscriptionKey.Ref != "env:PONTE_PROVA_GPD_KEY" ||
		tn.AppIO.Services["payments"].ServiceID != "01HZPROVAPAGAMENTI0000001A" || tn.CampaignDefaults.DueInDays != 45 ||
		tn.Dir != abs || tn.File != "testdata/valid.yaml" || tn.Sources["tributi-csv"].Kind != "csv" {
		t.Fatalf("unexpected tenant %+v", tn)
	}
	if got := tn.AppIO.Services["payments"].Key.Path(); got != filepath.Join(abs, "keys/io.key") {
		t.Errorf("file secret path = %q", got)
	}
	var cfg map[string]any
	if err := json.Unmarshal(tn.Sources["tributi-csv"].Config, &cfg); err != nil || cfg["delimiter"] != ";" {
		t.Errorf("source config = %s (%v)", tn.Sources["tributi-csv"].Config, err)
	}

	tj, err := Load("testdata/valid.json")
	if err != nil {
		t.Fatal(err)
	}
	if tj.PagoPA.AuxDigit != 0 || tj.PagoPA.ApplicationCode != "07" || tj.CampaignDefaults.DueInDays != 30 ||
		tj.CampaignDefaults.IOPurpose != "payments" || fmt.Sprint(tj.CampaignDefaults.Languages) != "[it]" ||
		tj.PagoPA.GPD.SubscriptionKey.Path() != "/etc/ponte/gpd.key" {
		t.Fatalf("unexpected JSON tenant %+v", tj)
	}
}

func TestLoadBroken(t *testing.T) {
	tests := []struct {
		file, pointer, rule string
		line                int    // 0: not checked
		contains            string // in the message or hint
	}{
		{"missing_required.yaml", "/ipaCode", "required", 0, "indicepa.gov.it"},
		{"bad_pattern.yaml", "/pagopa/segregationCode", "pattern", 7, `must be 2 digits, got "1"`},
		{"wrong_type.yaml", "/pagopa/auxDigit", "type", 6, `must be an integer, got string "three"`},
		{"unknown_key.yaml", "/pagopa/segregationCod", "additionalProperties", 7, `did you mean "segregationCode"?`},
		{"unknown_key.yaml", "/pagopa/segregationCode", "required", 5, "segregation code"},
		{"bad_secret.yaml", "/pagopa/gpd/subscriptionKey", "pattern", 11, "env:NAME or file:path"},
		{"bad_iban.yaml", "/pagopa/iban", "checksum", 8, "IBAN check digits do not match"},
		{"bad_cbill.yaml", "/pagopa/cbill", "pattern", 9, `must be 5 capital letters or digits, got "A0ED"`},
		{"bad_fiscal_code.yaml", "/fiscalCode", "checksum", 4, "check digit is wrong"},
		{"unquoted_number.yaml", "/fiscalCode", "type", 4, "put the value in quotes"},
		{"bad_source_config.yaml", "/sources/tributi-csv/config/encoding", "enum", 19, `got "latin1"`},
		{"unknown_kind.yaml", "/sources/tributi-csv/kind", "kind", 18, "use one of: csv"},
		{"bad_ioservice_ref.yaml", "/campaignDefaults/ioPurpose", "reference", 20, `purpose "alerts"`},
		{"aux0_no_appcode.json", "/pagopa/applicationCode", "required", 0, "application code"},
		{"syntax.yaml", "", "syntax", 0, "yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.file+tt.pointer, func(t *testing.T) {
			path := filepath.Join("testdata", tt.file)
			_, err := Load(path)
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("Load = %v, want *ConfigError", err)
			}
			if ce.File != path {
				t.Errorf("File = %q", ce.File)
			}
			var found *Problem
			for i, p := range ce.Problems {
				if p.Pointer == tt.pointer && p.Rule == tt.rule {
					found = &ce.Problems[i]
				}
			}
			if found == nil {
				t.Fatalf("no %s problem at %q in:\n%v", tt.rule, tt.pointer, err)
			}
			if tt.line != 0 && found.Line != tt.line {
				t.Errorf("line = %d, want %d", found.Line, tt.line)
			}
			if !strings.Contains(found.Message+" "+found.Hint, tt.contains) {
				t.Errorf("problem %+v does not mention %q", found, tt.contains)
			}
			msg := err.Error()
			if !strings.Contains(msg, path) || !strings.Contains(msg, tt.pointer+": "+tt.rule+": ") {
				t.Errorf("Error() does not name file, pointer and rule:\n%s", msg)
			}
		})
	}
}

func TestSecretValueNeverEchoed(t *testing.T) {
	_, err := Load("testdata/bad_secret.yaml")
	if err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("error echoes the pasted secret or is nil: %v", err)
	}
}

func TestGoldenErrorText(t *testing.T) {
	_, err := Load("testdata/several.yaml")
	if err == nil {
		t.Fatal("several.yaml loaded")
	}
	got := err.Error() + "\n"
	golden := "testdata/several.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("error text differs from %s (run with -update to accept):\n got:\n%s\nwant:\n%s", golden, got, want)
	}
}

func TestSecretResolve(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "k.key"), []byte("  file-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "empty.key"), []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PONTE_TEST_SECRET", "env-value")
	t.Setenv("PONTE_TEST_EMPTY", "")
	tests := []struct {
		ref, want, errHas string
	}{
		{"env:PONTE_TEST_SECRET", "env-value", ""},
		{"env:PONTE_TEST_EMPTY", "", "PONTE_TEST_EMPTY"},
		{"env:PONTE_TEST_UNSET_XYZ", "", "PONTE_TEST_UNSET_XYZ"},
		{"file:k.key", "file-value", ""},
		{"file:" + filepath.Join(dir, "k.key"), "file-value", ""},
		{"file:missing.key", "", filepath.Join(dir, "missing.key")},
		{"file:empty.key", "", "empty.key is empty"},
		{"plain", "", "env: or file:"},
		{"", "", "no secret reference"},
	}
	for _, tt := range tests {
		got, err := NewSecret(tt.ref, dir).Resolve()
		if got != tt.want {
			t.Errorf("Resolve(%q) = %q, want %q", tt.ref, got, tt.want)
		}
		if tt.errHas == "" && err != nil || tt.errHas != "" && (err == nil || !strings.Contains(err.Error(), tt.errHas)) {
			t.Errorf("Resolve(%q) err = %v, want containing %q", tt.ref, err, tt.errHas)
		}
		var se *SecretError
		if err != nil && !errors.As(err, &se) {
			t.Errorf("Resolve(%q) err is not *SecretError: %T", tt.ref, err)
		}
	}
	if _, err := NewSecret("env:PONTE_TEST_UNSET_XYZ", "").Resolve(); !errors.Is(err, ErrSecretEmpty) {
		t.Errorf("unset env is not ErrSecretEmpty: %v", err)
	}
}

func TestSecretNeverPrintsValue(t *testing.T) {
	t.Setenv("PONTE_TEST_SECRET", "TOPSECRET")
	s := NewSecret("env:PONTE_TEST_SECRET", "")
	if v, _ := s.Resolve(); v != "TOPSECRET" {
		t.Fatal("setup")
	}
	var logBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("x", "key", s)
	j, err := json.Marshal(struct{ K Secret }{s})
	if err != nil {
		t.Fatal(err)
	}
	outs := []string{s.String(), fmt.Sprintf("%v %+v %#v %s", s, s, s, s), string(j), logBuf.String()}
	for _, o := range outs {
		if strings.Contains(o, "TOPSECRET") || !strings.Contains(o, "env:PONTE_TEST_SECRET") {
			t.Errorf("output %q reveals the value or hides the reference", o)
		}
	}
}

func TestSampleLoadsAndReads(t *testing.T) {
	dir := t.TempDir()
	p, err := WriteSample(dir, map[string]string{"GPDURL": "http://127.0.0.1:9/gpd/debt-positions-service/v1", "IOURL": "http://127.0.0.1:9/api/v1"})
	if err != nil {
		t.Fatal(err)
	}
	tn, err := Load(p)
	if err != nil {
		t.Fatalf("sample does not load: %v", err)
	}
	if tn.ID != "esempio" || tn.Name.IT != "Comune di Esempio" || tn.PagoPA.GPD.BaseURL != "http://127.0.0.1:9/gpd/debt-positions-service/v1" ||
		tn.AppIO.BaseURL != "http://127.0.0.1:9/api/v1" || tn.PagoPA.SegregationCode != "01" || tn.PagoPA.AuxDigit != 3 {
		t.Fatalf("sample tenant %+v", tn)
	}
	for _, s := range []Secret{tn.PagoPA.GPD.SubscriptionKey, tn.AppIO.Services["payments"].Key, tn.AppIO.Services["alerts"].Key} {
		v, err := s.Resolve()
		if err != nil || !strings.HasPrefix(v, "DEMO-") {
			t.Errorf("sample secret %s = %q, %v", s, v, err)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "secrets", "gpd.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("secret file mode: %v %v", fi.Mode(), err)
	}
	src, err := tn.OpenSource("tributi-csv")
	if err != nil {
		t.Fatal(err)
	}
	var debtors []legacy.Debtor
	var rejects []legacy.Reject
	st, err := src.Read(context.Background(),
		func(d legacy.Debtor) error { debtors = append(debtors, d); return nil },
		func(r legacy.Reject) error { rejects = append(rejects, r); return nil })
	if err != nil || st != (legacy.Stats{Read: 20, Valid: 18, Rejected: 2}) {
		t.Fatalf("stats %+v err %v rejects %+v", st, err, rejects)
	}
	if rejects[0].Line != 4 || rejects[0].Rule != "checksum" || rejects[0].Field != "fiscalCode" ||
		rejects[1].Line != 8 || rejects[1].Rule != "format" || rejects[1].Field != "amount" || rejects[1].Value != "12,3x" {
		t.Errorf("rejects %+v", rejects)
	}
	if d := debtors[1]; d.AmountCents != 123456 || d.DueDate != "2026-05-31" || d.Surname != "Bianchi" {
		t.Errorf("debtor 2 = %+v", d)
	}
	if _, err := tn.OpenSource("nope"); err == nil || !strings.Contains(err.Error(), "tributi-csv") {
		t.Errorf("OpenSource(nope) = %v", err)
	}
	if _, err := WriteSample(t.TempDir(), map[string]string{"GPDURL": "x"}); err == nil {
		t.Error("WriteSample without IOURL succeeded")
	}
}

func TestLoadDir(t *testing.T) {
	dir := t.TempDir()
	copyFile := func(src, dst string) {
		b, err := os.ReadFile(filepath.Join("testdata", src))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, dst), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	copyFile("valid.yaml", "a.yaml")
	copyFile("valid.yaml", "b.yml") // same id as a.yaml
	copyFile("valid.json", "c.json")
	copyFile("bad_iban.yaml", "d.yaml")
	copyFile("valid.yaml", "notes.txt")
	ts, err := LoadDir(dir)
	if len(ts) != 2 || ts[0].ID != "prova" || ts[1].ID != "prova-json" {
		t.Fatalf("tenants = %v", ts)
	}
	msg := fmt.Sprint(err)
	if !strings.Contains(msg, "b.yml: /id: unique") || !strings.Contains(msg, "d.yaml:8: /pagopa/iban: checksum") {
		t.Fatalf("LoadDir errors:\n%s", msg)
	}
}

func TestEmailCAFileChecked(t *testing.T) {
	dir := t.TempDir()
	p, err := WriteSample(dir, map[string]string{"GPDURL": "http://127.0.0.1:9", "IOURL": "http://127.0.0.1:9/api/v1", "SMTPAddr": "127.0.0.1:25"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Load(p)
	var ce *ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "/channels/0/caFile: file: cannot read") ||
		!strings.Contains(err.Error(), "ponte mocks --smtp-ca") {
		t.Fatalf("missing caFile: %v", err)
	}
	ca := filepath.Join(dir, "smtp-ca.pem")
	if err := os.WriteFile(ca, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err = Load(p); err == nil || !strings.Contains(err.Error(), "/channels/0/caFile: pem:") {
		t.Fatalf("caFile without PEM: %v", err)
	}
	if err := os.WriteFile(ca, []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err = Load(p); err == nil || !strings.Contains(err.Error(), "/channels/0/caFile: pem:") {
		t.Fatalf("caFile with a broken certificate: %v", err)
	}
	if err := os.WriteFile(ca, selfSignedPEM(t), 0o600); err != nil {
		t.Fatal(err)
	}
	tn, err := Load(p)
	if err != nil {
		t.Fatalf("with caFile: %v", err)
	}
	if len(tn.Channels) != 1 || tn.Channels[0].Kind != "email" {
		t.Fatalf("channels = %+v", tn.Channels)
	}
	senders, err := tn.OpenChannels(tn.Env())
	if err != nil || len(senders) != 1 || senders[0].Kind() != "email" {
		t.Fatalf("OpenChannels = %v, %v", senders, err)
	}
}

func selfSignedPEM(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "relay"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// TestChannels checks the channel list: each item by its kind's own schema,
// an unknown kind with the known ones as a hint, and the map form of older
// configs refused with what to write instead.
func TestChannels(t *testing.T) {
	base, err := os.ReadFile(filepath.Join("testdata", "valid.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		channels string
		want     []string
	}{
		{"unknown kind", "channels:\n  - kind: fax\n    number: 1\n", []string{"/channels/0/kind: kind: unknown channel kind \"fax\"", "use one of: email"}},
		{"bad email config", "channels:\n  - kind: email\n    addr: smtp.example.it\n    form: x\n", []string{
			"/channels/0/addr: pattern: must be host:port", "/channels/0/form: additionalProperties", "/channels/0/from: required"}},
		{"secret written as a value", "channels:\n  - kind: email\n    addr: smtp.example.it:587\n    from: a@b.it\n    username: u\n    password: hunter2\n", []string{
			"/channels/0/password: pattern: must be a secret reference"}},
		{"old map form", "channels:\n  email:\n    addr: smtp.example.it:587\n", []string{"/channels: type", "channels: [{kind: email"}},
		{"no kind", "channels:\n  - addr: smtp.example.it:587\n", []string{"/channels/0/kind: required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "t.yaml")

			if err := os.WriteFile(p, append(append([]byte{}, base...), tt.channels...), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(p)
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("Load = %v, want a ConfigError", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error shows a secret value:\n%v", err)
			}
		})
	}
}

// TestSamplePeople reads the sample comune's people source: residenti.csv as
// the sample tenant.yaml configures it.
func TestSamplePeople(t *testing.T) {
	p, err := WriteSample(t.TempDir(), map[string]string{"GPDURL": "http://127.0.0.1:9", "IOURL": "http://127.0.0.1:9/api/v1"})
	if err != nil {
		t.Fatal(err)
	}
	tn, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if tn.PeopleNames() != "residenti" || tn.People["residenti"].Kind != "csv" {
		t.Fatalf("people sources %q: %+v", tn.PeopleNames(), tn.People)
	}
	src, err := legacy.People.Open(tn.People["residenti"].Kind, tn.People["residenti"].Config, tn.Env())
	if err != nil {
		t.Fatal(err)
	}
	var people []legacy.Person
	var rejects []legacy.Reject
	st, err := src.Read(context.Background(),
		func(p legacy.Person) error { people = append(people, p); return nil },
		func(r legacy.Reject) error { rejects = append(rejects, r); return nil })
	if err != nil || st != (legacy.Stats{Read: 12, Valid: 11, Rejected: 1}) {
		t.Fatalf("stats %+v err %v rejects %+v", st, err, rejects)
	}
	if r := rejects[0]; r.Line != 13 || r.Rule != "contact" || r.Source != "csv:residenti.csv" {
		t.Errorf("reject %+v", r)
	}
	var en, noCF, phoneOnly, points int
	for _, p := range people {
		if p.ISTAT != "099999" {
			t.Errorf("%s: ISTAT %q", p.Key, p.ISTAT)
		}
		if p.Lang == "en" {
			en++
		}
		if p.FiscalCode == "" {
			noCF++
		}
		if p.Phone != "" && p.Email == "" && p.FiscalCode == "" {
			phoneOnly++
		}
		if p.HasPoint {
			points++
		}
	}
	if en != 3 || noCF != 4 || phoneOnly != 2 || points != 5 {
		t.Errorf("en %d, without fiscal code %d, phone only %d, with coordinates %d", en, noCF, phoneOnly, points)
	}
	byKey := map[string]legacy.Person{}
	for _, p := range people {
		byKey[p.Key] = p
	}
	if p := byKey["ALL-0003"]; p.Lang != "en" || p.Phone != "+447700900123" || !p.HasPoint || p.Lat != 44.0598 || fmt.Sprint(p.Topics) != "[allerta-meteo eventi]" {
		t.Errorf("ALL-0003 = %+v", p)
	}
	if p := byKey["ALL-0005"]; fmt.Sprint(p.Channels) != "[sms appio]" || p.Lat != 44.0655 || p.Lon != 12.558 || p.Zone != "Zona 2 - Fiume" {
		t.Errorf("ALL-0005 = %+v", p)
	}
	if p := byKey["ALL-0006"]; fmt.Sprint(p.Channels) != "[appio]" {
		t.Errorf("ALL-0006 = %+v", p)
	}
	// Without an id, the key is the fiscal code, else the line.
	if p := byKey["CNTMRC70B18G273M"]; p.Surname != "Conti" || p.Channels != nil {
		t.Errorf("the row of CNTMRC70B18G273M = %+v", p)
	}
	if p := byKey["csv:residenti.csv:10"]; p.Phone != "+393409876543" {
		t.Errorf("line 10 = %+v", p)
	}
}

// TestPeopleConfig: people sources are validated at load by the schemas of the
// legacy.People kinds, and by CheckOffline as sources are.
func TestPeopleConfig(t *testing.T) {
	dir := t.TempDir()
	p, err := WriteSample(dir, map[string]string{"GPDURL": "http://127.0.0.1:9", "IOURL": "http://127.0.0.1:9/api/v1"})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	sample := string(data)
	broken := sample + `  iscritti:
    kind: fixedwidth
    config: {path: iscritti.txt}
  crm:
    kind: csv
    config: {path: crm.csv, delimiter: ";;", decimalComma: true, columns: {amount: IMPORTO, channels: 0}}
`
	if err := os.WriteFile(p, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(p)
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("Load = %v", err)
	}
	want := map[string]string{ // pointer and rule -> words
		"/people/iscritti/kind kind":                             `unknown people source kind "fixedwidth"; use one of: csv, sql`,
		"/people/crm/config/delimiter maxLength":                 "",
		"/people/crm/config/decimalComma additionalProperties":   "unknown field",
		"/people/crm/config/columns/amount additionalProperties": "unknown field",
		"/people/crm/config/columns/channels minimum":            "",
	}
	got := map[string]Problem{}
	for _, pr := range ce.Problems {
		got[pr.Pointer+" "+pr.Rule] = pr
	}
	for k, words := range want {
		pr, ok := got[k]
		if !ok || !strings.Contains(pr.Message+"; "+pr.Hint, words) || pr.Line == 0 {
			t.Errorf("%s: got %+v, want a problem with a line and %q", k, pr, words)
		}
	}
	if len(ce.Problems) != len(want) {
		t.Errorf("%d problems, want %d:\n%v", len(ce.Problems), len(want), err)
	}

	// Schema-valid, but the file is missing and the query writes.
	offline := sample + `  assente:
    kind: csv
    config: {path: assente.csv}
  anagrafe:
    kind: sql
    config: {driver: sqlite, dsn: "file:anagrafe.dsn", query: "DELETE FROM persone"}
`
	if err := os.WriteFile(p, []byte(offline), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "anagrafe.dsn"), []byte("file:anagrafe.db"), 0o600); err != nil {
		t.Fatal(err)
	}
	tn, err := Load(p)
	if err != nil {
		t.Fatalf("schema-valid people refused by Load: %v", err)
	}
	err = tn.CheckOffline()
	if !errors.As(err, &ce) {
		t.Fatalf("CheckOffline = %v", err)
	}
	got = map[string]Problem{}
	for _, pr := range ce.Problems {
		got[pr.Pointer+" "+pr.Rule] = pr
	}
	if pr := got["/people/assente/config/path file"]; !strings.Contains(pr.Message, "assente.csv does not exist") {
		t.Errorf("missing file: %+v", pr)
	}
	if pr := got["/people/anagrafe/config read-only"]; !strings.Contains(pr.Message, "DELETE") {
		t.Errorf("writing query: %+v", pr)
	}
	if len(ce.Problems) != 2 {
		t.Errorf("%d problems, want 2:\n%v", len(ce.Problems), err)
	}
}

// LoadBytes validates a config that is not on disk as Load would the file:
// problems name the path given, with their lines.
func TestLoadBytes(t *testing.T) {
	_, err := LoadBytes("/nowhere/c.yaml", []byte("id: x\nname: {it: Comune}\nipaCode: c_x\nfiscalCode: \"80012345677\"\n"))
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.File != "/nowhere/c.yaml" {
		t.Fatalf("got %v, want a ConfigError for /nowhere/c.yaml", err)
	}
	var got []string
	for _, p := range ce.Problems {
		got = append(got, fmt.Sprintf("%d %s %s", p.Line, p.Pointer, p.Rule))
	}
	want := []string{"1 /appio required", "4 /fiscalCode checksum", "1 /id pattern", "1 /pagopa required"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("problems %q, want %q", got, want)
	}
}
