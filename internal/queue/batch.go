package queue

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
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

// Headers of a JetStream atomic batch publish (nats-server 2.12 and later, stream allow_atomic).
const (
	headerBatchID     = "Nats-Batch-Id"
	headerBatchSeq    = "Nats-Batch-Sequence"
	headerBatchCommit = "Nats-Batch-Commit"
)

// MaxBatchMessages is nats-server's default limit of messages in one atomic batch
// (jetstream.limits.max_batch_size).
const MaxBatchMessages = 1000

// ErrClosed is returned by GroupCommit.Publish after Close.
var ErrClosed = errors.New("group commit closed")

// GroupCommitOptions bound the batches of a GroupCommit. Zero values take the defaults.
type GroupCommitOptions struct {
	// MaxMessages is the most messages in one batch (default 256, at most MaxBatchMessages).
	MaxMessages int
	// MaxBytes is the most header and body bytes in one batch (default 8 MiB); a larger single
	// message is sent alone.
	MaxBytes int
	// Linger is how long a batch that has a commit slot waits for more messages, unless its message
	// is alone at an idle moment: that one leaves at once. Zero sends as soon as a slot is free
	// (batches then fill only while every slot is busy).
	Linger time.Duration
	// MaxInFlight is the most batches awaiting their commit acknowledgement at once (default 1:
	// nats-server stores a stream's batches one after the other anyway, and with two in flight
	// each batch is smaller, which measured slower; the server allows 50 open atomic batches per
	// stream, shared by every receiver).
	MaxInFlight int
	// CommitTimeout bounds the wait for a batch's acknowledgement (default 1s). A batch that times
	// out falls back to per-message publishes, so keep it below the caller's own deadline.
	CommitTimeout time.Duration
	Log           *slog.Logger
	Registerer    prometheus.Registerer
	// TracerProvider, when set, makes a span of each batch commit, linked to the span of every
	// publish it carries (one batch serves many traces); each publish's own span (the caller's, in
	// ctx) is told the size of the batch that stored it. Nil: no spans.
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

// Ack is what the stream acknowledged for one message.
type Ack struct {
	Sequence  uint64 // stream sequence of the message (for a duplicate: the one stored before, when the server says)
	Duplicate bool   // the stream already held a message with this Nats-Msg-Id; nothing new was stored
}

// GroupCommit stores messages in JetStream like Publisher, but writes concurrent publishes as one
// atomic batch with one acknowledgement: a server that syncs every write to disk (sync_interval:
// always) then syncs a few times per batch instead of once per message. Each Publish returns only
// after the acknowledgement that covers its own message.
//
// A batch that fails as a whole (one of its ids is already stored, a gap, a timeout, too many open
// batches) is not guessed about: each of its messages is published again on its own with the same
// Nats-Msg-Id, so an event already stored is reported as a duplicate and any other is stored once.
// A message alone in its batch is published on its own at once.
//
// The stream must allow atomic publishes (EnsureStreams sets it for HZ_EVENTS). GroupCommit is safe
// for concurrent use; Close stops it after the messages already handed to it are settled.
type GroupCommit struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	o      GroupCommitOptions
	m      *batchMetrics
	tracer trace.Tracer // nil: no spans
	idPf   string
	ids    atomic.Uint64
	// settled is when the last batch was acknowledged or failed (Unix nanoseconds).
	settled atomic.Int64

	mu     sync.Mutex
	queue  []*entry
	closed bool
	wake   chan struct{} // cap 1: the queue grew or Close was called
	slots  chan struct{} // cap MaxInFlight: batches awaiting their acknowledgement
	done   chan struct{} // closed when the collector has ended
}

// entry states.
const (
	entryQueued    int32 = iota
	entryTaken           // in a batch: the collector owns msg until the result is sent
	entryAbandoned       // the caller gave up before it was taken; skipped
)

type entry struct {
	msg   *nats.Msg // a copy of the caller's message with its own header map and body
	size  int
	id    string
	state atomic.Int32
	res   chan result       // cap 1
	span  trace.SpanContext // of the publish (the caller's span); linked from the batch's span
}

type result struct {
	ack      Ack
	err      error
	fallback bool // the batch failed as a whole: publish msg on its own
	batch    int  // messages in the batch that carried msg
}

