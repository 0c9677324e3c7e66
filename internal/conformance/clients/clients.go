// Package clients is the conformance suites "gpd-client" and
// "appio-client": they check a comune's own client of pagoPA GPD or App IO.
// The suite starts the GPD (or App IO) mock in recording mode on the address
// of --target, runs the system under test's own test command against it (or
// waits for the client to call), then makes one case per recorded call,
// judged by the platform's official contract (mocks/record), and cases for
// what an integration must do at all (a position created and published; a
// profile looked up before a message).
package clients

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"time"

	"github.com/ponte-pa/ponte/internal/conformance"
	appiomock "github.com/ponte-pa/ponte/mocks/appio"
	"github.com/ponte-pa/ponte/mocks/gpd"
	"github.com/ponte-pa/ponte/mocks/record"
	"github.com/ponte-pa/ponte/mocks/registry"
)

// Suite names.
const (
	GPD   = "gpd-client"
	AppIO = "appio-client"
)

// DonePath is where a system under test (or a CI script) posts, on the
// mock's address, to end an --opt wait early: curl -X POST $GPD_URL/__conformance/done
// (for App IO, on the root: ${IO_URL%/api/v1}/__conformance/done).
const DonePath = "/__conformance/done"

const optionsDoc = `Options: command=<the system under test's own test command, run with sh -c, the mock's
  URL in env %s> and/or wait=<how long to let an already running client call, e.g. 30s;
  POST %s on the mock ends it early> (one of the two is required),
  record=<directory for the recording, <mock>.jsonl; default: a new temporary directory>.
--target is where the mock listens, e.g. %s (port 0: any free port; the command gets it).`

type spec struct {
	name, kind, env, example, doc string
	config                        any
	contract                      string
	coverage                      func(calls []record.Entry) []conformance.Case
}

var specs = []spec{
	{name: GPD, kind: gpd.Kind, env: "GPD_URL", example: "http://127.0.0.1:18081", contract: "gpd-external-v1.json",
		doc:      "A comune's client of pagoPA GPD (debt positions): every call it makes to the GPD mock is judged by\nthe GPD external API v1 contract; it must create and publish at least one position.",
		coverage: gpdCoverage},
	{name: AppIO, kind: appiomock.Kind, env: "IO_URL", example: "http://127.0.0.1:18082", contract: "io-services-v4.yaml",
		doc: "A comune's client of App IO (Services API v1): every call it makes to the App IO mock is judged by\n" +
			"the io-services contract; it must send at least one message, each after a profile lookup.\nEvery well-formed fiscal code has a profile that accepts messages.",
		config:   appiomock.Options{DefaultKnown: true},
		coverage: ioCoverage},
}

func init() {
	for _, sp := range specs {
		conformance.Register(conformance.Suite{Name: sp.name,
			Doc:   sp.doc + "\n" + fmt.Sprintf(optionsDoc, sp.env, DonePath, sp.example),
			Cases: sp.cases, List: sp.list})
	}
}

// list is the kinds of case a run makes.
func (sp spec) list() []conformance.Case {
	out := []conformance.Case{
		{Name: "client/command", Rule: commandRule},
		{Name: "client/calls", Rule: callsRule(sp)},
		{Name: "call/NNN METHOD PATH", Rule: callRule(sp, "<operation>") + " (one case per recorded call)"},
	}
	return append(out, sp.coverage(nil)...)
}

const commandRule = "the system under test's own test command (--opt command) exits 0"

func callsRule(sp spec) string {
	return fmt.Sprintf("the client calls the %s mock at least once", sp.kind)
}

func callRule(sp spec, op string) string {
	return fmt.Sprintf("%s: %s, request and response as the contract describes them", sp.contract, op)
}

// options are a run's checked options.
type options struct {
	addr    string
	command string
	wait    time.Duration
	dir     string
}

func (sp spec) options(tg *conformance.Target) (options, error) {
	var o options
	u := tg.URL
	if !strings.Contains(u, "://") {
		u = "http://" + u
	}
	p, err := url.Parse(u)
	if err != nil || p.Scheme != "http" || p.Port() == "" || (p.Path != "" && p.Path != "/") {
		return o, conformance.Optionf("--target %q: want the address the %s mock listens on, http://host:port (e.g. %s)", tg.URL, sp.kind, sp.example)
	}
	o.addr = p.Host
	o.command = tg.Opt("command")
	if w := tg.Opt("wait"); w != "" {
		if o.wait, err = time.ParseDuration(w); err != nil || o.wait <= 0 {
			return o, conformance.Optionf("--opt wait=%q: want a positive duration, e.g. 30s", w)
		}
	}
	if o.command == "" && o.wait == 0 {
		return o, conformance.Optionf("suite %s needs --opt command=… (the client's test command, run with %s set) or --opt wait=… (how long the client has to call %s)",
			sp.name, sp.env, sp.example)
	}
	o.dir = tg.Opt("record")
	return o, nil
}

