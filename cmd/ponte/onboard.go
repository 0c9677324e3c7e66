package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ponte-pa/ponte/internal/onboard"
)

// onboardCommands are the subcommands of 'ponte onboard': each is one step
// of bringing comuni live, added here as it is built.
var onboardCommands = []*command{
	{name: "import", summary: "create one tenant config per comune from the IndicePA open data of enti (TSV or CSV) and an extra CSV of what IndicePA does not hold; per-row errors, never overwrites a config that differs without --force (shows the diff)", run: runOnboardImport, help: onboardImportHelp},
	{name: "check", summary: "readiness of one comune or all: config, secrets, SPID metadata and IdPs, App IO keys, GPD key, EC endpoint, sources, SMTP, each ok / missing / failed with the next step and who to ask; checklists in Italian and English and a summary (--out); exit 1 if some comune is not ready", run: runOnboardCheck, help: onboardCheckHelp},
	{name: "history", summary: "readiness week by week from the runs of 'onboard check' kept in the state store", run: runOnboardHistory},
}

const onboardNotes = `Download the enti export from https://indicepa.gov.it/ipa-dati/dataset/enti, then:
  ponte onboard import enti.csv --extra extra.csv --region Lombardia --out tenants
  ponte config validate tenants/*.yaml
  ponte onboard check --all --tenants tenants --out checklists
  ponte onboard history
The guide: docs/onboarding.it.md (italiano), docs/onboarding.en.md (English).`

func onboardImportHelp() string {
	return `FILE is AgID's export of enti as downloaded (tab, semicolon or comma separated, found by
its column names in any order and case; Codice_Categoria L6 = comuni). --region takes a
region's name or ISTAT code, --province the 3-digit ISTAT province code (the first digits of
Codice_comune_ISTAT); the export has no region column, so the region follows from it.

The extra CSV has one row per comune, keyed by Codice_IPA, with these columns (any order,
only Codice_IPA required; a row with Codice_IPA * gives shared values such as stationId,
gpdBaseURL, ioBaseURL, smtpAddr, smtpUsername, smtpCaFile, postalOwner, sourcesFile):
  ` + strings.Join(onboard.ExtraColumns, ", ") + `
Secret columns (gpdSubscriptionKey, io*Key, smtpPassword) take references only: env:NAME or
file:path (default file:secrets/<id>/…). A row holding a value there is refused.

With --spid-url each comune also gets its SPID/CIE Service Provider from its IndicePA row
(organization, site, IPA code, contact; CIE data when the file has a province column):
DIR/spid/<id>/sp.yaml and sp.cert.pem, and DIR/secrets/<id>/sp.key.pem, made when neither
key nor certificate exists and never replaced (AgID holds the metadata signed with it). The
comuni trust AgID's registry (--spid-registry-cert) and/or --spid-idp-metadata.

Each config is written as DIR/<id>.yaml (id: the IPA code, lower case, _ → -). Exit 0 when
every comune was imported, 1 when some row was refused or some config differs and was not
written, 2 for a bad file or option.

Example:
  ponte onboard import enti.tsv --extra extra.csv --province 058 --out tenants`
}

