package inventory

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/hzhook/hzhook/internal/dispatch"
	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/queue"
)

// writer is what Handler needs of a store: apply every write in one transaction, or none.
type writer interface {
	apply(ctx context.Context, ws []write) error
}

// Options are a Handler's dependencies.
type Options struct {
	Log        *slog.Logger
	Registerer prometheus.Registerer
	// Now stamps events whose message carries no receive time; time.Now when nil.
	Now func() time.Time
}

// Handler writes ct.entry and pki.cert.new events into a Store. It implements dispatch.Handler for
// both types (register it for each) and acknowledges test events without writing. It is safe for
// concurrent use; concurrent batches serialise on SQLite's single writer.
type Handler struct {
	w      writer
	log    *slog.Logger
	now    func() time.Time
	events *prometheus.CounterVec
	commit prometheus.Histogram
}

var _ dispatch.Handler = (*Handler)(nil)

// NewHandler returns the inventory handler writing into store.
func NewHandler(store *Store, o Options) *Handler {
	return newHandler(store, o)
}

func newHandler(w writer, o Options) *Handler {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	f := promauto.With(o.Registerer)
	return &Handler{
		w: w, log: o.Log, now: o.Now,
		events: f.NewCounterVec(prometheus.CounterOpts{
			Name: "hz_inventory_events_total",
			Help: "Events the inventory handler finished, by type and outcome (stored, ignored, permanent, error).",
		}, []string{"type", "outcome"}),
		commit: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "hz_inventory_commit_seconds",
			Help:    "Time to write and commit one batch.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
	}
}

// Handle decodes every message and writes the batch in one transaction; every message of the batch
// is done only once that transaction has committed. A payload that cannot be decoded is a permanent
// error for its message alone. When the batch transaction fails, each message is retried in its own
// transaction, so one row the database refuses cannot hold back the others; a PostgreSQL data
// exception (SQLSTATE class 22) is then permanent for that message.
func (h *Handler) Handle(ctx context.Context, batch []dispatch.Message) []error {
	errs := make([]error, len(batch))
	ws := make([]write, 0, len(batch))
	idx := make([]int, 0, len(batch))
	for i, b := range h.buildAll(batch) {
		switch {
		case b.err != nil:
			errs[i] = b.err
			h.events.WithLabelValues(b.typ, "permanent").Inc()
		case b.w == nil:
			h.events.WithLabelValues(b.typ, "ignored").Inc()
		default:
			ws = append(ws, *b.w)
			idx = append(idx, i)
		}
	}
	if len(ws) == 0 {
		return errs
	}
	start := time.Now()
	err := h.w.apply(ctx, ws)
	h.commit.Observe(time.Since(start).Seconds())
	if err != nil && len(ws) > 1 && ctx.Err() == nil {
		h.log.WarnContext(ctx, "batch write failed; writing its events one by one", "events", len(ws), "err", err)
		for j, w := range ws {
			errs[idx[j]] = h.result(ctx, w, h.w.apply(ctx, []write{w}))
		}
		return errs
	}
	for j, w := range ws {
		errs[idx[j]] = h.result(ctx, w, err)
	}
	return errs
}

func (h *Handler) result(ctx context.Context, w write, err error) error {
	if err == nil {
		h.events.WithLabelValues(w.event.typ, "stored").Inc()
		return nil
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && len(pgErr.Code) == 5 && pgErr.Code[:2] == "22" {
		h.events.WithLabelValues(w.event.typ, "permanent").Inc()
		return events.Permanent(fmt.Errorf("inventory: database refuses event %s: %w", w.event.id, err))
	}
	h.events.WithLabelValues(w.event.typ, "error").Inc()
	return fmt.Errorf("inventory: %w", err)
}

type built struct {
	w   *write
	typ string
	err error
}

// buildAll decodes a batch on every CPU: parsing certificates costs about as much as writing them.
func (h *Handler) buildAll(batch []dispatch.Message) []built {
	out := make([]built, len(batch))
	workers := min(runtime.GOMAXPROCS(0), 1+len(batch)/32)
	var wg sync.WaitGroup
	for k := range workers {
		wg.Go(func() {
			for i := k; i < len(batch); i += workers {
				out[i].w, out[i].typ, out[i].err = h.build(batch[i])
			}
		})
	}
	wg.Wait()
	return out
}

// build decodes one message into its write; nil for a test event. typ is a bounded metric label.
func (h *Handler) build(m dispatch.Message) (*write, string, error) {
	ev := m.Event
	if ev.Type == "" {
		parsed, err := events.ParseEnvelope(m.Data)
		if err != nil {
			return nil, "other", events.Permanent(fmt.Errorf("inventory: %w", err))
		}
		ev = parsed
	}
	org, hook, source := m.Org, m.HookID, m.Source
	if org == "" {
		org = m.Header.Get(queue.HeaderOrg)
	}
	if hook == "" {
		hook = m.Header.Get(queue.HeaderHookID)
	}
	if source == "" {
		source = m.Header.Get(queue.HeaderSource)
	}
	received := m.ReceivedAt
	if received.IsZero() {
		received = h.now()
	}
	w := &write{event: eventRow{
		org: org, hookID: hook, id: ev.ID, typ: ev.Type, createdOn: ms(ev.CreatedOn),
		source: source, receivedAt: ms(received),
	}}
	switch ev.Type {
	case events.TypeTest:
		return nil, events.TypeTest, nil
	case events.TypeCTEntry:
		entry, leaf, err := events.DecodeCTEntry(ev)
		if err != nil {
			return nil, ev.Type, err
		}
		if w.cert, err = certFromCTEntry(entry, leaf); err != nil {
			return nil, ev.Type, events.Permanent(err)
		}
		w.entry = entryFromCTEntry(entry)
	case events.TypeCertNew:
		c, parsed, parseErr, err := events.DecodeCertificate(ev)
		if err != nil {
			return nil, ev.Type, err
		}
		if parseErr != nil {
			h.log.Info("certificate stored without x509 parse", "sha256", c.SHA256, "err", parseErr)
		}
		w.cert = certFromCertNew(c, parsed, ev.Data, ev.CreatedOn)
	default:
		return nil, "other", events.Permanent(fmt.Errorf("inventory: unsupported event type %q", ev.Type))
	}
	return w, ev.Type, nil
}
