package onboard

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/ponte-pa/ponte/connectors/legacy"
	"github.com/ponte-pa/ponte/internal/tenant"
)

// Production endpoints, used when the extra CSV gives none.
const (
	DefaultGPDURL = "https://api.platform.pagopa.it/gpd/debt-positions-service/v1"
	DefaultIOURL  = "https://api.io.pagopa.it/api/v1"
)

// config is a tenant config as written: the fields of tenant.schema.json in
// the order people read them.
type config struct {
	ID           string     `yaml:"id"`
	Name         name       `yaml:"name"`
	IPACode      string     `yaml:"ipaCode"`
	FiscalCode   string     `yaml:"fiscalCode"`
	PagoPA       pagopa     `yaml:"pagopa"`
	AppIO        appio      `yaml:"appio"`
	Channels     []email    `yaml:"channels,omitempty"`
	Sources      any        `yaml:"sources,omitempty"`
	SPID         *spidRef   `yaml:"spid,omitempty"`
	secrets      []string   // the secret references, listed in the header comment
	sp           *spFile    // the SPID SP to generate with it (Options.SPIDURL)
	spidProblems []RowError // why the row gives no SP (the config goes without)
}

type name struct {
	IT string `yaml:"it"`
	EN string `yaml:"en,omitempty"`
}

type pagopa struct {
	AuxDigit            int    `yaml:"auxDigit"`
	SegregationCode     string `yaml:"segregationCode,omitempty"`
	ApplicationCode     string `yaml:"applicationCode,omitempty"`
	StationID           string `yaml:"stationId,omitempty"`
	IBAN                string `yaml:"iban"`
	PostalIBAN          string `yaml:"postalIban,omitempty"`
	PostalOwner         string `yaml:"postalOwner,omitempty"`
	PostalAuthorization string `yaml:"postalAuthorization,omitempty"`
	CBILL               string `yaml:"cbill,omitempty"`
	GPD                 gpd    `yaml:"gpd"`
}

type gpd struct {
	BaseURL         string `yaml:"baseURL"`
	SubscriptionKey string `yaml:"subscriptionKey"`
}

type appio struct {
	BaseURL  string               `yaml:"baseURL"`
	Services map[string]ioService `yaml:"services"`
}

type ioService struct {
	ServiceID string `yaml:"serviceId"`
	Key       string `yaml:"key"`
}

type email struct {
	Kind     string `yaml:"kind"`
	Addr     string `yaml:"addr"`
	From     string `yaml:"from"`
	Username string `yaml:"username,omitempty"`
	Password string `yaml:"password,omitempty"`
	CAFile   string `yaml:"caFile,omitempty"`
}

