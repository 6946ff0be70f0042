package queue

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

type batchMetrics struct {
	messages      prometheus.Histogram
	commitSeconds prometheus.Histogram
	fallbacks     *prometheus.CounterVec
}

func newBatchMetrics(reg prometheus.Registerer) *batchMetrics {
	f := promauto.With(reg)
	return &batchMetrics{
		messages: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "hz_queue_batch_messages",
			Help:    "Messages per group commit (1: published on its own).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 11),
		}),
		commitSeconds: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "hz_queue_batch_commit_seconds",
			Help:    "Time from sending a group commit to its acknowledgement (or failure).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
		fallbacks: f.NewCounterVec(prometheus.CounterOpts{
			Name: "hz_queue_batch_fallbacks_total",
			Help: "Journal entries that failed and whose messages were published one by one, by reason (refused, timeout, connection).",
		}, []string{"reason"}),
	}
}
