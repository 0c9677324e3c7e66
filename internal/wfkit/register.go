package wfkit

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"

	"github.com/ponte-pa/ponte/internal/metrics"
	"github.com/ponte-pa/ponte/internal/store"
)

// Host is what the runtime gives a workflow package's Register: the shared
// state store, the tenants, the connectors of this worker process, and
// where to put its registrations. Register adds its workflows and
// activities, each on its task queue; the runtime starts one worker per
// queue with exactly what was registered on it, so a worker of the App IO
// queue runs only App IO activities and opens only their connectors.
type Host struct {
	DB      *store.DB
	Tenants TenantLookup
	Conns   *Connectors
	// ReportDir is where packages that write reports put them.
	ReportDir string
	Logger    *slog.Logger
	// Metrics is where activities count (nil counts nothing).
	Metrics *metrics.Metrics

	regs []Registration
}

// Registration is one workflow or activity on one task queue.
type Registration struct {
	Queue    string
	Name     string
	Workflow bool
	Fn       any
}

// Workflow registers a workflow function under name on queue.
func (h *Host) Workflow(queue, name string, fn any) {
	h.regs = append(h.regs, Registration{Queue: queue, Name: name, Workflow: true, Fn: fn})
}

// Activity registers an activity function (usually a method value, whose
// name in histories is name) on queue.
func (h *Host) Activity(queue, name string, fn any) {
	h.regs = append(h.regs, Registration{Queue: queue, Name: name, Fn: fn})
}

// Registrations lists what was registered, in order.
func (h *Host) Registrations() []Registration { return h.regs }

// Queues lists the task queues that have registrations, sorted.
func (h *Host) Queues() []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range h.regs {
		if !seen[r.Queue] {
			seen[r.Queue] = true
			out = append(out, r.Queue)
		}
	}
	sort.Strings(out)
	return out
}

// Package is a workflow package: its name and its Register.
type Package struct {
	Name     string
	Register func(context.Context, *Host) error
}

var (
	pkgMu sync.Mutex
	pkgs  = map[string]Package{}
)

// Add makes a workflow package known to the runtime. Each workflow package
// calls it from an init function; the binary links the packages it runs.
// It panics on an empty or duplicate name, a programming error.
func Add(p Package) {
	pkgMu.Lock()
	defer pkgMu.Unlock()
	if p.Name == "" || p.Register == nil {
		panic("wfkit.Add: package without a name or Register")
	}
	if _, dup := pkgs[p.Name]; dup {
		panic("wfkit.Add: workflow package added twice: " + p.Name)
	}
	pkgs[p.Name] = p
}

// Packages lists the workflow packages added, sorted by name.
func Packages() []Package {
	pkgMu.Lock()
	defer pkgMu.Unlock()
	out := make([]Package, 0, len(pkgs))
	for _, p := range pkgs {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// RegisterAll runs the Register of every package added.
func RegisterAll(ctx context.Context, h *Host) error {
	for _, p := range Packages() {
		if err := p.Register(ctx, h); err != nil {
			return fmt.Errorf("workflow package %s: %w", p.Name, err)
		}
	}
	return nil
}
