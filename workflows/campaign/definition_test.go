package campaign

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ponte-pa/ponte/connectors/appio"
	"github.com/ponte-pa/ponte/internal/tenant"
)

func TestLoadDefinition(t *testing.T) {
	d, err := LoadDefinition("testdata/campaign.yaml")
	if err != nil {
		t.Fatal(err)
	}
	in := d.Input("esempio")
	want := Input{CampaignID: "tari-2026", TenantID: "esempio", Source: "debitori", Subject: "TARI 2026", SubjectEN: "Waste tax 2026",
		DueDate: "2026-12-31", Fallback: "email", BatchSize: 100, Parallel: 4, ReminderDaysBefore: []int{7, 1}}
	if !reflect.DeepEqual(in, want) {
		t.Errorf("Input = %+v\nwant    %+v", in, want)
	}
}

func TestLoadDefinitionErrors(t *testing.T) {
	cases := []struct {
		name, text string
		want       []string // substrings of the error, one per problem
	}{
		{"missing fields", "id: tari-2026\n", []string{"campaign.yaml:1: /source: required", "campaign.yaml:1: /subject: required"}},
		{"bad values", "id: TARI 2026\nsource: debitori\nsubject: {it: TARI}\ndueDate: 31/12/2026\nfallback: fax\nreminders: {daysBefore: [7, 7]}\n",
			[]string{"campaign.yaml:1: /id: pattern", "campaign.yaml:4: /dueDate:", "campaign.yaml:5: /fallback: enum", "campaign.yaml:6: /reminders/daysBefore: uniqueItems"}},
		{"unknown key", "id: tari-2026\nsource: s\nsubject: {it: x}\nreminder: {daysBefore: [1]}\n", []string{"campaign.yaml:4: /reminder: additionalProperties"}},
		{"reminders need a due date", "id: tari-2026\nsource: s\nsubject: {it: x}\nreminders: {daysBefore: [1]}\n", []string{"dueDate"}},
		{"syntax", "id: [\n", []string{"campaign.yaml: (root): syntax:"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "campaign.yaml")
			if err := os.WriteFile(path, []byte(c.text), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadDefinition(path)
			var ce *tenant.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a *tenant.ConfigError", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestDefinitionCheckAgainstTenant(t *testing.T) {
	d := &Definition{ID: "x1", Source: "nope", IOService: "news"}
	tn := &tenant.Tenant{ID: "esempio", Sources: map[string]tenant.Source{"debitori": {}},
		AppIO: tenant.AppIO{Services: map[string]tenant.IOService{"payments": {}}}}
	err := d.Check(tn, "c.yaml")
	if err == nil || !strings.Contains(err.Error(), `c.yaml: /source: tenant: tenant "esempio" has no source "nope"; use one of: debitori`) ||
		!strings.Contains(err.Error(), "/ioService") {
		t.Errorf("err = %v", err)
	}
}

func TestDefinitionIOMessage(t *testing.T) {
	dir := t.TempDir()
	good := `id: tari-2026
source: s
subject: {it: TARI 2026}
ioMessage:
  it:
    subject: "{{clip 60 .subject}}: avviso da pagare"
    markdown: |
      Ciao {{with .name}}{{md .}}{{end}}, il Comune ti ha inviato l'avviso **{{nav .nav}}** di {{money .amount}}
      con scadenza {{date .due_date}}. Puoi pagarlo subito qui in app: bastano pochi secondi.
`
	path := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(path, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := LoadDefinition(path)
	if err != nil {
		t.Fatal(err)
	}
	in := d.Input("esempio")
	tn := &tenant.Tenant{ID: "esempio", FiscalCode: "01234567890", Name: tenant.Localized{IT: "Comune di Esempio"}}
	it := Item{FiscalCode: "RSSMRA80A01H501U", Name: "Mario", Surname: "Rossi", AmountCents: 12345, DueDate: "2026-12-31", NAV: "301000000000000144"}
	cm, err := paymentMessage(tn, BatchInput{Subject: in.Subject, IOMessage: in.IOMessage}, it, []string{"en_GB"})
	if err != nil {
		t.Fatal(err)
	}
	m := (&appio.Sender{}).Message(cm) // what App IO receives
	if m.Content.Subject != "TARI 2026: avviso da pagare" || !strings.Contains(m.Content.Markdown, "Ciao Mario Rossi") ||
		!strings.Contains(m.Content.Markdown, "3010 0000 0000 0001 44") || m.Content.PaymentData.NoticeNumber != it.NAV {
		t.Errorf("custom message: %q\n%s", m.Content.Subject, m.Content.Markdown)
	}

	bad := strings.Replace(good, `subject: "{{clip 60 .subject}}: avviso da pagare"`, `subject: "{{.subject}} {{.subject}}"`, 1)
	path = filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = LoadDefinition(path)
	if err == nil || !strings.Contains(err.Error(), "bad.yaml:6: /ioMessage/it/subject: template:") {
		t.Fatalf("subject that can exceed 120 characters: %v", err)
	}
}

func TestSplitAmount(t *testing.T) {
	cases := []struct {
		total int64
		pct   []int
		want  []int64
	}{
		{10000, []int{50, 50}, []int64{5000, 5000}},
		{10001, []int{50, 50}, []int64{5000, 5001}},
		{1000, []int{33, 33, 34}, []int64{330, 330, 340}},
		{999, []int{25, 25, 25, 25}, []int64{249, 249, 249, 252}},
	}
	for _, c := range cases {
		var ins []Installment
		for _, p := range c.pct {
			ins = append(ins, Installment{Percent: p})
		}
		if got := splitAmount(c.total, ins); !reflect.DeepEqual(got, c.want) {
			t.Errorf("splitAmount(%d, %v) = %v, want %v", c.total, c.pct, got, c.want)
		}
	}
}

func TestDefinitionInstallments(t *testing.T) {
	write := func(t *testing.T, text string) string {
		p := filepath.Join(t.TempDir(), "c.yaml")
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	head := "id: tari-2026\nsource: s\nsubject: {it: TARI}\n"
	d, err := LoadDefinition(write(t, head+"installments:\n  - {dueDate: \"2027-03-31\", percent: 40}\n  - {dueDate: \"2027-09-30\", percent: 60}\n"))
	if err != nil {
		t.Fatal(err)
	}
	in := d.Input("esempio")
	if in.DueDate != "2027-03-31" || len(in.Installments) != 2 || in.Installments[1] != (Installment{DueDate: "2027-09-30", Percent: 60}) {
		t.Errorf("input %+v", in)
	}
	bad := head + "dueDate: \"2027-12-01\"\ninstallments:\n  - {dueDate: \"2027-09-30\", percent: 40}\n  - {dueDate: \"2027-03-31\", percent: 50}\n"
	_, err = LoadDefinition(write(t, bad))
	for _, want := range []string{"/installments: sum: the percentages add up to 90", "c.yaml:7: /installments/1/dueDate: order:", "c.yaml:4: /dueDate: installments:"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// FuzzParseDefinition: whatever an operator writes, loading it never panics
// and either succeeds or says what is wrong in a *tenant.ConfigError.
func FuzzParseDefinition(f *testing.F) {
	for _, s := range []string{
		"id: tari-2026\nsource: s\nsubject: {it: TARI}\n",
		"id: x1\nsource: s\nsubject: {it: T}\ninstallments: [{dueDate: \"2027-01-01\", percent: 50}, {dueDate: \"2027-02-30\", percent: 50}]\n",
		"id: x1\nsource: s\nsubject: {it: T}\nioMessage: {it: {subject: \"{{.subject}}\", markdown: \"{{\"}}\n",
		"[1, 2", "&a [*a, *a]", "id: !!binary AAAA\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		d, err := parseDefinition("fuzz.yaml", []byte(text))
		var ce *tenant.ConfigError
		if err != nil && !errors.As(err, &ce) {
			t.Fatalf("error %v is not a *tenant.ConfigError", err)
		}
		if err == nil && (d == nil || d.ID == "" || d.Source == "") {
			t.Fatalf("accepted a definition without id or source: %+v", d)
		}
	})
}
