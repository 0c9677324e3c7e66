package legacy

import (
	"context"
	"fmt"
	"hash/maphash"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ponte-pa/ponte/connectors/registry"
)

// Person is one record of a people source.
type Person struct {
	Line       int      // 1-based line / record number
	Key        string   // externalId when present; else the normalised fiscal code; else "<source>:<line>"
	FiscalCode string   // optional; normalised (upper case) when present
	Name       string   // optional
	Surname    string   // optional
	Email      string   // optional
	Phone      string   // optional, E.164 (+39…), via NormalizePhoneIT
	Lang       string   // "it", "en" or "" (unknown)
	Channels   []string // preferred channel kinds in order, lower-case tokens (e.g. ["sms","appio"])
	Topics     []string // consent topics (information campaigns), lower-case tokens
	CAP        string   // optional postal code
	ISTAT      string   // optional comune ISTAT code (6 digits)
	Cadastral  string   // optional
	Zone       string   // optional alert zone id as the tenant names it (free text ≤ 64, trimmed)
	Lat, Lon   float64  // valid only when HasPoint
	HasPoint   bool     // both lat and lon given, WGS84 decimal degrees
	// Warnings are things a person should look at; the record is still valid.
	Warnings []Warning
}

// PeopleSource streams Person records: each record goes to exactly one of emit or
// reject, both required. An error from emit or reject, a cancelled ctx, or a failure
// to read the source at all stops the read and is returned with the stats so far.
type PeopleSource interface {
	// Name identifies the source in rejects, logs and positional keys.
	Name() string
	Read(ctx context.Context, emit func(Person) error, reject func(Reject) error) (Stats, error)
}

// People are the registered people source kinds (package registry): csv and sql,
// each registered from people_sources.go with its config schema. They read the
// recipients of Protezione Civile alerts and information campaigns: residents
// registry exports, subscription lists, CRM contacts.
var People = registry.New[PeopleSource]("people source")

// Fields of people records besides those they share with debtors (externalId,
// fiscalCode, name, surname, email, phone, cap, istat, cadastralCode), as used in
// columns configs, Reject.Field and FieldError.Field.
const (
	FieldLang     = "lang"     // it, en or empty
	FieldChannels = "channels" // preferred channels, in order
	FieldTopics   = "topics"   // consent topics
	FieldZone     = "zone"     // the tenant's alert zone
	FieldLat      = "lat"      // WGS84 latitude, decimal degrees
	FieldLon      = "lon"      // WGS84 longitude, decimal degrees
)

var personFields = []string{FieldExternalID, FieldFiscalCode, FieldName, FieldSurname, FieldEmail, FieldPhone,
	FieldCAP, FieldISTAT, FieldCadastralCode, FieldLang, FieldChannels, FieldTopics, FieldZone, FieldLat, FieldLon}

// contactFields are the ways a person is found or reached: a record needs one.
var contactFields = []string{FieldFiscalCode, FieldEmail, FieldPhone}

// personLayout: no column is required on its own, but a source without any contact
// column could only reject every record.
var personLayout = recordLayout{fields: personFields, oneOf: contactFields}

// newPersonChecker checks the people of the source called name.
func newPersonChecker(name string) *checker {
	c := newChecker(ValueFormat{}, AmountAuto, DateDMY)
	c.fields, c.source = personFields, name
	return c
}

// checkPerson validates one people record; the reject carries the record's key in
// its system when the source knows one (SQL key columns).
func (c *checker) checkPerson(r row) (Person, *Reject) {
	p, rj := c.person(r)
	if rj != nil {
		rj.Key = r.key
		return Person{}, rj
	}
	return p, nil
}

