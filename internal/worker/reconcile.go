package worker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/hzhook/hzhook/internal/backfill"
	"github.com/hzhook/hzhook/internal/hardenize"
	"github.com/hzhook/hzhook/internal/queue"
)

// lockTTL is the life of a cluster-wide lock between refreshes; every lock in backfill.LockBucket
// shares it.
const lockTTL = 30 * time.Minute

// retryWindow is how far back each reconcile reaches beyond its interval: Hardenize retries a
// webhook for 24 hours, so an event may arrive that late, and the pull must cover it.
const retryWindow = 25 * time.Hour

// reconciler pulls the Hardenize events API on a schedule ("belt and braces") and stores what the
// webhooks missed, with the webhook's message ids so nothing is stored twice. One replica at a time
// runs it, under a lock in JetStream.
type reconciler struct {
	cfg   ReconcileConfig
	conn  *queue.Conn
	bf    *backfill.Backfiller
	log   *slog.Logger
	owner string
	now   func() time.Time
	runs  *prometheus.CounterVec
	saved prometheus.Counter
}

func newReconciler(cfg ReconcileConfig, conn *queue.Conn, log *slog.Logger, reg prometheus.Registerer) (*reconciler, error) {
	creds := hardenize.Credentials{User: cfg.User, Password: cfg.Password}
	if cfg.Credentials != "" {
		var err error
		if creds, err = hardenize.LoadCredentials(cfg.Credentials); err != nil {
			return nil, fmt.Errorf("--hardenize-credentials: %w", err)
		}
	}
	api, err := hardenize.New(hardenize.Options{BaseURL: cfg.APIURL, Org: cfg.Org, Credentials: creds})
	if err != nil {
		return nil, fmt.Errorf("hardenize api: %w", err)
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	f := promauto.With(reg)
	return &reconciler{
		cfg:   cfg,
		conn:  conn,
		bf:    backfill.New(backfill.Deps{API: api, Publisher: queue.NewPublisher(conn.JS), Stream: conn.JS, Log: log}),
		log:   log,
		owner: "worker-" + hex.EncodeToString(b),
		now:   time.Now,
		runs: f.NewCounterVec(prometheus.CounterOpts{
			Name: "hz_reconcile_runs_total",
			Help: "Scheduled pulls of the Hardenize events API, by outcome (ok, failed, skipped: another replica held the lock).",
		}, []string{"outcome"}),
		saved: f.NewCounter(prometheus.CounterOpts{
			Name: "hz_reconcile_stored_total",
			Help: "Events the scheduled pull found missing and stored in HZ_EVENTS.",
		}),
	}, nil
}

// run reconciles once at start and then every cfg.Every until ctx ends.
func (r *reconciler) run(ctx context.Context) error {
	t := time.NewTicker(r.cfg.Every)
	defer t.Stop()
	for {
		r.once(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (r *reconciler) once(ctx context.Context) {
	lock, err := backfill.AcquireLock(ctx, r.conn.JS, "reconcile."+queue.Token(r.cfg.Org), r.owner, lockTTL)
	if errors.Is(err, backfill.ErrLocked) {
		r.runs.WithLabelValues("skipped").Inc()
		r.log.Info("reconcile skipped: another replica is running it")
		return
	}
	if err != nil {
		r.runs.WithLabelValues("failed").Inc()
		r.log.Warn("reconcile lock failed", "err", err)
		return
	}
	defer func() { _ = lock.Release(context.WithoutCancel(ctx)) }()
	st, err := r.bf.Run(ctx, backfill.Options{
		Org:      r.cfg.Org,
		HookID:   r.cfg.HookID,
		Since:    r.now().Add(-(r.cfg.Every + retryWindow)),
		Progress: func(backfill.Progress) { _ = lock.Refresh(ctx) },
	})
	r.saved.Add(float64(st.Stored))
	if err != nil {
		r.runs.WithLabelValues("failed").Inc()
		r.log.Warn("reconcile failed", "err", err, "pages", st.Pages, "events", st.Events, "stored", st.Stored)
		return
	}
	r.runs.WithLabelValues("ok").Inc()
	r.log.Info("reconcile done", "pages", st.Pages, "events", st.Events, "stored", st.Stored,
		"already_stored", st.AlreadyStored+st.Duplicates, "elapsed", st.Elapsed.String())
}
