package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hzhook/hzhook/internal/dispatch"
	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/rules"
)

// Ledger remembers the alerts each sink delivered (*inventory.Store).
type Ledger interface {
	AlertDelivered(ctx context.Context, sink, id string) (bool, error)
	MarkAlertDelivered(ctx context.Context, sink, id string, at time.Time) error
}

// Handler is the dispatch.Handler of one sink: it decodes each alert message and delivers it.
// Retries, backoff and dead letters are the dispatcher's: a transient sink error is returned as
// is (retried), a permanent one and an undecodable message wrap *events.PermanentError
// (dead-lettered at once). Deliveries within a batch run one after another.
//
// Delivery is at least once: an alert whose acknowledgement to JetStream was lost comes back. With
// a ledger the handler records each delivery before the acknowledgement and skips an alert the
// ledger already holds, so that such a redelivery sends nothing; only a crash between the sink's
// answer and the record still delivers twice (with the same Idempotency-Key). A ledger that cannot
// be read does not hold alerts back: they are delivered, at least once.
type Handler struct {
	sink    Sink
	ledger  Ledger
	metrics *Metrics
	log     *slog.Logger
	now     func() time.Time
}

// NewHandler returns the handler of sink. ledger and log may be nil.
func NewHandler(sink Sink, ledger Ledger, m *Metrics, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{sink: sink, ledger: ledger, metrics: m, log: log, now: time.Now}
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
	kind := h.sink.Kind()
	if h.ledger != nil {
		done, err := h.ledger.AlertDelivered(ctx, kind, a.ID)
		if err != nil {
			h.log.WarnContext(ctx, "alert ledger unreadable: delivering", "sink", kind, "alert", a.ID, "err", err)
		}
		if done {
			h.metrics.skipped.WithLabelValues(kind).Inc()
			h.log.InfoContext(ctx, "alert already delivered: not sent again", "sink", kind, "alert", a.ID, "attempt", m.Attempt)
			return nil
		}
	}
	err := h.sink.Deliver(ctx, a)
	if err == nil {
		h.metrics.delivered.WithLabelValues(kind).Inc()
		h.log.DebugContext(ctx, "alert delivered", "sink", kind, "alert", a.ID, "type", a.Type, "attempt", m.Attempt)
		if h.ledger != nil {
			if err := h.ledger.MarkAlertDelivered(ctx, kind, a.ID, h.now()); err != nil {
				h.log.WarnContext(ctx, "alert delivered but not recorded: a redelivery would send it again", "sink", kind, "alert", a.ID, "err", err)
			}
		}
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
