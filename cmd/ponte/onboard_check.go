package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ponte-pa/ponte/internal/store"
	"github.com/ponte-pa/ponte/internal/tenant"
	"github.com/ponte-pa/ponte/internal/wfkit"
	"github.com/ponte-pa/ponte/workflows/onboarding"
)

func onboardCheckHelp() string {
	return `Runs, in this process (no Temporal needed), every readiness check of one comune or of
every comune in --tenants (the same checks the ` + onboarding.WorkflowName + ` workflow runs on
'ponte serve' workers):
  ` + strings.Join(onboarding.Checks, ", ") + `
Each is ok, missing (not configured or supplied yet) or failed (configured, not working),
with the next step, who to ask and the guide's section. The run is kept in the state store
(--state) for 'ponte onboard history'. With --out, a checklist per comune
(<id>.it.md, <id>.en.md, <id>.it.html, <id>.en.html) and summary.{it,en}.{md,html}.

The EC SOAP endpoint is checked at <public URL>/t/<id>/pagopa/nodo: --public-url, or the
root of the SP's baseURL when the comune has SPID.

Exit 0 when every comune is ready, 1 when some comune is not, 2 for a bad option.

Example:
  ponte onboard check --all --tenants tenants --out checklists --public-url https://ponte.regione.it`
}

// tenantFiles lists the config files of a directory as tenant.LoadDir
// does, or the file itself.
func tenantFiles(path string) ([]string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, usagef("--tenants %s: %v", path, errors.Unwrap(err))
	}
	if !fi.IsDir() {
		return []string{path}, nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".yaml", ".yml", ".json":
			if !e.IsDir() {
				out = append(out, filepath.Join(path, e.Name()))
			}
		}
	}
	return out, nil
}

