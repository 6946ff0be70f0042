package worker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/hzhook/hzhook/internal/backfill"
	"github.com/hzhook/hzhook/internal/inventory"
	"github.com/hzhook/hzhook/internal/queue"
)

// expiryLockKey is the cluster lock of the expiry scan, shared by every worker group.
const expiryLockKey = "expiry-scan"

// expiryScanner runs inventory.Handler.ScanExpiry on a schedule, one replica at a time (a lock in
// backfill.LockBucket with the worker's lockTTL): no event arrives when a certificate quietly ages.
type expiryScanner struct {
	every time.Duration
	h     *inventory.Handler
	conn  *queue.Conn
	log   *slog.Logger
	owner string
	now   func() time.Time
	runs  *prometheus.CounterVec
}

func newExpiryScanner(every time.Duration, h *inventory.Handler, conn *queue.Conn, log *slog.Logger, reg prometheus.Registerer, now func() time.Time) *expiryScanner {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return &expiryScanner{
		every: every, h: h, conn: conn, log: log, owner: "worker-" + hex.EncodeToString(b), now: now,
		runs: promauto.With(reg).NewCounterVec(prometheus.CounterOpts{
			Name: "hz_worker_expiry_scans_total",
			Help: "Scheduled expiry scans of the inventory, by outcome (ok, failed, skipped: another replica held the lock).",
		}, []string{"outcome"}),
	}
}

// run scans once at start and then every s.every until ctx ends.
func (s *expiryScanner) run(ctx context.Context) error {
	t := time.NewTicker(s.every)
	defer t.Stop()
	for {
		s.once(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (s *expiryScanner) once(ctx context.Context) {
	lock, err := backfill.AcquireLock(ctx, s.conn.JS, expiryLockKey, s.owner, lockTTL)
	if errors.Is(err, backfill.ErrLocked) {
		s.runs.WithLabelValues("skipped").Inc()
		s.log.Debug("expiry scan skipped: another replica is running it")
		return
	}
	if err != nil {
		s.runs.WithLabelValues("failed").Inc()
		s.log.Warn("expiry scan lock failed", "err", err)
		return
	}
	defer func() { _ = lock.Release(context.WithoutCancel(ctx)) }()
	st, err := s.h.ScanExpiry(ctx, s.now())
	if err != nil {
		s.runs.WithLabelValues("failed").Inc()
		s.log.Warn("expiry scan failed", "err", err, "scanned", st.Scanned, "found", st.Found, "published", st.Published)
		return
	}
	s.runs.WithLabelValues("ok").Inc()
	s.log.Info("expiry scan done", "scanned", st.Scanned, "found", st.Found, "published", st.Published)
}
