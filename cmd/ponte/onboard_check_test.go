package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ponte-pa/ponte/mocks/mockset"
)

// TestOnboardCheckAfterImport: two comuni imported from IndicePA, against
// the mocks, one with its GPD key in place: 'onboard check --all' says
// what each lacks, writes a checklist per comune and the summary, and
// exits 1; 'onboard history' shows the run in this week.
func TestOnboardCheckAfterImport(t *testing.T) {
	mocks, err := mockset.Start(mockset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer mocks.Close()
	dir := t.TempDir()
	enti := filepath.Join(dir, "enti.csv")
	extra := filepath.Join(dir, "extra.csv")
	tenants := filepath.Join(dir, "tenants")
	header := "Codice_IPA,Denominazione_ente,Codice_fiscale_ente,Codice_Categoria,Codice_comune_ISTAT,Codice_catastale_comune,CAP,Indirizzo,Mail1,Tipo_Mail1\n"
	rows := "c_x123,Comune di Esempio,80012345676,L6,099999,X123,00100,Piazza Municipio 1,protocollo@pec.comune.esempio.it,Pec\n" +
		"c_x124,Comune di Altrove,80012345684,L6,099998,X124,00101,Via Roma 2,protocollo@pec.comune.altrove.it,Pec\n"
	if err := os.WriteFile(enti, []byte(header+rows), 0o644); err != nil {
		t.Fatal(err)
	}
	x := "Codice_IPA;iban;segregationCode;ioPaymentsServiceId;gpdBaseURL;ioBaseURL\n" +
		"*;;;;" + mocks.GPDURL + ";" + mocks.IOURL + "\n" +
		"c_x123;IT30N0103003200000001234567;01;01HZESEMPIOPAGAMENTI00001A;;\n" +
		"c_x124;IT30N0103003200000001234567;01;01HZALTROVEPAGAMENTI00001A;;\n"
	if err := os.WriteFile(extra, []byte(x), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"onboard", "import", enti, "--extra", extra, "--province", "099", "--out", tenants}, &stdout, &stderr); code != exitOK {
		t.Fatalf("import: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	key := filepath.Join(tenants, "secrets", "c-x123", "gpd.key")
	if err := os.MkdirAll(filepath.Dir(key), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, []byte("any-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A config that does not load is a comune whose config check failed.
	if err := os.WriteFile(filepath.Join(tenants, "rotto.yaml"), []byte("id: rotto\nname: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "checklists")
	state := filepath.Join(dir, "state.db")
	stdout.Reset()
	stderr.Reset()
	code := run([]string{"onboard", "check", "--all", "--tenants", tenants, "--out", out, "--state", state}, &stdout, &stderr)
	if code != exitFail {
		t.Errorf("check: exit %d, want 1\n%s%s", code, stdout.String(), stderr.String())
	}
	for _, want := range []string{
		"c-x123 (Comune di Esempio): NOT READY",
		"c-x124 (Comune di Altrove): NOT READY",
		"rotto (rotto): NOT READY, 0/9 checks ok\n  failed  config         ",
		"0 of 3 comuni ready",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, stdout.String())
		}
	}
	if !strings.Contains(stderr.String(), "3 of 3 comuni not ready") {
		t.Errorf("stderr: %s", stderr.String())
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3*4+4 {
		t.Errorf("%d files in %s, want 16", len(entries), out)
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	one, two := read("c-x123.it.md"), read("c-x124.en.md")
	for _, want := range []string{
		"| ✅ | pagoPA GPD: chiave | pronto |",
		"| ⬜ | SPID: chiavi e metadata | manca |",
		"| ⬜ | Segreti | manca | Mettere ogni segreto",
		"(https://github.com/ponte-pa/ponte/blob/main/docs/onboarding.it.md#segreti)",
	} {
		if !strings.Contains(one, want) {
			t.Errorf("c-x123.it.md lacks %q:\n%s", want, one)
		}
	}
	for _, want := range []string{"| ❌ | pagoPA GPD: key | failed | Check the GPD subscription key", "secrets/c-x124/gpd.key"} {
		if !strings.Contains(two, want) {
			t.Errorf("c-x124.en.md lacks %q:\n%s", want, two)
		}
	}
	sum := read("summary.it.md")
	if !strings.Contains(sum, "Pronti: 0 su 3") || !strings.Contains(sum, "[Comune di Altrove](c-x124.it.md)") || !strings.Contains(sum, "| **verifiche ok** |") {
		t.Errorf("summary:\n%s", sum)
	}

	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"onboard", "history", "--state", state, "--tenant", "c-x123"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("history: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	y, w := time.Now().UTC().ISOWeek()
	if !strings.HasPrefix(stdout.String(), "week") || !strings.Contains(stdout.String(), fmt.Sprintf("%04d-W%02d      1       1      0          2/9\n", y, w)) ||
		!strings.Contains(stdout.String(), "runs of c-x123:") || !strings.Contains(stdout.String(), "spid-metadata missing") {
		t.Errorf("history:\n%s", stdout.String())
	}
}

func TestOnboardCheckUsage(t *testing.T) {
	for _, args := range [][]string{
		{"onboard", "check", "--tenants", "x"},
		{"onboard", "check", "--all", "--tenant", "a", "--tenants", "x"},
		{"onboard", "check", "--all"},
		{"onboard", "check", "--all", "--tenants", filepath.Join(t.TempDir(), "none")},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != exitUsage {
			t.Errorf("%v: exit %d, want 2\n%s", args, code, stderr.String())
		}
	}
}
