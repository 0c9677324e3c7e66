package pagopa

import (
	"embed"

	"github.com/ponte-pa/ponte/internal/store"
)

//go:embed migrations/*.sql
var migrationsFS embed.FS

// IUVMigrations is the state store component of the IUV allocator's tables
// (ponte_iuv_counters, ponte_iuv_allocations), migrated by NewIUVAllocator.
var IUVMigrations = store.Register(store.Component{Name: "pagopa.iuv", FS: migrationsFS, Dir: "migrations"})
