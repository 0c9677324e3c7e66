// Command testsummary reads `go test -json` on stdin and prints what plain
// `go test` prints (a line per package, the output of failing tests, build
// errors), then how many tests ran, failed and were skipped, with the
// reason of every skip. It exits 1 when a test or a build failed, or when
// the input holds no test result at all.
//
// It lives under .ci/, which ./... patterns ignore: .ci/run runs it with
// `go run ./.ci/testsummary`.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json), with the build
// events `go test -json` adds.
type event struct {
	Action     string
	Package    string
	Test       string
	Output     string
	ImportPath string // build-output, build-fail
}

type skip struct{ name, reason string }

func main() {
	os.Exit(run(os.Stdin, os.Stdout))
}

func run(in io.Reader, out io.Writer) int {
	var (
		testOut            = map[string][]string{} // package + test → output lines
		pkgOut             = map[string][]string{}
		passed, failed     int
		skipped            []skip
		pkgFailed, results int
		buildFailed        bool
	)
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1024*1024), 64*1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil || e.Action == "" {
			// Not an event (go test writes some errors as plain text).
			fmt.Fprintln(out, string(line))
			continue
		}
		key := e.Package + " " + e.Test
		switch e.Action {
		case "build-output":
			fmt.Fprint(out, e.Output)
		case "build-fail":
			buildFailed = true
		case "output":
			if e.Test == "" {
				pkgOut[e.Package] = append(pkgOut[e.Package], e.Output)
			} else {
				testOut[key] = append(testOut[key], e.Output)
			}
		case "pass", "fail", "skip":
			if e.Test == "" {
				results++
				lines := pkgOut[e.Package]
				delete(pkgOut, e.Package)
				if e.Action == "fail" {
					pkgFailed++
					// Tests that never finished (a panic, a timeout).
					for k, l := range testOut {
						if strings.HasPrefix(k, e.Package+" ") {
							fmt.Fprint(out, strings.Join(l, ""))
							delete(testOut, k)
						}
					}
					fmt.Fprint(out, strings.Join(lines, ""))
					continue
				}
				// ok / no test files: go test's own last line.
				for _, l := range lines {
					if strings.HasPrefix(l, "ok ") || strings.HasPrefix(l, "?  ") {
						fmt.Fprint(out, l)
					}
				}
				continue
			}
			lines := testOut[key]
			delete(testOut, key)
			switch e.Action {
			case "pass":
				passed++
			case "fail":
				failed++
				fmt.Fprint(out, strings.Join(lines, ""))
			case "skip":
				skipped = append(skipped, skip{e.Package + " " + e.Test, skipReason(lines)})
			}
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintf(out, "testsummary: reading go test -json: %v\n", err)
		return 1
	}

	fmt.Fprintf(out, "\n== tests (subtests included): %d run, %d passed, %d failed, %d skipped\n",
		passed+failed+len(skipped), passed, failed, len(skipped))
	sort.Slice(skipped, func(i, j int) bool { return skipped[i].name < skipped[j].name })
	for _, s := range skipped {
		fmt.Fprintf(out, "   skipped %s: %s\n", s.name, s.reason)
	}
	switch {
	case buildFailed || pkgFailed > 0 || failed > 0:
		fmt.Fprintf(out, "== FAIL: %d failed tests, %d failed packages (build errors: %v)\n", failed, pkgFailed, buildFailed)
		return 1
	case results == 0:
		fmt.Fprintln(out, "== FAIL: no test result in the input")
		return 1
	}
	return 0
}

// skipReason is what a skipped test logged, without the === RUN and
// --- SKIP lines and the file:line prefix of t.Skip.
func skipReason(lines []string) string {
	var msg []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- ") {
			continue
		}
		if i := strings.Index(t, ".go:"); i > 0 {
			if j := strings.Index(t[i:], ": "); j > 0 {
				t = t[i+j+2:]
			}
		}
		msg = append(msg, t)
	}
	if len(msg) == 0 {
		return "(no reason given)"
	}
	return strings.Join(msg, " ")
}
