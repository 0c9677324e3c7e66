package legacy

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ponte-pa/ponte/internal/store/storetest"
)

type sqlTarget struct {
	driver, sqlDriver string
	// open returns the DSN of a database for this test alone: a SQLite
	// file, a PostgreSQL schema (storetest), the MariaDB test database. A
	// server that cannot be reached skips the test, or fails it when
	// CI=true (storetest.Unavailable).
	open func(t *testing.T) string
}

// db opens the target's database; it is closed when the test ends, after
// the test's own cleanups (dropping its tables) have run.
func (tg sqlTarget) db(t *testing.T) (dsn string, db *sql.DB) {
	t.Helper()
	dsn = tg.open(t)
	db, err := sql.Open(tg.sqlDriver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	return dsn, db
}

func sqlTargets() map[string]sqlTarget {
	return map[string]sqlTarget{
		"sqlite": {"sqlite", "sqlite", func(t *testing.T) string { return "file:" + filepath.Join(t.TempDir(), "tributi.db") }},
		"postgres": {"postgres", "pgx", func(t *testing.T) string {
			_, schema := storetest.PostgresSchema(t)
			return storetest.SchemaDSN(schema)
		}},
		"mysql": {"mysql", "mysql", func(t *testing.T) string {
			dsn := os.Getenv("PONTE_TEST_MYSQL_DSN")
			if dsn == "" {
				dsn = "root@tcp(127.0.0.1:3306)/test"
			}
			db, err := sql.Open("mysql", dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := db.Close(); err != nil {
					t.Error(err)
				}
			}()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := db.PingContext(ctx); err != nil {
				storetest.Unavailable(t, "MariaDB/MySQL not reachable: %v; start it on 127.0.0.1:3306 (db test, root, no password; .ci/run does) or set PONTE_TEST_MYSQL_DSN", err)
			}
			return dsn
		}},
	}
}

// seedRows are the debtors every SQL test table holds: n rows for year 2026 (every 10th
// with a bad fiscal code, every 25th with a zero amount) plus 50 rows for 2025.
func seedSQL(t *testing.T, db *sql.DB, dialect, table string, n int) (valid int) {
	t.Helper()
	ph := func(i int) string {
		if dialect == "postgres" {
			return fmt.Sprintf("$%d", i)
		}
		return "?"
	}
	create := fmt.Sprintf(`CREATE TABLE %s (id INTEGER PRIMARY KEY, id_pratica VARCHAR(40) NOT NULL UNIQUE, anno INTEGER NOT NULL,
		codice_fiscale VARCHAR(20), cognome VARCHAR(80), nome VARCHAR(80), email VARCHAR(120), importo DECIMAL(12,2), scadenza DATE,
		causale VARCHAR(200), stato VARCHAR(20), nav VARCHAR(20), data_pagamento DATE)`, table)
	if _, err := db.Exec(create); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := db.Exec("DROP TABLE " + table); err != nil {
			t.Errorf("dropping %s: %v", table, err)
		}
	})
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	ins, err := tx.Prepare(fmt.Sprintf("INSERT INTO %s (id, id_pratica, anno, codice_fiscale, cognome, nome, email, importo, scadenza, causale) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
		table, ph(1), ph(2), ph(3), ph(4), ph(5), ph(6), ph(7), ph(8), ph(9), ph(10)))
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n+50; i++ {
		anno, cf, amt := 2026, "RSSMRA85T10A562S", fmt.Sprintf("%d.%02d", 1+i%900, i%100)
		if i > n {
			anno = 2025
		}
		if i%10 == 0 {
			cf = "RSSMRA85T10A562X"
		} else if i%25 == 0 {
			amt = "0"
		} else if anno == 2026 {
			valid++
		}
		// Ids are inserted out of order so that ORDER BY is really exercised.
		id := (i*7919)%(n+50) + 1
		if _, err := ins.Exec(id, fmt.Sprintf("P-%06d", id), anno, cf, "Rossi", "Mario", "m@example.it", amt, "2026-05-31", "TARI 2026"); err != nil {
			t.Fatal(err)
		}
	}
	if err := ins.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	// Count what the test expects from the database itself, not from the loop above:
	// ids were permuted, so anno and validity do not follow i.
	var got int
	q := fmt.Sprintf("SELECT COUNT(*) FROM %s WHERE anno = 2026 AND codice_fiscale = 'RSSMRA85T10A562S' AND importo > 0", table)
	if err := db.QueryRow(q).Scan(&got); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestSQLSourceAndSink(t *testing.T) {
	for name, tg := range sqlTargets() {
		t.Run(name, func(t *testing.T) {
			dsn, db := tg.db(t)
			table := fmt.Sprintf("ponte_legacy_%d", time.Now().UnixNano())
			const n = 3000
			valid := seedSQL(t, db, tg.driver, table, n)
			env := "PONTE_TEST_DSN_" + strings.ToUpper(name)
			t.Setenv(env, dsn)
			cfg := fmt.Sprintf(`{"driver":%q,"dsn":"env:%s","query":"SELECT id, id_pratica, codice_fiscale, cognome, nome, email, importo, scadenza, causale FROM %s WHERE anno = :anno AND causale <> ':not_a_param'",
				"params":{"anno":2026},"keyColumn":"id","pageSize":97,
				"writeBack":"UPDATE %s SET stato = :status, nav = :nav, data_pagamento = :paidDate WHERE id_pratica = :externalId"}`, tg.driver, env, table, table)
			src, err := OpenSource(KindSQL, json.RawMessage(cfg), "")
			if err != nil {
				t.Fatal(err)
			}
			c := readAll(t, src)
			if c.err != nil {
				t.Fatal(c.err)
			}
			if c.stats.Read != n || c.stats.Valid != valid || valid < 2000 {
				t.Fatalf("stats %+v, want read %d valid %d", c.stats, n, valid)
			}
			for i := 1; i < len(c.debtors); i++ {
				if c.debtors[i-1].ExternalID >= c.debtors[i].ExternalID {
					t.Fatalf("out of order at %d: %s then %s", i, c.debtors[i-1].ExternalID, c.debtors[i].ExternalID)
				}
			}
			d := c.debtors[0]
			if d.DueDate != "2026-05-31" || d.AmountCents <= 0 || d.FiscalCode != "RSSMRA85T10A562S" || d.Description != "TARI 2026" {
				t.Errorf("first debtor %+v", d)
			}
			rules := map[string]int{}
			for _, r := range c.rejects {
				rules[r.Rule]++
			}
			if rules["checksum"] == 0 || rules["positive"]+rules["checksum"] != len(c.rejects) {
				t.Errorf("reject rules %v", rules)
			}

			sink, err := OpenSink(KindSQL, json.RawMessage(cfg), "")
			if err != nil {
				t.Fatal(err)
			}
			ups := []StatusUpdate{
				{ExternalID: c.debtors[0].ExternalID, Status: StatusPaid, NAV: "301000000000000017", PaidDate: "2026-06-01"},
				{ExternalID: c.debtors[1].ExternalID, Status: StatusNotified},
			}
			if err := sink.WriteStatus(context.Background(), ups); err != nil {
				t.Fatal(err)
			}
			if err := sink.WriteStatus(context.Background(), ups); err != nil { // rewriting is harmless
				t.Fatalf("rewrite: %v", err)
			}
			// A batch with an unknown id is rolled back as a whole.
			err = sink.WriteStatus(context.Background(), []StatusUpdate{{ExternalID: c.debtors[2].ExternalID, Status: StatusPaid}, {ExternalID: "NOPE", Status: StatusPaid}})
			var we *WriteError
			if !errors.As(err, &we) || !errors.Is(we.Failed["NOPE"], ErrUnknownRecord) || len(we.Failed) != 1 {
				t.Fatalf("unknown id: %v", err)
			}
			rows, err := db.Query(fmt.Sprintf("SELECT id_pratica, stato, COALESCE(nav,''), data_pagamento FROM %s WHERE stato IS NOT NULL ORDER BY id_pratica", table))
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var got []string
			for rows.Next() {
				var id, st, nav string
				var paid any
				if err := rows.Scan(&id, &st, &nav, &paid); err != nil {
					t.Fatal(err)
				}
				p, _, _ := rawString(paid)
				got = append(got, id+" "+st+" "+nav+" "+p[:min(len(p), 10)])
			}
			want := []string{c.debtors[0].ExternalID + " paid 301000000000000017 2026-06-01", c.debtors[1].ExternalID + " notified  "}
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("written back:\n%q\nwant\n%q", got, want)
			}
		})
	}
}

