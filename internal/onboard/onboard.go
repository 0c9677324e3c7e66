// Package onboard creates the tenant configs of many comuni at once from the
// IndicePA open data of enti and a small CSV of what IndicePA does not hold
// (IBANs, pagoPA codes, App IO services, SMTP relay, sources), refusing each
// bad row with its file, line, column, rule and what to do, and never
// overwriting a config edited by hand unless asked to.
package onboard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/ponte-pa/ponte/connectors/legacy"
)

// CategoryComuni is IndicePA's Codice_Categoria of comuni.
const CategoryComuni = "L6"

// maxInput bounds the files read; AgID's whole enti export is about 10 MB.
const maxInput = 256 << 20

// Options of Import. The zero value of every field but File is usable.
type Options struct {
	File     string // the IndicePA export of enti (TSV or CSV)
	Extra    string // the extra CSV (see extra.go); empty: none
	Region   string // keep the comuni of this region (name or ISTAT code)
	Province string // keep the comuni of this province (3-digit ISTAT code, or as the file's province column names it)
	Out      string // directory of the tenant configs (default "tenants")
	Force    bool   // overwrite configs that differ from the generated ones
	Category string // IndicePA Codice_Categoria to import (default L6, comuni)
	// SPIDURL, when set, is the public https URL of the gateway serving the
	// comuni: each gets its SPID/CIE SP (sp.yaml, key and certificate) and
	// the spid block of its config (spid.go).
	SPIDURL string
	// SPIDKeyBits is the size of the SP keys generated (default 3072).
	SPIDKeyBits int
	// The IdPs the comuni trust, at least one of the two with SPIDURL:
	// AgID's signed registry, verified with the certificate in this PEM
	// file (at SPIDRegistryURL, default DefaultSPIDRegistryURL), and/or
	// IdP metadata files or URLs.
	SPIDRegistryCert string
	SPIDRegistryURL  string
	SPIDIdPMetadata  []string
}

// Status of one generated config.
type Status string

const (
	Written     Status = "written"     // new file
	Overwritten Status = "overwritten" // differed, replaced with Force
	Unchanged   Status = "unchanged"   // on disk already, identical
	Changed     Status = "changed"     // differs from what is on disk, not written
)

// FileResult is the outcome for one valid comune.
type FileResult struct {
	IPACode string
	ID      string
	Path    string
	Status  Status
	Diff    string // unified diff from the file on disk to the generated one (Changed, Overwritten)
	Secrets []string
	// The SPID SP's sp.yaml (with Options.SPIDURL): where, what became of
	// it as Status says of the config, and whether a key pair was made.
	SPPath   string
	SPStatus Status
	SPDiff   string
	KeyMade  bool
}

// Result is what Import did.
type Result struct {
	Read      int // data rows of the IndicePA file
	Skipped   int // rows of another category, region or province
	Valid     int // comuni whose config was generated and validated
	Written   int // configs written (new, or replaced with Force)
	Unchanged int // configs identical to the file on disk
	Changed   int // configs that differ from the file on disk, not written
	Refused   int // comuni refused for errors in their rows
	Errors    []RowError
	Files     []FileResult
}

// RowError is one problem of one row: where, which rule, in Italian and
// English, and what to do.
type RowError struct {
	File    string // the IndicePA file or the extra CSV
	Line    int    // line in File (0: the whole file or no row)
	Column  string // column name as documented (empty: the whole row)
	IPACode string // the comune concerned, when known
	Rule    string // required, format, checksum, cin, duplicate, pec, secret-ref, region, schema, …
	IT, EN  string // what is wrong
	FixIT   string // what to do
	FixEN   string
}

// String prints "file:line: column: rule: it / en; fix".
func (e RowError) String() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.IPACode != "" {
		fmt.Fprintf(&b, " [%s]", e.IPACode)
	}
	if e.Column != "" {
		b.WriteString(": " + e.Column)
	}
	fmt.Fprintf(&b, ": %s: %s / %s", e.Rule, e.IT, e.EN)
	if e.FixIT != "" || e.FixEN != "" {
		fmt.Fprintf(&b, "\n    cosa fare: %s\n    what to do: %s", e.FixIT, e.FixEN)
	}
	return b.String()
}

