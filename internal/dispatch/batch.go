package dispatch

import (
	"context"
	"fmt"
	"runtime/debug"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"

	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/queue"
)

// delivery is one fetched message on its way to an outcome.
type delivery struct {
	raw    jetstream.Msg
	msg    Message
	key    string     // route key
	label  string     // bounded metrics label of key
	err    error      // set when the message is unusable before any handler sees it
	reason string     // dead-letter reason of err
	span   trace.Span // the message's consumer span (no-op when tracing is off); ended when settled
}

// process routes one fetched batch: each route key's messages go to its handler in one Handle call,
// and every message is settled. While it runs, every message gets an InProgress signal each
// AckWait/2 so a slow handler keeps its messages.
func (d *Dispatcher) process(ctx context.Context, raws []jetstream.Msg) {
	stop := d.heartbeat(raws)
	defer stop()

	groups := map[string][]*delivery{}
	var keys []string
	for _, raw := range raws {
		dv := d.prepare(ctx, raw)
		if d.o.Received != nil {
			d.o.Received(dv.label, dv.msg.ReceivedAt)
		}
		switch {
		case dv.err != nil:
			d.settle(ctx, dv, dv.err)
		case dv.msg.Attempt > d.o.MaxDeliver:
			// Earlier deliveries ended without an outcome (a crash, an exceeded AckWait): a
			// message that takes the worker down must not come back for ever.
			d.settle(ctx, dv, fmt.Errorf("delivered %d times without an outcome (worker crash or ack wait exceeded)", dv.msg.Attempt-1))
		case d.o.Handlers[dv.key] != nil:
			if len(groups[dv.key]) == 0 {
				keys = append(keys, dv.key)
			}
			groups[dv.key] = append(groups[dv.key], dv)
		default:
			d.skip(ctx, dv)
		}
	}
	for _, key := range keys {
		d.handle(ctx, key, groups[key])
	}
}

// prepare reads the metadata, headers and (when configured) the envelope of raw, and starts its span.
func (d *Dispatcher) prepare(ctx context.Context, raw jetstream.Msg) *delivery {
	h := raw.Headers()
	dv := &delivery{raw: raw, msg: Message{
		Subject: raw.Subject(),
		Header:  h,
		Data:    raw.Data(),
		Org:     h.Get(queue.HeaderOrg),
		HookID:  h.Get(queue.HeaderHookID),
		Source:  h.Get(queue.HeaderSource),
		Attempt: 1,
	}}
	if t, err := time.Parse(time.RFC3339Nano, h.Get(queue.HeaderReceivedAt)); err == nil {
		dv.msg.ReceivedAt = t
	}
	if meta, err := raw.Metadata(); err == nil {
		dv.msg.Seq = meta.Sequence.Stream
		dv.msg.Attempt = int(meta.NumDelivered)
	}
	dv.key = h.Get(d.o.RouteHeader)
	if d.o.ParseEnvelope {
		ev, err := events.ParseEnvelope(dv.msg.Data)
		if err != nil {
			dv.err, dv.reason = events.Permanent(err), ReasonInvalidEnvelope
		}
		dv.msg.Event = ev
		if dv.key == "" {
			dv.key = ev.Type
		}
	}
	dv.label = d.routeLabel(dv.key)
	dv.span = d.startMessage(ctx, dv)
	dv.msg.Trace = dv.span.SpanContext()
	return dv
}

// skip acknowledges a message without a handler: a test event, or a type nobody handles (logged
// once per type, never retried: a newer Hardenize type must not loop or block the stream).
func (d *Dispatcher) skip(ctx context.Context, dv *delivery) {
	if slices.Contains(d.o.AckOnly, dv.key) {
		d.settle(ctx, dv, nil)
		return
	}
	ctx = dv.msg.Context(ctx)
	if d.firstUnknown(dv.key) {
		d.o.Log.WarnContext(ctx, "no handler for event type; acknowledging", "type", dv.key, "consumer", d.o.Consumer)
	}
	if err := dv.raw.Ack(); err != nil {
		d.o.Log.WarnContext(ctx, "ack failed", "err", err, "seq", dv.msg.Seq)
		endMessage(dv.span, outcomeAckFailed, err)
		return
	}
	d.m.processed.WithLabelValues(d.o.Consumer, dv.label, OutcomeSkipped).Inc()
	endMessage(dv.span, OutcomeSkipped, nil)
}

// handle calls the handler of key with the group's messages and settles each with its error.
func (d *Dispatcher) handle(ctx context.Context, key string, group []*delivery) {
	batch := make([]Message, len(group))
	for i, dv := range group {
		batch[i] = dv.msg
	}
	start := time.Now()
	hctx, span := d.startHandle(ctx, key, batch)
	errs := d.call(hctx, key, batch)
	span.End()
	d.m.seconds.WithLabelValues(d.o.Consumer, group[0].label).Observe(time.Since(start).Seconds())
	if len(errs) != len(batch) {
		err := fmt.Errorf("handler %s returned %d errors for %d messages", key, len(errs), len(batch))
		errs = fill(len(batch), err)
	}
	for i, dv := range group {
		d.settle(ctx, dv, errs[i])
	}
}

// call runs the handler, turning a panic into a transient error for every message of the batch.
func (d *Dispatcher) call(ctx context.Context, key string, batch []Message) (errs []error) {
	defer func() {
		if r := recover(); r != nil {
			d.o.Log.ErrorContext(ctx, "handler panic", "type", key, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			errs = fill(len(batch), fmt.Errorf("handler panic: %v", r))
		}
	}()
	return d.o.Handlers[key].Handle(ctx, batch)
}

func fill(n int, err error) []error {
	errs := make([]error, n)
	for i := range errs {
		errs[i] = err
	}
	return errs
}

// heartbeat sends InProgress for every message each AckWait/2 until the returned stop is called.
// Settled messages refuse it locally (the client knows they were acked), so no check is needed.
func (d *Dispatcher) heartbeat(raws []jetstream.Msg) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(d.o.AckWait / 2)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				for _, m := range raws {
					_ = m.InProgress()
				}
			}
		}
	}()
	return func() { close(done); <-finished }
}
