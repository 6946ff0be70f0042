package linting

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Outcomes of one message, the outcome label of hz_lint_certificates_total.
const (
	outcomeLinted     = "linted"     // linted and stored
	outcomeSkipped    = "skipped"    // linted before with the same zlint and lints
	outcomeUnparsable = "unparsable" // zcrypto cannot parse it: stored as such, nothing linted
	outcomeInvalid    = "invalid"    // not a readable event: the event writer dead-letters it
	outcomeDisabled   = "disabled"   // the rules file says lints: false
	outcomeError      = "error"      // not stored; retried
)

type metrics struct {
	certs   *prometheus.CounterVec
	seconds prometheus.Histogram
	yielded prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	m := &metrics{
		certs: f.NewCounterVec(prometheus.CounterOpts{
			Name: "hz_lint_certificates_total",
			Help: "Certificates of events the lint stage handled, by outcome (linted, skipped, unparsable, invalid, disabled, error).",
		}, []string{"outcome"}),
		seconds: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "hz_lint_seconds",
			Help:    "Time zlint took on one certificate.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 14),
		}),
		yielded: f.NewCounter(prometheus.CounterOpts{
			Name: "hz_lint_yield_seconds_total",
			Help: "Time the lint stage waited for the store path's batches (summed over its concurrent batches).",
		}),
	}
	for _, o := range []string{outcomeLinted, outcomeSkipped, outcomeUnparsable, outcomeInvalid, outcomeDisabled, outcomeError} {
		m.certs.WithLabelValues(o)
	}
	return m
}
