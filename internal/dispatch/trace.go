package dispatch

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/queue"
)

// tracerName is the instrumentation scope of the dispatcher's spans.
const tracerName = "github.com/hzhook/hzhook/internal/dispatch"

// AttrOutcome is the span attribute of how a message was settled (OutcomeOK, OutcomeRetried, ...).
const AttrOutcome = "hz.outcome"

// startMessage starts the consumer span of one fetched message, "process HZ_EVENTS", a child of
// the trace context in its headers. Without a tracer it is a no-op span and nothing is read.
func (d *Dispatcher) startMessage(ctx context.Context, dv *delivery) trace.Span {
	if d.tracer == nil {
		return noop.Span{}
	}
	ctx = queue.ExtractTrace(ctx, d.o.Propagator, dv.msg.Header)
	_, span := d.tracer.Start(ctx, "process "+d.o.Stream, trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(
		attribute.String(queue.AttrMessagingSystem, queue.MessagingSystem),
		attribute.String(queue.AttrOperation, "process"),
		attribute.String(queue.AttrDestination, dv.msg.Subject),
		attribute.String(queue.AttrConsumerGroup, d.o.Consumer),
		attribute.String(queue.AttrMessageID, dv.msg.Header.Get("Nats-Msg-Id")),
		attribute.Int64(queue.AttrStreamSeq, int64(dv.msg.Seq)),
		attribute.Int(queue.AttrAttempt, dv.msg.Attempt),
		attribute.String(queue.AttrEventID, dv.msg.Header.Get(queue.HeaderEventID)),
		attribute.String(queue.AttrEventType, dv.key),
	))
	return span
}

// endMessage ends the message's span with its outcome; an error that retries or dead-letters it
// is the span's error.
func endMessage(span trace.Span, outcome string, err error) {
	if span.IsRecording() {
		span.SetAttributes(attribute.String(AttrOutcome, outcome))
		if err != nil {
			var perm *events.PermanentError
			span.SetAttributes(attribute.Bool("hz.error.permanent", errors.As(err, &perm)))
			span.SetStatus(codes.Error, err.Error())
		}
	}
	span.End()
}

// startHandle starts the span of one handler call: a root of its own, since one batch serves many
// traces, linked to the consumer span of every message in it. The handler's batch work (a
// transaction, say) is its child; the handler does each message's own part under that message's
// span (Message.Context), which lives in the trace of the event.
func (d *Dispatcher) startHandle(ctx context.Context, key string, batch []Message) (context.Context, trace.Span) {
	if d.tracer == nil {
		return ctx, noop.Span{}
	}
	links := make([]trace.Link, 0, len(batch))
	for _, m := range batch {
		if m.Trace.IsValid() {
			links = append(links, trace.Link{SpanContext: m.Trace})
		}
	}
	return d.tracer.Start(ctx, "handle "+key, trace.WithNewRoot(), trace.WithLinks(links...), trace.WithAttributes(
		attribute.String(queue.AttrConsumerGroup, d.o.Consumer),
		attribute.Int(queue.AttrBatchMessages, len(batch)),
	))
}
