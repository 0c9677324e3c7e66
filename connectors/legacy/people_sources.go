package legacy

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/ponte-pa/ponte/connectors/registry"
)

func init() {
	People.Register(registry.Kind[PeopleSource]{Name: KindCSV, Schema: "people-csv.schema.json",
		Doc: "a CSV export of people: residents registry, subscription list, CRM contacts",
		Open: func(cfg json.RawMessage, env registry.Env) (PeopleSource, error) {
			var c PeopleCSVConfig
			if err := decodeStrict(KindCSV, cfg, &c); err != nil {
				return nil, err
			}
			return NewPeopleCSVSource(c, env.Dir)
		}})
	People.Register(registry.Kind[PeopleSource]{Name: KindSQL, Schema: "people-sql.schema.json",
		Doc: "people read with a SELECT from a database (anagrafe, CRM)",
		Open: func(cfg json.RawMessage, env registry.Env) (PeopleSource, error) {
			var c SQLConfig
			if err := decodeStrict(KindSQL, cfg, &c); err != nil {
				return nil, err
			}
			return NewPeopleSQLSource(c, env.Dir)
		}})
}

// PeopleCSVConfig configures a CSV people source; it mirrors people-csv.schema.json.
// Columns map the people fields (externalId, fiscalCode, name, surname, email,
// phone, cap, istat, cadastralCode, lang, channels, topics, zone, lat, lon); those
// not mapped are found by their usual Italian and English names.
type PeopleCSVConfig struct {
	CSVFileConfig
}

// PeopleCSVSource reads people from a delimited file, streaming, with the file
// handling of the debtors' CSVSource. Each Read opens the file again.
type PeopleCSVSource struct {
	file *csvFile
}

// NewPeopleCSVSource checks cfg; a relative Path resolves against baseDir. The file
// itself is opened by Read.
func NewPeopleCSVSource(cfg PeopleCSVConfig, baseDir string) (*PeopleCSVSource, error) {
	f, err := newCSVFile(cfg.CSVFileConfig, baseDir, personLayout)
	if err != nil {
		return nil, err
	}
	return &PeopleCSVSource{file: f}, nil
}

// Name is "csv:" and the file name.
func (s *PeopleCSVSource) Name() string { return s.file.name() }

// Read streams the file: every data record goes to emit (as a Person) or to reject,
// with the rejects of the debtors' CSV (wrong width, quoting, encoding, line length,
// exact duplicate rows, duplicate externalIds) and those of people records.
func (s *PeopleCSVSource) Read(ctx context.Context, emit func(Person) error, reject func(Reject) error) (Stats, error) {
	return stream(s.Name(), emit, reject, func(c *counter[Person]) error {
		return readCSV(ctx, s.file, c, newPersonChecker(s.Name()).checkPerson)
	})
}

// PeopleSQLSource reads people with a query, as SQLSource reads debtors: one
// read-only transaction, keyset pages, statement timeout, key columns in rejects.
type PeopleSQLSource struct {
	db *SQLSource
}

// NewPeopleSQLSource checks cfg, an SQLConfig with a Query and without WriteBack or
// value formats: a people source only reads, and has no amounts or dates.
func NewPeopleSQLSource(cfg SQLConfig, baseDir string) (*PeopleSQLSource, error) {
	if cfg.Query == "" {
		return nil, errors.New("legacy: sql: query is required to read people")
	}
	if cfg.WriteBack != "" || cfg.DecimalComma != nil || cfg.DateFormat != "" || cfg.MinAmount != 0 || cfg.IBANCountries != "" ||
		len(cfg.Identity) > 0 || cfg.Duplicates != nil {
		return nil, errors.New("legacy: sql: a people source takes no writeBack, value formats or record rules")
	}
	s, err := newSQLSource(cfg, baseDir, personLayout)
	if err != nil {
		return nil, err
	}
	return &PeopleSQLSource{db: s}, nil
}

// Name is "sql:" and the driver.
func (s *PeopleSQLSource) Name() string { return s.db.Name() }

// Read runs the query and validates every row as a person.
func (s *PeopleSQLSource) Read(ctx context.Context, emit func(Person) error, reject func(Reject) error) (Stats, error) {
	return stream(s.Name(), emit, reject, func(c *counter[Person]) error {
		return readSQL(ctx, s.db, c, newPersonChecker(s.Name()).checkPerson)
	})
}
