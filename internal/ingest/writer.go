package ingest

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
	"go.opentelemetry.io/otel/trace"

	"github.com/hzhook/hzhook/internal/dispatch"
	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/findings"
	"github.com/hzhook/hzhook/internal/inventory"
	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/rules"
)

// Store is what the writer needs of the inventory (*inventory.Store): every write of a batch in
// one transaction, or none, and the stored rows a pki.cert.new may update, to see what changed.
type Store interface {
	Apply(ctx context.Context, ws []inventory.Write) error
	StoredCerts(ctx context.Context, sha256s []string) (map[string]inventory.StoredCert, error)
}

// PolicySource returns the policy in force (*rules.Store).
type PolicySource interface {
	Policy() *rules.Policy
}

// Options are a Writer's dependencies.
type Options struct {
	Log        *slog.Logger
	Registerer prometheus.Registerer
	// Now stamps events whose message carries no receive time, and findings; time.Now when nil.
	Now func() time.Time
	// Rules judges every certificate; nil stores no findings.
	Rules PolicySource
	// Outbox publishes the alerts of new findings after the commit; nil leaves them stored and
	// unpublished (the expiry scan's sweep publishes them later).
	Outbox *findings.Outbox
	// TracerProvider makes, for every message, a span of its part of the batch ("store
	// ct.entry", a child of the message's span), and one span of the batch's transaction. Nil: no
	// spans.
	TracerProvider trace.TracerProvider
}

// Writer writes ct.entry and pki.cert.new events into the inventory. It is safe for concurrent
// use; concurrent batches serialise on SQLite's single writer.
type Writer struct {
	store  Store
	log    *slog.Logger
	now    func() time.Time
	rules  PolicySource
	outbox *findings.Outbox
	tracer trace.Tracer // nil: no spans
	events *prometheus.CounterVec
	commit prometheus.Histogram
}

// New returns the writer into store.
func New(store Store, o Options) *Writer {
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
	var tracer trace.Tracer
	if o.TracerProvider != nil {
		tracer = o.TracerProvider.Tracer(tracerName)
	}
	return &Writer{
		store: store, log: o.Log, now: o.Now, rules: o.Rules, outbox: o.Outbox, tracer: tracer,
		events: f.NewCounterVec(prometheus.CounterOpts{
			Name: "hz_inventory_events_total",
			Help: "Events the inventory handler finished, by type and outcome (stored, permanent, error).",
		}, []string{"type", "outcome"}),
		commit: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "hz_inventory_commit_seconds",
			Help:    "Time to write and commit one batch.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
	}
}

// Handlers are the dispatch handlers of the two event types, keyed by type: the dispatcher routes
// each message to the one of its type, which builds its rows.
func (w *Writer) Handlers() map[string]dispatch.Handler {
	return map[string]dispatch.Handler{
		events.TypeCTEntry: typeHandler{w: w, typ: events.TypeCTEntry, build: w.ctEntry},
		events.TypeCertNew: typeHandler{w: w, typ: events.TypeCertNew, build: w.certNew, changes: true},
	}
}

// change is everything one message changes, and the issuance whose findings it may have added
// ("" when rules are off): after the commit, the unpublished findings of these issuances are
// published.
type change struct {
	inventory.Write
	issuance string
	cert     rules.Cert // as judged (when rules are on)
	// suppressed: the message says its findings must not alert (queue.HeaderAlerts).
	suppressed bool
}

// build decodes one message of a type into its change, with the findings policy (nil: none)
// makes of its certificate. An error is permanent for that message.
type build func(m dispatch.Message, policy *rules.Policy) (change, error)

type typeHandler struct {
	w     *Writer
	typ   string
	build build
	// changes: compare each certificate with its stored row and judge what changed (see
	// Writer.judgeChanges).
	changes bool
}