func TestSQLWithoutKeyset(t *testing.T) {
	dsn := "file:" + filepath.Join(t.TempDir(), "t.db")
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	seedSQL(t, db, "sqlite", "debiti", 30)
	t.Setenv("PONTE_T_DSN", dsn)
	src, err := OpenSource(KindSQL, json.RawMessage(`{"driver":"sqlite","dsn":"env:PONTE_T_DSN","query":"SELECT id_pratica AS pratica, codice_fiscale AS cf, cognome, nome, importo AS totale, scadenza FROM debiti"}`), "")
	if err != nil {
		t.Fatal(err)
	}
	c := readAll(t, src)
	if c.err != nil || c.stats.Read != 80 {
		t.Fatalf("%+v %v", c.stats, c.err)
	}
	if _, err := OpenSink(KindSQL, json.RawMessage(`{"driver":"sqlite","dsn":"env:PONTE_T_DSN","query":"SELECT 1"}`), ""); err == nil || !strings.Contains(err.Error(), "writeBack") {
		t.Errorf("sink without writeBack: %v", err)
	}
	t.Setenv("PONTE_T_DSN", "")
	if _, err := src.Read(context.Background(), func(Debtor) error { return nil }, func(Reject) error { return nil }); !errors.As(err, new(*SecretError)) {
		t.Errorf("unset dsn: %v", err)
	}
}