// FileError refuses a whole input file or an option (a missing column, an
// unknown region): nothing is imported.
type FileError struct {
	File string
	Line int
	Rule string
	IT   string
	EN   string
	Fix  string
}

func (e *FileError) Error() string {
	s := e.File
	if e.Line > 0 {
		s += fmt.Sprintf(":%d", e.Line)
	}
	if s != "" {
		s += ": "
	}
	s += e.Rule + ": " + e.IT + " / " + e.EN
	if e.Fix != "" {
		s += "; " + e.Fix
	}
	return s
}

func readInput(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxInput+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxInput {
		return nil, &FileError{File: path, Rule: "size", IT: "file troppo grande", EN: "file too large", Fix: fmt.Sprintf("at most %d bytes", maxInput)}
	}
	return data, nil
}

// Import reads opts.File (and opts.Extra), keeps the rows of the category,
// region and province asked for, validates each, and writes one tenant
// config per valid comune into opts.Out as <id>.yaml, each validated with
// tenant.LoadBytes before and tenant.Load after writing. A config that
// differs from the one on disk is written only with opts.Force; otherwise
// its diff is in the result. Row problems are in Result.Errors; the error
// is for what stops the whole import (*FileError for a bad input file or
// option, I/O errors).
func Import(ctx context.Context, opts Options) (Result, error) {
	var res Result
	if opts.Out == "" {
		opts.Out = "tenants"
	}
	if opts.Category == "" {
		opts.Category = CategoryComuni
	}
	if err := checkSPIDOptions(opts); err != nil {
		return res, err
	}
	if opts.Region != "" && opts.Province != "" {
		return res, &FileError{Rule: "options", IT: "indicare --region oppure --province, non entrambi", EN: "give --region or --province, not both"}
	}
	var reg region
	if opts.Region != "" {
		var ok bool
		if reg, ok = findRegion(opts.Region); !ok {
			return res, &FileError{Rule: "region", IT: fmt.Sprintf("regione %q sconosciuta", opts.Region), EN: fmt.Sprintf("unknown region %q", opts.Region),
				Fix: "use one of: " + strings.Join(RegionNames(), ", ") + " (or its 2-digit ISTAT code)"}
		}
	}
	data, err := readInput(opts.File)
	if err != nil {
		return res, err
	}
	t, err := openTable(opts.File, data)
	if err != nil {
		return res, err
	}
	if miss := missingColumns(t.h, requiredColumns); len(miss) > 0 {
		return res, &FileError{File: opts.File, Line: 1, Rule: "columns",
			IT:  "mancano le colonne " + strings.Join(miss, ", "),
			EN:  "missing columns " + strings.Join(miss, ", "),
			Fix: "give the IndicePA export of enti as downloaded from indicepa.gov.it/ipa-dati/dataset/enti (columns " + strings.Join(requiredColumns, ", ") + ")"}
	}
	provinceByCode := len(opts.Province) == 3 && isDigits(opts.Province)
	if opts.Province != "" && !provinceByCode {
		if i, _ := t.h.firstOf(provinceColumns); i < 0 {
			return res, &FileError{File: opts.File, Rule: "province",
				IT:  "il file non ha una colonna della provincia: indicare il codice ISTAT della provincia a 3 cifre (le prime 3 del Codice_comune_ISTAT), ad es. 058",
				EN:  "the file has no province column: give the province's 3-digit ISTAT code (the first 3 digits of Codice_comune_ISTAT), e.g. 058",
				Fix: "--province 058"}
		}
	}
	var extra *extraFile
	if opts.Extra != "" {
		xd, err := readInput(opts.Extra)
		if err != nil {
			return res, err
		}
		if extra, err = readExtra(opts.Extra, xd); err != nil {
			return res, err
		}
		res.Errors = append(res.Errors, extra.errs...)
	}
	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return res, err
	}

	seen := map[string]int{} // IPA code (lower case) → line
	all := map[string]bool{} // every IPA code of the file, any category or region
	ids := map[string]string{}
	for {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		rec, line, err := t.next()
		if errors.Is(err, io.EOF) {
			break
		}
		res.Read++
		if err != nil {
			res.Refused++
			res.Errors = append(res.Errors, RowError{File: opts.File, Line: line, Rule: "syntax", IT: "riga illeggibile: " + err.Error(), EN: "unreadable row: " + err.Error(),
				FixIT: "controllare le virgolette della riga", FixEN: "check the row's quotes"})
			continue
		}
		if i := t.h.col(ColIPA); i < len(rec) {
			all[strings.ToLower(strings.TrimSpace(rec[i]))] = true // its extra row is not "unknown"
		}
		e, rerr := parseEntity(t.h, rec, line)
		if rerr != nil {
			rerr.File = opts.File
			if i := t.h.col(ColIPA); i < len(rec) {
				rerr.IPACode = strings.TrimSpace(rec[i])
			}
			res.Refused++
			res.Errors = append(res.Errors, *rerr)
			continue
		}
		if !strings.EqualFold(e.Category, opts.Category) {
			res.Skipped++
			continue
		}
		keep, ferr := filter(e, reg, opts.Region, opts.Province, provinceByCode)
		if ferr != nil {
			// A comune that cannot be placed is refused with every problem of its row.
			errs := checkEntity(e)
			if !slices.ContainsFunc(errs, func(re RowError) bool { return re.Column == ColISTAT }) {
				errs = append(errs, *ferr)
			}
			res.Refused++
			for _, re := range errs {
				re.File, re.IPACode = opts.File, e.IPACode
				res.Errors = append(res.Errors, re)
			}
			continue
		}
		if !keep {
			res.Skipped++
			continue
		}
		errs := checkEntity(e)
		if k := strings.ToLower(e.IPACode); k != "" {
			if first, dup := seen[k]; dup {
				errs = append(errs, RowError{Line: line, Column: ColIPA, Rule: "duplicate",
					IT:    fmt.Sprintf("il Codice_IPA %s è già alla riga %d", e.IPACode, first),
					EN:    fmt.Sprintf("Codice_IPA %s is already on line %d", e.IPACode, first),
					FixIT: "tenere una sola riga per ente (il file di IndicePA ne ha una sola: il file è stato modificato?)",
					FixEN: "keep one row per ente (IndicePA's file has one: was the file edited?)"})
			} else {
				seen[k] = line
			}
		}
		var xr *extraRow
		if extra != nil {
			xr = extra.rows[strings.ToLower(e.IPACode)]
			if xr != nil {
				xr.used = true
			}
		}
		var cfg *config
		if len(errs) == 0 {
			cfg, errs = buildConfig(e, extra, xr, opts)
		}
		if len(errs) == 0 {
			if prev, dup := ids[cfg.ID]; dup {
				errs = append(errs, RowError{File: extraName(extra), Line: lineOf(xr), Column: XID, Rule: "duplicate",
					IT: fmt.Sprintf("l'id %s è già quello di %s", cfg.ID, prev), EN: fmt.Sprintf("id %s is already the id of %s", cfg.ID, prev),
					FixIT: "dare a ogni comune un id diverso", FixEN: "give every comune its own id"})
			}
		}
		if len(errs) > 0 {
			res.Refused++
			for _, re := range errs {
				if re.File == "" {
					re.File = opts.File
				}
				re.IPACode = e.IPACode
				res.Errors = append(res.Errors, re)
			}
			continue
		}
		ids[cfg.ID] = e.IPACode
		fr, errs, err := write(cfg, e, opts)
		if err != nil {
			return res, err
		}
		if len(errs) > 0 {
			res.Refused++
			res.Errors = append(res.Errors, errs...)
			continue
		}
		for _, re := range cfg.spidProblems {
			re.File, re.IPACode = opts.File, e.IPACode
			res.Errors = append(res.Errors, re)
		}
		res.Valid++
		switch fr.Status {
		case Written, Overwritten:
			res.Written++
		case Unchanged:
			res.Unchanged++
		case Changed:
			res.Changed++
		}
		res.Files = append(res.Files, fr)
	}
	if extra != nil {
		var unused []*extraRow
		for _, r := range extra.rows {
			if !r.used {
				unused = append(unused, r)
			}
		}
		sort.Slice(unused, func(i, j int) bool { return unused[i].line < unused[j].line })
		for _, r := range unused {
			if !all[strings.ToLower(r.values[XIPA])] {
				res.Errors = append(res.Errors, RowError{File: extra.file, Line: r.line, Column: XIPA, IPACode: r.values[XIPA], Rule: "unknown",
					IT:    fmt.Sprintf("nessun ente con Codice_IPA %s nel file di IndicePA", r.values[XIPA]),
					EN:    fmt.Sprintf("no ente with Codice_IPA %s in the IndicePA file", r.values[XIPA]),
					FixIT: "correggere il codice IPA (come in indicepa.gov.it) o scaricare un export di IndicePA aggiornato",
					FixEN: "correct the IPA code (as on indicepa.gov.it) or download a current IndicePA export"})
			}
		}
	}
	return res, nil
}