func (c *checker) person(r row) (Person, *Reject) {
	get, line := r.get, r.line
	id, rh, rj := c.admit(r)
	if rj != nil {
		return Person{}, rj
	}
	p := Person{Line: line, Name: get(FieldName), Surname: get(FieldSurname)}
	if cf := get(FieldFiscalCode); cf != "" {
		if err := ValidateCodiceFiscale(cf); err != nil {
			return p, rejectFromErr(err, line)
		}
		p.FiscalCode = NormalizeCodiceFiscale(cf)
	}
	p.Email = get(FieldEmail)
	if err := ValidateEmail(p.Email); err != nil {
		return p, rejectFromErr(err, line)
	}
	if err := optionalFields(get, &p.Phone, &p.CAP, &p.ISTAT, &p.Cadastral); err != nil {
		return p, rejectFromErr(err, line)
	}
	if p.FiscalCode == "" && p.Email == "" && p.Phone == "" {
		return p, &Reject{Line: line, Field: strings.Join(contactFields, "|"), Rule: "contact",
			MessageIT: "nessun recapito: servono almeno il codice fiscale, un indirizzo e-mail o un numero di telefono",
			MessageEN: "no way to reach the person: at least a fiscal code, an e-mail address or a phone number is needed"}
	}
	var err error
	if p.Lang, err = parseLang(get(FieldLang)); err != nil {
		return p, rejectFromErr(err, line)
	}
	if p.Channels, err = parseChannels(get(FieldChannels)); err != nil {
		return p, rejectFromErr(err, line)
	}
	if p.Topics, err = parseTopics(get(FieldTopics)); err != nil {
		return p, rejectFromErr(err, line)
	}
	p.Zone = get(FieldZone)
	if utf8.RuneCountInString(p.Zone) > 64 {
		return p, rejectFromErr(ferr(FieldZone, p.Zone, "maxLength", "la zona di allerta supera 64 caratteri", "alert zone is longer than 64 characters"), line)
	}
	if err := p.parsePoint(get(FieldLat), get(FieldLon)); err != nil {
		return p, rejectFromErr(err, line)
	}
	switch {
	case id != "":
		p.Key = id
	case p.FiscalCode != "":
		p.Key = p.FiscalCode
		// The key must name one record: two rows of one person without ids would
		// be two messages to the same person, and a reject report that cannot tell
		// them apart.
		h := maphash.String(c.seed, p.FiscalCode)
		if first, dup := c.debts[h]; dup {
			return p, rejectFromErr(ferr(FieldFiscalCode, p.FiscalCode, "duplicate",
				fmt.Sprintf("persona già presente alla riga %d con lo stesso codice fiscale: unire i recapiti in una riga, o dare a ciascuna riga un identificativo (externalId)", first),
				fmt.Sprintf("person already on line %d with the same fiscal code: merge the contacts into one row, or give each row an id (externalId)", first)), line)
		}
		c.debts[h] = line
	default:
		p.Key = c.source + ":" + strconv.Itoa(line)
	}
	c.remember(id, line, rh)
	return p, nil
}

// parseLang reads a language as registries and CRMs write it: it, ita, italiano,
// it-IT (also it_IT), en, eng, english, inglese, en-GB, en-US, in any case.
func parseLang(s string) (string, error) {
	switch strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), "_", "-") {
	case "":
		return "", nil
	case "it", "ita", "italiano", "it-it":
		return "it", nil
	case "en", "eng", "english", "inglese", "en-gb", "en-us":
		return "en", nil
	}
	return "", ferr(FieldLang, s, "lang", "lingua non riconosciuta: usare it (italiano) o en (inglese), o lasciare vuoto",
		"language not recognised: use it (Italian) or en (English), or leave it empty")
}

// appIO is "App IO" written with spaces, which splitting on spaces would cut in two.
var appIO = regexp.MustCompile(`(?i)\bapp\s+io\b`)

