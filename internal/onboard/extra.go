package onboard

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// The extra CSV holds, per comune, what IndicePA does not: one row per
// Codice_IPA (comma, semicolon or tab separated, a header with these names in
// any order and case; only Codice_IPA is required in the header). A row whose
// Codice_IPA is * gives defaults to every comune for the columns marked
// "default ok" — e.g. the station of the regional intermediary, or the SMTP
// relay of the in-house company.
//
//	Codice_IPA           the comune's IPA code, as in IndicePA (key)
//	id                   tenant id (default: the IPA code, lower case, _ → -)
//	iban                 treasury IBAN credited by pagoPA (required)
//	postalIban           BancoPosta IBAN (ABI 07601), optional
//	postalOwner          holder printed on the Bollettino Postale PA    (default ok)
//	postalAuthorization  Poste's authorisation to print it              (default ok)
//	cbill                CBILL code, 5 characters
//	auxDigit             3 (default, with segregationCode) or 0 (with applicationCode)
//	segregationCode      2 digits, required with auxDigit 3
//	applicationCode      2 digits, required with auxDigit 0
//	stationId            pagoPA station, 11 digits _ 2 digits            (default ok)
//	gpdBaseURL           GPD API URL (default: production)              (default ok)
//	gpdSubscriptionKey   secret reference (default file:secrets/<id>/gpd.key)
//	ioBaseURL            App IO API URL (default: production)           (default ok)
//	ioPaymentsServiceId  App IO service ids per purpose: at least one
//	ioAlertsServiceId
//	ioNewsServiceId
//	ioPaymentsKey        secret references of their keys
//	ioAlertsKey          (default file:secrets/<id>/io-<purpose>.key)
//	ioNewsKey
//	smtpAddr             host:port of the SMTP relay (e-mail channel)    (default ok)
//	smtpFrom             sender, required with smtpAddr
//	smtpUsername         SMTP AUTH user                                  (default ok)
//	smtpPassword         secret reference (default file:secrets/<id>/smtp.password)
//	smtpCaFile           CA of the relay, relative to the config dir     (default ok)
//	sourcesFile          YAML file (relative to the extra CSV) holding the
//	                     tenant's sources: map, copied into the config   (default ok)
//
// Secret columns take references only (env:NAME or file:path): a row with a
// value there is refused, and the value is never printed.

// Extra CSV column names.
const (
	XIPA          = "Codice_IPA"
	XID           = "id"
	XIBAN         = "iban"
	XPostalIBAN   = "postalIban"
	XPostalOwner  = "postalOwner"
	XPostalAuth   = "postalAuthorization"
	XCBILL        = "cbill"
	XAux          = "auxDigit"
	XSegregation  = "segregationCode"
	XApplication  = "applicationCode"
	XStation      = "stationId"
	XGPDURL       = "gpdBaseURL"
	XGPDKey       = "gpdSubscriptionKey"
	XIOURL        = "ioBaseURL"
	XIOPayments   = "ioPaymentsServiceId"
	XIOAlerts     = "ioAlertsServiceId"
	XIONews       = "ioNewsServiceId"
	XIOPaymentsK  = "ioPaymentsKey"
	XIOAlertsK    = "ioAlertsKey"
	XIONewsK      = "ioNewsKey"
	XSMTPAddr     = "smtpAddr"
	XSMTPFrom     = "smtpFrom"
	XSMTPUser     = "smtpUsername"
	XSMTPPassword = "smtpPassword"
	XSMTPCA       = "smtpCaFile"
	XSources      = "sourcesFile"
)

// ExtraColumns are the columns of the extra CSV, in the order of a template.
var ExtraColumns = []string{XIPA, XID, XIBAN, XPostalIBAN, XPostalOwner, XPostalAuth, XCBILL, XAux, XSegregation, XApplication, XStation,
	XGPDURL, XGPDKey, XIOURL, XIOPayments, XIOPaymentsK, XIOAlerts, XIOAlertsK, XIONews, XIONewsK,
	XSMTPAddr, XSMTPFrom, XSMTPUser, XSMTPPassword, XSMTPCA, XSources}

// defaultable are the columns a * row may set for every comune.
var defaultable = map[string]bool{XPostalOwner: true, XPostalAuth: true, XStation: true, XGPDURL: true, XIOURL: true,
	XSMTPAddr: true, XSMTPUser: true, XSMTPCA: true, XSources: true}

// extraRow is one row of the extra CSV: values by canonical column name.
type extraRow struct {
	line   int
	values map[string]string
	used   bool // matched a comune of the IndicePA file
}

