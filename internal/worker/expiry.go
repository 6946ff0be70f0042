package worker

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"go.opentelemetry.io/otel/trace"

	"github.com/hzhook/hzhook/internal/findings"
	"github.com/hzhook/hzhook/internal/queue"
)

// expiryLockKey is the cluster lock of the expiry scan, shared by every worker group.
const expiryLockKey = "expiry-scan"

// newExpiryScan runs scan every interval, one replica at a time: no event arrives when a
// certificate quietly ages.
// With tracing, each scan is a root span: the alerts of its own expiringSoon findings are published
// under it (the findings events made are published in those events' traces, stored with them).
func newExpiryScan(every time.Duration, scan findings.ExpiryScan, conn *queue.Conn, log *slog.Logger, reg prometheus.Registerer, now func() time.Time, tel telemetry) *scheduled {
	return &scheduled{
		name: expiryLockKey, every: every, js: conn.JS, owner: newOwner(), log: log,
		runs: promauto.With(reg).NewCounterVec(prometheus.CounterOpts{
			Name: "hz_worker_expiry_scans_total",
			Help: "Scheduled expiry scans of the inventory, by outcome (ok, failed, skipped: another replica held the lock).",
		}, []string{"outcome"}),
		do: func(ctx context.Context, _ func()) ([]any, error) {
			if tel.tp != nil {
				var span trace.Span
				ctx, span = tel.tp.Tracer("github.com/hzhook/hzhook/internal/worker").Start(ctx, "expiry scan", trace.WithNewRoot())
				defer span.End()
			}
			st, err := scan.Run(ctx, now())
			return []any{"scanned", st.Scanned, "found", st.Found, "published", st.Published}, err
		},
	}
}