// buildConfig joins a valid IndicePA row and its extra row into a config,
// checking every extra value with the validators Load uses, so that each
// problem names the extra CSV's line and column.
func buildConfig(e Entity, x *extraFile, xr *extraRow, opts Options) (*config, []RowError) {
	var errs []RowError
	if x == nil || xr == nil {
		return nil, []RowError{{Line: e.Line, Column: ColIPA, Rule: "extra-missing",
			IT:    "il comune non ha una riga nel CSV aggiuntivo: mancano IBAN, codice di segregazione e servizi App IO",
			EN:    "the comune has no row in the extra CSV: its IBAN, segregation code and App IO services are missing",
			FixIT: fmt.Sprintf("aggiungere al CSV aggiuntivo (--extra) una riga con Codice_IPA %s, iban, segregationCode e ioPaymentsServiceId", e.IPACode),
			FixEN: fmt.Sprintf("add to the extra CSV (--extra) a row with Codice_IPA %s, iban, segregationCode and ioPaymentsServiceId", e.IPACode)}}
	}
	get := func(col string) (string, int) { return x.get(xr, col) }
	bad := func(col string, line int, rule, it, en, fixIT, fixEN string) {
		errs = append(errs, RowError{File: x.file, Line: line, Column: col, Rule: rule, IT: it, EN: en, FixIT: fixIT, FixEN: fixEN})
	}
	pattern := func(col string, re interface{ MatchString(string) bool }, it, en, fixIT, fixEN string) string {
		v, line := get(col)
		if v != "" && !re.MatchString(v) {
			bad(col, line, "format", it, en, fixIT, fixEN)
		}
		return v
	}
	c := &config{IPACode: e.IPACode, FiscalCode: e.FiscalCode, Name: name{IT: e.Name}}
	if rest, ok := cutPrefixFold(e.Name, "Comune di "); ok {
		c.Name.EN = "Municipality of " + rest
	}
	c.ID = TenantID(e.IPACode)
	if id, line := get(XID); id != "" {
		c.ID = id
		if !reID.MatchString(id) {
			bad(XID, line, "format", "l'id ha da 2 a 41 lettere minuscole, cifre o trattini", "an id has 2 to 41 lowercase letters, digits or dashes",
				"scrivere ad es. comune-di-esempio, o lasciare vuoto per usare il codice IPA", "write e.g. comune-di-esempio, or leave it empty to use the IPA code")
		}
	} else if !reID.MatchString(c.ID) {
		bad(XID, lineOf(xr), "format", fmt.Sprintf("dal codice IPA %s non si ricava un id valido", e.IPACode), fmt.Sprintf("IPA code %s gives no valid id", e.IPACode),
			"scrivere un id nella colonna id", "write an id in the id column")
	}
	secretDir := "secrets/" + c.ID + "/"

	// pagoPA
	iban, line := get(XIBAN)
	switch {
	case iban == "":
		bad(XIBAN, line, "required", "IBAN di tesoreria mancante", "treasury IBAN is missing",
			"copiare l'IBAN del conto di tesoreria dal contratto con il tesoriere", "copy the treasury account's IBAN from the treasury contract")
	default:
		if err := legacy.ValidateIBANPolicy(iban, legacy.IBANItaly); err != nil {
			re := fieldError(err, XIBAN, "copiare di nuovo l'IBAN dal contratto di tesoreria: probabilmente un carattere è sbagliato",
				"copy the IBAN again from the treasury contract; one character is probably wrong")
			re.File, re.Line = x.file, line
			errs = append(errs, re)
		}
		iban = legacy.NormalizeIBAN(iban)
	}
	c.PagoPA.IBAN = iban
	if p, line := get(XPostalIBAN); p != "" {
		if err := legacy.ValidateIBANPolicy(p, legacy.IBANItaly); err != nil {
			re := fieldError(err, XPostalIBAN, "copiare di nuovo l'IBAN BancoPosta", "copy the BancoPosta IBAN again")
			re.File, re.Line = x.file, line
			errs = append(errs, re)
		} else if n := legacy.NormalizeIBAN(p); n[5:10] != "07601" {
			bad(XPostalIBAN, line, "postal", fmt.Sprintf("non è un IBAN BancoPosta: l'ABI è %s, non 07601", n[5:10]), fmt.Sprintf("not a BancoPosta IBAN: ABI is %s, not 07601", n[5:10]),
				"mettere in postalIban solo un conto di Poste Italiane, il conto bancario va in iban", "put only a Poste Italiane account in postalIban, the bank account goes in iban")
		}
		c.PagoPA.PostalIBAN = legacy.NormalizeIBAN(p)
	}
	c.PagoPA.PostalOwner, _ = get(XPostalOwner)
	if len([]rune(c.PagoPA.PostalOwner)) > 50 {
		_, line := get(XPostalOwner)
		bad(XPostalOwner, line, "length", "l'intestatario supera 50 caratteri", "the holder is longer than 50 characters", "accorciarlo come sul bollettino", "shorten it as on the bollettino")
	}
	c.PagoPA.PostalAuthorization, _ = get(XPostalAuth)
	c.PagoPA.CBILL = pattern(XCBILL, reCBILL, "il codice CBILL ha 5 lettere maiuscole o cifre", "a CBILL code has 5 capital letters or digits",
		"copiare il codice CBILL dalla banca tesoriera", "copy the CBILL code from the treasury bank")
	aux, auxLine := get(XAux)
	switch aux {
	case "", "3":
		c.PagoPA.AuxDigit = 3
	case "0":
		c.PagoPA.AuxDigit = 0
	default:
		bad(XAux, auxLine, "enum", "auxDigit è 3 (con segregationCode) o 0 (con applicationCode)", "auxDigit is 3 (with segregationCode) or 0 (with applicationCode)",
			"lasciare vuoto (3) salvo diversa indicazione di PagoPA", "leave it empty (3) unless PagoPA said otherwise")
	}
	c.PagoPA.SegregationCode = pattern(XSegregation, reTwoDigits, "il codice di segregazione ha 2 cifre", "the segregation code has 2 digits",
		"scrivere il codice assegnato da PagoPA, con lo zero iniziale (ad es. 01)", "write the code PagoPA assigned, leading zero included (e.g. 01)")
	c.PagoPA.ApplicationCode = pattern(XApplication, reTwoDigits, "il codice applicazione ha 2 cifre", "the application code has 2 digits",
		"scrivere il codice assegnato da PagoPA (ad es. 01)", "write the code PagoPA assigned (e.g. 01)")
	if c.PagoPA.AuxDigit == 3 && c.PagoPA.SegregationCode == "" && (aux == "" || aux == "3") {
		_, line := get(XSegregation)
		bad(XSegregation, line, "required", "codice di segregazione mancante (auxDigit 3)", "segregation code is missing (auxDigit 3)",
			"chiedere a PagoPA (Area riservata, Back office pagoPA) il codice di segregazione del comune", "ask PagoPA (Area riservata, pagoPA back office) for the comune's segregation code")
	}
	if aux == "0" && c.PagoPA.ApplicationCode == "" {
		_, line := get(XApplication)
		bad(XApplication, line, "required", "codice applicazione mancante (auxDigit 0)", "application code is missing (auxDigit 0)",
			"chiedere a PagoPA il codice applicazione", "ask PagoPA for the application code")
	}
	c.PagoPA.StationID = pattern(XStation, reStation, "la stazione è il codice fiscale dell'intermediario (11 cifre), _ e 2 cifre", "a station is the intermediary's fiscal code (11 digits), _ and 2 digits",
		"copiare l'id della stazione dal Back office pagoPA, ad es. 00000000000_01", "copy the station id from the pagoPA back office, e.g. 00000000000_01")
	url := func(col, def string) string {
		v := pattern(col, reURL, "serve un URL http(s)", "an http(s) URL is needed", "scrivere l'URL completo o lasciare vuoto per la produzione", "write the whole URL or leave it empty for production")
		if v == "" {
			return def
		}
		return v
	}
	secret := func(col, def string) string {
		v, line := get(col)
		if v == "" {
			v = def
		} else if !reSecret.MatchString(v) {
			// The value may be a real key pasted here: it is never echoed.
			bad(col, line, "secret-ref", "qui va un riferimento al segreto (env:NOME o file:percorso), non il segreto", "a reference to the secret (env:NAME or file:path) goes here, not the secret",
				"mettere la chiave in un file o in una variabile d'ambiente e scrivere qui file:secrets/… o env:…; se la chiave è finita in questo file, rigenerarla",
				"put the key in a file or an environment variable and write file:secrets/… or env:… here; if the key ended up in this file, rotate it")
		}
		c.secrets = append(c.secrets, v)
		return v
	}
	c.PagoPA.GPD = gpd{BaseURL: url(XGPDURL, DefaultGPDURL), SubscriptionKey: secret(XGPDKey, "file:"+secretDir+"gpd.key")}

	// App IO
	c.AppIO = appio{BaseURL: url(XIOURL, DefaultIOURL), Services: map[string]ioService{}}
	for _, s := range []struct{ purpose, idCol, keyCol string }{{"payments", XIOPayments, XIOPaymentsK}, {"alerts", XIOAlerts, XIOAlertsK}, {"news", XIONews, XIONewsK}} {
		id := pattern(s.idCol, reService, "l'id del servizio IO ha da 3 a 64 lettere, cifre, _ o -", "an IO service id has 3 to 64 letters, digits, _ or -",
			"copiare l'id del servizio dal Back office di IO", "copy the service id from the IO back office")
		if id == "" {
			if k, line := get(s.keyCol); k != "" {
				bad(s.idCol, line, "required", "c'è la chiave ma non l'id del servizio IO", "the IO service has a key but no id", "scrivere l'id del servizio o togliere la chiave", "write the service id or remove the key")
			}
			continue
		}
		c.AppIO.Services[s.purpose] = ioService{ServiceID: id, Key: secret(s.keyCol, "file:"+secretDir+"io-"+s.purpose+".key")}
	}
	if len(c.AppIO.Services) == 0 {
		bad(XIOPayments, lineOf(xr), "required", "nessun servizio App IO: serve almeno ioPaymentsServiceId (o ioAlertsServiceId, ioNewsServiceId)",
			"no App IO service: at least ioPaymentsServiceId (or ioAlertsServiceId, ioNewsServiceId) is needed",
			"creare il servizio nel Back office di IO (io.selfcare.pagopa.it) e copiarne l'id", "create the service in the IO back office (io.selfcare.pagopa.it) and copy its id")
	}

	// SMTP relay
	if addr, line := get(XSMTPAddr); addr != "" {
		if !reHostPort.MatchString(addr) {
			bad(XSMTPAddr, line, "format", "serve host:porta, ad es. smtp.comune.esempio.it:587", "host:port is needed, e.g. smtp.comune.esempio.it:587",
				"scrivere host e porta di submission del relay (di solito 587)", "write the relay's host and submission port (usually 587)")
		}
		m := email{Kind: "email", Addr: addr}
		from, fline := get(XSMTPFrom)
		if len(from) < 3 {
			bad(XSMTPFrom, fline, "required", "mittente mancante (smtpFrom)", "sender is missing (smtpFrom)",
				"scrivere il mittente, ad es. Comune di Esempio <tributi@comune.esempio.it>", "write the sender, e.g. Comune di Esempio <tributi@comune.esempio.it>")
		}
		m.From = from
		m.Username, _ = get(XSMTPUser)
		if m.Username != "" {
			m.Password = secret(XSMTPPassword, "file:"+secretDir+"smtp.password")
		}
		m.CAFile, _ = get(XSMTPCA)
		c.Channels = []email{m}
	}

	// Sources
	if f, line := get(XSources); f != "" {
		p := f
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(x.file), p)
		}
		src, err := readSources(p)
		if err != nil {
			bad(XSources, line, "file", "file delle fonti illeggibile: "+err.Error(), "sources file unreadable: "+err.Error(),
				"indicare un file YAML con la mappa sources (come in tenant.yaml), relativo al CSV aggiuntivo", "give a YAML file with the sources map (as in tenant.yaml), relative to the extra CSV")
		}
		c.Sources = src
	}

	// SPID/CIE Service Provider
	// A comune whose row cannot give an SP still gets its config, without
	// the spid block: the problems are reported, the comune not refused.
	if opts.SPIDURL != "" && len(errs) == 0 {
		sp, spErrs := buildSP(e, c, opts.SPIDURL)
		c.spidProblems = spErrs
		if sp != nil {
			_, _, key := spPaths(c.ID)
			c.sp, c.SPID = sp, spidBlock(c.ID, opts)
			c.secrets = append(c.secrets, "file:"+filepath.ToSlash(key)+" (generated with its certificate when absent)")
		}
	}
	return c, errs
}

