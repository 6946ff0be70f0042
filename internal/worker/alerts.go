package worker

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/hzhook/hzhook/internal/alerts"
	"github.com/hzhook/hzhook/internal/dispatch"
	"github.com/hzhook/hzhook/internal/findings"
	"github.com/hzhook/hzhook/internal/queue"
)

// StageAlerts is the dead-letter stage of alert sinks: their dead letters are hz.dlq.alerts.
const StageAlerts = "alerts"

// SinkConsumer is the durable consumer of HZ_ALERTS of one sink kind, shared by every replica:
// each sink takes every alert once, independently of the others.
func SinkConsumer(kind string) string { return "hz-alerts-" + kind }

// newSinks builds the configured sinks: webhook, Slack, log.
func newSinks(cfg AlertsConfig, log *slog.Logger, tel telemetry) ([]alerts.Sink, error) {
	var out []alerts.Sink
	tr := alerts.Tracing{TracerProvider: tel.tp, Propagator: tel.prop}
	if cfg.WebhookURL != "" {
		s, err := alerts.NewWebhookSink(alerts.WebhookOptions{URL: cfg.WebhookURL, Secret: cfg.WebhookSecret, Trace: tr})
		if err != nil {
			return nil, fmt.Errorf("--alert-webhook-url: %w", err)
		}
		out = append(out, s)
	}
	if cfg.SlackURL != "" {
		s, err := alerts.NewSlackSink(alerts.SlackOptions{URL: cfg.SlackURL, Trace: tr})
		if err != nil {
			return nil, fmt.Errorf("HZ_ALERT_SLACK_URL: %w", err)
		}
		out = append(out, s)
	}
	if cfg.Log {
		out = append(out, alerts.NewLogSink(log.With("component", "alerts")))
	}
	return out, nil
}

// newSinkDispatcher returns the dispatcher delivering HZ_ALERTS to sink, with the worker's retry,
// backoff and dead-letter settings (dead letters to hz.dlq.alerts).
func newSinkDispatcher(conn *queue.Conn, cfg Config, sink alerts.Sink, ledger alerts.Ledger, m *alerts.Metrics, log *slog.Logger, reg prometheus.Registerer, tel telemetry) (*dispatch.Dispatcher, error) {
	return dispatch.New(conn.JS, nil, dispatch.Options{
		Stream:         queue.StreamAlerts,
		Consumer:       SinkConsumer(sink.Kind()),
		Description:    "hzhook alert sink " + sink.Kind(),
		FilterSubjects: []string{queue.AlertsSubjectPrefix + ">"},
		Stage:          StageAlerts,
		RouteHeader:    alerts.HeaderAlertType,
		Handlers:       alerts.Routes(alerts.NewHandler(sink, ledger, m, log)),
		MaxDeliver:     cfg.MaxDeliver,
		Backoff:        cfg.Backoff,
		AckWait:        cfg.AckWait,
		BatchSize:      10, // one HTTP request per alert: keep a batch well inside AckWait
		Concurrency:    1,
		ShutdownGrace:  cfg.ShutdownTimeout,
		Log:            log,
		Registerer:     reg,
		TracerProvider: tel.tp,
		Propagator:     tel.prop,
	})
}

// alertSweepLockKey is the cluster lock of the alert sweep, shared by every worker group.
const alertSweepLockKey = "alert-sweep"

// newAlertSweep publishes, every interval and on one replica at a time, the alerts of findings
// whose event was dead-lettered after they were stored: without it they would wait for the
// event's redrive. It takes those pending for an interval at least, leaving alone the ones an
// event's handler is publishing right now.
func newAlertSweep(every time.Duration, outbox *findings.Outbox, conn *queue.Conn, log *slog.Logger, reg prometheus.Registerer) *scheduled {
	return &scheduled{
		name: alertSweepLockKey, every: every, js: conn.JS, owner: newOwner(), log: log, frequent: true, // each alert it publishes is logged
		runs: promauto.With(reg).NewCounterVec(prometheus.CounterOpts{
			Name: "hz_worker_alert_sweeps_total",
			Help: "Scheduled sweeps publishing the alerts of findings left unpublished, by outcome (ok, failed, skipped: another replica held the lock).",
		}, []string{"outcome"}),
		do: func(ctx context.Context, _ func()) ([]any, error) {
			n, err := outbox.Sweep(ctx, time.Now().Add(-every))
			return []any{"published", n}, err
		},
	}
}