func extraName(x *extraFile) string {
	if x == nil {
		return ""
	}
	return x.file
}

// filter says whether e is in the region or province asked for. A comune it
// cannot place (bad ISTAT code, a province not in the table) is an error,
// not a silent skip.
func filter(e Entity, reg region, regionOpt, provinceOpt string, provinceByCode bool) (bool, *RowError) {
	switch {
	case regionOpt != "" && e.Region != "":
		f := foldName(e.Region)
		return f == foldName(reg.name) || f == reg.code || "0"+f == reg.code, nil
	case regionOpt != "":
		if err := legacy.ValidateISTAT(e.ISTAT); err != nil {
			re := fieldError(err, ColISTAT, "copiare il Codice_comune_ISTAT dall'export di IndicePA o da istat.it", "copy Codice_comune_ISTAT from the IndicePA export or istat.it")
			re.Line, re.IPACode = e.Line, e.IPACode
			return false, &re
		}
		r, ok := regionOfProvince(e.ISTAT[:3])
		if !ok {
			return false, &RowError{Line: e.Line, Column: ColISTAT, IPACode: e.IPACode, Rule: "region",
				IT:    fmt.Sprintf("la provincia %s (prime 3 cifre del codice ISTAT) non è nella tabella delle regioni di Ponte", e.ISTAT[:3]),
				EN:    fmt.Sprintf("province %s (first 3 digits of the ISTAT code) is not in Ponte's table of regions", e.ISTAT[:3]),
				FixIT: "filtrare con --province " + e.ISTAT[:3], FixEN: "filter with --province " + e.ISTAT[:3]}
		}
		return r.code == reg.code, nil
	case provinceOpt != "" && provinceByCode:
		if err := legacy.ValidateISTAT(e.ISTAT); err != nil {
			re := fieldError(err, ColISTAT, "copiare il Codice_comune_ISTAT dall'export di IndicePA o da istat.it", "copy Codice_comune_ISTAT from the IndicePA export or istat.it")
			re.Line, re.IPACode = e.Line, e.IPACode
			return false, &re
		}
		return e.ISTAT[:3] == provinceOpt, nil
	case provinceOpt != "":
		return foldName(e.Province) == foldName(provinceOpt), nil
	}
	return true, nil
}

