package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// ErrClosed is returned by GroupCommit.Publish after Close.
var ErrClosed = errors.New("group commit closed")

// GroupCommitOptions bound the batches of a GroupCommit. Zero values take the defaults.
type GroupCommitOptions struct {
	// MaxMessages is the most messages in one journal entry (default 256, at most MaxBatchMessages).
	MaxMessages int
	// MaxBytes is the most header and body bytes in one entry (default 8 MiB, and never more than
	// the server's max_payload allows); a larger single message is sent alone.
	MaxBytes int
	// Linger is how long a batch that has a commit slot waits for more messages, unless its message
	// is alone at an idle moment: that one leaves at once. Zero sends as soon as a slot is free
	// (batches then fill only while every slot is busy).
	Linger time.Duration
	// MaxInFlight is the most entries awaiting their acknowledgement at once (default 1: the
	// server stores a stream's messages one after the other anyway, and with more in flight each
	// entry is smaller).
	MaxInFlight int
	// CommitTimeout bounds the wait for an entry's acknowledgement (default 1s). An entry that
	// times out falls back to per-message publishes, so keep it below the caller's own deadline.
	CommitTimeout time.Duration
	Log           *slog.Logger
	Registerer    prometheus.Registerer
	// TracerProvider, when set, makes a span of each commit, linked to the span of every publish it
	// carries (one entry serves many traces); each publish's own span (the caller's, in ctx) is
	// told the size of the entry that stored it. Nil: no spans.
	TracerProvider trace.TracerProvider
}

// DefaultGroupCommitOptions are the batch bounds used when nothing else is configured.
func DefaultGroupCommitOptions() GroupCommitOptions {
	return GroupCommitOptions{MaxMessages: 256, MaxBytes: 8 << 20, MaxInFlight: 1, CommitTimeout: time.Second}
}