// readSources reads a YAML file holding a tenant's sources: map (either the
// map itself or a document with a sources key).
func readSources(path string) (any, error) {
	data, err := readInput(path)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if s, ok := doc["sources"]; ok && len(doc) == 1 {
		return s, nil
	}
	if len(doc) == 0 {
		return nil, errors.New("no sources in the file")
	}
	return doc, nil
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) > len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return "", false
}

// oneLine keeps text from the input on one comment line.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f || r == 0x2028 || r == 0x2029 }), " ")
}

// render writes the config as YAML, with what IndicePA says about the comune
// that the tenant schema has no place for in a header comment. Nothing in it
// depends on the time or on the input's line numbers, so that importing the
// same data again gives the same bytes.
func render(c *config, e Entity) ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s (%s): generated by 'ponte onboard import' from the IndicePA open data\n", oneLine(e.Name), oneLine(e.IPACode))
	b.WriteString("# and the extra CSV. Edit it by hand if needed: a later import shows the\n# difference and overwrites this file only with --force.\n")
	b.WriteString("# IndicePA:\n")
	for _, kv := range [][2]string{{"PEC", e.PEC}, {"ISTAT", e.ISTAT}, {"codice catastale", e.Cadastral}, {"CAP", e.CAP},
		{"indirizzo", e.Address}, {"sito", e.Site}, {"responsabile", e.Responsible}, {"aggiornato", e.Updated}} {
		if v := oneLine(kv[1]); v != "" {
			fmt.Fprintf(&b, "#   %s: %s\n", kv[0], v)
		}
	}
	if len(c.secrets) > 0 {
		b.WriteString("# Secrets to put in place (relative to this file) before 'ponte config validate':\n")
		for _, s := range c.secrets {
			fmt.Fprintf(&b, "#   %s\n", s)
		}
	}
	return appendYAML(&b, c)
}

