package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/hzhook/hzhook/internal/dispatch"
	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/rules"
)

// Handler is the dispatch.Handler of one sink: it decodes each alert message and delivers it.
// Retries, backoff and dead letters are the dispatcher's: a transient sink error is returned as
// is (retried), a permanent one and an undecodable message wrap *events.PermanentError
// (dead-lettered at once). Deliveries within a batch run one after another; every sink tolerates
// an alert delivered twice.
type Handler struct {
	sink    Sink
	metrics *Metrics
	log     *slog.Logger
}

// NewHandler returns the handler of sink. log may be nil.
func NewHandler(sink Sink, m *Metrics, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{sink: sink, metrics: m, log: log}
}

// Handle delivers each message of batch, returning one error per message.
func (h *Handler) Handle(ctx context.Context, batch []dispatch.Message) []error {
	errs := make([]error, len(batch))
	for i, m := range batch {
		errs[i] = h.deliver(m.Context(ctx), m) // in the alert's trace: that of the event behind it
	}
	return errs
}

func (h *Handler) deliver(ctx context.Context, m dispatch.Message) error {
	var a Alert
	if err := json.Unmarshal(m.Data, &a); err != nil || a.ID == "" {
		return events.Permanent(fmt.Errorf("decode alert at seq %d: %w", m.Seq, errors.Join(err, errNoID(a))))
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("deliver alert %s: %w", a.ID, err)
	}
	err := h.sink.Deliver(ctx, a)
	kind := h.sink.Kind()
	if err == nil {
		h.metrics.delivered.WithLabelValues(kind).Inc()
		h.log.DebugContext(ctx, "alert delivered", "sink", kind, "alert", a.ID, "type", a.Type, "attempt", m.Attempt)
		return nil
	}
	class := queue.ClassTransient
	var perm *events.PermanentError
	if errors.As(err, &perm) {
		class = queue.ClassPermanent
	}
	h.metrics.failed.WithLabelValues(kind, class).Inc()
	return fmt.Errorf("deliver alert %s: %w", a.ID, err)
}

func errNoID(a Alert) error {
	if a.ID == "" {
		return errors.New("alert has no id")
	}
	return nil
}

// Routes maps every finding type to h, for a dispatcher routing on HeaderAlertType.
func Routes(h dispatch.Handler) map[string]dispatch.Handler {
	out := make(map[string]dispatch.Handler, len(rules.Types()))
	for _, t := range rules.Types() {
		out[string(t)] = h
	}
	return out
}
