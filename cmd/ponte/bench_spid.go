package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ponte-pa/ponte/connectors/spid"
	"github.com/ponte-pa/ponte/internal/gateway/gatewaytest"
	"github.com/ponte-pa/ponte/internal/store"
	"github.com/ponte-pa/ponte/internal/tenant"
)

// benchSPID measures logins at the ACS over HTTP: the sample comune's
// gateway and the mock IdP on loopback, responses signed by the IdP before
// the clock starts, then every login registered, posted and answered with
// the hand-off token by --concurrency clients.
func benchSPID(ctx context.Context, args []string) error {
	fs := newFlags("bench spid", "bench spid [--logins N] [--concurrency N] [--state DSN] [--replay-cache N] [--token-alg ALG] [--in-process]")
	n := fs.Int("logins", 2000, "number of logins")
	conc := fs.Int("concurrency", 8, "clients posting at once")
	state := fs.String("state", "", "state store DSN (default: SQLite file in the work directory)")
	fill := fs.Int("replay-cache", 0, "live entries put in the replay cache before the run (a busy hour leaves two per login)")
	alg := fs.String("token-alg", "", "algorithm of the hand-off token: ES256, EdDSA or RS256 (default: the tenant's, ES256)")
	dir := fs.String("dir", "", "work directory (default: a temporary one, removed at the end)")
	profilePath := fs.String("cpuprofile", "", "write a CPU profile of the timed logins to this file (go tool pprof)")
	inProcess := fs.Bool("in-process", false, "post from clients in this process (CPU per login then includes the clients') instead of a separate load process")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs(pos); err != nil {
		return err
	}
	if *alg != "" && !slices.Contains(spid.TokenAlgs, *alg) {
		return usagef("--token-alg must be one of %v", spid.TokenAlgs)
	}
	if *n <= 0 || *conc <= 0 || *fill < 0 {
		return usagef("--logins and --concurrency must be positive, --replay-cache not negative")
	}
	work, cleanup, err := benchDir(*dir, "ponte-bench-spid-")
	if err != nil {
		return err
	}
	defer cleanup()
	dsn := *state
	if dsn == "" {
		dsn = filepath.Join(work, "state.db")
	}
	db, err := store.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	ab, err := gatewaytest.StartACSBench(ctx, gatewaytest.ACSBenchOptions{Dir: filepath.Join(work, "tenant"), DB: db,
		Tune: func(t *tenant.Tenant) {
			if *alg != "" {
				t.SPID.TokenAlg = *alg
			}
		}})
	if err != nil {
		return err
	}
	defer ab.Close()
	if *fill > 0 {
		if err := ab.FillReplayCache(ctx, *fill); err != nil {
			return err
		}
	}
	prep := time.Now()
	logins, err := ab.Prepare(*n)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "state store      %s (%s)\n", db.Where, db.Dialect)
	fmt.Fprintf(stdout, "token            %s\n", tokenAlgOf(ab))
	fmt.Fprintf(stdout, "prepared         %d signed IdP responses in %s (not timed)\n", *n, time.Since(prep).Round(time.Millisecond))
	var load *loadProcess
	if !*inProcess {
		if load, err = startLoadProcess(ctx, work, ab.ACSURL(), logins, *conc); err != nil {
			return err
		}
		defer load.stop()
	}
	stopProfile, err := cpuProfile(*profilePath)
	if err != nil {
		return err
	}
	defer stopProfile()
	cpu0 := gatewaytest.ProcessCPU()
	start := time.Now()
	post := ab.Login
	if load != nil {
		// The gateway's side of a login is registering its request (done
		// here, as /spid/login does) and answering the ACS post; the load
		// process posts once every request is registered.
		post = func(ctx context.Context, l gatewaytest.BenchLogin) error { return ab.Store.Put(ctx, l.Pending) }
	}
	if err := runParallel(len(logins), *conc, func(i int) error { return post(ctx, logins[i]) }); err != nil {
		return fmt.Errorf("login refused: %w", err)
	}
	var client time.Duration
	if load != nil {
		if client, err = load.run(); err != nil {
			return err
		}
	}
	wall := time.Since(start)
	cpu := gatewaytest.ProcessCPU() - cpu0
	where := "this process: gateway and clients"
	if load != nil {
		where = "the gateway's process: request registered, response validated, token issued"
	}
	fmt.Fprintf(stdout, "logins           %d over HTTP, %d clients, GOMAXPROCS=%d\n", *n, *conc, goruntime.GOMAXPROCS(0))
	fmt.Fprintf(stdout, "wall time        %s\n", wall.Round(time.Millisecond))
	fmt.Fprintf(stdout, "throughput       %.0f logins/s (%.0f logins/s per core)\n", float64(*n)/wall.Seconds(), float64(*n)/wall.Seconds()/float64(goruntime.GOMAXPROCS(0)))
	if cpu > 0 {
		fmt.Fprintf(stdout, "CPU per login    %s = %.0f logins per CPU-second (%s; PostgreSQL's own work not included)\n",
			(cpu / time.Duration(*n)).Round(time.Microsecond), float64(*n)/cpu.Seconds(), where)
	}
	if client > 0 {
		fmt.Fprintf(stdout, "client CPU       %s per login (the load process: form posted, answer and cookie read)\n", (client / time.Duration(*n)).Round(time.Microsecond))
	}
	return nil
}

// runParallel calls f(0)…f(n-1) from conc goroutines and returns the first
// error (the goroutine that met it stops).
func runParallel(n, conc int, f func(i int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, conc)
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// tokenAlgOf is the algorithm of the first key of the SP's JWKS, the one
// that signs.
func tokenAlgOf(ab *gatewaytest.ACSBench) string {
	var set struct {
		Keys []struct {
			Alg string `json:"alg"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(ab.Site.SP.JWKS(), &set); err != nil || len(set.Keys) == 0 {
		return "?"
	}
	return set.Keys[0].Alg
}
