package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ponte-pa/ponte/connectors/legacy"
	"github.com/ponte-pa/ponte/internal/probe"
	"github.com/ponte-pa/ponte/internal/tenant"
	"github.com/ponte-pa/ponte/schemas"
	"github.com/ponte-pa/ponte/workflows/alert"
	"github.com/ponte-pa/ponte/workflows/campaign"
)

var configCommands = []*command{
	{name: "validate", summary: "check tenant config files and campaign definitions (YAML or JSON) offline: schemas, secrets, files, sources, unique ids; every problem names file, line, JSON pointer, rule and what to do", run: runConfigValidate, help: configValidateHelp},
	{name: "sample", summary: "write the sample comune (tenant.yaml, demo secrets, debtors.csv, SPID SP with a fresh key, a campaign definition) into DIR, pointing at 'ponte mocks' by default", run: runConfigSample},
}

const configNotes = `Start with: ponte config sample my-comune, then ponte config validate my-comune/tenant.yaml`

func runConfigValidate(ctx context.Context, args []string) error {
	fs := newFlags("config validate", "config validate [--online] FILE…")
	online := fs.Bool("online", false, "also check, without creating or sending anything, that each valid tenant's outside systems answer and accept its settings: every source gives its first record, GPD takes the subscription key (one page listed), App IO each service key (a lookup of the test user), each channel's system its credentials (the SMTP relay: STARTTLS and AUTH); exit 1 if one does not")
	files, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usagef("no files: ponte config validate FILE…")
	}
	var bad int
	report := func(f string, err error) {
		bad++
		var ce *tenant.ConfigError
		if errors.As(err, &ce) {
			fmt.Fprintf(stdout, "%s: INVALID (%d problems)\n", f, len(ce.Problems))
		} else {
			fmt.Fprintf(stdout, "%s: INVALID\n", f)
		}
		fmt.Fprintln(stdout, indent(err.Error()))
	}
	byID := map[string]string{} // tenant id -> first file
	var tenants []*tenant.Tenant
	var defs, alertDefs []string
	for _, f := range files {
		if isCampaignDefinition(f) {
			defs = append(defs, f) // checked once the tenants are known
			continue
		}
		if isAlertDefinition(f) {
			alertDefs = append(alertDefs, f)
			continue
		}
		t, err := tenant.Load(f)
		if err == nil {
			var probs []tenant.Problem
			if first, dup := byID[t.ID]; dup {
				probs = append(probs, tenant.Problem{Pointer: "/id", Rule: "unique", Line: idLine(f),
					Message: fmt.Sprintf("tenant id %q is also the id of %s: one of the two would be used silently", t.ID, first),
					Hint:    "give every tenant its own id (one file per comune)"})
			} else {
				byID[t.ID] = f
			}
			var ce *tenant.ConfigError
			if oerr := t.CheckOffline(); errors.As(oerr, &ce) {
				probs = append(probs, ce.Problems...)
			} else if oerr != nil {
				err = oerr
			}
			if err == nil && len(probs) > 0 {
				err = &tenant.ConfigError{File: f, Problems: probs}
			}
		}
		if err != nil {
			report(f, err)
			continue
		}
		tenants = append(tenants, t)
		fmt.Fprintf(stdout, "%s: ok (tenant %q, %s, %d sources)\n", f, t.ID, t.Name.IT, len(t.Sources))
	}
	validateDefinitions(defs, tenants, report, func(f string) (string, func(*tenant.Tenant) error, error) {
		d, err := campaign.LoadDefinition(f)
		if err != nil {
			return "", nil, err
		}
		return fmt.Sprintf("campaign definition %q, source %s", d.ID, d.Source), func(t *tenant.Tenant) error { return d.Check(t, f) }, nil
	})
	validateDefinitions(alertDefs, tenants, report, func(f string) (string, func(*tenant.Tenant) error, error) {
		d, err := alert.LoadDefinition(f)
		if err != nil {
			return "", nil, err
		}
		return fmt.Sprintf("alert definition, %s %s", d.Colour, d.Risk), func(t *tenant.Tenant) error { return d.CheckTenant(t, f) }, nil
	})
	if bad > 0 {
		return usagef("%d of %d files invalid", bad, len(files))
	}
	if *online {
		return validateOnline(ctx, tenants)
	}
	return nil
}

// validateDefinitions checks definition files (campaigns, alerts): load
// reads one and says what it is and how to check it against a tenant,
// which is done when exactly one tenant file was given beside them.
func validateDefinitions(files []string, tenants []*tenant.Tenant, report func(string, error),
	load func(f string) (what string, check func(*tenant.Tenant) error, err error)) {
	for _, f := range files {
		what, check, err := load(f)
		if err == nil && len(tenants) == 1 {
			err = check(tenants[0])
		}
		if err != nil {
			report(f, err)
			continue
		}
		against := "not checked against a tenant: give the tenant file too"
		if len(tenants) == 1 {
			against = "checked against tenant " + tenants[0].ID
		}
		fmt.Fprintf(stdout, "%s: ok (%s; %s)\n", f, what, against)
	}
}

