package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/ponte-pa/ponte/connectors/spid"
	"github.com/ponte-pa/ponte/internal/gateway/gatewaytest"
)

// The load of `bench spid` runs in its own process (`bench spid-client`),
// so that the CPU the gateway's process uses per login is the gateway's
// alone, as when a load generator on other machines drives it: posting a
// 10 KB form and reading the answer is about a fifth of the work of a login
// when both sides share one process. The two talk over the child's stdin
// and stdout: it reads the logins from a file, says "ready", waits for
// "go", posts them all and writes one line of JSON with what it measured.

// loadLogin is one login as the load process needs it: what the browser
// posts.
type loadLogin struct {
	RelayState string `json:"relay_state"`
	Response   string `json:"response"`
}

// loadResult is the load process's report.
type loadResult struct {
	Logins int    `json:"logins"`
	CPUNs  int64  `json:"cpu_ns"`
	Error  string `json:"error,omitempty"`
}

// loadProcess is a running `bench spid-client`.
type loadProcess struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
	n   int
}

// startLoadProcess writes the logins to a file in work and starts the load
// process on them; it returns once the process is ready to post.
func startLoadProcess(ctx context.Context, work, acs string, logins []gatewaytest.BenchLogin, conc int) (*loadProcess, error) {
	path := filepath.Join(work, "logins.jsonl")
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	enc := json.NewEncoder(f)
	for _, l := range logins {
		if err := enc.Encode(loadLogin{RelayState: l.Pending.RelayState, Response: l.Response}); err != nil {
			f.Close()
			return nil, err
		}
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	bin, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, "bench", "spid-client", "--acs", acs, "--logins", path, "--concurrency", fmt.Sprint(conc))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench spid: starting the load process: %w", err)
	}
	p := &loadProcess{cmd: cmd, in: in, out: bufio.NewReader(out), n: len(logins)}
	line, err := p.out.ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		p.stop()
		return nil, fmt.Errorf("bench spid: the load process did not start (%q, %v)", line, err)
	}
	return p, nil
}

// run has the process post every login and returns the CPU it used.
func (p *loadProcess) run() (time.Duration, error) {
	if _, err := io.WriteString(p.in, "go\n"); err != nil {
		return 0, fmt.Errorf("bench spid: load process: %w", err)
	}
	line, err := p.out.ReadString('\n')
	if err != nil {
		return 0, fmt.Errorf("bench spid: the load process ended without a report: %w", err)
	}
	var r loadResult
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		return 0, fmt.Errorf("bench spid: the load process's report %q: %w", line, err)
	}
	p.stop()
	if r.Error != "" {
		return 0, fmt.Errorf("login refused: %s", r.Error)
	}
	if r.Logins != p.n {
		return 0, fmt.Errorf("bench spid: the load process posted %d logins, want %d", r.Logins, p.n)
	}
	return time.Duration(r.CPUNs), nil
}

// stop closes the process's input (it exits) and waits for it, unless it
// was waited for already.
func (p *loadProcess) stop() {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.in.Close()
	_ = p.cmd.Wait() // its report, or its stderr, already said what went wrong
}

// benchSPIDClient is the load process of `bench spid`.
func benchSPIDClient(ctx context.Context, args []string) error {
	fs := newFlags("bench spid-client", "bench spid-client --acs URL --logins FILE [--concurrency N]")
	acs := fs.String("acs", "", "the ACS URL to post to")
	file := fs.String("logins", "", "the logins to post, one JSON object a line (relay_state, response), as bench spid writes them")
	conc := fs.Int("concurrency", 8, "clients posting at once")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs(pos); err != nil {
		return err
	}
	if *acs == "" || *file == "" || *conc <= 0 {
		return usagef("--acs and --logins are required, --concurrency must be positive")
	}
	logins, err := readLoadLogins(*file)
	if err != nil {
		return err
	}
	client := &http.Client{
		Transport:     &http.Transport{MaxIdleConnsPerHost: *conc},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	fmt.Fprintln(stdout, "ready")
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "go" {
		return nil // the bench gave up before the start
	}
	cpu0 := gatewaytest.ProcessCPU()
	err = runParallel(len(logins), *conc, func(i int) error {
		_, err := gatewaytest.PostResponse(ctx, client, *acs, logins[i])
		return err
	})
	r := loadResult{Logins: len(logins), CPUNs: int64(gatewaytest.ProcessCPU() - cpu0)}
	if err != nil {
		r.Error = err.Error()
	}
	return json.NewEncoder(stdout).Encode(r)
}

// readLoadLogins reads the file bench spid wrote.
func readLoadLogins(path string) ([]gatewaytest.BenchLogin, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []gatewaytest.BenchLogin
	dec := json.NewDecoder(f)
	for {
		var l loadLogin
		err := dec.Decode(&l)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: login %d: %w", path, len(out)+1, err)
		}
		out = append(out, gatewaytest.BenchLogin{Pending: spid.PendingRequest{RelayState: l.RelayState}, Response: l.Response})
	}
}
