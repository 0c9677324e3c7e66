package main

import (
	"bytes"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestEverySubcommandHasItsOwnFlags runs every command that runs (each
// subcommand of a group included) with --help and with an unknown flag:
// --help exits 0 and lists exactly that command's flags; an unknown flag,
// before or after an argument, exits 2 naming the flag and showing that
// command's usage, and runs nothing.
func TestEverySubcommandHasItsOwnFlags(t *testing.T) {
	cluster := []string{"temporal", "namespace", "tls-ca", "tls-cert", "tls-key", "tls-server-name"}
	with := func(a []string, b ...string) []string { return append(slices.Clone(a), b...) }
	serving := with(cluster, "state", "tenants", "log-level", "io-rate-limit", "io-rate-window", "queues", "metrics")
	want := map[string][]string{
		"demo":            {"dir", "keep", "log-level"},
		"serve":           with(serving, "dev", "data", "temporal-port", "ui-port", "http"),
		"worker":          serving,
		"temporal-server": {"postgres", "db-prefix", "port", "namespace", "shards", "log-level"},
		"mocks": {"record", "webhook-port", "sms-port", "capfeed-port", "crm-port", "open311-port", "host", "gpd-port", "io-port", "smtp-port", "smtp-http-port", "smtp-ca", "nodo-port", "idp-port", "cie-port",
			"tributi-port", "tributi-debtors", "io-all-known"},
		"config validate":     {"online"},
		"config sample":       {"gpd-url", "io-url", "smtp", "sms-url", "webhook-url", "idp-url", "cie-url", "public-url"},
		"campaign start":      with(cluster, "tenant", "id", "definition", "source", "subject", "subject-en", "due", "batch", "wait"),
		"campaign status":     with(cluster, "tenant", "id"),
		"campaign pause":      with(cluster, "tenant", "id"),
		"campaign resume":     with(cluster, "tenant", "id"),
		"campaign cancel":     with(cluster, "tenant", "id", "wait"),
		"campaign report":     {"state", "id", "tenant", "csv", "json"},
		"campaign print":      {"state", "id", "config", "out", "due"},
		"alert send":          with(cluster, "tenant", "id", "cap", "definition", "confirm", "escalate", "wait"),
		"alert status":        with(cluster, "tenant", "id"),
		"alert update":        with(cluster, "tenant", "id", "cap", "definition"),
		"alert cancel":        with(cluster, "tenant", "id", "reason", "reason-en"),
		"alert confirm":       with(cluster, "tenant", "id", "operator"),
		"alert report":        {"state", "id", "csv", "unreached", "json", "cap"},
		"alert list":          {"state", "tenant", "limit"},
		"alert feed check":    {"zones", "istat"},
		"reports list":        {"state", "tenant", "states", "category", "limit", "json"},
		"reports show":        {"state", "id"},
		"reports status":      with(cluster, "tenant", "id", "state", "note", "json"),
		"reconcile run":       with(cluster, "tenant", "campaign", "batch"),
		"info send":           with(cluster, "tenant", "id", "definition", "public-url", "wait"),
		"info status":         with(cluster, "tenant", "id"),
		"info pause":          with(cluster, "tenant", "id"),
		"info resume":         with(cluster, "tenant", "id"),
		"info cancel":         with(cluster, "tenant", "id"),
		"info report":         {"state", "tenant", "id", "json"},
		"info consent export": {"state", "tenant", "topic", "format", "out"},
		"reconcile start":     with(cluster, "tenant", "campaign", "batch", "every"),
		"reconcile status":    with(cluster, "tenant", "periodic"),
		"reconcile stop":      with(cluster, "tenant"),
		"source check":        {"tenant", "source", "tenants", "reject-report", "show"},
		"onboard import":      {"extra", "region", "province", "out", "force", "spid-url", "spid-key-bits", "spid-registry-cert", "spid-registry-url", "spid-idp-metadata"},
		"onboard check":       {"tenant", "all", "tenants", "out", "state", "public-url", "checks", "guide"},
		"onboard history":     {"tenant", "state"},
		"notice nav":          {"aux", "segregation", "app-code", "base", "ec", "amount"},
		"notice parse":        nil,
		"notice pdf":          {"in", "out", "lang", "zip"},
		"spid keygen":         {"ipa", "cn", "org", "entity-id", "locality", "out", "bits", "days", "vat", "force"},
		"spid metadata":       {"config", "cie"},
		"spid check-cert":     nil,
		"bench campaign":      {"debtors", "batch", "parallel", "concurrency", "dir", "cpuprofile", "state", "mem-limit", "workers", "temporal", "namespace"},
		"bench alert":         {"recipients", "batch", "parallel", "concurrency", "dir", "cpuprofile", "state", "mem-limit"},
		"bench spid":          {"logins", "concurrency", "state", "replay-cache", "token-alg", "dir", "cpuprofile", "in-process"},
		"bench spid-client":   {"acs", "logins", "concurrency"},
		"conformance run":     {"suite", "target", "junit", "opt", "case-timeout"},
		"conformance list":    nil,
		"version":             nil,
	}
	// Every command that runs is in the table, and nothing else is.
	var leaves []string
	var walk func([]*command)
	walk = func(cs []*command) {
		for _, c := range cs {
			if c.subs == nil {
				leaves = append(leaves, c.path)
			}
			walk(c.subs)
		}
	}
	walk(commands)
	for _, l := range leaves {
		if _, ok := want[l]; !ok {
			t.Errorf("ponte %s has no row in this table", l)
		}
	}
	listed := regexp.MustCompile(`(?m)^  --([a-z0-9-]+)`)
	for _, path := range slices.Sorted(maps.Keys(want)) {
		flags := want[path]
		t.Run(strings.ReplaceAll(path, " ", "_"), func(t *testing.T) {
			if !slices.Contains(leaves, path) {
				t.Fatalf("ponte %s is not a command", path)
			}
			args := strings.Fields(path)
			var out, errOut bytes.Buffer
			if code := run(with(args, "--help"), &out, &errOut); code != exitOK {
				t.Fatalf("--help: exit %d, want 0\n%s%s", code, out.String(), errOut.String())
			}
			if !strings.HasPrefix(out.String(), "Usage: ponte "+path) {
				t.Errorf("--help does not start with its usage line:\n%s", out.String())
			}
			var got []string
			for _, m := range listed.FindAllStringSubmatch(out.String(), -1) {
				got = append(got, m[1])
			}
			slices.Sort(got)
			w := slices.Sorted(slices.Values(flags))
			if !slices.Equal(got, w) {
				t.Errorf("--help lists flags %q, want %q\n%s", got, w, out.String())
			}
			for _, bad := range [][]string{with(args, "--no-such-flag"), with(args, "ARG", "--no-such-flag", "x")} {
				out.Reset()
				errOut.Reset()
				if code := run(bad, &out, &errOut); code != exitUsage {
					t.Errorf("%q: exit %d, want 2\n%s%s", bad, code, out.String(), errOut.String())
				}
				if e := errOut.String(); !strings.HasPrefix(e, "ponte "+path+": unknown flag --no-such-flag\n") ||
					!strings.Contains(e, "\nUsage: ponte "+path) {
					t.Errorf("%q: stderr does not name the flag and show the usage:\n%s", bad, e)
				}
				if out.Len() != 0 {
					t.Errorf("%q: something ran and printed:\n%s", bad, out.String())
				}
			}
		})
	}
}
