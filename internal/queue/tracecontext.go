package queue

import (
	"context"
	"strings"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/propagation"
)

// Trace context headers (W3C Trace Context), stored with a message so that whoever processes it
// continues the trace of whoever stored it. Written in lower case as the specification writes them.
const (
	HeaderTraceParent = "traceparent"
	HeaderTraceState  = "tracestate"
)

// HeaderCarrier is a propagation.TextMapCarrier over NATS message headers. Unlike
// propagation.HeaderCarrier it keeps the key as the propagator names it (nats.Header is case
// sensitive, and other NATS clients write "traceparent" in lower case); Get also finds a key
// stored in another case (a message that went through an HTTP header map, such as a Pub/Sub
// attribute kept in a dead letter).
type HeaderCarrier nats.Header

var _ propagation.TextMapCarrier = HeaderCarrier(nil)

// Get returns the first value of key.
func (c HeaderCarrier) Get(key string) string {
	if vs := c[key]; len(vs) > 0 {
		return vs[0]
	}
	for k, vs := range c {
		if len(vs) > 0 && strings.EqualFold(k, key) {
			return vs[0]
		}
	}
	return ""
}

// Set replaces the values of key with value.
func (c HeaderCarrier) Set(key, value string) { c[key] = []string{value} }

// Keys lists the header names.
func (c HeaderCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// InjectTrace writes the trace context of ctx into h with p (nil: nothing). h must not be nil.
func InjectTrace(ctx context.Context, p propagation.TextMapPropagator, h nats.Header) {
	if p != nil {
		p.Inject(ctx, HeaderCarrier(h))
	}
}

// ExtractTrace returns ctx with the trace context stored in h by p (nil: ctx unchanged).
func ExtractTrace(ctx context.Context, p propagation.TextMapPropagator, h nats.Header) context.Context {
	if p == nil || h == nil {
		return ctx
	}
	return p.Extract(ctx, HeaderCarrier(h))
}

// tracerName is the instrumentation scope of queue's spans.
const tracerName = "github.com/hzhook/hzhook/internal/queue"

// Span attributes shared by every package that traces messages (OpenTelemetry's messaging
// conventions where they have a name for it).
const (
	AttrMessagingSystem = "messaging.system"
	AttrDestination     = "messaging.destination.name"
	AttrConsumerGroup   = "messaging.consumer.group.name"
	AttrMessageID       = "messaging.message.id"
	AttrOperation       = "messaging.operation.type"
	// AttrBatchMessages is the number of messages in the batch that carried a message: in a group
	// commit on the publishing side, in one handler call on the consuming side.
	AttrBatchMessages = "messaging.batch.message_count"
	// AttrBatchFallback is true when the group commit failed as a whole and the message was
	// published on its own.
	AttrBatchFallback = "hz.batch.fallback"
	AttrEventID       = "hz.event.id"
	AttrEventType     = "hz.event.type"
	AttrStreamSeq     = "hz.stream.sequence"
	AttrAttempt       = "hz.attempt"

	// MessagingSystem is the messaging.system of NATS JetStream.
	MessagingSystem = "nats"
)
