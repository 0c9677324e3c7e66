package campaign

import (
	"context"
	"database/sql"
	"embed"

	"github.com/ponte-pa/ponte/connectors/channels"
	"github.com/ponte-pa/ponte/internal/store"
)

// migrationsFS holds the campaign tables' SQL migrations (migrations/*.sql);
// 00002, which the dialects spell differently, is in Go below.
//
//go:embed migrations/*.sql
var migrationsFS embed.FS

// Migrations is the state store component of the campaign tables (items,
// rejects, meta, installments; since 6 their messages are in the outbox).
var Migrations = store.Register(store.Component{
	Name: "campaign",
	FS:   migrationsFS,
	Dir:  "migrations",
	Go:   []store.GoMigration{{Version: 2, Name: "fallback_columns", Up: addFallbackColumns}},
	// Migration 6 moves the items' messages into the outbox's table.
	After: []string{channels.Migrations},
})

// addFallbackColumns adds the columns of the fallback channel, which came
// after the first release, to campaign_items. Stores created since already
// have them, so only missing ones are added: SQLite has no ADD COLUMN IF NOT
// EXISTS.
func addFallbackColumns(ctx context.Context, tx *sql.Tx, dialect string) error {
	for _, col := range []string{"fallback_state", "fallback_error"} {
		if dialect == store.Postgres {
			if _, err := tx.ExecContext(ctx, `ALTER TABLE campaign_items ADD COLUMN IF NOT EXISTS `+col+` TEXT NOT NULL DEFAULT ''`); err != nil {
				return err
			}
			continue
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM pragma_table_info('campaign_items') WHERE name = ?`, col).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			if _, err := tx.ExecContext(ctx, `ALTER TABLE campaign_items ADD COLUMN `+col+` TEXT NOT NULL DEFAULT ''`); err != nil {
				return err
			}
		}
	}
	return nil
}