func (sp spec) findKind() (registry.Kind, error) {
	kinds, err := registry.Kinds()
	if err != nil {
		return registry.Kind{}, err
	}
	for _, k := range kinds {
		if k.Name == sp.kind {
			return k, nil
		}
	}
	return registry.Kind{}, fmt.Errorf("no %s mock is registered", sp.kind)
}

// cases records the client's calls, then judges them.
func (sp spec) cases(ctx context.Context, tg *conformance.Target) ([]conformance.Case, error) {
	o, err := sp.options(tg)
	if err != nil {
		return nil, err
	}
	logf := func(format string, args ...any) {
		if tg.Log != nil {
			fmt.Fprintf(tg.Log, format+"\n", args...)
		}
	}
	if o.dir == "" {
		if o.dir, err = os.MkdirTemp("", "ponte-conformance-"+sp.kind+"-"); err != nil {
			return nil, err
		}
	}
	rec, err := record.New(o.dir)
	if err != nil {
		return nil, err
	}
	k, err := sp.findKind()
	if err != nil {
		return nil, err
	}
	config := map[string]any{}
	if sp.config != nil {
		config[sp.kind] = sp.config
	}
	doneReq := make(chan struct{}, 1)
	env := registry.NewEnv(config, nil)
	env.Wrap = func(k registry.Kind, h http.Handler) http.Handler {
		j := record.Judge{Uncovered: k.Uncovered}
		if k.Contract != nil {
			j.Contract = k.Contract()
		}
		rh := rec.Wrap(k.Name, j, h)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == DonePath {
				select {
				case doneReq <- struct{}{}:
				default:
				}
				w.WriteHeader(http.StatusNoContent)
				return
			}
			rh.ServeHTTP(w, r)
		})
	}
	running, err := k.Start(env, []string{o.addr})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("starting the %s mock on %s: %w", sp.kind, o.addr, err), rec.Close())
	}
	logf("%s mock recording at %s (%s=%s); recording in %s", sp.kind, running.URL, sp.env, running.URL, o.dir)

	var cmdErr error
	var cmdOut tail
	if o.command != "" {
		logf("running: %s", o.command)
		cmd := exec.CommandContext(ctx, "sh", "-c", o.command)
		cmd.Env = append(os.Environ(), sp.env+"="+running.URL)
		cmd.Stdout = io.Writer(&cmdOut)
		if tg.Log != nil {
			cmd.Stdout = io.MultiWriter(&cmdOut, tg.Log)
		}
		cmd.Stderr = cmd.Stdout
		// A child left holding the output open must not hold the suite.
		cmd.WaitDelay = 5 * time.Second
		cmdErr = cmd.Run()
	}
	if o.wait > 0 {
		logf("waiting up to %s for the client (POST %s ends it)", o.wait, DonePath)
		timer := time.NewTimer(o.wait)
		select {
		case <-timer.C:
		case <-doneReq:
			timer.Stop()
		case <-ctx.Done():
			timer.Stop()
		}
	}
	stopErr := running.Close()
	if err := errors.Join(stopErr, rec.Close()); err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	all, err := record.Read(o.dir)
	if err != nil {
		return nil, err
	}
	calls := all[sp.kind]
	logf("%d calls recorded", len(calls))

	var out []conformance.Case
	if o.command != "" {
		out = append(out, conformance.Case{Name: "client/command", Rule: commandRule, Run: func(context.Context, *conformance.Target) error {
			if cmdErr != nil {
				return fmt.Errorf("%s: %v; its last output:\n%s", o.command, cmdErr, cmdOut.String())
			}
			return nil
		}})
	}
	out = append(out, conformance.Case{Name: "client/calls", Rule: callsRule(sp), Run: func(context.Context, *conformance.Target) error {
		if len(calls) == 0 {
			return fmt.Errorf("no call reached the %s mock at %s: is %s passed to the client as its base URL?", sp.kind, running.URL, sp.env)
		}
		return nil
	}})
	for _, e := range calls {
		out = append(out, callCase(sp, e))
	}
	return append(out, sp.coverage(calls)...), nil
}

// reFiscalCode is a person's fiscal code (omocodes included).
var reFiscalCode = regexp.MustCompile(`(?i)^[A-Z]{6}[0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]$`)

