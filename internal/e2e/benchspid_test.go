package e2e

import (
	"os/exec"
	"regexp"
	"strconv"
	"testing"
)

// TestBenchSPID runs `ponte bench spid` as a user would, with its load in a
// process of its own (the default) and in the gateway's process: every
// login must be accepted and the report must give the figures the README
// quotes.
func TestBenchSPID(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the ponte binary and runs it")
	}
	bin := ponteBinary(t)
	for _, c := range []struct {
		name   string
		args   []string
		client bool
	}{
		{"load process", nil, true},
		{"in process", []string{"--in-process"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"bench", "spid", "--logins", "40", "--concurrency", "4", "--dir", t.TempDir()}, c.args...)
			out, err := exec.Command(bin, args...).CombinedOutput()
			if err != nil {
				t.Fatalf("ponte %v: %v\n%s", args, err, out)
			}
			if m := regexp.MustCompile(`(?m)^logins +(\d+) over HTTP`).FindSubmatch(out); m == nil || string(m[1]) != "40" {
				t.Errorf("no line 'logins 40 over HTTP' in\n%s", out)
			}
			m := regexp.MustCompile(`(?m)^CPU per login .* = (\d+) logins per CPU-second`).FindSubmatch(out)
			if m == nil {
				t.Fatalf("no CPU per login in\n%s", out)
			}
			if n, err := strconv.Atoi(string(m[1])); err != nil || n <= 0 {
				t.Errorf("logins per CPU-second %q", m[1])
			}
			if got := regexp.MustCompile(`(?m)^client CPU +\S+ per login`).Match(out); got != c.client {
				t.Errorf("client CPU line present = %v, want %v in\n%s", got, c.client, out)
			}
		})
	}
}
