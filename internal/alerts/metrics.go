package alerts

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/rules"
)

// Metrics are the alerting counters. Create one per registry and share it between the finding
// writer and every sink handler.
type Metrics struct {
	findings  *prometheus.CounterVec
	delivered *prometheus.CounterVec
	failed    *prometheus.CounterVec
	skipped   *prometheus.CounterVec
}

// NewMetrics registers hz_alerts_findings_total{type}, hz_alerts_delivered_total{sink},
// hz_alerts_failed_total{sink,class} and hz_alerts_redelivery_skipped_total{sink} on reg. Known
// label values start at zero.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	m := &Metrics{
		findings: f.NewCounterVec(prometheus.CounterOpts{
			Name: "hz_alerts_findings_total",
			Help: "New findings (first of their tbsSha256 and type), by finding type.",
		}, []string{"type"}),
		delivered: f.NewCounterVec(prometheus.CounterOpts{
			Name: "hz_alerts_delivered_total",
			Help: "Alerts accepted by a sink, by sink kind.",
		}, []string{"sink"}),
		failed: f.NewCounterVec(prometheus.CounterOpts{
			Name: "hz_alerts_failed_total",
			Help: "Failed alert delivery attempts, by sink kind and class (transient: retried; permanent: dead-lettered).",
		}, []string{"sink", "class"}),
		skipped: f.NewCounterVec(prometheus.CounterOpts{
			Name: "hz_alerts_redelivery_skipped_total",
			Help: "Alert messages not sent because the sink had delivered them already (their acknowledgement was lost), by sink kind.",
		}, []string{"sink"}),
	}
	for _, t := range rules.Types() {
		m.findings.WithLabelValues(string(t))
	}
	for _, k := range []string{KindWebhook, KindSlack, KindLog} {
		m.delivered.WithLabelValues(k)
		m.skipped.WithLabelValues(k)
		m.failed.WithLabelValues(k, queue.ClassTransient)
		m.failed.WithLabelValues(k, queue.ClassPermanent)
	}
	return m
}

// Finding counts a new finding of type t. Call it when the store recorded the finding for the
// first time (not for each event of the issuance), i.e. when its alert is published.
func (m *Metrics) Finding(t rules.Type) { m.findings.WithLabelValues(string(t)).Inc() }
