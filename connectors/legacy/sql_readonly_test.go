package legacy

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestCheckReadOnlyQuery(t *testing.T) {
	tests := []struct{ q, rule string }{
		{"SELECT * FROM debiti WHERE anno = :anno", ""},
		{"select id, 'DELETE me; now' AS x FROM t -- DROP TABLE t\n", ""},
		{"WITH a AS (SELECT * FROM t) SELECT * FROM a;", ""},
		{"SELECT $$ DELETE $$ AS x", ""},
		{"SELECT \"update\" FROM t", ""}, // a quoted identifier is a name
		{"DELETE FROM debiti RETURNING *", "select"},
		{"WITH d AS (DELETE FROM debiti RETURNING *) SELECT * FROM d", "write"},
		{"UPDATE debiti SET stato = 'x' RETURNING *", "select"},
		{"SELECT * FROM debiti; DROP TABLE debiti", "statements"},
		{"SELECT * INTO copia FROM debiti", "write"},
		{"SELECT * FROM debiti FOR UPDATE", "write"},
		{"SELECT * FROM t INTO OUTFILE '/tmp/x'", "write"},
		{"SELECT 1 /*! ; DROP TABLE t */", "statements"},
		{"INSERT INTO t SELECT * FROM u", "select"},
		{"", "select"},
		{"SELECT 'open", "syntax"},
	}
	for _, tt := range tests {
		err := CheckReadOnlyQuery(tt.q)
		var qe *QueryError
		got := ""
		if errors.As(err, &qe) {
			got = qe.Rule
			if !strings.Contains(err.Error(), "SELECT rights only") {
				t.Errorf("%q: error does not say how to fix: %v", tt.q, err)
			}
		} else if err != nil {
			t.Fatalf("%q: %T %v", tt.q, err, err)
		}
		if got != tt.rule {
			t.Errorf("CheckReadOnlyQuery(%q) = %q (%v), want %q", tt.q, got, err, tt.rule)
		}
	}
}

func FuzzCheckReadOnlyQuery(f *testing.F) {
	for _, s := range []string{"SELECT 1", "WITH d AS (DELETE FROM t RETURNING *) SELECT 1", "SELECT ';'; DROP", "SELECT $a$ x $a$", "/*! x */", "'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		if CheckReadOnlyQuery(q) != nil {
			return
		}
		// Whatever passes starts with SELECT or WITH and has no bare write word.
		words, semis, err := sqlWords(q)
		if err != nil || semis != 0 || len(words) == 0 || words[0] != "SELECT" && words[0] != "WITH" {
			t.Fatalf("%q accepted: words %v semis %d err %v", q, words, semis, err)
		}
		for _, w := range words {
			if writeWords[w] {
				t.Fatalf("%q accepted with %s", q, w)
			}
		}
	})
}