// Handle decodes every message, judges its certificate against the policy and writes the batch,
// findings included, in one transaction; every message of the batch is done only once that
// transaction has committed and the alerts of its issuance's new findings are on HZ_ALERTS (the
// outbox: when publishing fails the message is retried, and its redelivery publishes what is still
// unpublished). A pki.cert.new that brings a newer copy of a stored certificate is also judged on
// what changed (Writer.judgeChanges). The findings of a message carrying "Hz-Alerts: off" are
// recorded suppressed: never alerted. A payload that cannot be decoded is a permanent error for
// its message alone; a certificate that cannot be parsed is stored and found malformed. When the
// batch transaction fails, each message is retried in its own transaction, so one row the
// database refuses cannot hold back the others; a PostgreSQL data exception (SQLSTATE class 22)
// is then permanent for that message.
func (h typeHandler) Handle(ctx context.Context, batch []dispatch.Message) []error {
	w := h.w
	spans := w.startMessages(ctx, h.typ, batch)
	defer spans.end()
	errs := make([]error, len(batch))
	var policy *rules.Policy
	if w.rules != nil {
		policy = w.rules.Policy() // one policy for the whole batch, even across a reload
	}
	cs := make([]change, 0, len(batch))
	idx := make([]int, 0, len(batch))
	for i, b := range w.buildAll(batch, policy, h.build) {
		if b.err != nil {
			errs[i] = b.err
			w.events.WithLabelValues(h.typ, "permanent").Inc()
			spans.fail(i, b.err)
			continue
		}
		cs = append(cs, b.c)
		idx = append(idx, i)
	}
	spans.event("decoded")
	if len(cs) == 0 {
		return errs
	}
	if h.changes && policy != nil {
		if err := w.judgeChanges(ctx, cs, policy); err != nil {
			for _, i := range idx {
				errs[i] = fmt.Errorf("inventory: %w", err)
				w.events.WithLabelValues(h.typ, "error").Inc()
			}
			spans.committed(cs, idx, errs)
			return errs
		}
	}
	for j := range cs {
		if cs[j].suppressed {
			for k := range cs[j].Findings {
				cs[j].Findings[k].Suppressed = true
			}
		}
		findings.WithTraceParent(cs[j].Findings, batch[idx[j]].Trace) // its alert continues this trace
	}
	ws := make([]inventory.Write, len(cs))
	for j, c := range cs {
		ws[j] = c.Write
	}
	start := time.Now()
	err := w.apply(ctx, ws)
	w.commit.Observe(time.Since(start).Seconds())
	if err != nil && len(ws) > 1 && ctx.Err() == nil {
		w.log.WarnContext(ctx, "batch write failed; writing its events one by one", "events", len(ws), "err", err)
		for j, c := range cs {
			errs[idx[j]] = w.result(h.typ, c, w.apply(batch[idx[j]].Context(ctx), ws[j:j+1]))
		}
	} else {
		for j, c := range cs {
			errs[idx[j]] = w.result(h.typ, c, err)
		}
	}
	spans.committed(cs, idx, errs)
	w.publish(ctx, cs, idx, errs)
	return errs
}

