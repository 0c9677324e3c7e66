package legacy

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx"
	_ "modernc.org/sqlite"             // driver "sqlite"
)

// KindSQL is the tenant config kind of the SQL source and sink.
const KindSQL = "sql"

func init() {
	factory := func(cfg json.RawMessage, baseDir string) (*SQLSource, error) {
		var c SQLConfig
		if err := decodeStrict(KindSQL, cfg, &c); err != nil {
			return nil, err
		}
		return NewSQLSource(c, baseDir)
	}
	RegisterSource(KindSQL, "legacy-sql.schema.json", func(cfg json.RawMessage, baseDir string) (DebtorSource, error) {
		s, err := factory(cfg, baseDir)
		if err != nil {
			return nil, err
		}
		if s.cfg.Query == "" {
			return nil, errors.New("legacy: sql: query is required to read debtors")
		}
		return s, nil
	})
	RegisterSink(KindSQL, "legacy-sql.schema.json", func(cfg json.RawMessage, baseDir string) (DebtorSink, error) {
		s, err := factory(cfg, baseDir)
		if err != nil {
			return nil, err
		}
		if s.cfg.WriteBack == "" {
			return nil, errors.New("legacy: sql: writeBack is required to write statuses")
		}
		return s, nil
	})
}

// SQLConfig configures a database of the tributi back office; it mirrors
// legacy-sql.schema.json. The same config reads debtors (Query) and writes statuses
// back (WriteBack).
type SQLConfig struct {
	// Driver is postgres, mysql (also MariaDB) or sqlite.
	Driver string `json:"driver"`
	// DSN is a secret reference (env:NAME or file:path) holding the connection string.
	DSN string `json:"dsn"`
	// Query selects the debtors; :name parameters take their values from Params. It
	// must be one SELECT (or WITH … SELECT) and runs in a read-only transaction: a
	// query that would write is refused when the config is loaded.
	Query  string         `json:"query,omitempty"`
	Params map[string]any `json:"params,omitempty"`
	// KeyColumn, a unique column of Query's result, turns on keyset pagination: pages of
	// PageSize rows ordered by it, each one starting after the last key seen, so that a
	// large table is never read in one long-lived statement.
	KeyColumn string `json:"keyColumn,omitempty"`
	PageSize  int    `json:"pageSize,omitempty"` // default 1000
	// KeyColumns identify a row in the database (default: KeyColumn). Their values,
	// as col=value, go into every reject and are the record's key when it has no
	// externalId, so that a rejected row can be found with a WHERE.
	KeyColumns []string `json:"keyColumns,omitempty"`
	// StatementTimeout bounds each statement of a read (a Go duration, default 5m),
	// enforced by the server (PostgreSQL statement_timeout, MariaDB
	// max_statement_time, MySQL max_execution_time) and by the client.
	StatementTimeout string `json:"statementTimeout,omitempty"`
	// Columns maps canonical fields to result columns; unmapped fields are matched by
	// common Italian names as for CSV headers.
	Columns map[string]string `json:"columns,omitempty"`
	// WriteBack is the statement run for each StatusUpdate, with parameters :externalId,
	// :status, :iupd, :nav, :iuv, :paidDate, :amountPaidCents and :message. It finds
	// the row by :externalId, or, for records without an id, by :key_<column> for
	// every one of KeyColumns (the record's key).
	WriteBack string `json:"writeBack,omitempty"`
	ValueFormat
}

// SQLSource reads debtors from, and writes statuses to, a SQL database.
type SQLSource struct {
	cfg        SQLConfig
	baseDir    string
	driver     string
	dialect    string
	writeQuery string
	writeNames []string
	writeByKey bool // writeBack finds rows by :key_<column>, not :externalId
	timeout    time.Duration
	layout     recordLayout // the records the query returns: debtors, or people
}

var identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

var statusParams = map[string]func(StatusUpdate) any{
	"externalId":      func(u StatusUpdate) any { return u.ExternalID },
	"status":          func(u StatusUpdate) any { return u.Status },
	"iupd":            func(u StatusUpdate) any { return nullIfEmpty(u.IUPD) },
	"nav":             func(u StatusUpdate) any { return nullIfEmpty(u.NAV) },
	"iuv":             func(u StatusUpdate) any { return nullIfEmpty(u.IUV) },
	"paidDate":        func(u StatusUpdate) any { return nullIfEmpty(u.PaidDate) },
	"amountPaidCents": func(u StatusUpdate) any { return u.AmountPaidCents },
	"message":         func(u StatusUpdate) any { return nullIfEmpty(u.Message) },
}