// TestSQLReadOnly runs on every real database: the writing queries the issue found
// are refused at load, a multi-statement DSN too, and a query that tries to write
// anyway (past the load check, as a bug in it would let one) fails inside the
// read-only transaction without changing a row.
func TestSQLReadOnly(t *testing.T) {
	for name, tg := range sqlTargets() {
		t.Run(name, func(t *testing.T) {
			dsn, db := tg.db(t)
			table := fmt.Sprintf("ponte_ro_%d", time.Now().UnixNano())
			seedSQL(t, db, tg.driver, table, 20)
			count := func() int {
				t.Helper()
				var n int
				if err := db.QueryRow("SELECT COUNT(*) FROM " + table + " WHERE stato IS NULL").Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}
			before := count()
			env := "PONTE_TEST_RO_" + strings.ToUpper(name)
			t.Setenv(env, dsn)
			cfg := func(q string) json.RawMessage {
				b, err := json.Marshal(map[string]any{"driver": tg.driver, "dsn": "env:" + env, "query": q, "keyColumns": []string{"id", "anno"}})
				if err != nil {
					t.Fatal(err)
				}
				return b
			}
			for _, q := range []string{
				"DELETE FROM " + table + " RETURNING *",
				"WITH d AS (DELETE FROM " + table + " RETURNING *) SELECT * FROM d",
				"UPDATE " + table + " SET stato = 'x' RETURNING *",
				"SELECT * FROM " + table + "; DROP TABLE " + table,
			} {
				var qe *QueryError
				if _, err := OpenSource(KindSQL, cfg(q), ""); !errors.As(err, &qe) {
					t.Errorf("%s: accepted at load (err %v)", q, err)
				}
			}
			if tg.driver == "mysql" {
				t.Setenv(env, dsn+"?multiStatements=true")
				var qe *QueryError
				if _, err := OpenSource(KindSQL, cfg("SELECT * FROM "+table), ""); !errors.As(err, &qe) || qe.Rule != "dsn" {
					t.Errorf("multiStatements DSN: %v", err)
				}
				t.Setenv(env, dsn)
			}

			// Past the load check, the transaction refuses the write.
			src, err := OpenSource(KindSQL, cfg("SELECT * FROM "+table), "")
			if err != nil {
				t.Fatal(err)
			}
			s := src.(*SQLSource)
			writes := map[string]string{
				"postgres": "WITH d AS (UPDATE " + table + " SET stato = 'x' RETURNING *) SELECT * FROM d",
				"mysql":    "DELETE FROM " + table + " RETURNING *",
				"sqlite":   "DELETE FROM " + table + " RETURNING *",
			}
			s.cfg.Query = writes[tg.driver]
			c := readAll(t, s)
			if c.err == nil || c.stats.Read != 0 {
				t.Errorf("write inside the read-only transaction: stats %+v err %v", c.stats, c.err)
			}
			if after := count(); after != before || before != 70 {
				t.Errorf("rows without a status: %d before, %d after", before, after)
			}

			// Rejects carry the key columns, so the row can be found with a WHERE.
			s.cfg.Query = "SELECT * FROM " + table + " WHERE anno = 2026"
			c = readAll(t, s)
			if c.err != nil || len(c.rejects) == 0 {
				t.Fatalf("read: %v %+v", c.err, c.stats)
			}
			for _, r := range c.rejects {
				var id, anno int
				if _, err := fmt.Sscanf(r.Key, "id=%d, anno=%d", &id, &anno); err != nil || anno != 2026 {
					t.Errorf("reject key %q: %v", r.Key, err)
					continue
				}
				var cf string
				if err := db.QueryRow(fmt.Sprintf("SELECT codice_fiscale FROM %s WHERE id = %d", table, id)).Scan(&cf); err != nil {
					t.Errorf("reject %q not found: %v", r.Key, err)
				}
			}
		})
	}
}

func TestSQLStatementTimeout(t *testing.T) {
	// A debtor row that takes long to compute: columns are mapped, then the server
	// stops the statement.
	const cols = "SELECT 'P1' AS id_pratica, 'RSSMRA85T10A562S' AS codice_fiscale, 'Rossi' AS cognome, 'Mario' AS nome, 1 AS importo, '2026-05-31' AS scadenza, "
	sleeps := map[string]string{"postgres": cols + "pg_sleep(30) AS x",
		"mysql": cols + "COUNT(*) AS x FROM information_schema.columns a, information_schema.columns b, information_schema.columns c"}
	for name, tg := range sqlTargets() {
		q, ok := sleeps[tg.driver]
		if !ok {
			continue
		}
		t.Run(name, func(t *testing.T) {
			dsn := tg.open(t)
			env := "PONTE_TEST_TO_" + strings.ToUpper(name)
			t.Setenv(env, dsn)
			b, err := json.Marshal(map[string]any{"driver": tg.driver, "dsn": "env:" + env, "query": q, "statementTimeout": "1s"})
			if err != nil {
				t.Fatal(err)
			}
			src, err := OpenSource(KindSQL, b, "")
			if err != nil {
				t.Fatal(err)
			}
			c := readAll(t, src)
			// The server stops the statement: an error, never a row. (No timing is
			// asserted: a loaded machine may take longer to say so.)
			if c.err == nil || c.stats.Read != 0 {
				t.Fatalf("stats %+v err %v", c.stats, c.err)
			}
			if msg := strings.ToLower(c.err.Error()); !strings.Contains(msg, "timeout") && !strings.Contains(msg, "max_statement_time") && !strings.Contains(msg, "interrupted") && !strings.Contains(msg, "cancel") {
				t.Errorf("err = %v", c.err)
			}
		})
	}
}