// NewGroupCommit starts a GroupCommit publishing on nc (js is nc's JetStream context). Call Close
// when done.
func NewGroupCommit(nc *nats.Conn, js jetstream.JetStream, o GroupCommitOptions) (*GroupCommit, error) {
	var pf [8]byte
	if _, err := rand.Read(pf[:]); err != nil {
		return nil, fmt.Errorf("group commit batch id prefix: %w", err)
	}
	o = o.withDefaults()
	g := &GroupCommit{
		nc: nc, js: js, o: o, m: newBatchMetrics(o.Registerer), idPf: hex.EncodeToString(pf[:]),
		wake: make(chan struct{}, 1), slots: make(chan struct{}, o.MaxInFlight), done: make(chan struct{}),
	}
	if o.TracerProvider != nil {
		g.tracer = o.TracerProvider.Tracer(tracerName)
	}
	go g.collect()
	return g, nil
}

// Publish stores msg and returns once the stream acknowledged it, like Publisher.Publish: msgID,
// when not empty, is sent as Nats-Msg-Id, and duplicate is true when the stream already held it.
// msg is copied; the caller may reuse it and its body as soon as Publish returned.
func (g *GroupCommit) Publish(ctx context.Context, msg *nats.Msg, msgID string) (duplicate bool, err error) {
	ack, err := g.PublishAck(ctx, msg, msgID)
	return ack.Duplicate, err
}

// PublishAck is Publish that also reports the stream sequence of the message.
func (g *GroupCommit) PublishAck(ctx context.Context, msg *nats.Msg, msgID string) (Ack, error) {
	e := &entry{msg: copyMsg(msg, msgID), id: msgID, res: make(chan result, 1), span: trace.SpanContextFromContext(ctx)}
	e.size = len(e.msg.Subject) + len(e.msg.Data)
	for k, vs := range e.msg.Header {
		for _, v := range vs {
			e.size += len(k) + len(v) + 4
		}
	}
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
		return g.publishAlone(ctx, e.msg)
	case <-ctx.Done():
		if e.state.CompareAndSwap(entryQueued, entryAbandoned) {
			return Ack{}, fmt.Errorf("publish to %s: not sent: %w", msg.Subject, ctx.Err())
		}
		// In a batch: it may still be stored; the caller must assume nothing either way.
		return Ack{}, fmt.Errorf("publish to %s: no acknowledgement: %w", msg.Subject, ctx.Err())
	}
}

// Close stops taking messages (Publish then fails with ErrClosed), sends what is queued, and waits
// until every batch is acknowledged or failed, or ctx ends.
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

// copyMsg is what GroupCommit sends for msg: its own header map (the batch headers are added to it)
// and its own body, so that the caller may reuse its buffer once Publish returned, even when it
// gave up waiting while its message was still queued.
func copyMsg(msg *nats.Msg, msgID string) *nats.Msg {
	h := make(nats.Header, len(msg.Header)+4)
	maps.Copy(h, msg.Header)
	if msgID != "" {
		h.Set(nats.MsgIdHdr, msgID)
	}
	return &nats.Msg{Subject: msg.Subject, Header: h, Data: append([]byte(nil), msg.Data...)}
}

// publishAlone stores msg (already carrying its Nats-Msg-Id) with a plain publish.
func (g *GroupCommit) publishAlone(ctx context.Context, msg *nats.Msg) (Ack, error) {
	msg.Header.Del(headerBatchID)
	msg.Header.Del(headerBatchSeq)
	msg.Header.Del(headerBatchCommit)
	ack, err := g.js.PublishMsg(ctx, msg)
	if err != nil {
		return Ack{}, fmt.Errorf("publish to %s: %w", msg.Subject, err)
	}
	return Ack{Sequence: ack.Sequence, Duplicate: ack.Duplicate}, nil
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
// entries and leaving a second message with an id already in the batch for the next one (the
// server would refuse the whole batch for it).
func (g *GroupCommit) take() []*entry {
	g.mu.Lock()
	defer g.mu.Unlock()
	var (
		batch []*entry
		ids   map[string]struct{}
		size  int
		rest  = g.queue[:0]
	)
	for i, e := range g.queue {
		if len(batch) == g.o.MaxMessages || len(batch) > 0 && size+e.size > g.o.MaxBytes {
			rest = append(rest, g.queue[i:]...)
			break
		}
		if e.id != "" {
			if _, dup := ids[e.id]; dup {
				rest = append(rest, e)
				continue
			}
		}
		if !e.state.CompareAndSwap(entryQueued, entryTaken) {
			continue // abandoned
		}
		if e.id != "" {
			if ids == nil {
				ids = make(map[string]struct{}, min(len(g.queue), g.o.MaxMessages))
			}
			ids[e.id] = struct{}{}
		}
		batch = append(batch, e)
		size += e.size
	}
	clear(g.queue[len(rest):])
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
	if n == 1 {
		ack, err := g.publishAlone(ctx, batch[0].msg)
		g.m.commitSeconds.Observe(time.Since(start).Seconds())
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		batch[0].res <- result{ack: ack, err: err, batch: 1}
		return
	}
	first, err := g.commit(ctx, batch)
	g.m.commitSeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		reason := fallbackReason(err)
		span.SetAttributes(attribute.String("hz.batch.fallback_reason", reason))
		span.SetStatus(codes.Error, err.Error())
		g.m.fallbacks.WithLabelValues(reason).Inc()
		lvl := slog.LevelWarn
		if reason == "duplicate" {
			lvl = slog.LevelDebug // a redelivery of a stored event: expected
		}
		g.o.Log.Log(ctx, lvl, "atomic batch failed; publishing its messages one by one",
			"messages", len(batch), "reason", reason, "err", err)
		for _, e := range batch {
			e.res <- result{fallback: true, batch: n}
		}
		return
	}
	for i, e := range batch {
		e.res <- result{ack: Ack{Sequence: first + uint64(i)}, batch: n}
	}
}

