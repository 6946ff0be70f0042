package queue

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/propagation"
)

// StoredEvent is a Hardenize event as every intake stores it in HZ_EVENTS (webhook, Pub/Sub,
// backfill): the body verbatim, with the delivery's metadata as headers.
type StoredEvent struct {
	Org        string // X-Hardenize-Org
	HookID     string // X-Hardenize-EventHookId
	Signature  string // X-Hardenize-Signature; empty for events pulled from the API
	EventID    string // the envelope's id
	Type       string // the envelope's type
	Source     string // SourceWebhook, SourcePubSub, SourceBackfill, SourceImport or SourceSync
	ReceivedAt time.Time
	Body       []byte // verbatim; the message refers to it, it is not copied
}

// Msg is the message to publish: subject by type (see Subject) and the headers of the design.
func (e StoredEvent) Msg() *nats.Msg {
	msg := nats.NewMsg(Subject(e.Type))
	msg.Data = e.Body
	msg.Header.Set(HeaderOrg, e.Org)
	msg.Header.Set(HeaderHookID, e.HookID)
	if e.Signature != "" {
		msg.Header.Set(HeaderSignature, e.Signature)
	}
	msg.Header.Set(HeaderEventID, e.EventID)
	msg.Header.Set(HeaderEventType, e.Type)
	msg.Header.Set(HeaderReceivedAt, e.ReceivedAt.UTC().Format(time.RFC3339Nano))
	msg.Header.Set(HeaderSource, e.Source)
	return msg
}

// TracedMsg is Msg with the trace context of ctx among its headers (HeaderTraceParent,
// HeaderTraceState, as p writes them; nothing when p is nil or ctx holds no valid span), so that the
// worker that processes the event continues the trace of the delivery that stored it.
func (e StoredEvent) TracedMsg(ctx context.Context, p propagation.TextMapPropagator) *nats.Msg {
	msg := e.Msg()
	InjectTrace(ctx, p, msg.Header)
	return msg
}

// MsgID is the Nats-Msg-Id of the event (see MsgID).
func (e StoredEvent) MsgID() string { return MsgID(e.Org, e.HookID, e.EventID, e.Body) }
