package worker

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/hzhook/hzhook/internal/backfill"
	"github.com/hzhook/hzhook/internal/queue"
)

// retryWindow is how far back each reconcile reaches beyond its interval: Hardenize retries a
// webhook for 24 hours, so an event may arrive that late, and the pull must cover it.
const retryWindow = 25 * time.Hour

// newReconciler pulls the Hardenize events API every cfg.Every ("belt and braces") and stores what
// the webhooks missed, with the webhook's message ids so nothing is stored twice; one replica at a
// time runs it.
func newReconciler(cfg ReconcileConfig, conn *queue.Conn, log *slog.Logger, reg prometheus.Registerer) (*scheduled, error) {
	api, err := hardenizeClient(cfg, nil)
	if err != nil {
		return nil, err
	}
	bf := backfill.New(backfill.Deps{API: api, Publisher: queue.NewPublisher(conn.JS), Stream: conn.JS, Log: log})
	f := promauto.With(reg)
	saved := f.NewCounter(prometheus.CounterOpts{
		Name: "hz_reconcile_stored_total",
		Help: "Events the scheduled pull found missing and stored in HZ_EVENTS.",
	})
	return &scheduled{
		name: "reconcile." + queue.Token(cfg.Org), every: cfg.Every, js: conn.JS, owner: newOwner(), log: log,
		runs: f.NewCounterVec(prometheus.CounterOpts{
			Name: "hz_reconcile_runs_total",
			Help: "Scheduled pulls of the Hardenize events API, by outcome (ok, failed, skipped: another replica held the lock).",
		}, []string{"outcome"}),
		do: func(ctx context.Context, refresh func()) ([]any, error) {
			st, err := bf.Run(ctx, backfill.Options{
				Org:      cfg.Org,
				HookID:   cfg.HookID,
				Since:    time.Now().Add(-(cfg.Every + retryWindow)),
				Progress: func(backfill.Progress) { refresh() },
			})
			saved.Add(float64(st.Stored))
			return []any{"pages", st.Pages, "events", st.Events, "stored", st.Stored,
				"already_stored", st.AlreadyStored + st.Duplicates, "elapsed", st.Elapsed.String()}, err
		},
	}, nil
}
