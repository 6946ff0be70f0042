package intake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/hzhook/hzhook/internal/queue"
)

// receiversQueue is the queue group of the receivers answering on queue.ReverifySubject: one of
// them answers each request.
const receiversQueue = "hz-receivers"

// ServeReverify answers requests on queue.ReverifySubject until ctx ends: each request is a
// delivery refused before (a rejected Pub/Sub message from HZ_DLQ, with its original attributes
// and queue.HeaderPublishedAt as headers and its body verbatim) that goes through Accept again,
// with the secrets in force now, so that nothing enters HZ_EVENTS without passing verification.
// This is the only way a never-verified dead letter is redriven.
func ServeReverify(ctx context.Context, nc *nats.Conn, in *Intake, log *slog.Logger) error {
	sub, err := nc.QueueSubscribe(queue.ReverifySubject, receiversQueue, func(m *nats.Msg) {
		ctx, span := in.startReverify(ctx, m)
		defer span.End()
		reply := in.reverify(ctx, m)
		span.SetAttributes(attribute.String("hz.reverify.outcome", reply.Outcome))
		if reply.Outcome == queue.ReverifyRejected {
			log.InfoContext(ctx, "redriven delivery still rejected", "reason", reply.Reason)
		} else {
			log.InfoContext(ctx, "redriven delivery verified again", "outcome", reply.Outcome)
		}
		body, _ := json.Marshal(reply) // a struct of strings always encodes
		if err := m.Respond(body); err != nil {
			log.WarnContext(ctx, "reverify reply failed", "err", err)
		}
	})
	if err != nil {
		return fmt.Errorf("subscribe %s: %w", queue.ReverifySubject, err)
	}
	<-ctx.Done()
	if err := sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		return fmt.Errorf("unsubscribe %s: %w", queue.ReverifySubject, err)
	}
	return nil
}

// startReverify starts the server span of one reverify request, a child of the trace context the
// dead letter kept (the Pub/Sub message that was refused), or a no-op span without a tracer.
func (in *Intake) startReverify(ctx context.Context, m *nats.Msg) (context.Context, trace.Span) {
	if in.tracer == nil {
		return ctx, noop.Span{}
	}
	ctx = queue.ExtractTrace(ctx, in.prop, m.Header)
	return in.tracer.Start(ctx, "reverify", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String(queue.AttrMessagingSystem, queue.MessagingSystem),
			attribute.String(queue.AttrDestination, queue.ReverifySubject)))
}

func (in *Intake) reverify(ctx context.Context, m *nats.Msg) queue.Reverdict {
	d := Delivery{
		Org:       header(m.Header, queue.HeaderOrg),
		HookID:    header(m.Header, queue.HeaderHookID),
		Signature: header(m.Header, queue.HeaderSignature),
		Body:      m.Data,
		Source:    header(m.Header, queue.HeaderSource),
	}
	if d.Source == "" {
		d.Source = queue.SourcePubSub
	}
	if t, err := time.Parse(time.RFC3339Nano, header(m.Header, queue.HeaderPublishedAt)); err == nil {
		d.PublishedAt = t
	}
	res, err := in.Accept(ctx, d)
	var rej *RejectError
	switch {
	case err == nil && res.Duplicate:
		return queue.Reverdict{Outcome: queue.ReverifyDuplicate}
	case err == nil:
		return queue.Reverdict{Outcome: queue.ReverifyStored}
	case errors.As(err, &rej):
		return queue.Reverdict{Outcome: queue.ReverifyRejected, Reason: rej.Reason}
	default:
		return queue.Reverdict{Outcome: queue.ReverifyUnavailable, Error: err.Error()}
	}
}

// header returns the named header; Pub/Sub attribute keys kept as headers may differ in case from
// the documented X-Hardenize-* names.
func header(h nats.Header, name string) string {
	if v := h.Get(name); v != "" {
		return v
	}
	for k, vs := range h {
		if strings.EqualFold(k, name) && len(vs) > 0 {
			return vs[0]
		}
	}
	return ""
}
