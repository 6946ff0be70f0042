package dispatch

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/trace"

	"github.com/hzhook/hzhook/internal/events"
)

// Message is one stored message handed to a Handler.
type Message struct {
	Subject    string
	Header     nats.Header  // as stored: X-Hardenize-*, Hz-* headers
	Data       []byte       // verbatim body
	Event      events.Event // parsed envelope (zero when the stream does not hold Hardenize events)
	Org        string
	HookID     string
	Source     string
	ReceivedAt time.Time
	Seq        uint64 // stream sequence
	Attempt    int    // 1 on the first delivery
	// Trace is the span context of the message's own consumer span, a child of the trace context
	// stored in its headers (the intake's publish, the outbox's alert publish); invalid when
	// tracing is off. Handlers do the message's part of a batch in Context.
	Trace trace.SpanContext
}

// Context returns ctx with the message's span as the current one: spans started from it are the
// message's children and log records logged with it carry its trace_id. Without a valid span it is
// ctx itself.
func (m Message) Context(ctx context.Context) context.Context {
	if !m.Trace.IsValid() {
		return ctx
	}
	return trace.ContextWithSpanContext(ctx, m.Trace)
}

// Handler processes a batch of messages of the types it was registered for. It returns one error
// per message, in order (nil = done: the message is acknowledged). An error that wraps an
// *events.PermanentError dead-letters that message at once; any other error retries it with backoff
// until the delivery limit, then dead-letters it. A failure of the whole batch (a database that is
// down) is returned as that error for every message. Handle must be idempotent and
// order-independent: after a crash a message may come again, in another batch.
type Handler interface {
	Handle(ctx context.Context, batch []Message) []error
}
