package worker

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/hzhook/hzhook/internal/findings"
	"github.com/hzhook/hzhook/internal/queue"
)

// expiryLockKey is the cluster lock of the expiry scan, shared by every worker group.
const expiryLockKey = "expiry-scan"

// newExpiryScan runs scan every interval, one replica at a time: no event arrives when a
// certificate quietly ages.
func newExpiryScan(every time.Duration, scan findings.ExpiryScan, conn *queue.Conn, log *slog.Logger, reg prometheus.Registerer, now func() time.Time) *scheduled {
	return &scheduled{
		name: expiryLockKey, every: every, js: conn.JS, owner: newOwner(), log: log,
		runs: promauto.With(reg).NewCounterVec(prometheus.CounterOpts{
			Name: "hz_worker_expiry_scans_total",
			Help: "Scheduled expiry scans of the inventory, by outcome (ok, failed, skipped: another replica held the lock).",
		}, []string{"outcome"}),
		do: func(ctx context.Context, _ func()) ([]any, error) {
			st, err := scan.Run(ctx, now())
			return []any{"scanned", st.Scanned, "found", st.Found, "published", st.Published}, err
		},
	}
}
