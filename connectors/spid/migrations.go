package spid

import (
	"embed"

	"github.com/ponte-pa/ponte/internal/store"
)

//go:embed migrations/*.sql
var migrationsFS embed.FS

// Migrations is the state store component of SQLStore's tables
// (spid_pending, spid_seen).
var Migrations = store.Register(store.Component{Name: "spid", FS: migrationsFS, Dir: "migrations"})