// fieldError turns a legacy validator's *FieldError into a RowError.
func fieldError(err error, column, fixIT, fixEN string) RowError {
	var fe *legacy.FieldError
	if errors.As(err, &fe) {
		return RowError{Column: column, Rule: fe.Rule, IT: fe.MessageIT, EN: fe.MessageEN, FixIT: fixIT, FixEN: fixEN}
	}
	return RowError{Column: column, Rule: "format", IT: err.Error(), EN: err.Error(), FixIT: fixIT, FixEN: fixEN}
}

var (
	reIPA       = regexp.MustCompile(`^[A-Za-z0-9_]{2,20}$`)
	reID        = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,40}$`)
	reTwoDigits = regexp.MustCompile(`^[0-9]{2}$`)
	reStation   = regexp.MustCompile(`^[0-9]{11}_[0-9]{2}$`)
	reCBILL     = regexp.MustCompile(`^[A-Z0-9]{5}$`)
	reURL       = regexp.MustCompile(`^https?://\S+$`)
	reService   = regexp.MustCompile(`^[A-Za-z0-9_-]{3,64}$`)
	reSecret    = regexp.MustCompile(`^(env:[A-Z_][A-Z0-9_]*|file:.+)$`)
	reHostPort  = regexp.MustCompile(`^[^\s:]+:[0-9]{1,5}$`)
)

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// checkEntity validates the IndicePA fields of a comune.
func checkEntity(e Entity) []RowError {
	var errs []RowError
	add := func(re RowError) {
		re.Line = e.Line
		errs = append(errs, re)
	}
	required := func(col, it, en string) {
		add(RowError{Column: col, Rule: "required", IT: it + " mancante", EN: en + " is missing",
			FixIT: "completare il dato dell'ente su indicepa.gov.it (lo aggiorna il referente IPA del comune) e scaricare di nuovo l'export",
			FixEN: "have the comune's IPA referent complete it on indicepa.gov.it, then download the export again"})
	}
	switch {
	case e.IPACode == "":
		required(ColIPA, "Codice_IPA", "Codice_IPA")
	case !reIPA.MatchString(e.IPACode):
		add(RowError{Column: ColIPA, Rule: "format", IT: "il codice IPA ha da 2 a 20 lettere, cifre o _, ad es. c_h501", EN: "an IPA code has 2 to 20 letters, digits or _, e.g. c_h501",
			FixIT: "copiare il Codice_IPA esatto da indicepa.gov.it", FixEN: "copy the exact Codice_IPA from indicepa.gov.it"})
	}
	switch {
	case e.Name == "":
		required(ColName, "Denominazione_ente", "Denominazione_ente")
	case len([]rune(e.Name)) > 140:
		add(RowError{Column: ColName, Rule: "length", IT: "la denominazione supera 140 caratteri", EN: "the name is longer than 140 characters",
			FixIT: "accorciare la denominazione nel file", FixEN: "shorten the name in the file"})
	}
	if e.FiscalCode == "" {
		required(ColFiscal, "Codice_fiscale_ente", "Codice_fiscale_ente")
	} else if err := legacy.ValidateNumericFiscalCode(e.FiscalCode); err != nil {
		add(fieldError(err, ColFiscal, "copiare il codice fiscale dell'ente (11 cifre) da indicepa.gov.it e ricontrollare ogni cifra",
			"copy the ente's 11-digit fiscal code from indicepa.gov.it and check every digit"))
	}
	if e.ISTAT == "" {
		required(ColISTAT, "Codice_comune_ISTAT", "Codice_comune_ISTAT")
	} else if err := legacy.ValidateISTAT(e.ISTAT); err != nil {
		add(fieldError(err, ColISTAT, "copiare il codice ISTAT del comune (6 cifre, con gli zeri iniziali) da istat.it; un foglio di calcolo toglie gli zeri iniziali",
			"copy the comune's 6-digit ISTAT code (leading zeros included) from istat.it; spreadsheets drop leading zeros"))
	}
	if e.Cadastral == "" {
		required(ColCadastral, "Codice_catastale_comune", "Codice_catastale_comune")
	} else if err := legacy.ValidateCadastralCode(e.Cadastral); err != nil {
		add(fieldError(err, ColCadastral, "copiare il codice catastale (Belfiore) del comune, ad es. H501", "copy the comune's cadastral (Belfiore) code, e.g. H501"))
	}
	if e.CAP == "" {
		required(ColCAP, "CAP", "CAP")
	} else if err := legacy.ValidateCAP(e.CAP); err != nil {
		add(fieldError(err, ColCAP, "scrivere il CAP di 5 cifre, con gli zeri iniziali", "write the 5-digit CAP, leading zeros included"))
	}
	if e.Address == "" {
		required(ColAddress, "Indirizzo", "Indirizzo")
	}
	if e.PEC == "" {
		add(RowError{Column: "Mail1", Rule: "pec", IT: "nessuna delle colonne Mail1…Mail5 è una PEC (Tipo_Mail pec)", EN: "none of Mail1…Mail5 is a PEC (Tipo_Mail pec)",
			FixIT: "il comune registri il suo domicilio digitale (PEC) su indicepa.gov.it; servono le comunicazioni ufficiali di pagoPA e App IO",
			FixEN: "the comune must register its digital domicile (PEC) on indicepa.gov.it; pagoPA and App IO send official communications there"})
	} else if err := legacy.ValidateEmail(e.PEC); err != nil {
		add(fieldError(err, "Mail1", "correggere l'indirizzo PEC su indicepa.gov.it", "correct the PEC address on indicepa.gov.it"))
	}
	return errs
}

// TenantID derives a tenant id from an IPA code: lower case, _ → -.
func TenantID(ipa string) string { return strings.ReplaceAll(strings.ToLower(ipa), "_", "-") }

// configPath is where the config of tenant id goes.
func configPath(out, id string) string { return filepath.Join(out, id+".yaml") }
