package onboard

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// The IndicePA open data of enti, as AgID publishes it at
// https://indicepa.gov.it/ipa-dati/dataset/enti (CKAN resource
// d09adf99-dc10-4349-8c53-27b1e5aa97b6, licence CC BY 4.0), has one row per
// ente and these columns, in this order:
//
//	Codice_IPA, Denominazione_ente, Codice_fiscale_ente, Tipologia,
//	Codice_Categoria, Codice_natura, Codice_ateco, Ente_in_liquidazione,
//	Codice_MIUR, Codice_ISTAT, Acronimo, Nome_responsabile,
//	Cognome_responsabile, Titolo_responsabile, Codice_comune_ISTAT,
//	Codice_catastale_comune, CAP, Indirizzo, Mail1, Tipo_Mail1, … Mail5,
//	Tipo_Mail5, Sito_istituzionale, Url_facebook, Url_linkedin, Url_twitter,
//	Url_youtube, Data_aggiornamento
//
// (the field list of that resource's datastore; the CSV download prefixes the
// datastore's _id, the older TSV downloads do not). It holds no region or
// province column: the province is the first three digits of
// Codice_comune_ISTAT (ISTAT's historic province code, kept for comuni of
// città metropolitane and of Friuli Venezia Giulia), and the region follows
// from it (regions.go). Columns are found by name, in any order and case;
// unknown columns are ignored, so a newer export with more columns still reads.

// Column names of the IndicePA export that the import reads.
const (
	ColIPA       = "Codice_IPA"
	ColName      = "Denominazione_ente"
	ColFiscal    = "Codice_fiscale_ente"
	ColCategory  = "Codice_Categoria"
	ColISTAT     = "Codice_comune_ISTAT"
	ColCadastral = "Codice_catastale_comune"
	ColCAP       = "CAP"
	ColAddress   = "Indirizzo"
	ColSite      = "Sito_istituzionale"
	ColRespName  = "Nome_responsabile"
	ColRespSurn  = "Cognome_responsabile"
	ColUpdated   = "Data_aggiornamento"
)

// requiredColumns must be in the header of an IndicePA file: without one of
// them no row could be imported, so the file is refused as a whole.
var requiredColumns = []string{ColIPA, ColName, ColFiscal, ColCategory, ColISTAT, ColCadastral, ColCAP, ColAddress, "Mail1", "Tipo_Mail1"}

// Optional region and province columns: not in AgID's export, but present in
// files people derive from it (joined with ISTAT's list of comuni); when the
// file has one, --region and --province match it as the file names them.
var (
	regionColumns   = []string{"Denominazione_regione", "Regione", "Codice_regione"}
	provinceColumns = []string{"Sigla_provincia", "Provincia", "Denominazione_provincia", "Sigla_automobilistica"}
)

// Entity is one ente as IndicePA describes it (the fields the import uses).
type Entity struct {
	Line        int // line of the row in the file
	IPACode     string
	Name        string
	FiscalCode  string
	Category    string
	ISTAT       string
	Cadastral   string
	CAP         string
	Address     string
	PEC         string
	Site        string
	Responsible string // name and surname of the ente's responsabile
	Region      string // from an optional region column, else empty
	Province    string // from an optional province column, else empty
	Updated     string // Data_aggiornamento
}

// header maps the columns of a file, by canonical lower-case name, to their index.
type header struct {
	delim byte
	names []string       // as written in the file
	index map[string]int // lower-case name → index
}

func (h *header) col(name string) int {
	if i, ok := h.index[strings.ToLower(name)]; ok {
		return i
	}
	return -1
}

// firstOf returns the index and name of the first of names present, or -1.
func (h *header) firstOf(names []string) (int, string) {
	for _, n := range names {
		if i := h.col(n); i >= 0 {
			return i, h.names[i]
		}
	}
	return -1, ""
}

// detectDelimiter picks tab, semicolon or comma: whichever the header line has
// most of (IndicePA has published both TSV and CSV downloads).
func detectDelimiter(firstLine []byte) byte {
	best, n := byte(','), bytes.Count(firstLine, []byte{','})
	for _, d := range []byte{'\t', ';'} {
		if c := bytes.Count(firstLine, []byte{d}); c > n {
			best, n = d, c
		}
	}
	return best
}

