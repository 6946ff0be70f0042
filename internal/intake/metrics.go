package intake

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

type metrics struct {
	rejected       *prometheus.CounterVec
	enqueued       *prometheus.CounterVec
	duplicates     *prometheus.CounterVec
	unavailable    *prometheus.CounterVec
	enqueueSeconds prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	return &metrics{
		rejected: f.NewCounterVec(prometheus.CounterOpts{
			Name: "hz_intake_rejected_total",
			Help: "Deliveries refused, by source and reason; nothing was stored for them.",
		}, []string{"source", "reason"}),
		enqueued: f.NewCounterVec(prometheus.CounterOpts{
			Name: "hz_intake_enqueued_total",
			Help: "Events stored, in HZ_EVENTS or in an entry of the intake journal HZ_JOURNAL (moved into HZ_EVENTS moments later), by source and event type (test, ct.entry, pki.cert.new, other).",
		}, []string{"source", "type"}),
		duplicates: f.NewCounterVec(prometheus.CounterOpts{
			Name: "hz_intake_duplicates_total",
			Help: "Redeliveries of events already stored (same Nats-Msg-Id), by source; one inside a journal entry is counted when the entry is moved, in hz_journal_events_total{outcome=\"duplicate\"}.",
		}, []string{"source"}),
		unavailable: f.NewCounterVec(prometheus.CounterOpts{
			Name: "hz_intake_unavailable_total",
			Help: "Deliveries that could not be stored because JetStream failed or timed out, by source.",
		}, []string{"source"}),
		enqueueSeconds: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "hz_intake_enqueue_seconds",
			Help:    "Time from publish to JetStream acknowledgement.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}),
	}
}
