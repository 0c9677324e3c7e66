package reconcile

import (
	"embed"

	"github.com/ponte-pa/ponte/internal/store"
)

//go:embed migrations/*.sql
var migrationsFS embed.FS

// Migrations is the state store component of the reconciliation tables
// (receipts, payments, anomalies).
var Migrations = store.Register(store.Component{Name: "reconcile", FS: migrationsFS, Dir: "migrations"})