// keyParamPrefix names a writeBack parameter that takes one of the
// keyColumns' values from the record's key: :key_anno, :key_codice.
const keyParamPrefix = "key_"

// parseKey splits a record key as the SQL source writes it
// ("col1=v1, col2=v2", the columns in keyColumns order) into its values.
// Each value runs up to ", <next column>=", so a value may itself hold
// commas.
func parseKey(key string, cols []string) (map[string]string, error) {
	out := make(map[string]string, len(cols))
	rest := key
	for i, c := range cols {
		if !strings.HasPrefix(rest, c+"=") {
			return nil, fmt.Errorf("legacy: sql: record key %q does not start with %s= (keyColumns changed since the campaign read it?)", key, c)
		}
		rest = rest[len(c)+1:]
		if i == len(cols)-1 {
			out[c] = rest
			break
		}
		sep := ", " + cols[i+1] + "="
		j := strings.Index(rest, sep)
		if j < 0 {
			return nil, fmt.Errorf("legacy: sql: record key %q has no %s", key, cols[i+1])
		}
		out[c], rest = rest[:j], rest[j+2:]
	}
	return out, nil
}

// WritesByKey implements KeyedSink: a writeBack that finds the row by the
// :key_<column> parameters writes records that have no id.
func (s *SQLSource) WritesByKey() bool { return s.writeByKey }

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// NewSQLSource checks cfg. The DSN is resolved, and the database opened, by each Read
// and WriteStatus.
func NewSQLSource(cfg SQLConfig, baseDir string) (*SQLSource, error) {
	return newSQLSource(cfg, baseDir, debtorLayout)
}