func TestSQLConfigErrors(t *testing.T) {
	for _, tc := range []struct{ cfg, want string }{
		{`{"driver":"oracle","dsn":"env:X","query":"SELECT 1"}`, "enum"},
		{`{"driver":"sqlite","dsn":"file.db","query":"SELECT 1"}`, "secret reference"},
		{`{"driver":"sqlite","dsn":"env:X","query":"SELECT * FROM t WHERE a = :a"}`, "params has no"},
		{`{"driver":"sqlite","dsn":"env:X","query":"SELECT * FROM t WHERE a = ?"}`, "not ?"},
		{`{"driver":"sqlite","dsn":"env:X","query":"SELECT 1","writeBack":"UPDATE t SET s = :status"}`, "externalId"},
		{`{"driver":"sqlite","dsn":"env:X","query":"SELECT 1","writeBack":"UPDATE t SET s = :bogus WHERE id = :externalId"}`, "bogus"},
		{`{"driver":"sqlite","dsn":"env:X","query":"SELECT 1","keyColumn":"id; DROP"}`, "pattern"},
	} {
		_, err := OpenSource(KindSQL, json.RawMessage(tc.cfg), "")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

func TestBindNamed(t *testing.T) {
	for _, tc := range []struct {
		q, dialect, want string
		names            []string
	}{
		{"SELECT * FROM t WHERE a = :anno AND b = :b1", "postgres", "SELECT * FROM t WHERE a = $1 AND b = $2", []string{"anno", "b1"}},
		{"SELECT * FROM t WHERE a = :anno AND b = :anno", "mysql", "SELECT * FROM t WHERE a = ? AND b = ?", []string{"anno", "anno"}},
		{"SELECT x::date, ':no', \":no\" FROM t -- :no\nWHERE a=:a /* :no */", "postgres", "SELECT x::date, ':no', \":no\" FROM t -- :no\nWHERE a=$1 /* :no */", []string{"a"}},
		{"SELECT 'it''s :no' WHERE a = :a", "sqlite", "SELECT 'it''s :no' WHERE a = ?", []string{"a"}},
		{`SELECT 'x\' :no' WHERE a = :a`, "mysql", `SELECT 'x\' :no' WHERE a = ?`, []string{"a"}},
		{"SELECT :1, : a", "sqlite", "SELECT :1, : a", nil},
	} {
		got, names, err := BindNamed(tc.q, tc.dialect)
		if err != nil || got != tc.want || strings.Join(names, ",") != strings.Join(tc.names, ",") {
			t.Errorf("BindNamed(%q, %s) = %q %v %v", tc.q, tc.dialect, got, names, err)
		}
	}
	for _, q := range []string{"SELECT 'open", "SELECT /* open", "SELECT ?"} {
		var ne *NamedParamError
		if _, _, err := BindNamed(q, "sqlite"); !errors.As(err, &ne) {
			t.Errorf("%q: %v", q, err)
		}
	}
}

func FuzzBindNamed(f *testing.F) {
	for _, s := range []string{"SELECT :a", "x::y :b 'c' \"d\" -- e\n/* f */", "'", "/*", ":", "a = :_x1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		for _, d := range []string{"postgres", "mysql", "sqlite"} {
			out, names, err := BindNamed(q, d)
			if err != nil {
				continue
			}
			for _, n := range names {
				if !identRe.MatchString(n) {
					t.Fatalf("bad name %q from %q", n, q)
				}
			}
			if d != "postgres" && strings.Count(out, "?") < len(names) {
				t.Fatalf("%q -> %q lost placeholders %v", q, out, names)
			}
		}
	})
}

