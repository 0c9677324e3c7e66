package schemas

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

// referenceExamples are the examples docs/config.md shows per schema, in YAML
// as a tenant file has them. Kept here, beside the schemas they illustrate, so
// that the reference test fails when one is missing.
var referenceExamples = map[string]string{
	"legacy-csv.schema.json": `sources:
  tributi-csv:
    kind: csv
    config:
      path: export-tari.csv        # relative to the tenant file
      delimiter: ";"
      encoding: windows-1252
      decimalComma: true
      dateFormat: YYYYMMDD
      columns: {fiscalCode: CODICE_FISCALE, surname: COGNOME, name: NOME, amount: IMPORTO, dueDate: SCADENZA}
      identity: [fiscalCode, ANNO, amount]   # no id column: these identify a record
      duplicates: {fields: [fiscalCode, amount, ANNO], action: reject}`,
	"legacy-fixedwidth.schema.json": `sources:
  tracciato:
    kind: fixedwidth
    config:
      path: ruolo.txt
      encoding: iso-8859-1
      amountCents: true
      dateFormat: DDMMYYYY
      fields:
        externalId: {start: 1, length: 16}   # the codice fiscale used twice: fields may overlap
        fiscalCode: {start: 1, length: 16}
        surname: {start: 17, length: 30}
        name: {start: 47, length: 20}
        amount: {start: 67, length: 11}
        dueDate: {start: 78, length: 8}`,
	"legacy-sql.schema.json": `sources:
  tributi-db:
    kind: sql
    config:
      driver: postgres
      dsn: env:TRIBUTI_DSN          # a user with SELECT rights only
      query: "SELECT id, id_pratica, codice_fiscale, cognome, nome, importo, scadenza FROM debiti WHERE anno = :anno"
      params: {anno: 2026}
      keyColumn: id
      keyColumns: [id]
      statementTimeout: 2m
      writeBack: "UPDATE debiti SET stato = :status, nav = :nav WHERE id_pratica = :externalId"`,
	"legacy-rest.schema.json": `sources:
  tributi-api:
    kind: rest
    config:
      url: https://tributi.comune.example.it/api/debiti
      items: dati
      fields: {externalId: idPratica, fiscalCode: contribuente.codiceFiscale, amount: importo, dueDate: scadenza}
      auth: {kind: bearer, token: env:TRIBUTI_TOKEN}`,
	"legacy-soap.schema.json": `sources:
  tributi-ws:
    kind: soap
    config:
      url: https://tributi.comune.example.it/ws
      action: elencoDebiti
      items: debito
      fields: {externalId: idPratica, fiscalCode: codiceFiscale, amount: importo, dueDate: scadenza}`,
	"legacy-inbox.schema.json": `sources:
  cartella:
    kind: inbox
    config:
      dir: /srv/tributi/export
      pattern: "*.csv"
      format: csv
      config: {delimiter: ";", encoding: windows-1252}`,
	"people-csv.schema.json": `people:
  residenti:
    kind: csv
    config:
      path: residenti.csv          # relative to the tenant file
      delimiter: ";"
      encoding: windows-1252
      columns: {fiscalCode: CF, phone: CELLULARE, channels: CANALI_PREFERITI, zone: ZONA_ALLERTA}`,
	"people-sql.schema.json": `people:
  iscritti-allerta:
    kind: sql
    config:
      driver: postgres
      dsn: env:ALLERTA_DSN          # a user with SELECT rights only
      query: "SELECT id, codice_fiscale, nome, cognome, cellulare, email, lingua, canali, consensi, zona, lat, lon FROM iscritti WHERE attivo = :attivo"
      params: {attivo: true}
      keyColumn: id
      columns: {externalId: id}`,
}

