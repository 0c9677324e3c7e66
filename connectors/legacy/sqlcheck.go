package legacy

import (
	"fmt"
	"strings"

	"github.com/go-sql-driver/mysql"
)

// QueryError says why a source query was refused at config load, and how to fix it.
type QueryError struct {
	Rule   string // statements, select, write
	Reason string
}

func (e *QueryError) Error() string {
	return "legacy: sql: query refused (" + e.Rule + "): " + e.Reason +
		". Ponte only reads the source database (tributi, anagrafe): write one SELECT (or WITH … SELECT), and give Ponte a database user with SELECT rights only"
}

// writeWords are the words that make a statement write, lock or run code; a query
// holding one of them outside quotes and comments is refused. The read-only
// transaction would stop most of them anyway; refusing them at load says so before a
// campaign starts, and covers what a read-only transaction does not (MySQL DDL
// commits implicitly, SELECT … INTO OUTFILE writes a file).
var writeWords = map[string]bool{
	"INSERT": true, "UPDATE": true, "DELETE": true, "MERGE": true, "UPSERT": true, "TRUNCATE": true,
	"DROP": true, "ALTER": true, "CREATE": true, "GRANT": true, "REVOKE": true, "COPY": true,
	"CALL": true, "EXEC": true, "EXECUTE": true, "DO": true, "LOCK": true, "INTO": true, "RETURNING": true,
	"SET": true, "HANDLER": true, "LOAD": true, "VACUUM": true, "ATTACH": true, "DETACH": true, "PRAGMA": true,
}

// CheckReadOnlyQuery refuses a source query that is not a single SELECT or WITH …
// SELECT: more than one statement, another first keyword, or a word that writes
// (INSERT, UPDATE, DELETE, RETURNING, INTO, DROP, …) anywhere outside quotes and
// comments, as in WITH d AS (DELETE … RETURNING *) SELECT * FROM d.
func CheckReadOnlyQuery(q string) error {
	words, semis, err := sqlWords(q)
	if err != nil {
		return &QueryError{Rule: "syntax", Reason: err.Error()}
	}
	if semis > 0 {
		return &QueryError{Rule: "statements", Reason: "the query holds more than one statement (a \";\" outside quotes): remove the \";\" and everything after it"}
	}
	if len(words) == 0 {
		return &QueryError{Rule: "select", Reason: "the query is empty"}
	}
	if first := words[0]; first != "SELECT" && first != "WITH" {
		return &QueryError{Rule: "select", Reason: fmt.Sprintf("the query starts with %s, not SELECT or WITH", first)}
	}
	for _, w := range words {
		if writeWords[w] {
			return &QueryError{Rule: "write", Reason: fmt.Sprintf("the query contains %s, which writes to or locks the database", w)}
		}
	}
	return nil
}

// sqlWords returns the upper-cased bare words of q, skipping quoted strings, quoted
// identifiers and comments, and counts the ";" that separate statements (a final ";"
// followed only by blanks does not count).
func sqlWords(q string) (words []string, semis int, err error) {
	n := len(q)
	for i := 0; i < n; {
		c := q[i]
		switch {
		case c == '\'' || c == '"' || c == '`':
			j := i + 1
			for ; j < n; j++ {
				if q[j] == '\\' && c == '\'' {
					j++
					continue
				}
				if q[j] == c {
					if j+1 < n && q[j+1] == c {
						j++
						continue
					}
					break
				}
			}
			if j >= n {
				return nil, 0, fmt.Errorf("unterminated quote at byte %d", i)
			}
			i = j + 1
		case c == '$' && i+1 < n && (q[i+1] == '$' || isLetter(q[i+1])):
			// PostgreSQL dollar quoting: $$…$$ or $tag$…$tag$
			k := strings.IndexByte(q[i+1:], '$')
			if k < 0 {
				i++
				continue
			}
			tag := q[i : i+1+k+1]
			if strings.Trim(tag[1:len(tag)-1], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789") != "" {
				i++
				continue
			}
			end := strings.Index(q[i+len(tag):], tag)
			if end < 0 {
				return nil, 0, fmt.Errorf("unterminated dollar quote at byte %d", i)
			}
			i += len(tag) + end + len(tag)
		case c == '-' && i+1 < n && q[i+1] == '-', c == '#':
			j := strings.IndexByte(q[i:], '\n')
			if j < 0 {
				j = n - i
			}
			i += j
		case c == '/' && i+1 < n && q[i+1] == '*':
			j := strings.Index(q[i+2:], "*/")
			if j < 0 {
				return nil, 0, fmt.Errorf("unterminated comment at byte %d", i)
			}
			// MySQL runs /*! … */ comments as code: read inside them.
			if i+2 < n && q[i+2] == '!' {
				inner, s2, err := sqlWords(q[i+3 : i+2+j])
				if err != nil {
					return nil, 0, err
				}
				words, semis = append(words, inner...), semis+s2
			}
			i += 2 + j + 2
		case c == ';':
			if strings.TrimSpace(q[i+1:]) != "" {
				semis++
			}
			i++
		case isLetter(c) || c == '_':
			j := i
			for j < n && (isLetter(q[j]) || q[j] == '_' || q[j] >= '0' && q[j] <= '9') {
				j++
			}
			words = append(words, strings.ToUpper(q[i:j]))
			i = j
		default:
			i++
		}
	}
	return words, semis, nil
}

// checkDSN refuses connection strings that let one call run several statements:
// MySQL's multiStatements=true, PostgreSQL's simple protocol (pgx runs a
// semicolon-separated text as it is). The value of the DSN is never shown.
func checkDSN(driver, dsn string) error {
	switch driver {
	case "mysql":
		mc, err := mysql.ParseDSN(dsn)
		if err != nil {
			return fmt.Errorf("legacy: sql: mysql dsn: cannot parse (value not shown)")
		}
		if mc.MultiStatements {
			return &QueryError{Rule: "dsn", Reason: "the DSN enables multiStatements, which lets one query run several statements (\"; DROP TABLE …\"): remove multiStatements=true from the DSN"}
		}
	case "pgx":
		lower := strings.ToLower(dsn)
		if strings.Contains(lower, "simple_protocol") || strings.Contains(lower, "prefer_simple_protocol=true") {
			return &QueryError{Rule: "dsn", Reason: "the DSN selects the simple query protocol, which runs several statements in one call: remove default_query_exec_mode / prefer_simple_protocol from the DSN"}
		}
	}
	return nil
}