// startBatchSpan starts the span of one batch commit: a root of its own (a batch belongs to no
// single delivery), linked to the span of every publish in it. Without a tracer it is a no-op span.
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

// batchAck is nats-server's acknowledgement of an atomic batch: the sequence of its last message,
// its id and its size (the messages are stored with consecutive sequences, in batch order).
type batchAck struct {
	Error    *jetstream.APIError `json:"error"`
	Stream   string              `json:"stream"`
	Sequence uint64              `json:"seq"`
	Batch    string              `json:"batch"`
	Count    int                 `json:"count"`
}

// errBadBatchAck is an acknowledgement that does not cover the batch sent.
var errBadBatchAck = errors.New("acknowledgement does not match the batch")

// commit writes batch as one atomic batch and returns the stream sequence of its first message.
func (g *GroupCommit) commit(ctx context.Context, batch []*entry) (uint64, error) {
	id := g.idPf + strconv.FormatUint(g.ids.Add(1), 36)
	var resp *nats.Msg
	for i, e := range batch {
		h := e.msg.Header
		h.Set(headerBatchID, id)
		h.Set(headerBatchSeq, strconv.Itoa(i+1))
		var err error
		if i < len(batch)-1 {
			err = g.nc.PublishMsg(e.msg)
		} else {
			h.Set(headerBatchCommit, "1")
			resp, err = g.nc.RequestMsgWithContext(ctx, e.msg)
		}
		if err != nil {
			return 0, fmt.Errorf("atomic batch of %d, message %d: %w", len(batch), i+1, err)
		}
	}
	var ack batchAck
	if err := json.Unmarshal(resp.Data, &ack); err != nil {
		return 0, fmt.Errorf("atomic batch acknowledgement: %w", err)
	}
	if ack.Error != nil {
		return 0, fmt.Errorf("atomic batch of %d: %w", len(batch), ack.Error)
	}
	n := uint64(len(batch))
	if ack.Batch != id || ack.Count != len(batch) || ack.Sequence < n {
		return 0, fmt.Errorf("atomic batch %s of %d: %w: batch %q, count %d, seq %d", id, len(batch), errBadBatchAck, ack.Batch, ack.Count, ack.Sequence)
	}
	return ack.Sequence - n + 1, nil
}

// JetStream error codes of a failed atomic batch (nats-server errors.json).
const (
	errCodeBatchIncomplete jetstream.ErrorCode = 10176
	errCodeBatchDuplicate  jetstream.ErrorCode = 10201
	errCodeBatchInflight   jetstream.ErrorCode = 10210
)

// fallbackReason is the bounded metric label of a failed batch.
func fallbackReason(err error) string {
	var apiErr *jetstream.APIError
	switch {
	case errors.As(err, &apiErr) && apiErr.ErrorCode == errCodeBatchDuplicate:
		return "duplicate"
	case errors.As(err, &apiErr) && apiErr.ErrorCode == errCodeBatchIncomplete:
		return "incomplete"
	case errors.As(err, &apiErr) && apiErr.ErrorCode == errCodeBatchInflight:
		return "too_many_batches"
	case errors.As(err, &apiErr):
		return "refused"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		return "timeout"
	default:
		return "connection"
	}
}
