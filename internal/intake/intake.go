package intake

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/verify"
)

// ErrUnavailable means the event could not be stored now; the sender should retry later.
var ErrUnavailable = errors.New("event store unavailable")

// Verifier proves a delivery genuine; the signature's timestamp is held against at (zero: now).
type Verifier interface {
	VerifyAt(org, hookID, signature string, body []byte, at time.Time) error
}

// Publisher stores a message durably and returns once the store acknowledged it.
type Publisher interface {
	Publish(ctx context.Context, msg *nats.Msg, msgID string) (duplicate bool, err error)
}

// Delivery is one event as it arrived, before any check.
type Delivery struct {
	Org       string // X-Hardenize-Org
	HookID    string // X-Hardenize-EventHookId
	Signature string // X-Hardenize-Signature
	Body      []byte // verbatim; stored byte for byte. Accept keeps no reference to it once it returned, except Result.Event.Data
	Source    string // queue.SourceWebhook, queue.SourcePubSub, ...
	// PublishedAt is when the sender handed the delivery to a transport that keeps a backlog (the
	// Pub/Sub publish time); the signature's timestamp must be within the tolerance of it. Zero for
	// webhooks: the timestamp is held against the receiver's clock.
	PublishedAt time.Time
}

// Result describes a stored event.
type Result struct {
	Event     events.Event
	Duplicate bool // the stream already held this event (same Nats-Msg-Id): stored once
}

// Options tune an Intake.
type Options struct {
	PublishTimeout time.Duration    // bound on waiting for the stream's acknowledgement
	Now            func() time.Time // clock for the receive-time header
	Registerer     prometheus.Registerer
	// TracerProvider makes the producer span of each publish, a child of the span in Accept's ctx
	// (the webhook request, the Pub/Sub message). Nil: no spans.
	TracerProvider trace.TracerProvider
	// Propagator writes the publish span's trace context into the stored event's headers, so the
	// worker continues the trace; it also reads a redriven letter's (ServeReverify). Nil: none.
	Propagator propagation.TextMapPropagator
}

// Intake verifies and stores deliveries. It is safe for concurrent use.
type Intake struct {
	verifier Verifier
	pub      Publisher
	timeout  time.Duration
	now      func() time.Time
	m        *metrics
	tracer   trace.Tracer // nil: no spans
	prop     propagation.TextMapPropagator
}

// New returns an Intake that checks deliveries with v and stores them with p.
func New(v Verifier, p Publisher, o Options) *Intake {
	if o.PublishTimeout <= 0 {
		o.PublishTimeout = 5 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	in := &Intake{verifier: v, pub: p, timeout: o.PublishTimeout, now: o.Now, m: newMetrics(o.Registerer), prop: o.Propagator}
	if o.TracerProvider != nil {
		in.tracer = o.TracerProvider.Tracer(tracerName)
	}
	return in
}

// tracerName is the instrumentation scope of intake's spans.
const tracerName = "github.com/hzhook/hzhook/internal/intake"

// startPublish starts the producer span of storing ev (a no-op span without a tracer).
func (in *Intake) startPublish(ctx context.Context, ev queue.StoredEvent, msgID string) (context.Context, trace.Span) {
	if in.tracer == nil {
		return ctx, noop.Span{}
	}
	// The event's id and type are on the parent (the request, the Pub/Sub message); every
	// attribute costs again when the span is exported.
	return in.tracer.Start(ctx, "send "+queue.StreamEvents, trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(
		attribute.String(queue.AttrMessagingSystem, queue.MessagingSystem),
		attribute.String(queue.AttrDestination, queue.Subject(ev.Type)),
		attribute.String(queue.AttrMessageID, msgID),
	))
}

// Accept checks d and stores it in HZ_EVENTS. It returns nil only after JetStream acknowledged the
// write, so the caller may then answer 204 (or ack on Pub/Sub). A *RejectError means the delivery
// is not genuine or not an event and must not be retried as is; an error wrapping ErrUnavailable
// means nothing may be assumed stored and the sender should retry. Redeliveries of a stored event are
// accepted again and stored once.
//
// The publish is not cut short when ctx is cancelled (a client hanging up, or shutdown): it runs to
// its own timeout so that an event half-way into the stream is either acknowledged or reported.
func (in *Intake) Accept(ctx context.Context, d Delivery) (Result, error) {
	src := d.Source
	if d.Org == "" || d.HookID == "" || d.Signature == "" {
		return Result{}, in.reject(src, ReasonMissingMetadata, errors.New("missing X-Hardenize-Org, X-Hardenize-EventHookId or X-Hardenize-Signature"))
	}
	if err := in.verifier.VerifyAt(d.Org, d.HookID, d.Signature, d.Body, d.PublishedAt); err != nil {
		return Result{}, in.reject(src, reasonOf(err), err)
	}
	ev, err := events.ParseEnvelope(d.Body)
	if err != nil {
		return Result{}, in.reject(src, ReasonInvalidEvent, err)
	}

	stored := queue.StoredEvent{
		Org: d.Org, HookID: d.HookID, Signature: d.Signature, EventID: ev.ID, Type: ev.Type,
		Source: src, ReceivedAt: in.now(), Body: d.Body,
	}

	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), in.timeout)
	defer cancel()
	msgID := stored.MsgID()
	pctx, span := in.startPublish(pctx, stored, msgID)
	defer span.End()
	start := time.Now()
	dup, err := in.pub.Publish(pctx, stored.TracedMsg(pctx, in.prop), msgID)
	in.m.enqueueSeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		in.m.unavailable.WithLabelValues(src).Inc()
		span.SetStatus(codes.Error, err.Error())
		return Result{Event: ev}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if dup && span.IsRecording() {
		span.SetAttributes(attribute.Bool("hz.duplicate", true))
	}
	if dup {
		in.m.duplicates.WithLabelValues(src).Inc()
	} else {
		in.m.enqueued.WithLabelValues(src, typeLabel(ev.Type)).Inc()
	}
	return Result{Event: ev, Duplicate: dup}, nil
}

func (in *Intake) reject(src, reason string, err error) error {
	in.m.rejected.WithLabelValues(src, reason).Inc()
	return &RejectError{Reason: reason, Err: err}
}

func reasonOf(err error) string {
	switch {
	case errors.Is(err, verify.ErrUnknownHook):
		return ReasonUnknownHook
	case errors.Is(err, verify.ErrMalformedSignature):
		return ReasonMalformedSignature
	case errors.Is(err, verify.ErrStale):
		return ReasonStaleTimestamp
	default:
		return ReasonBadSignature
	}
}

// typeLabel bounds the type label: event types come from the wire.
func typeLabel(t string) string {
	switch t {
	case events.TypeTest, events.TypeCTEntry, events.TypeCertNew:
		return t
	}
	return "other"
}
