package onboarding_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ponte-pa/ponte/workflows/onboarding"
)

// checklistReports are a ready comune and one missing SMTP with a failed
// App IO key.
func checklistReports(t *testing.T) []onboarding.Report {
	ready := report(t, "esempio", "2026-12-02T10:00:00Z", len(onboarding.Checks))
	ready.Name = onboarding.Text{IT: "Comune di Esempio", EN: "Municipality of Esempio"}
	broken := onboarding.Report{Tenant: "c-l001", Name: onboarding.Text{IT: "Comune di Prova 001", EN: "Comune di Prova 001"}, RunAt: ready.RunAt}
	for _, it := range ready.Items {
		it.Anchor = map[string]string{onboarding.CheckAppIO: "app-io", onboarding.CheckSMTP: "smtp"}[it.Check]
		broken.Items = append(broken.Items, it)
	}
	broken.Items[4] = appioFailed()
	broken.Items[8] = smtpMissing()
	for i := range ready.Items {
		ready.Items[i].Anchor = "validate"
	}
	return []onboarding.Report{ready, broken}
}

func appioFailed() onboarding.Item {
	return onboarding.Item{Check: onboarding.CheckAppIO, Status: onboarding.Failed, Detail: "payments: appio: HTTP 401", Anchor: "app-io",
		Next: onboarding.Text{IT: "Copiare di nuovo la chiave", EN: "Copy the key again"}, Ask: onboarding.Text{IT: "PagoPA S.p.A.", EN: "PagoPA S.p.A."}}
}

func smtpMissing() onboarding.Item {
	return onboarding.Item{Check: onboarding.CheckSMTP, Status: onboarding.Missing, Detail: "no email channel (SMTP relay)", Anchor: "smtp",
		Next: onboarding.Text{IT: "Indicare un relay SMTP", EN: "Give an SMTP relay"}, Ask: onboarding.Text{IT: "il gestore della posta", EN: "the mail provider"}}
}

func TestChecklists(t *testing.T) {
	rs := checklistReports(t)
	dir := t.TempDir()
	files, err := onboarding.WriteChecklists(dir, rs, "docs/")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 12 {
		t.Errorf("%d files: %v", len(files), files)
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for name, want := range map[string][]string{
		"c-l001.it.md": {
			"# Comune di Prova 001 — Prontezza all'avvio",
			"**NON ANCORA PRONTO** (7/9 verifiche ok)",
			"| ❌ | App IO: chiavi dei servizi | errore | Copiare di nuovo la chiave | PagoPA S.p.A. | [#app-io](docs/onboarding.it.md#app-io) |",
			"| ⬜ | Relay SMTP | manca | Indicare un relay SMTP | il gestore della posta | [#smtp](docs/onboarding.it.md#smtp) |",
			"- ❌ App IO: chiavi dei servizi: payments: appio: HTTP 401",
		},
		"c-l001.en.md": {
			"# Comune di Prova 001 — Readiness to go live",
			"**NOT READY YET** (7/9 checks ok)",
			"| ❌ | App IO: service keys | failed | Copy the key again | PagoPA S.p.A. | [#app-io](docs/onboarding.en.md#app-io) |",
			"| ⬜ | SMTP relay | missing | Give an SMTP relay | the mail provider | [#smtp](docs/onboarding.en.md#smtp) |",
		},
		"esempio.en.md":  {"# Municipality of Esempio — Readiness to go live", "**READY** (9/9 checks ok)", "| ✅ | SPID: keys and metadata | ready |  |  |"},
		"esempio.it.md":  {"# Comune di Esempio — Prontezza all'avvio", "**PRONTO** (9/9 verifiche ok)"},
		"c-l001.it.html": {`<html lang="it">`, `<tr class="failed"><td>❌</td><td>App IO: chiavi dei servizi</td><td>errore</td><td>Copiare di nuovo la chiave</td><td>PagoPA S.p.A.</td><td><a href="docs/onboarding.it.md#app-io">#app-io</a></td>`},
		"c-l001.en.html": {`<html lang="en">`, `<td>Give an SMTP relay</td><td>the mail provider</td><td><a href="docs/onboarding.en.md#smtp">#smtp</a></td>`},
		"summary.it.md": {
			"# Riepilogo dei comuni", "Pronti: 1 su 2",
			"| [Comune di Esempio](esempio.it.md) | ✅ | ✅ | ✅ | ✅ | ✅ | ✅ | ✅ | ✅ | ✅ | 9/9 | sì |",
			"| [Comune di Prova 001](c-l001.it.md) | ✅ | ✅ | ✅ | ✅ | ❌ | ✅ | ✅ | ✅ | ⬜ | 7/9 | no |",
			"| **verifiche ok** | 2/2 | 2/2 | 2/2 | 2/2 | 1/2 | 2/2 | 2/2 | 2/2 | 1/2 | | 1/2 |",
		},
		"summary.en.md":   {"# Summary of the comuni", "Ready: 1 of 2", "| [Municipality of Esempio](esempio.en.md) |"},
		"summary.en.html": {`<a href="c-l001.en.html">Comune di Prova 001</a>`, "<p>Ready: 1 of 2</p>", "<th>1/2</th>"},
	} {
		got := read(name)
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("%s lacks %q:\n%s", name, w, got)
			}
		}
	}
	if !slices.Contains(files, filepath.Join(dir, "summary.it.html")) {
		t.Errorf("files %v", files)
	}
}
