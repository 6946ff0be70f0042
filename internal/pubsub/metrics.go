package pubsub

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Outcomes of a message: the values of the outcome label of hz_pubsub_acked_total and the reason
// label of hz_pubsub_nacked_total.
const (
	OutcomeStored       = "stored"        // acked: newly stored in HZ_EVENTS
	OutcomeDuplicate    = "duplicate"     // acked: HZ_EVENTS already held it (same Nats-Msg-Id)
	OutcomeDeadLettered = "dead_lettered" // acked: rejected and stored in HZ_DLQ

	NackUnavailable      = "unavailable"        // JetStream could not store the event
	NackDeadLetterFailed = "dead_letter_failed" // rejected, but HZ_DLQ could not store it
	NackShutdown         = "shutdown"           // stopping before the message could be handled
)

type metrics struct {
	received      prometheus.Counter
	acked         *prometheus.CounterVec
	nacked        *prometheus.CounterVec
	rejected      *prometheus.CounterVec
	inFlight      prometheus.Gauge
	handleSeconds prometheus.Histogram
	ageSeconds    prometheus.Histogram
	receiveErrors prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	return &metrics{
		received: f.NewCounter(prometheus.CounterOpts{
			Name: "hz_pubsub_received_total",
			Help: "Pub/Sub messages received (redeliveries included).",
		}),
		acked: f.NewCounterVec(prometheus.CounterOpts{
			Name: "hz_pubsub_acked_total",
			Help: "Pub/Sub messages acknowledged, by outcome (stored, duplicate, dead_lettered).",
		}, []string{"outcome"}),
		nacked: f.NewCounterVec(prometheus.CounterOpts{
			Name: "hz_pubsub_nacked_total",
			Help: "Pub/Sub messages handed back for redelivery, by reason (unavailable, dead_letter_failed, shutdown).",
		}, []string{"reason"}),
		rejected: f.NewCounterVec(prometheus.CounterOpts{
			Name: "hz_pubsub_rejected_total",
			Help: "Pub/Sub messages that failed verification and went to HZ_DLQ, by rejection reason.",
		}, []string{"reason"}),
		inFlight: f.NewGauge(prometheus.GaugeOpts{
			Name: "hz_pubsub_in_flight_messages",
			Help: "Pub/Sub messages being handled now.",
		}),
		handleSeconds: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "hz_pubsub_handle_seconds",
			Help:    "Time from receiving a Pub/Sub message to its ack or nack.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		ageSeconds: f.NewHistogram(prometheus.HistogramOpts{
			Name: "hz_pubsub_message_age_seconds",
			Help: "Time from Pub/Sub accepting a message (its publish time) to this receiver taking it up: a backlog draining after an outage shows here.",
			// 100ms to 7 days, Pub/Sub's retention.
			Buckets: []float64{.1, .5, 1, 5, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600, 3 * 24 * 3600, 7 * 24 * 3600},
		}),
		receiveErrors: f.NewCounter(prometheus.CounterOpts{
			Name: "hz_pubsub_receive_errors_total",
			Help: "Times the subscription stream failed and was restarted.",
		}),
	}
}