// validateOnline prints the online checks of each tenant (internal/probe)
// and fails when one did not pass.
func validateOnline(ctx context.Context, tenants []*tenant.Tenant) error {
	failed := 0
	for _, t := range tenants {
		fmt.Fprintf(stdout, "\n%s (%s), online:\n", t.ID, t.File)
		for _, r := range probe.Tenant(ctx, t) {
			mark := "ok    "
			if !r.OK {
				mark = "FAILED"
				failed++
			}
			fmt.Fprintf(stdout, "  %s %-28s %s (%s)\n", mark, r.Check, r.Detail, r.Took.Round(time.Millisecond))
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d online checks failed", failed)
	}
	return nil
}

// topKeys are the top-level keys of a YAML or JSON file (nil when it
// does not parse: tenant.Load then reports the error).
func topKeys(path string) map[string]any {
	data, err := os.ReadFile(path)
	if err != nil || len(data) > 1<<20 {
		return nil
	}
	var doc any
	if strings.HasSuffix(strings.ToLower(path), ".json") {
		doc, err = schemas.DecodeJSON(data)
	} else {
		doc, _, err = schemas.DecodeYAML(data)
	}
	m, ok := doc.(map[string]any)
	if err != nil || !ok {
		return nil
	}
	return m
}

// isCampaignDefinition tells a campaign definition (a source to read, no
// pagopa block) from a tenant config by its top-level keys.
func isCampaignDefinition(path string) bool {
	m := topKeys(path)
	_, source := m["source"]
	_, pagopa := m["pagopa"]
	_, sources := m["sources"]
	return source && !pagopa && !sources
}

// isAlertDefinition tells an alert definition (colour and risk) by its
// top-level keys.
func isAlertDefinition(path string) bool {
	m := topKeys(path)
	_, colour := m["colour"]
	_, risk := m["risk"]
	_, pagopa := m["pagopa"]
	return colour && risk && !pagopa
}

// idLine is the line of the top-level id in a YAML file, or 0.
func idLine(path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	_, lines, err := schemas.DecodeYAML(data)
	if err != nil {
		return 0
	}
	return schemas.LineOf(lines, "/id")
}

func configValidateHelp() string {
	return `Checks, without touching the network:
  the file against schemas/tenant.schema.json and each source's schema;
  fiscal codes, IBANs, SPID and channel settings;
  secrets (env:NAME, file:path) resolve; files named by path, dir and *File exist;
  each source and people source opens: date layouts, fixed-width fields, a SQL
  query that is one read-only SELECT, a DSN without multiStatements;
  no two tenant files share an id;
  campaign definitions (a file with "source:" and no "pagopa:") against the
  campaign schema and, with one tenant file beside them, against its sources.
Every problem names file, line, JSON pointer, rule and the fix; exit 2 if any.

With --online, then, for each valid tenant (nothing is created or sent):
  each source gives its first record (a SQL source in its read-only transaction);
  GPD accepts the subscription key; App IO each service key (test user lookup);
  each channel's system accepts its settings (SMTP: STARTTLS, AUTH, QUIT).
One line per check, ok or FAILED with the reason; exit 1 if one failed.

Source kinds: ` + strings.Join(legacy.Kinds(), ", ") + ` ('ponte source check --help' lists their fields).
People source kinds (people:): ` + strings.Join(legacy.People.Kinds(), ", ") + ` (docs/config.md lists their fields).

Example:
  ponte config validate my-comune/tenant.yaml my-comune/campaigns/tari-2026.yaml
  ponte config validate --online my-comune/tenant.yaml`
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
	fs := newFlags("config sample", "config sample [--smtp host:port] [--gpd-url U] [--io-url U] [--sms-url U] [--webhook-url U] [--idp-url U] [--cie-url U] [--public-url U] DIR")
	gpdURL := fs.String("gpd-url", "http://127.0.0.1:18081", "GPD base URL to write in the sample (default: ponte mocks)")
	ioURL := fs.String("io-url", "http://127.0.0.1:18082/api/v1", "App IO base URL to write in the sample (default: ponte mocks)")
	smtp := fs.String("smtp", "", "SMTP relay host:port for the email fallback (e.g. 127.0.0.1:18025 for ponte mocks, with --smtp-ca); empty: no email channel")
	idpURL := fs.String("idp-url", "http://127.0.0.1:18084", "base URL of the SPID IdP the sample trusts (default: ponte mocks); empty: no SPID login")
	cieURL := fs.String("cie-url", "http://127.0.0.1:18086", "base URL of the CIE identity provider the sample trusts (default: ponte mocks); empty: no CIE login")
	smsURL := fs.String("sms-url", "http://127.0.0.1:18088", "base URL of the SMS gateway for alerts (default: ponte mocks); empty: no SMS channel")
	webhookURL := fs.String("webhook-url", "http://127.0.0.1:18087", "base URL of the sirens' webhook receiver for alerts (default: ponte mocks); empty: no webhook")
	publicURL := fs.String("public-url", tenant.DefaultPublicURL, "public URL of the HTTP gateway ('ponte serve --http'); the sample's SP lives at <public-url>/t/esempio")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("give one directory: ponte config sample DIR")
	}
	dir := pos[0]
	vars := map[string]string{"GPDURL": *gpdURL, "IOURL": *ioURL, "SMSURL": *smsURL, "WebhookURL": *webhookURL}
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
	alertDef := filepath.Join(dir, "alerts", "allerta-arancione.yaml")
	if err := os.MkdirAll(filepath.Dir(alertDef), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(alertDef, []byte("# A Protezione Civile alert of the sample comune (schemas/alert.schema.json):\n# ponte alert send --tenant esempio --definition "+alertDef+" --wait\n"+demoAlertDefinition), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "sample comune written: %s\ncampaign definition:  %s\nalert definition:     %s\n", path, def, alertDef)
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