// extraFile is the extra CSV, read.
type extraFile struct {
	file     string
	rows     map[string]*extraRow // by Codice_IPA, lower case
	defaults *extraRow
	errs     []RowError // row errors found while reading (duplicates, bad * rows)
}

// get returns the value of col for the comune, the * row's when empty.
func (x *extraFile) get(r *extraRow, col string) (string, int) {
	if r != nil {
		if v := r.values[col]; v != "" {
			return v, r.line
		}
	}
	if x != nil && x.defaults != nil && defaultable[col] {
		if v := x.defaults.values[col]; v != "" {
			return v, x.defaults.line
		}
	}
	return "", lineOf(r)
}

func lineOf(r *extraRow) int {
	if r == nil {
		return 0
	}
	return r.line
}

// readExtra reads the extra CSV: a missing Codice_IPA column or an unknown
// column is an error for the whole file (a typo in a header would otherwise
// lose a column for every comune).
func readExtra(file string, data []byte) (*extraFile, error) {
	t, err := openTable(file, data)
	if err != nil {
		return nil, err
	}
	canon := map[string]string{}
	for _, c := range ExtraColumns {
		canon[strings.ToLower(c)] = c
	}
	var unknown []string
	for _, n := range t.h.names {
		if _, ok := canon[strings.ToLower(n)]; !ok && n != "" {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) > 0 {
		return nil, &FileError{File: file, Line: 1, Rule: "columns",
			IT:  fmt.Sprintf("colonne sconosciute: %s", strings.Join(unknown, ", ")),
			EN:  fmt.Sprintf("unknown columns: %s", strings.Join(unknown, ", ")),
			Fix: "use only these column names (any order, any case): " + strings.Join(ExtraColumns, ", ")}
	}
	if t.h.col(XIPA) < 0 {
		return nil, &FileError{File: file, Line: 1, Rule: "required", IT: "manca la colonna Codice_IPA", EN: "the Codice_IPA column is missing",
			Fix: "the first column of the extra CSV is Codice_IPA, the comune's IPA code as in IndicePA"}
	}
	x := &extraFile{file: file, rows: map[string]*extraRow{}}
	for {
		rec, line, err := t.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			x.errs = append(x.errs, RowError{File: file, Line: line, Rule: "syntax", IT: "riga illeggibile: " + err.Error(), EN: "unreadable row: " + err.Error(),
				FixIT: "controllare le virgolette della riga", FixEN: "check the row's quotes"})
			continue
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		r := &extraRow{line: line, values: map[string]string{}}
		for i, n := range t.h.names {
			if i < len(rec) && n != "" {
				r.values[canon[strings.ToLower(n)]] = strings.TrimSpace(rec[i])
			}
		}
		key := r.values[XIPA]
		switch {
		case key == "":
			x.errs = append(x.errs, RowError{File: file, Line: line, Column: XIPA, Rule: "required", IT: "Codice_IPA mancante", EN: "Codice_IPA is missing",
				FixIT: "scrivere il codice IPA del comune come in IndicePA, o * per i valori comuni a tutti", FixEN: "write the comune's IPA code as in IndicePA, or * for values shared by all"})
		case key == "*":
			if x.defaults != nil {
				x.errs = append(x.errs, dupExtra(file, line, key, x.defaults.line))
				continue
			}
			for _, c := range ExtraColumns {
				if c != XIPA && r.values[c] != "" && !defaultable[c] {
					x.errs = append(x.errs, RowError{File: file, Line: line, Column: c, Rule: "default",
						IT:    fmt.Sprintf("la colonna %s è propria di ogni comune e non può avere un valore comune (*)", c),
						EN:    fmt.Sprintf("column %s belongs to each comune and cannot have a shared (*) value", c),
						FixIT: "spostare il valore nelle righe dei singoli comuni", FixEN: "move the value to the rows of the single comuni"})
				}
			}
			x.defaults = r
		default:
			k := strings.ToLower(key)
			if prev, dup := x.rows[k]; dup {
				x.errs = append(x.errs, dupExtra(file, line, key, prev.line))
				continue
			}
			x.rows[k] = r
		}
	}
	return x, nil
}

func dupExtra(file string, line int, key string, first int) RowError {
	return RowError{File: file, Line: line, Column: XIPA, Rule: "duplicate",
		IT:    fmt.Sprintf("il Codice_IPA %s è già alla riga %d", key, first),
		EN:    fmt.Sprintf("Codice_IPA %s is already on line %d", key, first),
		FixIT: "tenere una sola riga per comune", FixEN: "keep one row per comune"}
}
