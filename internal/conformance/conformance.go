// Package conformance runs conformance suites against a system under test
// (a comune's SPID SP, its Nodo EC endpoint, its GPD or App IO client) and
// reports each case as JUnit XML for CI: `ponte conformance run --suite
// NAME --target URL --junit report.xml`. A suite is a list of cases, each
// tied to the rule it checks; suites register themselves by name.
package conformance

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// Target is what a suite runs against.
type Target struct {
	// URL of the system under test (an SP's base URL, an EC endpoint, or
	// for client suites the address the mocks listen on).
	URL string
	// Options are suite-specific settings (--opt key=value on the CLI).
	Options map[string]string
	// HTTP is the client to reach the target (default: 30 s timeout).
	HTTP *http.Client
	// Log receives progress lines (nil discards).
	Log io.Writer
}

// Case is one check of a suite.
type Case struct {
	// Name is unique in the suite, e.g. "metadata/signature".
	Name string
	// Rule names the rule checked and where it is written, e.g.
	// "spid-sp-rules.md §2.3: metadata signed with RSA-SHA256".
	Rule string
	// Run returns nil when the target conforms; an error says what it
	// did instead. ErrSkip (wrapped) skips the case with a reason.
	Run func(ctx context.Context, tg *Target) error
}

// ErrSkip, wrapped in a Case's error, marks the case skipped.
var ErrSkip = fmt.Errorf("skipped")

// Skipf is an error that skips the case, saying why.
func Skipf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrSkip}, args...)...)
}

// Suite is a named list of cases; Setup, when set, runs first and may
// return the cases (suites that discover what to check from the target).
type Suite struct {
	Name  string
	Doc   string
	Cases func(ctx context.Context, tg *Target) ([]Case, error)
	// List, when set, returns the cases a run has without running or
	// reaching anything (their Run may be nil), for `ponte conformance
	// list`; a suite whose cases come from the target lists the kinds of
	// case it makes.
	List func() []Case
}

var (
	mu     sync.Mutex
	suites = map[string]Suite{}
)

// Register adds a suite; meant for init functions (panics on a duplicate).
func Register(s Suite) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := suites[s.Name]; dup || s.Name == "" || s.Cases == nil {
		panic("conformance: bad or duplicate suite " + s.Name)
	}
	suites[s.Name] = s
}

// Suites lists the registered suites, sorted by name.
func Suites() []Suite {
	mu.Lock()
	defer mu.Unlock()
	out := make([]Suite, 0, len(suites))
	for _, s := range suites {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Lookup finds a suite by name.
func Lookup(name string) (Suite, error) {
	mu.Lock()
	defer mu.Unlock()
	s, ok := suites[name]
	if !ok {
		names := make([]string, 0, len(suites))
		for n := range suites {
			names = append(names, n)
		}
		sort.Strings(names)
		return Suite{}, fmt.Errorf("no conformance suite %q (suites: %s)", name, strings.Join(names, ", "))
	}
	return s, nil
}

// Result is one case's outcome.
type Result struct {
	Case     Case
	Err      error // nil: passed
	Skipped  bool
	Duration time.Duration
}

// Report is a suite's run.
type Report struct {
	Suite   string
	Target  string
	Started time.Time
	Results []Result
}

// Failed counts the failed cases.
func (r *Report) Failed() int {
	n := 0
	for _, x := range r.Results {
		if x.Err != nil && !x.Skipped {
			n++
		}
	}
	return n
}

// Run runs every case of s against tg, in order, each bounded by
// perCase (0: one minute).
func Run(ctx context.Context, s Suite, tg *Target, perCase time.Duration) (*Report, error) {
	if perCase <= 0 {
		perCase = time.Minute
	}
	if tg.HTTP == nil {
		tg.HTTP = &http.Client{Timeout: 30 * time.Second}
	}
	cases, err := s.Cases(ctx, tg)
	if err != nil {
		return nil, fmt.Errorf("suite %s against %s: %w", s.Name, tg.URL, err)
	}
	rep := &Report{Suite: s.Name, Target: tg.URL, Started: time.Now()}
	for _, c := range cases {
		cctx, cancel := context.WithTimeout(ctx, perCase)
		start := time.Now()
		err := c.Run(cctx, tg)
		cancel()
		res := Result{Case: c, Err: err, Duration: time.Since(start)}
		if err != nil && isSkip(err) {
			res.Skipped = true
		}
		rep.Results = append(rep.Results, res)
		if tg.Log != nil {
			status := "PASS"
			switch {
			case res.Skipped:
				status = "SKIP"
			case err != nil:
				status = "FAIL"
			}
			fmt.Fprintf(tg.Log, "%s  %s  [%s]\n", status, c.Name, c.Rule)
			if err != nil {
				fmt.Fprintf(tg.Log, "      %s\n", strings.ReplaceAll(err.Error(), "\n", "\n      "))
			}
		}
	}
	return rep, nil
}

// ErrOption, wrapped in the error of a suite's Cases, says that the
// options given (--target, --opt) are wrong or missing: a usage error,
// which the CLI answers with exit code 2.
var ErrOption = errors.New("bad option")

// Optionf is an ErrOption saying what is wrong with the options.
func Optionf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrOption}, args...)...)
}

// Opt returns the option key (--opt key=value), "" when absent.
func (tg *Target) Opt(key string) string { return tg.Options[key] }

func isSkip(err error) bool {
	for e := err; e != nil; {
		if e == ErrSkip {
			return true
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		e = u.Unwrap()
	}
	return false
}

// JUnit XML, as CI systems (GitHub Actions reporters, GitLab CI) read it.
type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Skipped   int         `xml:"skipped,attr"`
	Time      string      `xml:"time,attr"`
	Timestamp string      `xml:"timestamp,attr"`
	Cases     []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Skipped   *junitFailure `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes the report as JUnit XML: one testsuite, one testcase
// per case (classname the suite, name the case), the rule as system-out,
// a failure with what the target did.
func (r *Report) WriteJUnit(w io.Writer) error {
	js := junitSuite{Name: r.Suite + " " + r.Target, Tests: len(r.Results), Timestamp: r.Started.UTC().Format(time.RFC3339)}
	var total time.Duration
	for _, x := range r.Results {
		total += x.Duration
		c := junitCase{Name: x.Case.Name, Classname: "conformance." + r.Suite, Time: secs(x.Duration), SystemOut: x.Case.Rule}
		switch {
		case x.Skipped:
			js.Skipped++
			c.Skipped = &junitFailure{Message: x.Err.Error()}
		case x.Err != nil:
			js.Failures++
			c.Failure = &junitFailure{Message: firstLine(x.Err.Error()), Text: x.Err.Error() + "\nrule: " + x.Case.Rule}
		}
		js.Cases = append(js.Cases, c)
	}
	js.Time = secs(total)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(junitSuites{Suites: []junitSuite{js}}); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func secs(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