// newSQLSource checks cfg for a query that returns records of layout.
func newSQLSource(cfg SQLConfig, baseDir string, layout recordLayout) (*SQLSource, error) {
	s := &SQLSource{cfg: cfg, baseDir: baseDir, dialect: cfg.Driver, layout: layout}
	switch cfg.Driver {
	case "postgres":
		s.driver = "pgx"
	case "mysql":
		s.driver = "mysql"
	case "sqlite":
		s.driver = "sqlite"
	default:
		return nil, fmt.Errorf("legacy: sql: driver %q: use postgres, mysql or sqlite", cfg.Driver)
	}
	if !strings.HasPrefix(cfg.DSN, "env:") && !strings.HasPrefix(cfg.DSN, "file:") {
		return nil, errors.New("legacy: sql: dsn must be a secret reference (env:NAME or file:path), never the connection string itself")
	}
	if err := cfg.ValueFormat.check(KindSQL, true); err != nil {
		return nil, err
	}
	if cfg.PageSize < 0 {
		return nil, errors.New("legacy: sql: pageSize must not be negative")
	}
	if s.cfg.PageSize == 0 {
		s.cfg.PageSize = 1000
	}
	if cfg.KeyColumn != "" && !identRe.MatchString(cfg.KeyColumn) {
		return nil, fmt.Errorf("legacy: sql: keyColumn %q must be a plain column name", cfg.KeyColumn)
	}
	if len(s.cfg.KeyColumns) == 0 && cfg.KeyColumn != "" {
		s.cfg.KeyColumns = []string{cfg.KeyColumn}
	}
	s.timeout = 5 * time.Minute
	if cfg.StatementTimeout != "" {
		d, err := time.ParseDuration(cfg.StatementTimeout)
		if err != nil || d < time.Second {
			return nil, fmt.Errorf("legacy: sql: statementTimeout %q: write a duration of at least 1s, e.g. 30s or 5m", cfg.StatementTimeout)
		}
		s.timeout = d
	}
	for f := range cfg.Columns {
		if !containsStr(layout.fields, f) {
			return nil, fmt.Errorf("legacy: sql: columns: unknown field %q (fields: %s)", f, strings.Join(layout.fields, ", "))
		}
	}
	if cfg.Query != "" {
		_, names, err := BindNamed(cfg.Query, cfg.Driver)
		if err != nil {
			return nil, fmt.Errorf("legacy: sql: query: %w", err)
		}
		if err := CheckReadOnlyQuery(cfg.Query); err != nil {
			return nil, err
		}
		for _, n := range names {
			if _, ok := cfg.Params[n]; !ok {
				return nil, fmt.Errorf("legacy: sql: query uses :%s but params has no %q", n, n)
			}
		}
	}
	if cfg.WriteBack != "" {
		q, names, err := BindNamed(cfg.WriteBack, cfg.Driver)
		if err != nil {
			return nil, fmt.Errorf("legacy: sql: writeBack: %w", err)
		}
		var keyParams []string
		for _, c := range s.cfg.KeyColumns {
			keyParams = append(keyParams, keyParamPrefix+c)
		}
		for _, n := range names {
			if statusParams[n] == nil && !containsStr(keyParams, n) {
				avail := "externalId, status, iupd, nav, iuv, paidDate, amountPaidCents, message"
				if len(keyParams) > 0 {
					avail += ", " + strings.Join(keyParams, ", ")
				}
				return nil, fmt.Errorf("legacy: sql: writeBack uses :%s; available: %s", n, avail)
			}
		}
		byKey := len(keyParams) > 0
		for _, k := range keyParams {
			byKey = byKey && containsStr(names, k)
		}
		if !containsStr(names, "externalId") && !byKey {
			return nil, errors.New("legacy: sql: writeBack must find the record: use :externalId, or :key_<column> for every one of keyColumns (records without an id)")
		}
		s.writeByKey = byKey && !containsStr(names, "externalId")
		s.writeQuery, s.writeNames = q, names
	}
	// The DSN is resolved again by every Read; checking it here too refuses a
	// multi-statement DSN when the config is loaded, when the secret is at hand.
	if dsn, err := resolveSecret(cfg.DSN, baseDir); err == nil {
		if err := checkDSN(s.driver, dsn); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Name is "sql:" and the driver.
func (s *SQLSource) Name() string { return "sql:" + s.dialect }

// NamedParamError reports a malformed :name parameter.
type NamedParamError struct {
	Offset int
	Reason string
}

func (e *NamedParamError) Error() string {
	return fmt.Sprintf("parameter at byte %d: %s", e.Offset, e.Reason)
}

// BindNamed rewrites :name parameters into the driver's placeholders ($1, $2, ... for
// postgres; ? for mysql and sqlite) and returns the names in placeholder order. Quoted
// strings, quoted identifiers, comments and PostgreSQL :: casts are left alone.
func BindNamed(query, dialect string) (string, []string, error) {
	var b strings.Builder
	var names []string
	n := len(query)
	for i := 0; i < n; {
		c := query[i]
		switch {
		case c == '\'' || c == '"' || c == '`':
			j := i + 1
			for ; j < n; j++ {
				if query[j] == c {
					if j+1 < n && query[j+1] == c { // doubled quote escapes
						j++
						continue
					}
					break
				}
				if query[j] == '\\' && c == '\'' && dialect == "mysql" && j+1 < n {
					j++
				}
			}
			if j >= n {
				return "", nil, &NamedParamError{Offset: i, Reason: "unterminated quote"}
			}
			b.WriteString(query[i : j+1])
			i = j + 1
		case c == '-' && i+1 < n && query[i+1] == '-':
			j := strings.IndexByte(query[i:], '\n')
			if j < 0 {
				j = n - i
			}
			b.WriteString(query[i : i+j])
			i += j
		case c == '/' && i+1 < n && query[i+1] == '*':
			j := strings.Index(query[i+2:], "*/")
			if j < 0 {
				return "", nil, &NamedParamError{Offset: i, Reason: "unterminated comment"}
			}
			b.WriteString(query[i : i+2+j+2])
			i += 2 + j + 2
		case c == ':' && i+1 < n && query[i+1] == ':':
			b.WriteString("::")
			i += 2
		case c == ':' && i+1 < n && (query[i+1] == '_' || isLetter(query[i+1])):
			j := i + 1
			for j < n && (query[j] == '_' || isLetter(query[j]) || query[j] >= '0' && query[j] <= '9') {
				j++
			}
			names = append(names, query[i+1:j])
			if dialect == "postgres" {
				b.WriteString("$" + strconv.Itoa(len(names)))
			} else {
				b.WriteByte('?')
			}
			i = j
		case c == '?' && dialect != "postgres":
			return "", nil, &NamedParamError{Offset: i, Reason: "use :name parameters, not ?"}
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), names, nil
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func (s *SQLSource) open(ctx context.Context) (*sql.DB, error) {
	dsn, err := resolveSecret(s.cfg.DSN, s.baseDir)
	if err != nil {
		return nil, err
	}
	if err := checkDSN(s.driver, dsn); err != nil {
		return nil, err
	}
	if s.driver == "mysql" {
		// Rows matched, not rows changed: rewriting the same status must not look like
		// an unknown record.
		mc, err := mysql.ParseDSN(dsn)
		if err != nil {
			return nil, fmt.Errorf("legacy: sql: mysql dsn: %w", errors.New("cannot parse (value not shown)"))
		}
		mc.ClientFoundRows = true
		mc.MultiStatements = false
		dsn = mc.FormatDSN()
	}
	db, err := sql.Open(s.driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("legacy: sql: open %s: %w", s.dialect, err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, &SQLError{Dialect: s.dialect, Op: "connect", Err: err}
	}
	return db, nil
}

// SQLError wraps a database failure with what was being done.
type SQLError struct {
	Dialect, Op string
	Err         error
}

func (e *SQLError) Error() string {
	return "legacy: sql " + e.Dialect + ": " + e.Op + ": " + e.Err.Error()
}

// Unwrap returns the driver error.
func (e *SQLError) Unwrap() error { return e.Err }

func (s *SQLSource) args(names []string, extra map[string]any) []any {
	out := make([]any, len(names))
	for i, n := range names {
		if v, ok := extra[n]; ok {
			out[i] = v
		} else {
			out[i] = s.cfg.Params[n]
		}
	}
	return out
}

// Read runs Query (in keyset pages when KeyColumn is set) in one read-only
// transaction and validates every row. A query that tries to write fails there
// (defence in depth: NewSQLSource has refused anything but a SELECT already), and
// each statement is bounded by StatementTimeout.
func (s *SQLSource) Read(ctx context.Context, emit func(Debtor) error, reject func(Reject) error) (Stats, error) {
	chk := newChecker(s.cfg.ValueFormat, AmountDecimalPoint, DateISO)
	chk.source = s.Name()
	return stream(s.Name(), emit, reject, func(c *counter[Debtor]) error { return readSQL(ctx, s, c, chk.checkRow) })
}

// readSQL runs s's query, whatever its records, and turns every row into a record
// (or a reject) with record; records and rejects go to c, which counts them.
func readSQL[T any](ctx context.Context, s *SQLSource, c *counter[T], record func(row) (T, *Reject)) error {
	db, err := s.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	tx, err := s.beginReadOnly(ctx, db)
	if err != nil {
		return err
	}
	// Nothing is ever committed: a read-only transaction has nothing to keep.
	defer tx.Rollback() //nolint:errcheck // the read's outcome is what matters
	line := 0
	if s.cfg.KeyColumn == "" {
		q, names, _ := BindNamed(s.cfg.Query, s.dialect)
		_, err := readRows(ctx, s, tx, q, s.args(names, nil), c, record, &line)
		return err
	}
	const lastParam = "ponte_last_key"
	first := fmt.Sprintf("SELECT * FROM (%s) ponte_src ORDER BY %s LIMIT %d", s.cfg.Query, s.cfg.KeyColumn, s.cfg.PageSize)
	next := fmt.Sprintf("SELECT * FROM (%s) ponte_src WHERE %s > :%s ORDER BY %s LIMIT %d", s.cfg.Query, s.cfg.KeyColumn, lastParam, s.cfg.KeyColumn, s.cfg.PageSize)
	var last any
	for page := 0; ; page++ {
		text := first
		if page > 0 {
			text = next
		}
		q, names, err := BindNamed(text, s.dialect)
		if err != nil {
			return err
		}
		r, err := readRows(ctx, s, tx, q, s.args(names, map[string]any{lastParam: last}), c, record, &line)
		if err != nil {
			return err
		}
		if r.n < s.cfg.PageSize {
			return nil
		}
		last = r.lastKey
	}
}

// beginReadOnly opens the read's transaction: READ ONLY on PostgreSQL and
// MySQL/MariaDB (the drivers send BEGIN READ ONLY / START TRANSACTION READ ONLY),
// query_only on SQLite, with the server-side statement timeout set first.
func (s *SQLSource) beginReadOnly(ctx context.Context, db *sql.DB) (*sql.Tx, error) {
	// One connection: the session settings below must hold for the transaction.
	db.SetMaxOpenConns(1)
	ms := s.timeout.Milliseconds()
	switch s.dialect {
	case "mysql":
		// MariaDB counts seconds in max_statement_time; MySQL has max_execution_time
		// (milliseconds, SELECT only). Whichever the server knows.
		if _, err := db.ExecContext(ctx, fmt.Sprintf("SET SESSION max_statement_time = %d", max(ms/1000, 1))); err != nil {
			if _, err2 := db.ExecContext(ctx, fmt.Sprintf("SET SESSION max_execution_time = %d", ms)); err2 != nil {
				return nil, &SQLError{Dialect: s.dialect, Op: "set statement timeout", Err: err}
			}
		}
	case "sqlite":
		if _, err := db.ExecContext(ctx, "PRAGMA query_only = ON"); err != nil {
			return nil, &SQLError{Dialect: s.dialect, Op: "set query_only", Err: err}
		}
	}
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: s.dialect != "sqlite"})
	if err != nil {
		return nil, &SQLError{Dialect: s.dialect, Op: "begin read-only transaction", Err: err}
	}
	if s.dialect == "postgres" {
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("SET LOCAL statement_timeout = %d", ms)); err != nil {
			_ = tx.Rollback()
			return nil, &SQLError{Dialect: s.dialect, Op: "set statement timeout", Err: err}
		}
	}
	return tx, nil
}

type pageResult struct {
	n       int
	lastKey any
}

func readRows[T any](ctx context.Context, s *SQLSource, tx *sql.Tx, q string, args []any, c *counter[T], record func(row) (T, *Reject), line *int) (pageResult, error) {
	var res pageResult
	qctx, cancel := context.WithTimeout(ctx, s.timeout+10*time.Second) // the server's limit first; this one if it is ignored
	defer cancel()
	rows, err := tx.QueryContext(qctx, q, args...)
	if err != nil {
		return res, &SQLError{Dialect: s.dialect, Op: "query", Err: err}
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return res, &SQLError{Dialect: s.dialect, Op: "columns", Err: err}
	}
	idx, err := s.mapColumns(cols)
	if err != nil {
		return res, err
	}
	byName := map[string]int{}
	for i, col := range cols {
		byName[foldName(col)] = i
	}
	for _, name := range s.cfg.RecordRules.extraColumns() {
		if _, ok := byName[foldName(name)]; !ok {
			return res, fmt.Errorf("legacy: sql: identity or duplicates names the column %q but the query has no such column (columns: %s)", name, strings.Join(cols, ", "))
		}
	}
	keyIdx := -1
	for i, col := range cols {
		if strings.EqualFold(col, s.cfg.KeyColumn) {
			keyIdx = i
		}
	}
	if s.cfg.KeyColumn != "" && keyIdx < 0 {
		return res, fmt.Errorf("legacy: sql: keyColumn %q is not a column of the query (columns: %s)", s.cfg.KeyColumn, strings.Join(cols, ", "))
	}
	keyCols := make([]int, len(s.cfg.KeyColumns))
	for k, name := range s.cfg.KeyColumns {
		i, ok := byName[foldName(name)]
		if !ok {
			return res, fmt.Errorf("legacy: sql: keyColumns names %q but the query has no such column (columns: %s)", name, strings.Join(cols, ", "))
		}
		keyCols[k] = i
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	strs := make([]string, len(cols))
	amountCol, dateCol := -1, -1 // typed values are read in their canonical notation
	if i, ok := idx[FieldAmount]; ok {
		amountCol = i
	}
	if i, ok := idx[FieldDueDate]; ok {
		dateCol = i
	}
	var key strings.Builder
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return res, &SQLError{Dialect: s.dialect, Op: "scan", Err: err}
		}
		*line++
		res.n++
		var ty typed
		for i, v := range vals {
			str, isNum, isDate := rawString(v)
			strs[i] = strings.TrimSpace(str)
			if i == amountCol && isNum {
				ty.amountNumber = true
			}
			if i == dateCol && isDate {
				ty.dateISO = true
			}
		}
		key.Reset()
		for k, i := range keyCols {
			if k > 0 {
				key.WriteString(", ")
			}
			key.WriteString(s.cfg.KeyColumns[k] + "=" + strs[i])
		}
		if keyIdx >= 0 {
			res.lastKey = vals[keyIdx]
			if b, ok := res.lastKey.([]byte); ok {
				res.lastKey = string(b)
			}
		}
		d, rj := record(row{line: *line, raw: strs, key: key.String(), ty: ty,
			get: func(f string) string {
				if i, ok := idx[f]; ok && i >= 0 {
					return strs[i]
				}
				return ""
			},
			col: func(name string) (string, bool) {
				i, ok := byName[foldName(name)]
				if !ok {
					return "", false
				}
				return strs[i], true
			}})
		if err := c.put(d, rj); err != nil {
			return res, err
		}
	}
	if err := rows.Err(); err != nil {
		return res, &SQLError{Dialect: s.dialect, Op: "read rows", Err: err}
	}
	return res, nil
}

func (s *SQLSource) mapColumns(cols []string) (map[string]int, error) {
	byName := map[string]int{}
	for i, c := range cols {
		byName[foldName(c)] = i
	}
	mapped := make(map[string]Column, len(s.cfg.Columns))
	for f, name := range s.cfg.Columns {
		mapped[f] = Column{Name: name}
	}
	idx, miss := s.layout.columns(byName, mapped)
	if miss != nil {
		return nil, fmt.Errorf("legacy: sql: %s (columns: %s)", miss.reason("the query", "alias a column AS"), strings.Join(cols, ", "))
	}
	return idx, nil
}

// ErrUnknownRecord is wrapped in a WriteError for an update that matched no row.
var ErrUnknownRecord = errors.New("no record with this externalId")

// WriteStatus runs WriteBack for every update in one transaction: either all are
// written or none. An update that matches no row rolls the batch back and is reported
// in a *WriteError wrapping ErrUnknownRecord.
func (s *SQLSource) WriteStatus(ctx context.Context, updates []StatusUpdate) error {
	if s.writeQuery == "" {
		return errors.New("legacy: sql: no writeBack statement configured")
	}
	for _, u := range updates {
		if err := u.Validate(); err != nil {
			return err
		}
	}
	if len(updates) == 0 {
		return nil
	}
	db, err := s.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return &SQLError{Dialect: s.dialect, Op: "begin", Err: err}
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	stmt, err := tx.PrepareContext(ctx, s.writeQuery)
	if err != nil {
		return &SQLError{Dialect: s.dialect, Op: "prepare writeBack", Err: err}
	}
	defer stmt.Close()
	failed := map[string]error{}
	for _, u := range updates {
		args := make([]any, len(s.writeNames))
		var keyVals map[string]string
		for i, n := range s.writeNames {
			if f := statusParams[n]; f != nil {
				args[i] = f(u)
				continue
			}
			if keyVals == nil {
				if keyVals, err = parseKey(u.Key, s.cfg.KeyColumns); err != nil {
					failed[u.ID()] = err
					break
				}
			}
			args[i] = keyVals[strings.TrimPrefix(n, keyParamPrefix)]
		}
		if failed[u.ID()] != nil {
			continue
		}
		res, err := stmt.ExecContext(ctx, args...)
		if err != nil {
			return &SQLError{Dialect: s.dialect, Op: "writeBack " + u.ID(), Err: err}
		}
		if n, err := res.RowsAffected(); err == nil && n == 0 {
			failed[u.ID()] = ErrUnknownRecord
		}
	}
	if len(failed) > 0 {
		return &WriteError{Sink: s.Name(), Failed: failed}
	}
	if err := tx.Commit(); err != nil {
		return &SQLError{Dialect: s.dialect, Op: "commit", Err: err}
	}
	return nil
}
