package onboarding

import (
	"context"
	"embed"
	"fmt"
	"sort"
	"time"

	"github.com/ponte-pa/ponte/internal/store"
)

//go:embed migrations/*.sql
var migrationsFS embed.FS

// Migrations is the state store component of the onboarding check runs.
var Migrations = store.Register(store.Component{Name: "onboarding", FS: migrationsFS, Dir: "migrations"})

// Store keeps every run of the checks in the state database.
type Store struct{ db *store.DB }

// NewStore brings the onboarding tables of db up to date.
func NewStore(ctx context.Context, db *store.DB) (*Store, error) {
	if err := db.Migrate(ctx, Migrations); err != nil {
		return nil, fmt.Errorf("onboarding store in %s: %w", db.Where, err)
	}
	return &Store{db: db}, nil
}

// Save stores a run; saving the same run again changes nothing.
func (s *Store) Save(ctx context.Context, r Report) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }() // after Commit, a no-op
	at := r.RunAt.UTC().Format(time.RFC3339Nano)
	for _, it := range r.Items {
		if _, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO onboarding_checks (tenant, run_at, check_id, status, detail)
			VALUES (?,?,?,?,?) ON CONFLICT DO NOTHING`), r.Tenant, at, it.Check, string(it.Status), it.Detail); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Run is a stored run: how many checks were ok of how many.
type Run struct {
	Tenant string
	RunAt  time.Time
	OK     int
	Total  int
	Status map[string]Status // by check
}

// Runs lists the stored runs of tenant ("" = every tenant), oldest first.
func (s *Store) Runs(ctx context.Context, tenant string) ([]Run, error) {
	q := `SELECT tenant, run_at, check_id, status FROM onboarding_checks`
	var args []any
	if tenant != "" {
		q += ` WHERE tenant = ?`
		args = append(args, tenant)
	}
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(q+` ORDER BY run_at, tenant`), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	byKey := map[[2]string]*Run{}
	var out []*Run
	for rows.Next() {
		var ten, at, check, st string
		if err := rows.Scan(&ten, &at, &check, &st); err != nil {
			return nil, err
		}
		r := byKey[[2]string{ten, at}]
		if r == nil {
			t, err := time.Parse(time.RFC3339Nano, at)
			if err != nil {
				return nil, fmt.Errorf("onboarding store: run of %s at %q: %w", ten, at, err)
			}
			r = &Run{Tenant: ten, RunAt: t, Status: map[string]Status{}}
			byKey[[2]string{ten, at}] = r
			out = append(out, r)
		}
		r.Total++
		r.Status[check] = Status(st)
		if Status(st) == OK {
			r.OK++
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	res := make([]Run, len(out))
	for i, r := range out {
		res[i] = *r
	}
	sort.SliceStable(res, func(i, j int) bool { return res[i].RunAt.Before(res[j].RunAt) })
	return res, nil
}

// Week is the readiness of one ISO week: the last run of each comune in
// it.
type Week struct {
	Year, Week int
	// Runs counts the runs in the week; Comuni the comuni checked.
	Runs, Comuni int
	// Ready counts the comuni whose last run of the week was all ok; OK
	// and Total add up the checks of those last runs.
	Ready, OK, Total int
}

// Label is the week as "2026-W49".
func (w Week) Label() string { return fmt.Sprintf("%04d-W%02d", w.Year, w.Week) }

// Weekly groups runs (oldest first) by ISO week.
func Weekly(runs []Run) []Week {
	var out []Week
	last := map[string]Run{}
	flush := func() {
		w := &out[len(out)-1]
		for _, r := range last {
			w.Comuni++
			w.OK += r.OK
			w.Total += r.Total
			if r.OK == r.Total {
				w.Ready++
			}
		}
		last = map[string]Run{}
	}
	for _, r := range runs {
		y, wk := r.RunAt.UTC().ISOWeek()
		if len(out) == 0 || out[len(out)-1].Year != y || out[len(out)-1].Week != wk {
			if len(out) > 0 {
				flush()
			}
			out = append(out, Week{Year: y, Week: wk})
		}
		out[len(out)-1].Runs++
		last[r.Tenant] = r
	}
	if len(out) > 0 {
		flush()
	}
	return out
}
