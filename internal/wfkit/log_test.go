package wfkit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"go.temporal.io/sdk/activity"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/ponte-pa/ponte/internal/wfkit"
)

// TestActivityLogger: a line logged by an activity through ActivityLogger
// carries the tenant and the SDK's workflow id, run id and activity type.
func TestActivityLogger(t *testing.T) {
	var buf bytes.Buffer
	var s testsuite.WorkflowTestSuite
	s.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.NewJSONHandler(&buf, nil))))
	env := s.NewTestActivityEnvironment()
	env.RegisterActivityWithOptions(func(ctx context.Context) error {
		wfkit.ActivityLogger(ctx, "esempio").Info("positions created", "n", 3)
		return nil
	}, activity.RegisterOptions{Name: "CreatePositions"})
	if _, err := env.ExecuteActivity("CreatePositions"); err != nil {
		t.Fatal(err)
	}
	var line map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if m["msg"] == "positions created" {
			line = m
		}
	}
	if line == nil {
		t.Fatalf("the activity's line was not logged:\n%s", buf.String())
	}
	for _, k := range []string{"WorkflowID", "RunID"} {
		if v, _ := line[k].(string); v == "" {
			t.Errorf("%s missing in %v", k, line)
		}
	}
	if line["tenant"] != "esempio" || line["ActivityType"] != "CreatePositions" || line["n"] != float64(3) {
		t.Errorf("line %v", line)
	}
}