func (o GroupCommitOptions) withDefaults() GroupCommitOptions {
	d := DefaultGroupCommitOptions()
	if o.MaxMessages <= 0 {
		o.MaxMessages = d.MaxMessages
	}
	o.MaxMessages = min(o.MaxMessages, MaxBatchMessages)
	if o.MaxBytes <= 0 {
		o.MaxBytes = d.MaxBytes
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = d.MaxInFlight
	}
	if o.CommitTimeout <= 0 {
		o.CommitTimeout = d.CommitTimeout
	}
	if o.Linger < 0 {
		o.Linger = 0
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	return o
}

// GroupCommit stores messages in JetStream like Publisher, but writes concurrent publishes as one
// entry of the intake journal (HZ_JOURNAL): one message, so a server that syncs every write to disk
// (sync_interval: always) syncs once for all of them instead of once per message. Each Publish
// returns only after the acknowledgement of the entry that holds its own message; a Mover then
// stores the entry's messages in their own stream (HZ_EVENTS) with large atomic batches, and the
// stream's duplicate window stores an event sent twice once.
//
// A message alone in its batch is published on its own at once, straight to its stream. An entry
// that fails (a timeout, a lost connection, a full journal) is not guessed about: each of its
// messages is published again on its own, to its stream, with the same Nats-Msg-Id, so an event
// stored either way is stored once.
//
// GroupCommit is safe for concurrent use; Close stops it after the messages already handed to it
// are settled.
type GroupCommit struct {
	js     jetstream.JetStream
	o      GroupCommitOptions
	m      *batchMetrics
	tracer trace.Tracer // nil: no spans
	// settled is when the last batch was acknowledged or failed (Unix nanoseconds).
	settled atomic.Int64

	mu     sync.Mutex
	queue  []*entry
	closed bool
	wake   chan struct{} // cap 1: the queue grew or Close was called
	slots  chan struct{} // cap MaxInFlight: entries awaiting their acknowledgement
	done   chan struct{} // closed when the collector has ended
}

// entry states.
const (
	entryQueued    int32 = iota
	entryTaken           // in a batch: the collector owns the entry until the result is sent
	entryAbandoned       // the caller gave up before it was taken; skipped
)

type entry struct {
	rec   []byte // the caller's message as a journal record (its own copy: see appendRecord)
	size  int
	id    string
	state atomic.Int32
	res   chan result       // cap 1
	span  trace.SpanContext // of the publish (the caller's span); linked from the batch's span
}

type result struct {
	ack      Ack
	err      error
	fallback bool // the journal entry failed: publish msg on its own
	batch    int  // messages in the batch that carried msg
}

// NewGroupCommit starts a GroupCommit publishing on nc (js is nc's JetStream context). HZ_JOURNAL
// must exist (EnsureStreams) and a Mover must run somewhere. Call Close when done.
func NewGroupCommit(nc *nats.Conn, js jetstream.JetStream, o GroupCommitOptions) *GroupCommit {
	o = o.withDefaults()
	o.MaxBytes = min(o.MaxBytes, journalRoom(nc))
	g := &GroupCommit{
		js: js, o: o, m: newBatchMetrics(o.Registerer),
		wake: make(chan struct{}, 1), slots: make(chan struct{}, o.MaxInFlight), done: make(chan struct{}),
	}
	if o.TracerProvider != nil {
		g.tracer = o.TracerProvider.Tracer(tracerName)
	}
	go g.collect()
	return g
}

// Publish stores msg and returns once the stream acknowledged it, like Publisher.Publish: msgID,
// when not empty, is sent as Nats-Msg-Id, and duplicate is true when the stream already held it.
// msg is copied; the caller may reuse it and its body as soon as Publish returned.
func (g *GroupCommit) Publish(ctx context.Context, msg *nats.Msg, msgID string) (duplicate bool, err error) {
	ack, err := g.PublishAck(ctx, msg, msgID)
	return ack.Duplicate, err
}

// PublishAck is Publish that also reports the stream sequence of the message, unless it was
// journaled (Ack.Journaled). A message without msgID is published on its own: only the duplicate
// window makes moving an entry that was interrupted safe to repeat.
func (g *GroupCommit) PublishAck(ctx context.Context, msg *nats.Msg, msgID string) (Ack, error) {
	if msgID == "" {
		return publishAlone(ctx, g.js, withID(msg, ""))
	}
	size := msgSize(msg) + len(nats.MsgIdHdr) + len(msgID) + journalRecordOverhead
	e := &entry{rec: appendRecord(make([]byte, 0, size), msg, msgID), id: msgID, size: size,
		res: make(chan result, 1), span: trace.SpanContextFromContext(ctx)}
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return Ack{}, fmt.Errorf("publish to %s: %w", msg.Subject, ErrClosed)
	}
	g.queue = append(g.queue, e)
	g.mu.Unlock()
	g.signal()

	select {
	case r := <-e.res:
		if span := trace.SpanFromContext(ctx); span.IsRecording() {
			span.SetAttributes(attribute.Int(AttrBatchMessages, r.batch))
			if r.fallback {
				span.SetAttributes(attribute.Bool(AttrBatchFallback, true))
			}
		}
		if !r.fallback {
			return r.ack, r.err
		}
		return publishAlone(ctx, g.js, withID(msg, msgID))
	case <-ctx.Done():
		if e.state.CompareAndSwap(entryQueued, entryAbandoned) {
			return Ack{}, fmt.Errorf("publish to %s: not sent: %w", msg.Subject, ctx.Err())
		}
		// In an entry: it may still be stored; the caller must assume nothing either way.
		return Ack{}, fmt.Errorf("publish to %s: no acknowledgement: %w", msg.Subject, ctx.Err())
	}
}

// Close stops taking messages (Publish then fails with ErrClosed), sends what is queued, and waits
// until every entry is acknowledged or failed, or ctx ends.
func (g *GroupCommit) Close(ctx context.Context) error {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.signal()
	select {
	case <-g.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("close group commit: %w", ctx.Err())
	}
}

