package onboarding

import (
	"context"

	"github.com/ponte-pa/ponte/internal/wfkit"
)

// Activities run the checks for the Check workflow: each is the Checker's
// plain function, the same `ponte onboard check` calls in-process.
type Activities struct {
	Tenants wfkit.TenantLookup
	Checker *Checker
	Store   *Store
}

// RunCheck runs one check. A check that fails is an outcome, not an
// error: only an unknown tenant is.
func (a *Activities) RunCheck(ctx context.Context, in CheckInput) (Item, error) {
	t, err := a.Tenants.Get(in.Tenant)
	if err != nil {
		return Item{}, err
	}
	return a.Checker.Run(ctx, t, in.Check), nil
}

// SaveRun keeps a run in the state store (idempotent by tenant and time).
func (a *Activities) SaveRun(ctx context.Context, r Report) error {
	return wfkit.ActivityError(a.Store.Save(ctx, r))
}