func callCase(sp spec, e record.Entry) conformance.Case {
	path, _, _ := strings.Cut(e.Request.URL, "?")
	// A citizen's fiscal code in a path stays out of the report's names.
	segs := strings.Split(path, "/")
	for i, s := range segs {
		if reFiscalCode.MatchString(s) {
			segs[i] = "{fiscal_code}"
		}
	}
	path = strings.Join(segs, "/")
	op := e.Verdict.Operation
	name := fmt.Sprintf("call/%03d %s %s", e.Seq, e.Request.Method, path)
	if op != "" {
		name += " " + op
	} else {
		op = "the operation the request names"
	}
	return conformance.Case{Name: name, Rule: callRule(sp, op), Run: func(context.Context, *conformance.Target) error {
		switch {
		case e.Verdict.Unjudged != "":
			return conformance.Skipf("not judged: %s", e.Verdict.Unjudged)
		case e.Verdict.Conforms:
			return nil
		}
		return errors.New(strings.Join(e.Describe(), "\n"))
	}}
}

// GPD coverage.

func gpdCoverage(calls []record.Entry) []conformance.Case {
	return []conformance.Case{{Name: "coverage/create-and-publish",
		Rule: "GPD: a debt position is payable once published: createPosition (201) with toPublish=true, or then publishPosition (200) on its iupd",
		Run: func(context.Context, *conformance.Target) error {
			created := map[string]bool{}
			var creates int
			for _, e := range calls {
				ok := e.Verdict.Conforms && e.Response.Status/100 == 2
				switch e.Verdict.Operation {
				case "createPosition":
					creates++
					var body struct {
						IUPD string `json:"iupd"`
					}
					if !ok || json.Unmarshal(e.Request.Body, &body) != nil || body.IUPD == "" {
						continue
					}
					if u, err := url.Parse(e.Request.URL); err == nil && u.Query().Get("toPublish") == "true" {
						return nil
					}
					created[body.IUPD] = true
				case "publishPosition":
					segs := strings.Split(strings.Split(e.Request.URL, "?")[0], "/")
					if ok && len(segs) >= 2 {
						iupd, err := url.PathUnescape(segs[len(segs)-2])
						if err == nil && created[iupd] {
							return nil
						}
					}
				}
			}
			return fmt.Errorf("no debt position was both created and published (%d createPosition calls, %d created without toPublish=true and never published)",
				creates, len(created))
		}}}
}

// App IO coverage.

// ioCoverage: messages are sent only after a profile lookup of the same
// fiscal code (the citizen may not be on IO, or may have blocked the
// service: sender_allowed).
func ioCoverage(calls []record.Entry) []conformance.Case {
	return []conformance.Case{{Name: "coverage/profile-before-message",
		Rule: "App IO: at least one message, each sent after a profile lookup (getProfile or getProfileByPOST) of its fiscal code that allowed it",
		Run: func(context.Context, *conformance.Target) error {
			looked := map[string]bool{}
			var bad []string
			messages := 0
			for _, e := range calls {
				switch e.Verdict.Operation {
				case "getProfile", "getProfileByPOST":
					if e.Response.Status == http.StatusOK {
						looked[fiscalCode(e)] = true
					}
				case "submitMessageforUser", "submitMessageforUserWithFiscalCodeInBody":
					messages++
					if !looked[fiscalCode(e)] {
						bad = append(bad, fmt.Sprintf("call/%03d", e.Seq))
					}
				}
			}
			switch {
			case messages == 0:
				return errors.New("no message was submitted")
			case len(bad) > 0:
				return fmt.Errorf("%d of %d messages were sent with no profile lookup of their fiscal code before them: %s", len(bad), messages, strings.Join(bad, ", "))
			}
			return nil
		}}}
}

// fiscalCode is the citizen's fiscal code of a profile or message call:
// in the path (…/profiles/{fc}, …/messages/{fc}) or the body's fiscal_code.
func fiscalCode(e record.Entry) string {
	var body struct {
		FiscalCode string `json:"fiscal_code"`
	}
	if len(e.Request.Body) > 0 && json.Unmarshal(e.Request.Body, &body) == nil && body.FiscalCode != "" {
		return strings.ToUpper(body.FiscalCode)
	}
	path, _, _ := strings.Cut(e.Request.URL, "?")
	return strings.ToUpper(path[strings.LastIndexByte(path, '/')+1:])
}

// tail keeps the last 4 KiB written to it.
type tail struct{ b []byte }

func (t *tail) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if n := len(t.b); n > 4096 {
		t.b = t.b[n-4096:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	s := string(bytes.TrimSpace(t.b))
	if s == "" {
		return "(no output)"
	}
	return s
}
