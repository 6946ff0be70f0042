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

	"github.com/hzhook/hzhook/internal/alerts"
	"github.com/hzhook/hzhook/internal/dispatch"
	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/rules"
)

// writer is what Handler needs of a store: apply every write in one transaction, or none, and
// keep the findings' outbox.
type writer interface {
	apply(ctx context.Context, ws []write) error
	recordFindings(ctx context.Context, fs []findingRow) error
	unpublished(ctx context.Context, issuances []string) ([]outboxRow, error)
	unpublishedOldest(ctx context.Context, limit int) ([]outboxRow, error)
	markPublished(ctx context.Context, tbs, dedupType string, at time.Time) (bool, error)
	expiryCandidates(ctx context.Context, now, until time.Time, after string) ([]expiryCandidate, string, error)
}

// PolicySource returns the policy in force (*rules.Store).
type PolicySource interface {
	Policy() *rules.Policy
}

// Options are a Handler's dependencies.
type Options struct {
	Log        *slog.Logger
	Registerer prometheus.Registerer
	// Now stamps events whose message carries no receive time, findings and alerts; time.Now
	// when nil.
	Now func() time.Time
	// Rules judges every certificate; nil stores no findings.
	Rules PolicySource
	// Alerts publishes the alert of each new finding on HZ_ALERTS (*queue.Publisher); nil leaves
	// findings stored and unpublished.
	Alerts alerts.Publisher
	// AlertMetrics counts new findings by type; nil registers a private set.
	AlertMetrics *alerts.Metrics
}

// Handler writes ct.entry and pki.cert.new events into a Store. It implements dispatch.Handler for
// both types (register it for each) and acknowledges test events without writing. It is safe for
// concurrent use; concurrent batches serialise on SQLite's single writer.
type Handler struct {
	w      writer
	log    *slog.Logger
	now    func() time.Time
	rules  PolicySource
	pub    alerts.Publisher
	am     *alerts.Metrics
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
	if o.AlertMetrics == nil {
		o.AlertMetrics = alerts.NewMetrics(prometheus.NewRegistry())
	}
	f := promauto.With(o.Registerer)
	return &Handler{
		w: w, log: o.Log, now: o.Now, rules: o.Rules, pub: o.Alerts, am: o.AlertMetrics,
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

// Handle decodes every message, judges its certificate against the policy and writes the batch,
// findings included, in one transaction; every message of the batch is done only once that
// transaction has committed and the alerts of its issuance's new findings are on HZ_ALERTS (the
// outbox: when publishing fails the message is retried, and its redelivery publishes what is still
// unpublished). A payload that cannot be decoded is a permanent error for its message alone; a
// certificate that cannot be parsed is stored and found malformed. When the batch transaction
// fails, each message is retried in its own transaction, so one row the database refuses cannot
// hold back the others; a PostgreSQL data exception (SQLSTATE class 22) is then permanent for that
// message.
func (h *Handler) Handle(ctx context.Context, batch []dispatch.Message) []error {
	errs := make([]error, len(batch))
	ws := make([]write, 0, len(batch))
	idx := make([]int, 0, len(batch))
	var policy *rules.Policy
	if h.rules != nil {
		policy = h.rules.Policy() // one policy for the whole batch, even across a reload
	}
	for i, b := range h.buildAll(batch, policy) {
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
	} else {
		for j, w := range ws {
			errs[idx[j]] = h.result(ctx, w, err)
		}
	}
	h.publishBatch(ctx, ws, idx, errs)
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
func (h *Handler) buildAll(batch []dispatch.Message, policy *rules.Policy) []built {
	out := make([]built, len(batch))
	workers := min(runtime.GOMAXPROCS(0), 1+len(batch)/32)
	var wg sync.WaitGroup
	for k := range workers {
		wg.Go(func() {
			for i := k; i < len(batch); i += workers {
				out[i].w, out[i].typ, out[i].err = h.build(batch[i], policy)
			}
		})
	}
	wg.Wait()
	return out
}

// build decodes one message into its write, with the findings policy (nil: none) makes of its
// certificate; nil for a test event. typ is a bounded metric label.
func (h *Handler) build(m dispatch.Message, policy *rules.Policy) (*write, string, error) {
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
		entry, leaf, parseErr, err := events.DecodeCTEntry(ev)
		if err != nil {
			return nil, ev.Type, err
		}
		if parseErr != nil {
			h.log.Info("certificate stored without x509 parse", "sha256", entry.SHA256, "err", parseErr)
		}
		if w.cert, err = certFromCTEntry(entry, leaf); err != nil {
			return nil, ev.Type, events.Permanent(err)
		}
		w.entry = entryFromCTEntry(entry)
		if policy != nil {
			h.judge(w, policy, rules.FromCTEntry(entry, leaf, parseErr))
		}
	case events.TypeCertNew:
		c, parsed, parseErr, err := events.DecodeCertificate(ev)
		if err != nil {
			return nil, ev.Type, err
		}
		if parseErr != nil {
			h.log.Info("certificate stored without x509 parse", "sha256", c.SHA256, "err", parseErr)
		}
		w.cert = certFromCertNew(c, parsed, ev.Data, ev.CreatedOn)
		if policy != nil {
			h.judge(w, policy, rules.FromCertificate(c, parsed, parseErr))
		}
	default:
		return nil, "other", events.Permanent(fmt.Errorf("inventory: unsupported event type %q", ev.Type))
	}
	return w, ev.Type, nil
}
