package conformance

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"strings"
	"testing"
)

// TestRunAndJUnit: each case's outcome (pass, fail, skip) is reported, a
// case that overruns its time is cut, and the JUnit XML says the same, one
// testcase per case with the rule and the reason of a failure.
func TestRunAndJUnit(t *testing.T) {
	s := Suite{Name: "demo", Cases: func(context.Context, *Target) ([]Case, error) {
		return []Case{
			{Name: "ok", Rule: "rule 1", Run: func(context.Context, *Target) error { return nil }},
			{Name: "bad", Rule: "rule 2", Run: func(context.Context, *Target) error { return errors.New("the target said 500\nbody: x") }},
			{Name: "n/a", Rule: "rule 3", Run: func(context.Context, *Target) error { return Skipf("no billing contact for a public SP") }},
			{Name: "slow", Rule: "rule 4", Run: func(ctx context.Context, _ *Target) error { <-ctx.Done(); return ctx.Err() }},
		}, nil
	}}
	var log bytes.Buffer
	rep, err := Run(context.Background(), s, &Target{URL: "http://127.0.0.1:1", Log: &log}, 50e6)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failed() != 2 || !rep.Results[2].Skipped || rep.Results[0].Err != nil {
		t.Fatalf("results %+v", rep.Results)
	}
	for _, want := range []string{"PASS  ok  [rule 1]", "FAIL  bad  [rule 2]\n      the target said 500", "SKIP  n/a", "FAIL  slow  [rule 4]\n      context deadline exceeded"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
	var out bytes.Buffer
	if err := rep.WriteJUnit(&out); err != nil {
		t.Fatal(err)
	}
	var got junitSuites
	if err := xml.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("JUnit does not parse: %v\n%s", err, out.String())
	}
	js := got.Suites[0]
	if js.Tests != 4 || js.Failures != 2 || js.Skipped != 1 || js.Cases[1].Failure == nil || js.Cases[1].Failure.Message != "the target said 500" ||
		!strings.Contains(js.Cases[1].Failure.Text, "rule: rule 2") || js.Cases[0].Classname != "conformance.demo" {
		t.Errorf("JUnit %+v", js)
	}
	if _, err := Lookup("nope"); err == nil {
		t.Error("Lookup of an unknown suite")
	}
}