// splitTokens splits a list as people write it in one cell (separated by ; , | or
// spaces) into lower-case tokens, dropping empty ones and repeats, in order.
func splitTokens(s string) []string {
	s = strings.ToLower(s)
	if strings.Contains(s, "app") {
		s = appIO.ReplaceAllString(s, "appio")
	}
	var out []string
	for _, t := range strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == ',' || r == '|' || unicode.IsSpace(r) }) {
		if !containsStr(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// channelAliases are the names people give the channels Ponte knows.
var channelAliases = map[string]string{
	"io": "appio", "appio": "appio",
	"e-mail": "email", "mail": "email", "email": "email",
	"sms": "sms", "cellulare": "sms",
}

// channelToken is a channel kind: the name of a kind in the tenant's channels
// (channels.Kinds), which the record cannot check as the tenant may add kinds.
var channelToken = regexp.MustCompile(`^[a-z][a-z0-9-]{0,30}$`)

// parseChannels reads the preferred channels, in order: io, App IO → appio; e-mail,
// mail → email; cellulare → sms; another name must look like a channel kind.
func parseChannels(s string) ([]string, error) {
	var out []string
	for _, t := range splitTokens(s) {
		if a, ok := channelAliases[t]; ok {
			t = a
		} else if !channelToken.MatchString(t) {
			return nil, ferr(FieldChannels, s, "channel",
				fmt.Sprintf("canale %q non valido: usare ad es. appio, email, sms, separati da ; , | o spazi", clip(t)),
				fmt.Sprintf("channel %q is not valid: use e.g. appio, email, sms, separated by ; , | or spaces", clip(t)))
		}
		if !containsStr(out, t) { // mail and email are one channel
			out = append(out, t)
		}
	}
	return out, nil
}

// parseTopics reads the consent topics: tokens of letters (accented ones too, as
// in viabilità), digits, - and _, starting with a letter or digit, at most 64
// characters.
func parseTopics(s string) ([]string, error) {
	toks := splitTokens(s)
	for _, t := range toks {
		if !topicOK(t) {
			return nil, ferr(FieldTopics, s, "topic",
				fmt.Sprintf("argomento %q non valido: lettere, cifre, - e _ (al massimo 64), separati da ; , | o spazi", clip(t)),
				fmt.Sprintf("topic %q is not valid: letters, digits, - and _ (at most 64), separated by ; , | or spaces", clip(t)))
		}
	}
	return toks, nil
}

func topicOK(t string) bool {
	if utf8.RuneCountInString(t) > 64 {
		return false
	}
	for i, r := range t {
		ok := unicode.IsLetter(r) || unicode.IsDigit(r) || i > 0 && (r == '-' || r == '_')
		if !ok {
			return false
		}
	}
	return t != ""
}

// parsePoint reads the coordinates: both or neither.
func (p *Person) parsePoint(lat, lon string) error {
	switch {
	case lat == "" && lon == "":
		return nil
	case lon == "":
		return ferr(FieldLon, "", "point", "manca la longitudine: servono sia la latitudine sia la longitudine",
			"longitude is missing: give both latitude and longitude")
	case lat == "":
		return ferr(FieldLat, "", "point", "manca la latitudine: servono sia la latitudine sia la longitudine",
			"latitude is missing: give both latitude and longitude")
	}
	var err error
	if p.Lat, err = parseDegrees(FieldLat, lat, 90); err != nil {
		return err
	}
	if p.Lon, err = parseDegrees(FieldLon, lon, 180); err != nil {
		return err
	}
	p.HasPoint = true
	if p.Lat == 0 && p.Lon == 0 {
		p.Warnings = append(p.Warnings, Warning{Field: FieldLat + "+" + FieldLon, Rule: "point",
			MessageIT: "coordinate 0,0 (nel golfo di Guinea): probabilmente mancano nell'esportazione",
			MessageEN: "coordinates 0,0 (in the Gulf of Guinea): probably missing from the export"})
	}
	return nil
}

// parseDegrees reads WGS84 decimal degrees within ±limit: an optional sign, at most
// 3 integer digits, and decimals after a point or a comma. Exponents, hex, NaN and
// Inf, which strconv would take, are refused.
func parseDegrees(field, s string, limit float64) (float64, error) {
	v := strings.TrimSpace(s)
	bad := func() error {
		return ferr(field, s, "format", "coordinata non valida: gradi decimali WGS84, ad es. 45,4642 o 9.19",
			"coordinate is not valid: WGS84 decimal degrees, e.g. 45.4642 or 9,19")
	}
	num := strings.TrimLeft(v, "+-")
	if len(v)-len(num) > 1 {
		return 0, bad()
	}
	intPart, frac, hasSep := strings.Cut(strings.Replace(num, ",", ".", 1), ".")
	if len(intPart) < 1 || len(intPart) > 3 || !isDigits(intPart) || hasSep && (len(frac) > 15 || !isDigits(frac)) {
		return 0, bad()
	}
	n := v[:len(v)-len(num)] + intPart
	if hasSep {
		n += "." + frac
	}
	f, err := strconv.ParseFloat(n, 64)
	if err != nil {
		return 0, bad()
	}
	if f < -limit || f > limit {
		return 0, ferr(field, s, "range", fmt.Sprintf("coordinata fuori intervallo: deve stare tra -%g e %g gradi", limit, limit),
			fmt.Sprintf("coordinate out of range: it must be between -%g and %g degrees", limit, limit))
	}
	return f, nil
}

// ContactIDs are the identities that make two person records one person
// when they are merged across sources: "cf:<fiscal code>", "tel:<phone>",
// "mail:<lower-case e-mail>", for those given.
func ContactIDs(fc, phone, email string) []string {
	var ids []string
	if fc != "" {
		ids = append(ids, "cf:"+fc)
	}
	if phone != "" {
		ids = append(ids, "tel:"+phone)
	}
	if email != "" {
		ids = append(ids, "mail:"+strings.ToLower(email))
	}
	return ids
}