// Reference renders docs/config.md: every key of every schema of this
// directory, with its type, default and description, and an example per source
// and people source kind, under Italian and English headings. A test keeps the file in sync.
func Reference() ([]byte, error) {
	names, err := fs.Glob(files, "*.json")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("# Riferimento della configurazione / Configuration reference\n\n")
	b.WriteString("<!-- Generated from schemas/*.schema.json by schemas.Reference; do not edit: run\n")
	b.WriteString("     PONTE_UPDATE_DOCS=1 go test ./schemas -run TestConfigReference -->\n\n")
	b.WriteString("Ogni chiave, il suo tipo, il valore predefinito e a cosa serve; un esempio per ogni tipo di fonte.\n")
	b.WriteString("Every key, its type, its default and what it is for; an example per source kind.\n")
	b.WriteString("`ponte config validate FILE…` checks a file against these schemas and more.\n")
	for _, n := range names {
		data, err := files.ReadFile(n)
		if err != nil {
			return nil, err
		}
		var sch map[string]any
		if err := json.Unmarshal(data, &sch); err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		title, _ := sch["title"].(string)
		fmt.Fprintf(&b, "\n## %s (`%s`)\n\n", title, n)
		if d, _ := sch["description"].(string); d != "" {
			b.WriteString(d + "\n\n")
		}
		b.WriteString("| chiave / key | tipo / type | predefinito / default | descrizione / description |\n|---|---|---|---|\n")
		writeProps(&b, sch, sch, "", 0)
		if ex, ok := referenceExamples[n]; ok {
			b.WriteString("\nEsempio / Example:\n\n```yaml\n" + ex + "\n```\n")
		}
	}
	return []byte(b.String()), nil
}

func writeProps(b *strings.Builder, root, node map[string]any, prefix string, depth int) {
	root, node = deref(root, node)
	props, _ := node["properties"].(map[string]any)
	req := map[string]bool{}
	if r, ok := node["required"].([]any); ok {
		for _, x := range r {
			if s, ok := x.(string); ok {
				req[s] = true
			}
		}
	}
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p, _ := props[k].(map[string]any)
		desc, _ := p["description"].(string)
		pRoot, p := deref(root, p)
		if desc == "" {
			desc, _ = p["description"].(string)
		}
		path := prefix + k
		if req[k] {
			path += " *"
		}
		def := ""
		if d, ok := p["default"]; ok {
			j, _ := json.Marshal(d)
			def = "`" + string(j) + "`"
		}
		typ := typeOf(p)
		if e, ok := p["enum"].([]any); ok {
			var vals []string
			for _, v := range e {
				j, _ := json.Marshal(v)
				vals = append(vals, string(j))
			}
			typ += ": " + strings.Join(vals, ", ")
		}
		fmt.Fprintf(b, "| `%s` | %s | %s | %s |\n", path, cellText(typ), def, cellText(desc))
		if depth < 4 {
			if _, ok := p["properties"]; ok {
				writeProps(b, pRoot, p, prefix+k+".", depth+1)
			}
			if ap, ok := p["additionalProperties"].(map[string]any); ok {
				if _, n := deref(pRoot, ap); n["properties"] != nil {
					writeProps(b, pRoot, ap, prefix+k+".NAME.", depth+1)
				}
			}
			if it, ok := p["items"].(map[string]any); ok {
				if _, n := deref(pRoot, it); n["properties"] != nil {
					writeProps(b, pRoot, it, prefix+k+"[].", depth+1)
				}
			}
		}
	}
}

// deref follows a $ref to a definition of the same schema (#/$defs/x) or of
// another schema of this directory (legacy-csv.schema.json#/properties/x), and
// returns the schema the node is in with the node; other references (to
// schemas registered beside their code) stay as they are.
func deref(root, node map[string]any) (map[string]any, map[string]any) {
	for range 4 {
		ref, _ := node["$ref"].(string)
		if ref == "" {
			return root, node
		}
		doc, frag, _ := strings.Cut(ref, "#")
		next := root
		if doc != "" {
			var other map[string]any
			data, err := files.ReadFile(doc)
			if err != nil || json.Unmarshal(data, &other) != nil {
				return root, node
			}
			next = other
		}
		var target any = next
		if frag != "" {
			var found bool
			if target, found = Walk(target, strings.Split(strings.TrimPrefix(frag, "/"), "/")); !found {
				return root, node
			}
		}
		m, ok := target.(map[string]any)
		if !ok {
			return root, node
		}
		root, node = next, m
	}
	return root, node
}

func typeOf(p map[string]any) string {
	switch t := p["type"].(type) {
	case string:
		return t
	case []any:
		var s []string
		for _, x := range t {
			s = append(s, fmt.Sprint(x))
		}
		return strings.Join(s, " or ")
	}
	if ref, ok := p["$ref"].(string); ok {
		return "see " + ref
	}
	if _, ok := p["oneOf"]; ok {
		return "one of several forms"
	}
	return "any"
}

func cellText(s string) string {
	return strings.NewReplacer("|", "\\|", "\n", " ").Replace(s)
}
