package dispatch

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Outcomes of one delivery, the outcome label of hz_dispatch_processed_total.
const (
	OutcomeOK           = "ok"            // handled (or a test event) and acknowledged
	OutcomeRetried      = "retried"       // failed; redelivered after its backoff
	OutcomeDeadLettered = "dead_lettered" // stored in HZ_DLQ and terminated
	OutcomeSkipped      = "skipped"       // no handler for its type: acknowledged and ignored
)

// typeUnknown is the type label of route keys without a handler: types come from the wire and
// would make the label unbounded.
const typeUnknown = "unknown"

type metrics struct {
	processed   *prometheus.CounterVec   // consumer, type, outcome
	seconds     *prometheus.HistogramVec // consumer, type
	pending     *prometheus.GaugeVec     // consumer
	ackPending  *prometheus.GaugeVec     // consumer
	redelivered *prometheus.GaugeVec     // consumer
	dlqDepth    *prometheus.GaugeVec     // stage
}

// newMetrics registers the dispatch metrics on reg. Several dispatchers (one per stream or group)
// may share a registry: a collector already registered by another one is reused.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		processed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hz_dispatch_processed_total",
			Help: "Deliveries settled by the dispatcher, by consumer, type and outcome (ok, retried, dead_lettered, skipped).",
		}, []string{"consumer", "type", "outcome"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hz_dispatch_handler_seconds",
			Help:    "Time one Handle call took, by consumer and type.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}, []string{"consumer", "type"}),
		pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hz_dispatch_consumer_pending_messages",
			Help: "Messages of the consumer's subjects not yet delivered (polled).",
		}, []string{"consumer"}),
		ackPending: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hz_dispatch_consumer_ack_pending_messages",
			Help: "Messages delivered and not yet acknowledged, including those waiting for a backoff (polled).",
		}, []string{"consumer"}),
		redelivered: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hz_dispatch_consumer_redelivered_messages",
			Help: "Messages delivered more than once and not yet acknowledged (polled).",
		}, []string{"consumer"}),
		dlqDepth: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hz_dlq_messages",
			Help: "Dead letters in HZ_DLQ, by stage (polled).",
		}, []string{"stage"}),
	}
	var err error
	if m.processed, err = register(reg, m.processed); err != nil {
		return nil, err
	}
	if m.seconds, err = register(reg, m.seconds); err != nil {
		return nil, err
	}
	if m.pending, err = register(reg, m.pending); err != nil {
		return nil, err
	}
	if m.ackPending, err = register(reg, m.ackPending); err != nil {
		return nil, err
	}
	if m.redelivered, err = register(reg, m.redelivered); err != nil {
		return nil, err
	}
	if m.dlqDepth, err = register(reg, m.dlqDepth); err != nil {
		return nil, err
	}
	return m, nil
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, err
	}
	return c, nil
}