// appendYAML appends v as YAML (2-space indent) to the header in b.
func appendYAML(b *bytes.Buffer, v any) ([]byte, error) {
	enc := yaml.NewEncoder(b)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// write renders the config, validates it with tenant.LoadBytes, compares it
// with the file on disk and writes it when new (or with Force), then loads
// the written file with tenant.Load. The row errors are the generated
// config's own problems (a check this package missed).
func write(c *config, e Entity, opts Options) (FileResult, []RowError, error) {
	path := configPath(opts.Out, c.ID)
	fr := FileResult{IPACode: e.IPACode, ID: c.ID, Path: path, Secrets: c.secrets}
	data, err := render(c, e)
	if err != nil {
		return fr, nil, err
	}
	if c.sp != nil {
		st, diff, made, err := writeSP(c.sp, e, c.ID, opts)
		if err != nil {
			return fr, []RowError{{File: opts.File, Line: e.Line, IPACode: e.IPACode, Rule: "spid-files", IT: "file dell'SP SPID: " + err.Error(), EN: "SPID SP files: " + err.Error()}}, nil
		}
		fr.SPPath, fr.SPStatus, fr.SPDiff, fr.KeyMade = filepath.Join(opts.Out, c.SPID.SPConfig), st, diff, made
	}
	if _, err := tenant.LoadBytes(path, data); err != nil {
		return fr, configErrors(err, opts.File, e), nil
	}
	st, diff, err := writeGenerated(path, data, opts.Force)
	fr.Status, fr.Diff = st, diff
	if err != nil || st == Unchanged || st == Changed {
		return fr, nil, err
	}
	if _, err := tenant.Load(path); err != nil {
		return fr, configErrors(err, opts.File, e), nil
	}
	return fr, nil, nil
}

// writeGenerated compares a generated file with the one at path and writes
// it when new, or when it differs and force is set. The diff goes from the
// file on disk to the generated one.
func writeGenerated(path string, data []byte, force bool) (Status, string, error) {
	old, err := os.ReadFile(path)
	st, diff := Written, ""
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return "", "", err
	case bytes.Equal(old, data):
		return Unchanged, "", nil
	default:
		diff = UnifiedDiff(path+" (on disk)", path+" (from IndicePA)", string(old), string(data))
		if !force {
			return Changed, diff, nil
		}
		st = Overwritten
	}
	return st, diff, writeFileAtomic(path, data)
}

// configErrors reports the problems tenant.Load found in a generated config
// on the comune's IndicePA row.
func configErrors(err error, file string, e Entity) []RowError {
	var ce *tenant.ConfigError
	if !errors.As(err, &ce) {
		return []RowError{{File: file, Line: e.Line, IPACode: e.IPACode, Rule: "config", IT: err.Error(), EN: err.Error()}}
	}
	var out []RowError
	for _, p := range ce.Problems {
		out = append(out, RowError{File: file, Line: e.Line, IPACode: e.IPACode, Column: p.Pointer, Rule: p.Rule,
			IT: "la configurazione generata non è valida: " + p.Message, EN: "the generated config is not valid: " + p.Message,
			FixIT: p.Hint, FixEN: p.Hint})
	}
	return out
}

// writeFileAtomic writes through a temporary file in the same directory and
// renames it, so that a crash leaves the old config or the new one.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	name := tmp.Name()
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(name)
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(name)
		return err
	}
	if err := os.Chmod(name, 0o644); err != nil {
		os.Remove(name)
		return err
	}
	return os.Rename(name, path)
}
