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
	fs := newFlags("bench spid", "bench spid [--logins N] [--concurrency N] [--state DSN] [--replay-cache N] [--token-alg ALG]")
	n := fs.Int("logins", 2000, "number of logins")
	conc := fs.Int("concurrency", 8, "clients posting at once")
	state := fs.String("state", "", "state store DSN (default: SQLite file in the work directory)")
	fill := fs.Int("replay-cache", 0, "live entries put in the replay cache before the run (a busy hour leaves two per login)")
	alg := fs.String("token-alg", "", "algorithm of the hand-off token: ES256, EdDSA or RS256 (default: the tenant's, ES256)")
	dir := fs.String("dir", "", "work directory (default: a temporary one, removed at the end)")
	profilePath := fs.String("cpuprofile", "", "write a CPU profile of the timed logins to this file (go tool pprof)")
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
	stopProfile, err := cpuProfile(*profilePath)
	if err != nil {
		return err
	}
	defer stopProfile()
	cpu0 := gatewaytest.ProcessCPU()
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, *conc)
	for range *conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(logins) {
					return
				}
				if err := ab.Login(ctx, logins[i]); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	cpu := gatewaytest.ProcessCPU() - cpu0
	close(errs)
	if err := <-errs; err != nil {
		return fmt.Errorf("login refused: %w", err)
	}
	fmt.Fprintf(stdout, "logins           %d over HTTP, %d clients, GOMAXPROCS=%d\n", *n, *conc, goruntime.GOMAXPROCS(0))
	fmt.Fprintf(stdout, "wall time        %s\n", wall.Round(time.Millisecond))
	fmt.Fprintf(stdout, "throughput       %.0f logins/s (%.0f logins/s per core)\n", float64(*n)/wall.Seconds(), float64(*n)/wall.Seconds()/float64(goruntime.GOMAXPROCS(0)))
	if cpu > 0 {
		fmt.Fprintf(stdout, "CPU per login    %s (this process: gateway and client; PostgreSQL's own work not included)\n", (cpu / time.Duration(*n)).Round(time.Microsecond))
	}
	return nil
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