func (w *Writer) result(typ string, c change, err error) error {
	if err == nil {
		w.events.WithLabelValues(typ, "stored").Inc()
		return nil
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && len(pgErr.Code) == 5 && pgErr.Code[:2] == "22" {
		w.events.WithLabelValues(typ, "permanent").Inc()
		return events.Permanent(fmt.Errorf("inventory: database refuses event %s: %w", c.Event.ID, err))
	}
	w.events.WithLabelValues(typ, "error").Inc()
	return fmt.Errorf("inventory: %w", err)
}

type built struct {
	c   change
	err error
}

// buildAll decodes a batch on every CPU: parsing certificates costs about as much as writing them.
func (w *Writer) buildAll(batch []dispatch.Message, policy *rules.Policy, b build) []built {
	out := make([]built, len(batch))
	workers := min(runtime.GOMAXPROCS(0), 1+len(batch)/32)
	var wg sync.WaitGroup
	for k := range workers {
		wg.Go(func() {
			for i := k; i < len(batch); i += workers {
				out[i].c, out[i].err = b(batch[i], policy)
				out[i].c.suppressed = batch[i].Header.Get(queue.HeaderAlerts) == queue.AlertsOff
			}
		})
	}
	wg.Wait()
	return out
}

// eventRow is the received_events row of m, whose envelope the dispatcher parsed.
func (w *Writer) eventRow(m dispatch.Message) inventory.EventRow {
	received := m.ReceivedAt
	if received.IsZero() {
		received = w.now()
	}
	return inventory.EventRow{
		Org: m.Org, HookID: m.HookID, ID: m.Event.ID, Type: m.Event.Type, CreatedOn: inventory.Ms(m.Event.CreatedOn),
		Source: m.Source, ReceivedAt: inventory.Ms(received),
	}
}

// judge adds to c the findings policy makes of cert.
func (w *Writer) judge(c *change, policy *rules.Policy, cert rules.Cert) {
	c.issuance, c.cert = cert.TBSSHA256, cert
	now := w.now()
	for _, f := range policy.Evaluate(cert) {
		row, err := findings.Row(f, cert, now)
		if err != nil {
			w.log.Error("finding not recorded", "type", f.Type, "tbsSha256", f.TBSSHA256, "err", err)
			continue
		}
		c.Findings = append(c.Findings, row)
	}
}

// judgeChanges adds to each change whose certificate updates a stored pki.cert.new row with a
// newer copy (a later lastSeen, or the same and a later observation: the certificate sync) the
// findings of what changed (rules.Policy.EvaluateChange). The stored rows are read before the
// batch's transaction: two replicas racing on one certificate find the same change, and the
// finding store keeps it once (its dedup type carries the new value). A revocation needs nothing
// here: the newer copy is judged by Evaluate like any event, and revoked is new to its issuance.
func (w *Writer) judgeChanges(ctx context.Context, cs []change, policy *rules.Policy) error {
	shas := make([]string, 0, len(cs))
	for _, c := range cs {
		if c.Cert != nil && c.Cert.Detail == inventory.DetailCertNew {
			shas = append(shas, c.Cert.SHA256)
		}
	}
	if len(shas) == 0 {
		return nil
	}
	stored, err := w.store.StoredCerts(ctx, shas)
	if err != nil {
		return err
	}
	now := w.now()
	for j := range cs {
		c := &cs[j]
		if c.Cert == nil || c.Cert.Detail != inventory.DetailCertNew {
			continue
		}
		prev, ok := stored[c.Cert.SHA256]
		if !ok || prev.Detail != inventory.DetailCertNew || !newerCopy(c.Cert, prev) {
			continue
		}
		for _, f := range policy.EvaluateChange(rules.Previous{Ownership: prev.Ownership, EffectiveNotAfter: prev.EffectiveNotAfter}, c.cert) {
			row, err := findings.Row(f, c.cert, now)
			if err != nil {
				w.log.Error("finding not recorded", "type", f.Type, "tbsSha256", f.TBSSHA256, "err", err)
				continue
			}
			c.Findings = append(c.Findings, row)
		}
	}
	return nil
}

// newerCopy reports whether row replaces prev in the store's merge (of two pki.cert.new rows): a
// later lastSeen, or the same lastSeen and a later observation. A copy equal in both is the same
// data again (a redelivery), never a change.
func newerCopy(row *inventory.CertRow, prev inventory.StoredCert) bool {
	switch c := row.LastSeen.Compare(prev.LastSeen); {
	case c != 0:
		return c > 0
	default:
		return row.ObservedAt.After(prev.ObservedAt)
	}
}

// publish publishes the unpublished findings of the issuances of the stored messages of a batch,
// each alert in the trace of the message that made its finding (FindingRow.TraceParent).
// A message whose issuance still has an unpublished finding afterwards gets a transient error: its
// redelivery finds the finding again and publishes it.
func (w *Writer) publish(ctx context.Context, cs []change, idx []int, errs []error) {
	if w.rules == nil || w.outbox == nil {
		return
	}
	var issuances []string
	for j, c := range cs {
		if errs[idx[j]] == nil && c.issuance != "" {
			issuances = append(issuances, c.issuance)
		}
	}
	if len(issuances) == 0 {
		return
	}
	failed, err := w.outbox.PublishIssuances(ctx, issuances)
	for j, c := range cs {
		if errs[idx[j]] != nil || c.issuance == "" {
			continue
		}
		switch {
		case err != nil:
			errs[idx[j]] = fmt.Errorf("inventory: alerts: %w", err)
		case failed[c.issuance] != nil:
			errs[idx[j]] = fmt.Errorf("inventory: alerts of issuance %s: %w", c.issuance, failed[c.issuance])
		}
	}
}
