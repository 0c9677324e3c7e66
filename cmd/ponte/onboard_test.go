package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOnboardImport runs 'ponte onboard import' on a two-comuni export:
// one valid, one with a bad fiscal code; then again, unchanged; then on an
// export without a required column (exit 2).
func TestOnboardImport(t *testing.T) {
	dir := t.TempDir()
	enti := filepath.Join(dir, "enti.csv")
	extra := filepath.Join(dir, "extra.csv")
	out := filepath.Join(dir, "tenants")
	header := "_id,Codice_IPA,Denominazione_ente,Codice_fiscale_ente,Codice_Categoria,Codice_comune_ISTAT,Codice_catastale_comune,CAP,Indirizzo,Mail1,Tipo_Mail1\n"
	rows := "1,c_x123,Comune di Esempio,80012345676,L6,099999,X123,00100,\"Piazza Municipio, 1\",protocollo@pec.comune.esempio.it,Pec\n" +
		"2,c_x124,Comune di Altrove,80012345677,L6,099998,X124,00101,Via Roma 2,protocollo@pec.comune.altrove.it,pec\n" +
		"3,asl_x,Azienda Sanitaria,80012345676,L8,099999,X123,00100,Via Roma 3,asl@pec.example.it,pec\n"
	if err := os.WriteFile(enti, []byte(header+rows), 0o644); err != nil {
		t.Fatal(err)
	}
	x := "Codice_IPA;iban;segregationCode;ioPaymentsServiceId\n" +
		"c_x123;IT30N0103003200000001234567;01;01HZESEMPIOPAGAMENTI00001A\n" +
		"c_x124;IT30N0103003200000001234567;01;01HZALTROVEPAGAMENTI00001A\n"
	if err := os.WriteFile(extra, []byte(x), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{"onboard", "import", enti, "--extra", extra, "--province", "099", "--out", out}, &stdout, &stderr)
	if code != exitFail {
		t.Errorf("exit %d, want 1\n%s%s", code, stdout.String(), stderr.String())
	}
	for _, want := range []string{
		enti + ":3 [c_x124]: Codice_fiscale_ente: checksum: la cifra di controllo del codice fiscale è errata",
		"what to do: copy the ente's 11-digit fiscal code from indicepa.gov.it",
		"3 rows read, 1 of other categories or areas skipped\n  valid      1\n  written    1\n  unchanged  0\n  changed    0 (not written)\n  refused    1\n",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, stdout.String())
		}
	}
	if !strings.Contains(stderr.String(), "ponte onboard import: 1 comuni refused") {
		t.Errorf("stderr: %s", stderr.String())
	}
	if _, err := os.Stat(filepath.Join(out, "c-x123.yaml")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, "c-x124.yaml")); !os.IsNotExist(err) {
		t.Errorf("the refused comune has a config (stat: %v)", err)
	}

	// Fixed, and run again: the first config is unchanged, the second written.
	if err := os.WriteFile(enti, []byte(header+strings.Replace(rows, "80012345677", "80012345684", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"onboard", "import", enti, "--extra", extra, "--province", "099", "--out", out}, &stdout, &stderr); code != exitOK {
		t.Errorf("exit %d, want 0\n%s%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "  valid      2\n  written    1\n  unchanged  1\n") {
		t.Errorf("second run:\n%s", stdout.String())
	}

	// A file that is not the enti export.
	if err := os.WriteFile(enti, []byte("Codice_IPA,Denominazione_ente\nc_x123,Comune di Esempio\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"onboard", "import", enti, "--out", out}, &stdout, &stderr); code != exitUsage {
		t.Errorf("exit %d, want 2\n%s%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stderr.String(), "columns: mancano le colonne Codice_fiscale_ente, Codice_Categoria") {
		t.Errorf("stderr: %s", stderr.String())
	}
}