func runOnboardImport(ctx context.Context, args []string) error {
	fs := newFlags("onboard import", "onboard import FILE [--extra extra.csv] [--region R | --province P] [--out DIR] [--force] [--spid-url URL (--spid-registry-cert PEM | --spid-idp-metadata M)]")
	extra := fs.String("extra", "", "CSV of what IndicePA does not hold, one row per Codice_IPA: IBANs, segregation code, station, App IO services, SMTP relay, sources (see below)")
	region := fs.String("region", "", "import only the comuni of this region (name, e.g. Lombardia, or ISTAT code, e.g. 03)")
	province := fs.String("province", "", "import only the comuni of this province (3-digit ISTAT code, e.g. 058 for Roma)")
	out := fs.String("out", "tenants", "directory of the tenant configs (created if needed)")
	force := fs.Bool("force", false, "overwrite configs that differ from the generated ones (hand edits are lost; the diff is printed)")
	spidURL := fs.String("spid-url", "", "public https URL of the gateway serving the comuni: each also gets its SPID/CIE SP (DIR/spid/<id>/sp.yaml and certificate, DIR/secrets/<id>/sp.key.pem made when absent, never replaced)")
	spidBits := fs.Int("spid-key-bits", 3072, "size of the SP keys made (RSA, at least 2048)")
	spidRegCert := fs.String("spid-registry-cert", "", "PEM certificate AgID signs the SPID IdP registry with: the comuni trust the registry's IdPs")
	spidRegURL := fs.String("spid-registry-url", onboard.DefaultSPIDRegistryURL, "URL of AgID's signed IdP registry")
	var spidIdPs multiFlag
	fs.Var(&spidIdPs, "spid-idp-metadata", "IdP metadata file or URL the comuni trust (repeatable; instead of or besides the registry)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("give one IndicePA file: ponte onboard import FILE [--extra extra.csv]")
	}
	if *spidBits < 2048 {
		return usagef("onboard import: --spid-key-bits must be at least 2048")
	}
	res, err := onboard.Import(ctx, onboard.Options{File: pos[0], Extra: *extra, Region: *region, Province: *province, Out: *out, Force: *force,
		SPIDURL: *spidURL, SPIDKeyBits: *spidBits, SPIDRegistryCert: *spidRegCert, SPIDRegistryURL: *spidRegURL, SPIDIdPMetadata: spidIdPs})
	var fe *onboard.FileError
	if errors.As(err, &fe) {
		return usageError{err: fe}
	}
	if err != nil {
		return err
	}
	for _, e := range res.Errors {
		fmt.Fprintln(stdout, e.String())
	}
	spChanged, keysMade := 0, 0
	for _, f := range res.Files {
		for _, g := range []struct {
			path, diff string
			st         onboard.Status
		}{{f.Path, f.Diff, f.Status}, {f.SPPath, f.SPDiff, f.SPStatus}} {
			switch g.st {
			case onboard.Changed:
				fmt.Fprintf(stdout, "\n%s differs from what IndicePA and the extra CSV give; not written (--force overwrites it):\n%s", g.path, g.diff)
			case onboard.Overwritten:
				fmt.Fprintf(stdout, "\n%s overwritten (--force); it was:\n%s", g.path, g.diff)
			}
		}
		if f.SPStatus == onboard.Changed {
			spChanged++
		}
		if f.KeyMade {
			keysMade++
		}
	}
	fmt.Fprintf(stdout, "\n%s: %d rows read, %d of other categories or areas skipped\n", pos[0], res.Read, res.Skipped)
	fmt.Fprintf(stdout, "  valid      %d\n  written    %d\n  unchanged  %d\n  changed    %d (not written)\n  refused    %d\n",
		res.Valid, res.Written, res.Unchanged, res.Changed, res.Refused)
	if *spidURL != "" {
		fmt.Fprintf(stdout, "  SPID SPs   %d key pairs made (%s/secrets/<id>/sp.key.pem: keep them safe), %d sp.yaml differ (not written)\n", keysMade, *out, spChanged)
		fmt.Fprintf(stdout, "next for SPID: ponte spid metadata --config %s/spid/<id>/sp.yaml > <id>.xml, and send each metadata to AgID\n", *out)
	}
	fmt.Fprintf(stdout, "configs in %s; next: ponte config validate %s/*.yaml, then put the secrets listed at the top of each file in place\n", *out, *out)
	var problems []string
	if res.Refused > 0 {
		problems = append(problems, fmt.Sprintf("%d comuni refused", res.Refused))
	}
	if res.Refused == 0 && len(res.Errors) > 0 {
		problems = append(problems, fmt.Sprintf("%d problems in the input files", len(res.Errors)))
	}
	if res.Changed > 0 {
		problems = append(problems, fmt.Sprintf("%d configs differ and were not written (--force)", res.Changed))
	}
	if spChanged > 0 {
		problems = append(problems, fmt.Sprintf("%d sp.yaml differ and were not written (--force)", spChanged))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, ", "))
	}
	return nil
}
