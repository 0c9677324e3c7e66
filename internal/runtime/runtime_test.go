package runtime_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ponte-pa/ponte/internal/runtime"
	"github.com/ponte-pa/ponte/workflows/campaign"
	_ "github.com/ponte-pa/ponte/workflows/reconcile" // registers itself too
)

// TestWorkersPerQueue starts workers from the workflow packages' own
// registrations: all queues by default, only the asked ones with Queues,
// and an error naming the registered queues for a queue nobody registers.
func TestWorkersPerQueue(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		queues  []string
		want    int
		wantErr string
	}{
		{"every queue", nil, 5, ""},
		{"App IO only", []string{campaign.QueueAppIO}, 1, ""},
		{"unknown queue", []string{"ponte-fax"}, 0, "registered [ponte-appio ponte-campaign ponte-channels ponte-legacy ponte-pagopa]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt, err := runtime.Start(ctx, runtime.Config{})
			if err != nil {
				t.Fatal(err)
			}
			defer rt.Close()
			err = rt.StartWorkers(ctx, runtime.WorkerOptions{Queues: tt.queues})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("StartWorkers = %v, want an error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := rt.Queues(); len(got) != tt.want {
				t.Errorf("serving %v, want %d queues", got, tt.want)
			}
		})
	}
}
