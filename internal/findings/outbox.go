package findings

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/hzhook/hzhook/internal/alerts"
	"github.com/hzhook/hzhook/internal/inventory"
	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/rules"
)

// Row is the stored form of finding f of certificate c at now, with the alert it sends.
func Row(f rules.Finding, c rules.Cert, now time.Time) (inventory.FindingRow, error) {
	a := alerts.New(f, c, now)
	body, err := json.Marshal(a)
	if err != nil {
		return inventory.FindingRow{}, fmt.Errorf("encode alert: %w", err)
	}
	return inventory.FindingRow{
		TBSSHA256: f.TBSSHA256, DedupType: f.DedupType(), Type: string(f.Type), SHA256: f.SHA256, Detail: f.Detail,
		WatchItem: f.WatchItem, ThresholdDays: f.ThresholdDays, Alert: body, CreatedAt: inventory.Ms(now), Lints: f.Lints,
	}, nil
}

// OutboxStore is what the outbox needs of the inventory (*inventory.Store).
type OutboxStore interface {
	Unpublished(ctx context.Context, issuances []string) ([]inventory.OutboxRow, error)
	UnpublishedOldest(ctx context.Context, upTo time.Time, limit int) ([]inventory.OutboxRow, error)
	MarkPublished(ctx context.Context, tbs, dedupType string, at time.Time) (first bool, err error)
}

// Outbox publishes the alerts of stored findings on HZ_ALERTS and marks them published. The alert
// id is the Nats-Msg-Id, so an alert published twice (a crash between publish and mark, two
// replicas racing) is stored once; each finding is counted and logged once, by the call that
// marked it. It is safe for concurrent use.
type Outbox struct {
	store  OutboxStore
	pub    alerts.Publisher
	m      *alerts.Metrics
	log    *slog.Logger
	now    func() time.Time
	tracer trace.Tracer // nil: no spans
	prop   propagation.TextMapPropagator
}

// Tracing is how an outbox traces what it publishes.
type Tracing struct {
	// TracerProvider makes a producer span of every alert published ("send HZ_ALERTS"), a child
	// of the span of the event that made the finding (its stored TraceParent). Nil: no spans.
	TracerProvider trace.TracerProvider
	// Propagator writes that span's trace context into the alert message's headers, so that the
	// sinks' delivery continues the event's trace. Nil: none.
	Propagator propagation.TextMapPropagator
}

// NewOutbox returns the outbox of store publishing with pub; m counts new findings by type.
func NewOutbox(store OutboxStore, pub alerts.Publisher, m *alerts.Metrics, log *slog.Logger, now func() time.Time, tr Tracing) *Outbox {
	o := &Outbox{store: store, pub: pub, m: m, log: log, now: now, prop: tr.Propagator}
	if tr.TracerProvider != nil {
		o.tracer = tr.TracerProvider.Tracer("github.com/hzhook/hzhook/internal/findings")
	}
	return o
}

// PublishIssuances publishes every unpublished finding of the given issuances, each in the trace
// of the event that made it (its stored traceparent). It returns the first error of each issuance
// whose alerts did not all go out (the rest of that issuance's findings are left for a retry), or
// err when the findings could not be read at all.
func (o *Outbox) PublishIssuances(ctx context.Context, issuances []string) (failed map[string]error, err error) {
	rows, err := o.store.Unpublished(ctx, issuances)
	if err != nil {
		return nil, err
	}
	return o.publish(ctx, rows), nil
}

// PublishOldest publishes up to limit unpublished findings made at or before upTo, oldest first. It
// returns how many went out and the first error.
func (o *Outbox) PublishOldest(ctx context.Context, upTo time.Time, limit int) (int, error) {
	rows, err := o.store.UnpublishedOldest(ctx, upTo, limit)
	if err != nil {
		return 0, err
	}
	failed := o.publish(ctx, rows)
	n := 0
	for _, r := range rows {
		if failed[r.TBSSHA256] == nil {
			n++
		}
	}
	for _, err := range failed {
		return n, err // one is enough: they share a cause
	}
	return n, nil
}

// sweepBatch is how many unpublished findings one read of a Sweep takes.
const sweepBatch = 1000

// Sweep publishes every unpublished finding made at or before upTo, oldest first, in reads of
// sweepBatch: the findings an event left behind when it was dead-lettered after its store and
// before its alerts went out, which nothing else publishes until the event is redriven. An upTo
// some time ago leaves alone the findings whose event is publishing them now. It returns how many
// went out and the first error, after which it stops.
func (o *Outbox) Sweep(ctx context.Context, upTo time.Time) (int, error) {
	total := 0
	for {
		n, err := o.PublishOldest(ctx, upTo, sweepBatch)
		total += n
		if err != nil || n < sweepBatch {
			return total, err
		}
	}
}

// publish publishes rows, each in the trace of the event that made its finding (none: the trace
// of ctx, the expiry scan's for its own findings).
func (o *Outbox) publish(ctx context.Context, rows []inventory.OutboxRow) map[string]error {
	failed := map[string]error{}
	for _, r := range rows {
		if failed[r.TBSSHA256] != nil {
			continue
		}
		if err := o.publishRow(ctx, r); err != nil {
			failed[r.TBSSHA256] = err
		}
	}
	return failed
}

func (o *Outbox) publishRow(ctx context.Context, r inventory.OutboxRow) error {
	if origin := ParseTraceParent(r.TraceParent); origin.IsValid() {
		ctx = trace.ContextWithSpanContext(ctx, origin)
	}
	var span trace.Span = noop.Span{} // never the caller's: this code ends it
	if o.tracer != nil {
		ctx, span = o.tracer.Start(ctx, "send "+queue.StreamAlerts, trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(
			attribute.String(queue.AttrMessagingSystem, queue.MessagingSystem),
			attribute.String(queue.AttrOperation, "send"),
			attribute.String("hz.finding.type", r.Type),
			attribute.String("hz.cert.tbs_sha256", r.TBSSHA256),
		))
		defer span.End()
	}
	var a alerts.Alert
	if err := json.Unmarshal(r.Alert, &a); err != nil {
		err = fmt.Errorf("decode stored alert %s: %w", r.DedupType, err)
		span.SetStatus(codes.Error, err.Error())
		return err
	}
	if span.IsRecording() {
		span.SetAttributes(attribute.String(queue.AttrDestination, alerts.Subject(a.Type)), attribute.String(queue.AttrMessageID, a.ID))
	}
	if _, err := alerts.Publish(ctx, o.pub, o.prop, a); err != nil {
		span.SetStatus(codes.Error, err.Error())
		return err
	}
	first, err := o.store.MarkPublished(ctx, r.TBSSHA256, r.DedupType, o.now())
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		return err
	}
	if first {
		o.m.Finding(rules.Type(r.Type))
		o.log.InfoContext(ctx, "finding alerted", "type", r.Type, "alert", a.ID, "tbsSha256", r.TBSSHA256, "sha256", a.Cert.SHA256)
	}
	return nil
}