func runOnboardCheck(ctx context.Context, args []string) error {
	fs := newFlags("onboard check", "onboard check (--tenant T | --all) --tenants DIR|FILE [--out DIR] [--state DSN] [--public-url URL]")
	tenantID := fs.String("tenant", "", "check this comune (tenant id, or a config file)")
	all := fs.Bool("all", false, "check every comune of --tenants")
	tenants := fs.String("tenants", "", "directory of tenant configs ('ponte onboard import --out'), or one config file")
	out := fs.String("out", "", "write the checklists and the summary (Markdown and HTML, Italian and English) to this directory")
	stateDSN := stateFlag(fs)
	publicURL := fs.String("public-url", "", "public root of the HTTP gateway ('ponte serve --http'), where the Nodo reaches the EC endpoints")
	only := fs.String("checks", "", "run only these checks, comma-separated ("+strings.Join(onboarding.Checks, ", ")+"; 'offline' for "+strings.Join(onboarding.Offline, ", ")+"); default all")
	guide := fs.String("guide", onboarding.DefaultGuide, "base URL of the guide the checklists link to (onboarding.<lang>.md#section)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs(pos); err != nil {
		return err
	}
	if (*tenantID == "") == !*all {
		return usagef("give --tenant T or --all")
	}
	if *tenants == "" && (*all || !isFile(*tenantID)) {
		return usagef("--tenants DIR|FILE is required")
	}
	var files []string
	if *all {
		if files, err = tenantFiles(*tenants); err != nil {
			return err
		}
		if len(files) == 0 {
			return usagef("--tenants %s: no tenant config (*.yaml, *.yml, *.json)", *tenants)
		}
	}
	db, err := store.Open(ctx, *stateDSN)
	if err != nil {
		return err
	}
	defer db.Close()
	st, err := onboarding.NewStore(ctx, db)
	if err != nil {
		return err
	}
	runAt := time.Now().UTC()
	checker := &onboarding.Checker{PublicURL: *publicURL, Conns: &wfkit.Connectors{}}
	for _, c := range strings.Split(*only, ",") {
		switch c = strings.TrimSpace(c); {
		case c == "":
		case c == "offline":
			checker.Only = append(checker.Only, onboarding.Offline...)
		case slices.Contains(onboarding.Checks, c):
			checker.Only = append(checker.Only, c)
		default:
			return usagef("--checks: unknown check %q (checks: %s, or offline)", c, strings.Join(onboarding.Checks, ", "))
		}
	}
	var reports []onboarding.Report
	if *all {
		var mu sync.Mutex
		err = wfkit.ForEach(ctx, 8, files, func(f string) {
			var r onboarding.Report
			t, err := tenant.Load(f)
			if err != nil {
				r = onboarding.Unloadable(strings.TrimSuffix(filepath.Base(f), filepath.Ext(f)), err, runAt)
			} else {
				r = checker.All(ctx, t, runAt)
			}
			mu.Lock()
			reports = append(reports, r)
			mu.Unlock()
		})
		if err != nil {
			return err
		}
		sort.Slice(reports, func(i, j int) bool { return reports[i].Tenant < reports[j].Tenant })
	} else {
		t, err := findTenant(*tenantID, *tenants)
		if err != nil {
			return err
		}
		reports = append(reports, checker.All(ctx, t, runAt))
	}
	notReady := 0
	for _, r := range reports {
		if err := st.Save(ctx, r); err != nil {
			return fmt.Errorf("saving the run of %s in %s: %w", r.Tenant, db.Where, err)
		}
		state := "READY"
		if !r.Ready() {
			state = "NOT READY"
			notReady++
		}
		fmt.Fprintf(stdout, "%s (%s): %s, %d/%d checks ok\n", r.Tenant, r.Name.IT, state, r.Count(onboarding.OK), len(r.Items))
		for _, it := range r.Items {
			if it.Status == onboarding.OK {
				continue
			}
			fmt.Fprintf(stdout, "  %-7s %-14s %s\n          next: %s (ask: %s; guide #%s)\n", it.Status, it.Check, it.Detail, it.Next.EN, it.Ask.EN, it.Anchor)
		}
	}
	if *out != "" {
		written, err := onboarding.WriteChecklists(*out, reports, *guide)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\n%d files written to %s (summary.it.md, summary.en.md, …)\n", len(written), *out)
	}
	fmt.Fprintf(stdout, "%d of %d comuni ready; run kept in %s (ponte onboard history)\n", len(reports)-notReady, len(reports), db.Where)
	if notReady > 0 {
		return fmt.Errorf("%d of %d comuni not ready", notReady, len(reports))
	}
	return nil
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

func runOnboardHistory(ctx context.Context, args []string) error {
	fs := newFlags("onboard history", "onboard history [--tenant T] [--state DSN]")
	tenantID := fs.String("tenant", "", "only this comune (tenant id); with it, every run is listed too")
	stateDSN := stateFlag(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs(pos); err != nil {
		return err
	}
	db, err := store.Open(ctx, *stateDSN)
	if err != nil {
		return err
	}
	defer db.Close()
	st, err := onboarding.NewStore(ctx, db)
	if err != nil {
		return err
	}
	runs, err := st.Runs(ctx, *tenantID)
	if err != nil {
		return err
	}
	if len(runs) == 0 {
		fmt.Fprintf(stdout, "no runs in %s: ponte onboard check first\n", db.Where)
		return nil
	}
	fmt.Fprintf(stdout, "%-9s %5s %7s %6s %12s\n", "week", "runs", "comuni", "ready", "checks ok")
	for _, w := range onboarding.Weekly(runs) {
		fmt.Fprintf(stdout, "%-9s %5d %7d %6d %12s\n", w.Label(), w.Runs, w.Comuni, w.Ready, fmt.Sprintf("%d/%d", w.OK, w.Total))
	}
	if *tenantID != "" {
		fmt.Fprintf(stdout, "\nruns of %s:\n", *tenantID)
		for _, r := range runs {
			var notOK []string
			for _, c := range onboarding.Checks {
				if s, ok := r.Status[c]; ok && s != onboarding.OK {
					notOK = append(notOK, c+" "+string(s))
				}
			}
			fmt.Fprintf(stdout, "  %s  %d/%d ok  %s\n", r.RunAt.Format("2006-01-02 15:04"), r.OK, r.Total, strings.Join(notOK, ", "))
		}
	}
	return nil
}
