package worker

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/hzhook/hzhook/internal/dispatch"
	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/queue"
)

// lastEvent is hz_worker_last_event_timestamp_seconds{type}: the receive time of the newest event
// handed to a handler, per type. A feed that goes silent (a broken hook, an expired Pub/Sub
// subscription) shows as a growing time() - this; no event is ever lost silently, but the absence
// of events must be noticed too.
type lastEvent struct {
	gauge *prometheus.GaugeVec
	now   func() time.Time

	mu     sync.Mutex
	newest map[string]time.Time
}

// lastEventTypes bounds the type label: types come from the wire.
func lastEventTypes() []string {
	return []string{events.TypeCTEntry, events.TypeCertNew, events.TypeTest}
}

func newLastEvent(reg prometheus.Registerer, now func() time.Time) *lastEvent {
	return &lastEvent{
		gauge: promauto.With(reg).NewGaugeVec(prometheus.GaugeOpts{
			Name: "hz_worker_last_event_timestamp_seconds",
			Help: "Receive time (unix seconds) of the newest event processed, by type (ct.entry, pki.cert.new, test).",
		}, []string{"type"}),
		now:    now,
		newest: map[string]time.Time{},
	}
}

// observe moves the gauge of each event type of batch forward to its newest receive time.
func (l *lastEvent) observe(batch []dispatch.Message) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range batch {
		typ := m.Event.Type
		if typ == "" {
			typ = m.Header.Get(queue.HeaderEventType)
		}
		known := false
		for _, t := range lastEventTypes() {
			known = known || t == typ
		}
		if !known {
			continue
		}
		at := m.ReceivedAt
		if at.IsZero() {
			at = l.now()
		}
		if at.After(l.newest[typ]) {
			l.newest[typ] = at
			l.gauge.WithLabelValues(typ).Set(float64(at.UnixMilli()) / 1000)
		}
	}
}

// observed wraps a handler so that every batch it is handed moves the last-event gauge: an event
// counts as received by the worker whatever its handler's outcome.
type observed struct {
	next dispatch.Handler
	last *lastEvent
}

func (o observed) Handle(ctx context.Context, batch []dispatch.Message) []error {
	o.last.observe(batch)
	return o.next.Handle(ctx, batch)
}

// ackAll is the handler of test events: nothing to do but acknowledge.
type ackAll struct{}

func (ackAll) Handle(_ context.Context, batch []dispatch.Message) []error {
	return make([]error, len(batch))
}

// observeAll wraps every handler of hs (and adds one acknowledging test events) with the gauge.
func observeAll(hs map[string]dispatch.Handler, last *lastEvent) map[string]dispatch.Handler {
	out := make(map[string]dispatch.Handler, len(hs)+1)
	for k, h := range hs {
		out[k] = observed{next: h, last: last}
	}
	if _, ok := out[events.TypeTest]; !ok {
		out[events.TypeTest] = observed{next: ackAll{}, last: last}
	}
	return out
}