func (g *GroupCommit) signal() {
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

// withID is msg with its own header map, carrying msgID: what a publish of msg on its own sends,
// leaving the caller's message as it was.
func withID(msg *nats.Msg, msgID string) *nats.Msg {
	h := make(nats.Header, len(msg.Header)+1)
	maps.Copy(h, msg.Header)
	if msgID != "" {
		h.Set(nats.MsgIdHdr, msgID)
	}
	return &nats.Msg{Subject: msg.Subject, Header: h, Data: msg.Data}
}

// collect forms batches: whenever a commit slot is free it takes what is queued, up to the bounds.
// While every slot is busy the queue grows, so batches grow with the load (group commit).
func (g *GroupCommit) collect() {
	defer close(g.done)
	for g.waitQueued() {
		g.slots <- struct{}{} // blocks while MaxInFlight batches await their acknowledgement
		if g.o.Linger > 0 {
			g.linger()
		}
		batch := g.take()
		if len(batch) == 0 {
			<-g.slots
			continue
		}
		go g.send(batch)
	}
	for range cap(g.slots) { // every batch settled
		g.slots <- struct{}{}
	}
}

// waitQueued waits until something is queued; false once closed with nothing queued.
func (g *GroupCommit) waitQueued() bool {
	for {
		g.mu.Lock()
		n, closed := len(g.queue), g.closed
		g.mu.Unlock()
		if n > 0 {
			return true
		}
		if closed {
			return false
		}
		<-g.wake
	}
}

// linger waits up to Linger for the queue to fill a batch. A lone message at an idle moment (no
// other batch awaiting its acknowledgement, none settled within Linger) leaves at once: lingering
// then only adds latency. Right after a batch settled its callers are about to come back, so a
// lone message then waits for them.
func (g *GroupCommit) linger() {
	g.mu.Lock()
	lone := len(g.queue) == 1 && len(g.slots) == 1
	g.mu.Unlock()
	if lone && time.Since(time.Unix(0, g.settled.Load())) > g.o.Linger {
		return
	}
	t := time.NewTimer(g.o.Linger)
	defer t.Stop()
	for {
		g.mu.Lock()
		full, closed := len(g.queue) >= g.o.MaxMessages, g.closed
		g.mu.Unlock()
		if full || closed {
			return
		}
		select {
		case <-t.C:
			return
		case <-g.wake:
		}
	}
}

// take removes the next batch from the queue: in order, within the bounds, skipping abandoned
// entries (see nextBatch).
func (g *GroupCommit) take() []*entry {
	g.mu.Lock()
	defer g.mu.Unlock()
	batch, rest := nextBatch(g.queue, g.o.MaxMessages, g.o.MaxBytes,
		func(e *entry) (string, int) { return e.id, e.size },
		func(e *entry) bool { return e.state.CompareAndSwap(entryQueued, entryTaken) })
	g.queue = rest
	return batch
}

// send writes one batch and hands each entry its result; it frees its slot when done.
func (g *GroupCommit) send(batch []*entry) {
	defer func() {
		g.settled.Store(time.Now().UnixNano())
		<-g.slots
	}()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), g.o.CommitTimeout)
	defer cancel()
	ctx, span := g.startBatchSpan(ctx, batch)
	defer span.End()
	n := len(batch)
	g.m.messages.Observe(float64(n))
	if n == 1 { // straight to its stream, holding the slot meanwhile: the queue fills behind it
		var ack Ack
		msg, err := recordMsg(batch[0].rec)
		if err == nil {
			ack, err = publishAlone(ctx, g.js, msg)
		}
		g.m.commitSeconds.Observe(time.Since(start).Seconds())
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		batch[0].res <- result{ack: ack, err: err, batch: 1}
		return
	}
	err := g.journal(ctx, batch)
	g.m.commitSeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		reason := fallbackReason(err)
		span.SetAttributes(attribute.String("hz.batch.fallback_reason", reason))
		span.SetStatus(codes.Error, err.Error())
		g.m.fallbacks.WithLabelValues(reason).Inc()
		g.o.Log.WarnContext(ctx, "journal entry failed; publishing its messages one by one",
			"messages", len(batch), "reason", reason, "err", err)
		for _, e := range batch {
			e.res <- result{fallback: true, batch: n}
		}
		return
	}
	for _, e := range batch {
		e.res <- result{ack: Ack{Journaled: true}, batch: n}
	}
}

// journal stores batch as one entry of HZ_JOURNAL.
func (g *GroupCommit) journal(ctx context.Context, batch []*entry) error {
	recs := make([][]byte, len(batch))
	for i, e := range batch {
		recs[i] = e.rec
	}
	ack, err := g.js.PublishMsg(ctx, journalEntry(recs))
	if err != nil {
		return fmt.Errorf("journal entry of %d: %w", len(batch), err)
	}
	if ack.Stream != StreamJournal {
		return fmt.Errorf("journal entry of %d stored in %s, not %s: %w", len(batch), ack.Stream, StreamJournal, errBadBatchAck)
	}
	return nil
}

// startBatchSpan starts the span of one commit: a root of its own (a batch belongs to no single
// delivery), linked to the span of every publish in it. Without a tracer it is a no-op span.
func (g *GroupCommit) startBatchSpan(ctx context.Context, batch []*entry) (context.Context, trace.Span) {
	if g.tracer == nil {
		return ctx, noop.Span{}
	}
	links := make([]trace.Link, 0, len(batch))
	for _, e := range batch {
		if e.span.IsValid() {
			links = append(links, trace.Link{SpanContext: e.span})
		}
	}
	return g.tracer.Start(ctx, "group commit", trace.WithNewRoot(), trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithLinks(links...), trace.WithAttributes(
			attribute.String(AttrMessagingSystem, MessagingSystem),
			attribute.Int(AttrBatchMessages, len(batch)),
		))
}
