package store

import "context"

// MigrateUnregistered is DB.Migrate for components that are not registered,
// so that tests can change a component between two runs, as a new release
// does.
func (d *DB) MigrateUnregistered(ctx context.Context, cs ...Component) error {
	checked := make([]Component, 0, len(cs))
	for _, c := range cs {
		c, err := c.check()
		if err != nil {
			return err
		}
		checked = append(checked, c)
	}
	return migrate(ctx, d.DB, d.Dialect, checked)
}
