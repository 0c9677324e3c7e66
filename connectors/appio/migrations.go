package appio

import (
	"context"
	"database/sql"

	"github.com/ponte-pa/ponte/internal/store"
)

// The table of the SQL limiter is a state store component (see
// store.Component), migrated by its constructor. (The message ledger that
// lived here until the outbox replaced it left a table,
// ponte_appio_ledger, that nothing reads.)

// RateMigrations is the state store component of the table
// ponte_appio_rate. Its migration is in Go: the grants column is a BLOB in
// SQLite and a BYTEA in PostgreSQL.
var RateMigrations = store.Register(store.Component{
	Name: "appio.rate",
	Go: []store.GoMigration{{Version: 1, Name: "rate", Up: func(ctx context.Context, tx *sql.Tx, dialect string) error {
		// IF NOT EXISTS: databases created before the version table have it.
		blob := "BLOB"
		if dialect == store.Postgres {
			blob = "BYTEA"
		}
		_, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS ponte_appio_rate (
			key_hash TEXT PRIMARY KEY,
			grants `+blob+` NOT NULL)`)
		return err
	}}},
})