// toUTF8 strips a byte-order mark and reads a file that is not valid UTF-8 as
// Windows-1252, the encoding of spreadsheets saved on Italian PCs.
func toUTF8(data []byte) ([]byte, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if utf8.Valid(data) {
		return data, nil
	}
	return charmap.Windows1252.NewDecoder().Bytes(data)
}

// table is a delimited file opened for reading: its header and a reader
// positioned at the first data row.
type table struct {
	file string
	h    *header
	r    *csv.Reader
}

// openTable reads the header of a delimited file (tab, semicolon or comma).
func openTable(file string, data []byte) (*table, error) {
	data, err := toUTF8(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	first := data
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		first = data[:i]
	}
	h := &header{delim: detectDelimiter(first), index: map[string]int{}}
	r := csv.NewReader(bytes.NewReader(data))
	r.Comma = rune(h.delim)
	r.FieldsPerRecord = -1 // a short or long row is a row error, not the end of the file
	r.LazyQuotes = true    // TSV exports carry quotes inside names
	r.ReuseRecord = false
	names, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: the file is empty", file)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: header: %w", file, err)
	}
	for i, n := range names {
		n = strings.TrimSpace(n)
		names[i] = n
		if n == "" {
			continue
		}
		if _, dup := h.index[strings.ToLower(n)]; !dup {
			h.index[strings.ToLower(n)] = i
		}
	}
	h.names = names
	return &table{file: file, h: h, r: r}, nil
}

// next returns the next row and its line, io.EOF at the end.
func (t *table) next() ([]string, int, error) {
	rec, err := t.r.Read()
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, pe.StartLine, err
		}
		return nil, 0, err
	}
	line, _ := t.r.FieldPos(0)
	return rec, line, nil
}

// missingColumns lists the required columns absent from h.
func missingColumns(h *header, required []string) []string {
	var miss []string
	for _, c := range required {
		if h.col(c) < 0 {
			miss = append(miss, c)
		}
	}
	return miss
}

// field returns the trimmed value of column name in rec ("" when absent).
func (h *header) field(rec []string, name string) string {
	i := h.col(name)
	if i < 0 || i >= len(rec) {
		return ""
	}
	return strings.TrimSpace(rec[i])
}

// parseEntity reads one IndicePA row. It does not validate values (see
// checkEntity); it fails only when the row does not have the header's columns.
func parseEntity(h *header, rec []string, line int) (Entity, *RowError) {
	if len(rec) != len(h.names) {
		return Entity{}, &RowError{Line: line, Rule: "columns",
			IT:     fmt.Sprintf("la riga ha %d colonne, l'intestazione %d", len(rec), len(h.names)),
			EN:     fmt.Sprintf("the row has %d columns, the header %d", len(rec), len(h.names)),
			FixIT:  "controllare separatori e virgolette della riga (un campo con il separatore va tra virgolette), o scaricare di nuovo il file da indicepa.gov.it",
			FixEN:  "check the row's separators and quotes (a field holding the separator must be quoted), or download the file again from indicepa.gov.it",
			Column: ""}
	}
	e := Entity{
		Line:       line,
		IPACode:    h.field(rec, ColIPA),
		Name:       h.field(rec, ColName),
		FiscalCode: h.field(rec, ColFiscal),
		Category:   h.field(rec, ColCategory),
		ISTAT:      h.field(rec, ColISTAT),
		Cadastral:  strings.ToUpper(h.field(rec, ColCadastral)),
		CAP:        h.field(rec, ColCAP),
		Address:    h.field(rec, ColAddress),
		Site:       h.field(rec, ColSite),
		Updated:    h.field(rec, ColUpdated),
	}
	e.Responsible = strings.TrimSpace(h.field(rec, ColRespName) + " " + h.field(rec, ColRespSurn))
	for i := 1; i <= 5; i++ {
		mail, kind := h.field(rec, fmt.Sprintf("Mail%d", i)), h.field(rec, fmt.Sprintf("Tipo_Mail%d", i))
		if strings.EqualFold(kind, "pec") && mail != "" && !strings.EqualFold(mail, "null") {
			e.PEC = mail
			break
		}
	}
	if i, _ := h.firstOf(regionColumns); i >= 0 {
		e.Region = strings.TrimSpace(rec[i])
	}
	if i, _ := h.firstOf(provinceColumns); i >= 0 {
		e.Province = strings.TrimSpace(rec[i])
	}
	return e, nil
}
