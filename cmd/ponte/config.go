package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ponte-pa/ponte/internal/tenant"
)

var configCommands = []*command{
	{name: "validate", summary: "check tenant config files (YAML or JSON) against schemas/tenant.schema.json and the rules of each connector; every problem names file, JSON pointer, rule and what to do", run: runConfigValidate},
	{name: "sample", summary: "write the sample comune (tenant.yaml, demo secrets, debtors.csv, SPID SP with a fresh key, a campaign definition) into DIR, pointing at 'ponte mocks' by default", run: runConfigSample},
}

const configNotes = `Start with: ponte config sample my-comune, then ponte config validate my-comune/tenant.yaml`

func runConfigValidate(_ context.Context, args []string) error {
	fs := newFlags("config validate", "config validate FILE…")
	files, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usagef("no files: ponte config validate FILE…")
	}
	var bad int
	for _, f := range files {
		t, err := tenant.Load(f)
		if err != nil {
			bad++
			var ce *tenant.ConfigError
			if errors.As(err, &ce) {
				fmt.Fprintf(stdout, "%s: INVALID (%d problems)\n", f, len(ce.Problems))
			} else {
				fmt.Fprintf(stdout, "%s: INVALID\n", f)
			}
			fmt.Fprintln(stdout, indent(err.Error()))
			continue
		}
		fmt.Fprintf(stdout, "%s: ok (tenant %q, %s, %d sources)\n", f, t.ID, t.Name.IT, len(t.Sources))
	}
	if bad > 0 {
		return usagef("%d of %d files invalid", bad, len(files))
	}
	return nil
}

func indent(s string) string {
	out := "  "
	for _, r := range s {
		out += string(r)
		if r == '\n' {
			out += "  "
		}
	}
	return out
}

func runConfigSample(_ context.Context, args []string) error {
	fs := newFlags("config sample", "config sample [--smtp host:port] [--gpd-url U] [--io-url U] [--idp-url U] [--cie-url U] [--public-url U] DIR")
	gpdURL := fs.String("gpd-url", "http://127.0.0.1:18081", "GPD base URL to write in the sample (default: ponte mocks)")
	ioURL := fs.String("io-url", "http://127.0.0.1:18082/api/v1", "App IO base URL to write in the sample (default: ponte mocks)")
	smtp := fs.String("smtp", "", "SMTP relay host:port for the email fallback (e.g. 127.0.0.1:18025 for ponte mocks, with --smtp-ca); empty: no email channel")
	idpURL := fs.String("idp-url", "http://127.0.0.1:18084", "base URL of the SPID IdP the sample trusts (default: ponte mocks); empty: no SPID login")
	cieURL := fs.String("cie-url", "http://127.0.0.1:18086", "base URL of the CIE identity provider the sample trusts (default: ponte mocks); empty: no CIE login")
	publicURL := fs.String("public-url", tenant.DefaultPublicURL, "public URL of the HTTP gateway ('ponte serve --http'); the sample's SP lives at <public-url>/t/esempio")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("give one directory: ponte config sample DIR")
	}
	dir := pos[0]
	vars := map[string]string{"GPDURL": *gpdURL, "IOURL": *ioURL}
	if *smtp != "" {
		vars["SMTPAddr"] = *smtp
	}
	if *idpURL != "" {
		vars["IdPURL"], vars["PublicURL"], vars["CIEIdPURL"] = *idpURL, *publicURL, *cieURL
	}
	path, err := tenant.WriteSample(dir, vars)
	if err != nil {
		return err
	}
	// Campaign definitions go in their own folder: --tenants DIR loads every
	// YAML file of DIR as a tenant.
	def := filepath.Join(dir, "campaigns", "tari-2026.yaml")
	if err := os.MkdirAll(filepath.Dir(def), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(def, []byte(sampleCampaign(time.Now())), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "sample comune written: %s\ncampaign definition:  %s\n", path, def)
	if *smtp != "" {
		ca := filepath.Join(dir, "smtp-ca.pem")
		fmt.Fprintf(stdout, "email relay:          %s, verified with the CA certificate %s (ponte mocks --smtp-ca %s writes it)\n", *smtp, ca, ca)
	}
	fmt.Fprintf(stdout, "next: ponte config validate %s\n", path)
	return nil
}

// sampleCampaign is a campaign definition for the sample comune, due in two
// months so that its reminders lie ahead.
func sampleCampaign(now time.Time) string {
	return `# A payment-notice campaign of the sample comune (schemas/campaign.schema.json).
# Start it with: ponte campaign start --tenant esempio --definition campaigns/tari-2026.yaml --wait
id: tari-2026
source: tributi-csv          # a source of the tenant config
subject:
  it: TARI 2026 - tassa sui rifiuti
  en: TARI 2026 - waste tax
dueDate: "` + now.AddDate(0, 2, 0).Format("2006-01-02") + `"
ioService: payments
reminders:
  daysBefore: [7, 1]         # App IO or email to debtors who have not paid yet
  hour: 9
fallback: email              # email with the notice PDF, else the print batch
# installments:              # payment in rate besides the single payment (percentages add up to 100)
#   - {dueDate: "2027-03-31", percent: 50}
#   - {dueDate: "2027-09-30", percent: 50}
# ioMessage:                 # your own App IO text instead of the built-in one (it required, en optional);
#   it:                      # variables: name organization subject amount due_date nav
#     subject: "{{clip 80 .subject}}: avviso di pagamento"
#     markdown: |
#       Gentile {{with .name}}{{md .}}{{else}}contribuente{{end}}, {{md .organization}} ti ha inviato
#       l'avviso {{nav .nav}} di {{money .amount}} con scadenza {{date .due_date}}. Puoi pagarlo in app.
batch:
  size: 100
  parallel: 4
`
}
