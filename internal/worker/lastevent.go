package worker

import (
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/hzhook/hzhook/internal/events"
)

// lastEvent is hz_worker_last_event_timestamp_seconds{type}: the receive time of the newest event
// the worker fetched, per type. A feed that goes silent (a broken hook, an expired Pub/Sub
// subscription) shows as a growing time() - this; no event is ever lost silently, but the absence
// of events must be noticed too.
type lastEvent struct {
	gauge *prometheus.GaugeVec
	now   func() time.Time // for events stored without a receive time

	mu     sync.Mutex
	newest map[string]time.Time
}

func newLastEvent(reg prometheus.Registerer, now func() time.Time) *lastEvent {
	return &lastEvent{
		now: now,
		gauge: promauto.With(reg).NewGaugeVec(prometheus.GaugeOpts{
			Name: "hz_worker_last_event_timestamp_seconds",
			Help: "Receive time (unix seconds) of the newest event fetched, by type (ct.entry, pki.cert.new, test).",
		}, []string{"type"}),
		newest: map[string]time.Time{},
	}
}

// received moves the gauge of label forward to at (dispatch.Options.Received). Labels are already
// bounded by the dispatcher; "unknown" types are left out.
func (l *lastEvent) received(label string, at time.Time) {
	if !slices.Contains([]string{events.TypeCTEntry, events.TypeCertNew, events.TypeTest}, label) {
		return
	}
	if at.IsZero() {
		at = l.now()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if at.After(l.newest[label]) {
		l.newest[label] = at
		l.gauge.WithLabelValues(label).Set(float64(at.UnixMilli()) / 1000)
	}
}