// A table without a usable id: the records are keyed by two columns, and
// the write-back finds each row by them (:key_<column>), on every database.
func TestSQLWriteBackByKeyColumns(t *testing.T) {
	for name, tg := range sqlTargets() {
		t.Run(name, func(t *testing.T) {
			dsn, db := tg.db(t)
			table := fmt.Sprintf("ponte_bykey_%d", time.Now().UnixNano())
			t.Cleanup(func() {
				if _, err := db.Exec("DROP TABLE " + table); err != nil {
					t.Error(err)
				}
			})
			for _, q := range []string{
				fmt.Sprintf("CREATE TABLE %s (anno INTEGER, codice VARCHAR(40), codice_fiscale VARCHAR(16), cognome VARCHAR(40), nome VARCHAR(40), importo DECIMAL(10,2), scadenza VARCHAR(10), stato VARCHAR(20))", table),
				fmt.Sprintf("INSERT INTO %s VALUES (2026, 'A, 1', 'RSSMRA85T10A562S', 'Rossi', 'Mario', 10.00, '2026-05-31', NULL)", table),
				fmt.Sprintf("INSERT INTO %s VALUES (2026, 'B', 'RSSMRA85T10A562S', 'Rossi', 'Mario', 20.00, '2026-05-31', NULL)", table),
				fmt.Sprintf("INSERT INTO %s VALUES (2025, 'B', 'RSSMRA85T10A562S', 'Rossi', 'Mario', 30.00, '2026-05-31', NULL)", table),
			} {
				if _, err := db.Exec(q); err != nil {
					t.Fatal(err)
				}
			}
			env := "PONTE_TEST_DSN_BYKEY_" + strings.ToUpper(name)
			t.Setenv(env, dsn)
			cfg := fmt.Sprintf(`{"driver":%q,"dsn":"env:%s","query":"SELECT anno, codice, codice_fiscale, cognome, nome, importo, scadenza FROM %s",
				"keyColumns":["anno","codice"],
				"writeBack":"UPDATE %s SET stato = :status WHERE anno = :key_anno AND codice = :key_codice"}`, tg.driver, env, table, table)
			src, err := OpenSource(KindSQL, json.RawMessage(cfg), "")
			if err != nil {
				t.Fatal(err)
			}
			c := readAll(t, src)
			if c.err != nil || len(c.debtors) != 3 {
				t.Fatalf("read %d debtors: %v %+v", len(c.debtors), c.err, c.rejects)
			}
			sink, err := OpenSink(KindSQL, json.RawMessage(cfg), "")
			if err != nil {
				t.Fatal(err)
			}
			if ks, ok := sink.(KeyedSink); !ok || !ks.WritesByKey() {
				t.Fatal("the sink does not say it writes by key")
			}
			var ups []StatusUpdate
			for _, d := range c.debtors {
				if d.ExternalID != "" {
					t.Fatalf("a record has an id: %+v", d)
				}
				if d.AmountCents != 3000 { // all but the 2025 one
					ups = append(ups, StatusUpdate{Key: d.Key, Status: StatusPaid})
				}
			}
			if err := sink.WriteStatus(context.Background(), ups); err != nil {
				t.Fatal(err)
			}
			// A key the table does not hold is reported by its key.
			err = sink.WriteStatus(context.Background(), []StatusUpdate{{Key: "anno=1999, codice=X", Status: StatusPaid}})
			var we *WriteError
			if !errors.As(err, &we) || !errors.Is(we.Failed["anno=1999, codice=X"], ErrUnknownRecord) {
				t.Fatalf("unknown key: %v", err)
			}
			rows, err := db.Query(fmt.Sprintf("SELECT anno, codice, COALESCE(stato, '-') FROM %s ORDER BY anno, codice", table))
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var got []string
			for rows.Next() {
				var anno int
				var codice, stato string
				if err := rows.Scan(&anno, &codice, &stato); err != nil {
					t.Fatal(err)
				}
				got = append(got, fmt.Sprintf("%d/%s/%s", anno, codice, stato))
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if want := "2025/B/-|2026/A, 1/paid|2026/B/paid"; strings.Join(got, "|") != want {
				t.Errorf("table: %s, want %s", strings.Join(got, "|"), want)
			}
		})
	}
}

func TestParseKey(t *testing.T) {
	for _, tt := range []struct {
		key  string
		cols []string
		want map[string]string
		err  string
	}{
		{"id=7", []string{"id"}, map[string]string{"id": "7"}, ""},
		{"anno=2026, codice=A, 1", []string{"anno", "codice"}, map[string]string{"anno": "2026", "codice": "A, 1"}, ""},
		{"codice=A, anno=2026", []string{"anno", "codice"}, nil, "does not start with anno="},
		{"anno=2026", []string{"anno", "codice"}, nil, "has no codice"},
	} {
		got, err := parseKey(tt.key, tt.cols)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: err %v, want %q", tt.key, err, tt.err)
			}
			continue
		}
		if err != nil || fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%q: %v %v", tt.key, got, err)
		}
	}
}
