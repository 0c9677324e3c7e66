package onboard

import (
	"strings"
	"unicode"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// region is one of the 20 Italian regions with ISTAT's two-digit code and
// the historic province codes (the first three digits of the ISTAT code of
// its comuni): the list of ISTAT's "Codici statistici delle unità
// amministrative territoriali" (istat.it/it/archivio/6789). A comune whose
// code starts with a province code not listed here is refused by --region
// with a hint to filter by --province instead, never dropped in silence.
type region struct {
	code      string
	name      string
	provinces []string
}

var regions = []region{
	{"01", "Piemonte", []string{"001", "002", "003", "004", "005", "006", "096", "103"}},
	{"02", "Valle d'Aosta", []string{"007"}},
	{"03", "Lombardia", []string{"012", "013", "014", "015", "016", "017", "018", "019", "020", "097", "098", "108"}},
	{"04", "Trentino-Alto Adige", []string{"021", "022"}},
	{"05", "Veneto", []string{"023", "024", "025", "026", "027", "028", "029"}},
	{"06", "Friuli-Venezia Giulia", []string{"030", "031", "032", "093"}},
	{"07", "Liguria", []string{"008", "009", "010", "011"}},
	{"08", "Emilia-Romagna", []string{"033", "034", "035", "036", "037", "038", "039", "040", "099"}},
	{"09", "Toscana", []string{"045", "046", "047", "048", "049", "050", "051", "052", "053", "100"}},
	{"10", "Umbria", []string{"054", "055"}},
	{"11", "Marche", []string{"041", "042", "043", "044", "109"}},
	{"12", "Lazio", []string{"056", "057", "058", "059", "060"}},
	{"13", "Abruzzo", []string{"066", "067", "068", "069"}},
	{"14", "Molise", []string{"070", "094"}},
	{"15", "Campania", []string{"061", "062", "063", "064", "065"}},
	{"16", "Puglia", []string{"071", "072", "073", "074", "075", "110"}},
	{"17", "Basilicata", []string{"076", "077"}},
	{"18", "Calabria", []string{"078", "079", "080", "101", "102"}},
	{"19", "Sicilia", []string{"081", "082", "083", "084", "085", "086", "087", "088", "089"}},
	{"20", "Sardegna", []string{"090", "091", "092", "095", "104", "105", "106", "107", "111"}},
}

// foldName lower-cases a name and drops accents, apostrophes, dashes and
// spaces, so that "Valle d'Aosta", "valle daosta" and "VALLE D’AOSTA" match.
func foldName(s string) string {
	t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	out, _, err := transform.String(t, s)
	if err != nil {
		out = s
	}
	var b strings.Builder
	for _, r := range strings.ToLower(out) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// findRegion finds a region by ISTAT code ("03", "3") or name.
func findRegion(s string) (region, bool) {
	f := foldName(s)
	for _, r := range regions {
		if f == foldName(r.name) || f == r.code || "0"+f == r.code {
			return r, true
		}
	}
	// Common short names: "Trentino", "Friuli", "Emilia Romagna" (folded already).
	for _, r := range regions {
		if f != "" && strings.HasPrefix(foldName(r.name), f) && len(f) >= 6 {
			return r, true
		}
	}
	return region{}, false
}

// regionOfProvince returns the region of a historic ISTAT province code.
func regionOfProvince(p string) (region, bool) {
	for _, r := range regions {
		for _, x := range r.provinces {
			if x == p {
				return r, true
			}
		}
	}
	return region{}, false
}

// RegionNames lists the regions --region accepts.
func RegionNames() []string {
	out := make([]string, len(regions))
	for i, r := range regions {
		out[i] = r.name
	}
	return out
}
