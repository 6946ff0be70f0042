package ingest

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/hzhook/hzhook/internal/dispatch"
	"github.com/hzhook/hzhook/internal/inventory"
	"github.com/hzhook/hzhook/internal/queue"
)

// tracerName is the instrumentation scope of the writer's spans.
const tracerName = "github.com/hzhook/hzhook/internal/ingest"

// messageSpans are the spans of each message's part of one batch: "store ct.entry", a child of
// the message's consumer span (so it lies in the trace of the event, from its webhook request on),
// linked to the batch's span, from the start of the batch until its transaction settled the
// message. One transaction serves every trace of the batch: each message span says how many
// messages it was committed with and marks when its certificate was decoded and judged and when
// the transaction committed; the transaction itself is one span ("inventory commit") under the
// batch's span. Nil (tracing off): every method does nothing.
type messageSpans []trace.Span

func (w *Writer) startMessages(ctx context.Context, typ string, batch []dispatch.Message) messageSpans {
	if w.tracer == nil {
		return nil
	}
	link := trace.Link{SpanContext: trace.SpanContextFromContext(ctx)} // the handler call's span
	spans := make(messageSpans, len(batch))
	for i, m := range batch {
		_, spans[i] = w.tracer.Start(m.Context(ctx), "store "+typ, trace.WithLinks(link), trace.WithAttributes(
			attribute.String(queue.AttrEventID, m.Event.ID),
			attribute.Int(queue.AttrBatchMessages, len(batch)),
		))
	}
	return spans
}

// fail ends message i's span with its (permanent) error.
func (s messageSpans) fail(i int, err error) {
	if s == nil {
		return
	}
	s[i].SetStatus(codes.Error, err.Error())
	s[i].End()
}

// event marks the same moment on every span of the batch.
func (s messageSpans) event(name string) {
	if s == nil {
		return
	}
	now := trace.WithTimestamp(time.Now())
	for _, sp := range s {
		sp.AddEvent(name, now)
	}
}

// committed records each message's outcome and findings, and ends its span.
func (s messageSpans) committed(cs []change, idx []int, errs []error) {
	if s == nil {
		return
	}
	now := trace.WithTimestamp(time.Now())
	for j, c := range cs {
		sp := s[idx[j]]
		if err := errs[idx[j]]; err != nil {
			sp.SetStatus(codes.Error, err.Error())
			sp.End()
			continue
		}
		sp.AddEvent("committed", now)
		attrs := []attribute.KeyValue{attribute.Int("hz.findings", len(c.Findings))}
		if c.Cert != nil {
			attrs = append(attrs, attribute.String("hz.cert.sha256", c.Cert.SHA256))
		}
		if c.issuance != "" {
			attrs = append(attrs, attribute.String("hz.cert.tbs_sha256", c.issuance))
		}
		sp.SetAttributes(attrs...)
		sp.End()
	}
}

// end ends every span not ended yet, on an early return (a span ends once: a second End does
// nothing).
func (s messageSpans) end() {
	for _, sp := range s {
		sp.End()
	}
}

// apply writes ws in one transaction, in a span of its own when tracing.
func (w *Writer) apply(ctx context.Context, ws []inventory.Write) error {
	if w.tracer == nil {
		return w.store.Apply(ctx, ws)
	}
	ctx, span := w.tracer.Start(ctx, "inventory commit", trace.WithAttributes(attribute.Int(queue.AttrBatchMessages, len(ws))))
	defer span.End()
	err := w.store.Apply(ctx, ws)
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	return err
}
