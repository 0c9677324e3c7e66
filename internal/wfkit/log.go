package wfkit

import (
	"context"

	"go.temporal.io/sdk/activity"
	sdklog "go.temporal.io/sdk/log"
)

// ActivityLogger is the logger of an activity working for tenant: the
// SDK's activity logger (the process's slog logger, through the client's
// structured logger), which carries WorkflowID, RunID, ActivityType and
// Attempt, with the tenant added, so that every activity log line says
// whose work it is and which run did it.
func ActivityLogger(ctx context.Context, tenant string) sdklog.Logger {
	return sdklog.With(activity.GetLogger(ctx), "tenant", tenant)
}
