package gateway_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/ponte-pa/ponte/internal/gateway/gatewaytest"
	"github.com/ponte-pa/ponte/internal/store"
	"github.com/ponte-pa/ponte/internal/store/storetest"
)

// BenchmarkACS measures whole logins at the ACS over HTTP: the pending
// request registered in the state store, the IdP's signed response posted
// by a client on loopback, validated (signatures, SPID checks, replay
// cache, request taken) and the hand-off token issued. The IdP signs the
// responses before the timer starts. Eight clients post at once, so that
// waiting on the database (a commit's fsync) overlaps with work and the
// figure is the CPU's: run with -cpu 1 for logins per core (1e9/ns per op).
func BenchmarkACS(b *testing.B) {
	storetest.ForEachDialectB(b, func(b *testing.B, db *store.DB) {
		ctx := context.Background()
		ab, err := gatewaytest.StartACSBench(ctx, gatewaytest.ACSBenchOptions{Dir: b.TempDir(), DB: db})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			if err := ab.Close(); err != nil {
				b.Error(err)
			}
		})
		logins, err := ab.Prepare(b.N)
		if err != nil {
			b.Fatal(err)
		}
		var next atomic.Int64
		b.ReportAllocs()
		b.SetParallelism(8)
		b.ResetTimer()
		cpu0 := gatewaytest.ProcessCPU()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := ab.Login(ctx, logins[next.Add(1)-1]); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.StopTimer()
		// CPU time, unlike wall time, does not grow when other
		// processes share the cores: logins per CPU-second are logins
		// per second per core, gateway and client included (the
		// PostgreSQL server's own work is not).
		if cpu := gatewaytest.ProcessCPU() - cpu0; cpu > 0 {
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
			b.ReportMetric(float64(b.N)/cpu.Seconds(), "logins/cpu-s")
		}
	})
}
