package queue

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// DeadLetterStageJournal is the dead-letter stage of a journal entry the Mover cannot read.
const DeadLetterStageJournal = "journal"

// MoverOptions tune a Mover. Zero values take the defaults.
type MoverOptions struct {
	// MaxEntries is the most journal entries moved together (default 64), and the consumer's
	// prefetch.
	MaxEntries int
	// MaxMessages is the most events in one atomic batch into HZ_EVENTS (default MaxBatchMessages).
	MaxMessages int
	// Linger is how long a move waits for more entries after the first while they come faster
	// than one per move (default 5ms; negative: never).
	Linger time.Duration
	// CommitTimeout bounds one atomic batch, and one publish of an event on its own (default 5s).
	CommitTimeout time.Duration
	// PurgeEvery is how often moved entries are purged from the journal (default 1s).
	PurgeEvery time.Duration
	// AckWait is how long an entry handed to one Mover waits before another may move it (default
	// 10s): after a receiver died mid-move, its entries are moved again, and HZ_EVENTS's duplicate
	// window stores each event once.
	AckWait    time.Duration
	Log        *slog.Logger
	Registerer prometheus.Registerer
}

func (o MoverOptions) withDefaults() MoverOptions {
	if o.MaxEntries <= 0 {
		o.MaxEntries = 64
	}
	if o.MaxMessages <= 0 || o.MaxMessages > MaxBatchMessages {
		o.MaxMessages = MaxBatchMessages
	}
	if o.CommitTimeout <= 0 {
		o.CommitTimeout = 5 * time.Second
	}
	switch {
	case o.Linger == 0:
		o.Linger = 5 * time.Millisecond
	case o.Linger < 0:
		o.Linger = 0
	}
	if o.PurgeEvery <= 0 {
		o.PurgeEvery = time.Second
	}
	if o.AckWait <= 0 {
		o.AckWait = 10 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	return o
}

// Mover stores the events of HZ_JOURNAL's entries in HZ_EVENTS, as large atomic batches (a few
// disk syncs for hundreds of events), and acknowledges an entry only once every one of its events
// is stored: an entry is the only copy of its events until then. Acknowledged entries are purged
// from the journal once a second. Every receiver runs one; they share
// one durable consumer, so each entry is moved by one of them, and by another when that one dies.
type Mover struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream
	cons   jetstream.Consumer
	// lastMove is how many entries the last move took (Run's goroutine only).
	lastMove int
	// settledTo is the highest journal sequence this mover acknowledged or terminated; purgedTo
	// the floor its last purge removed up to. Run's goroutine only.
	settledTo, purgedTo uint64
	dlq                 *Publisher
	o                   MoverOptions
	m                   *moverMetrics
	idPf                string
	ids                 atomic.Uint64
}

// NewMover creates or updates the mover's durable consumer of HZ_JOURNAL (EnsureStreams made the
// stream). Run moves.
func NewMover(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, o MoverOptions) (*Mover, error) {
	o = o.withDefaults()
	var pf [8]byte
	if _, err := rand.Read(pf[:]); err != nil {
		return nil, fmt.Errorf("journal mover batch id prefix: %w", err)
	}
	stream, err := js.Stream(ctx, StreamJournal)
	if err != nil {
		return nil, fmt.Errorf("journal mover: %w", err)
	}
	m := &Mover{nc: nc, js: js, stream: stream, dlq: NewPublisher(js), o: o, m: newMoverMetrics(o.Registerer), idPf: hex.EncodeToString(pf[:])}
	if err := m.ensureConsumer(ctx); err != nil {
		return nil, err
	}
	return m, nil
}

// ensureConsumer creates or updates the durable consumer that every receiver's mover shares.
func (m *Mover) ensureConsumer(ctx context.Context) error {
	cons, err := m.js.CreateOrUpdateConsumer(ctx, StreamJournal, jetstream.ConsumerConfig{
		Durable:     MoverConsumer,
		Description: "hzhook receivers moving journal entries into " + StreamEvents,
		AckPolicy:   jetstream.AckExplicitPolicy,
		AckWait:     m.o.AckWait,
		MaxDeliver:  -1, // an entry is the only copy of its events: never given up on
		// Room for every receiver's prefetch.
		MaxAckPending: 16 * m.o.MaxEntries,
	})
	if err != nil {
		return fmt.Errorf("journal mover consumer %s on %s: %w", MoverConsumer, StreamJournal, err)
	}
	m.cons = cons
	return nil
}

// errConsumerStopped is a consume that ended by itself (its consumer was deleted, say).
var errConsumerStopped = errors.New("consumer stopped")

// Run moves entries until ctx ends. Entries being moved then are finished; entries received but
// not begun are handed back at once, for another receiver or the next start. When its consumer
// stops by itself (deleted by an operator, or with its stream), Run creates it again a second
// later: a receiver that answers 204 must not leave its entries unmoved.
func (m *Mover) Run(ctx context.Context) error {
	for {
		err := m.consume(ctx)
		if ctx.Err() != nil {
			return nil
		}
		m.o.Log.Warn("journal mover: consumer stopped; starting it again", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
		if err := m.ensureConsumer(ctx); err != nil && ctx.Err() == nil {
			m.o.Log.Warn("journal mover: consumer not created; trying again", "err", err)
		}
	}
}

// consume moves what m.cons delivers until ctx ends (nil) or the consume stops by itself.
func (m *Mover) consume(ctx context.Context) error {
	in := make(chan jetstream.Msg, m.o.MaxEntries)
	cc, err := m.cons.Consume(func(msg jetstream.Msg) { in <- msg },
		jetstream.PullMaxMessages(m.o.MaxEntries),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			m.o.Log.Warn("journal mover: consumer", "err", err)
		}))
	if err != nil {
		return fmt.Errorf("consume %s: %w", StreamJournal, err)
	}
	defer cc.Stop()
	purge := time.NewTicker(m.o.PurgeEvery)
	defer purge.Stop()
	for {
		select {
		case <-purge.C:
			m.purge(ctx)
		case <-ctx.Done():
			cc.Stop()
			for {
				select {
				case msg := <-in:
					_ = msg.Nak()
				default:
					m.purge(context.WithoutCancel(ctx))
					return nil
				}
			}
		case <-cc.Closed():
			for len(in) > 0 { // delivered before it stopped: moved now
				first := <-in
				m.move(context.WithoutCancel(ctx), m.gather(first, in))
			}
			return errConsumerStopped
		case first := <-in:
			m.move(context.WithoutCancel(ctx), m.gather(first, in))
		}
	}
}

// purge removes from the journal every entry the mover consumer has settled (its acknowledgement
// floor): the entries of every receiver, in one request. It has work while an entry this mover
// settled lies above the last floor it purged to (the floor follows an acknowledgement a moment
// later); a failure is left for the next tick.
func (m *Mover) purge(ctx context.Context) {
	if m.settledTo <= m.purgedTo {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, m.o.CommitTimeout)
	defer cancel()
	info, err := m.cons.Info(ctx)
	if err != nil {
		m.o.Log.Warn("journal mover: moved entries not purged; trying again", "err", err)
		return
	}
	floor := info.AckFloor.Stream
	if floor <= m.purgedTo {
		return
	}
	if err := m.stream.Purge(ctx, jetstream.WithPurgeSequence(floor+1)); err != nil {
		m.o.Log.Warn("journal mover: moved entries not purged; trying again", "err", err)
		return
	}
	m.purgedTo = floor
}

// Drain waits until the journal holds no entry left to move (by this Mover or another), or ctx
// ends: a receiver that stops calls it after its last delivery was journaled, so that a single
// receiver does not leave its last events in the journal until it starts again.
func (m *Mover) Drain(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		left, err := JournalLeft(ctx, m.js)
		if err != nil {
			return fmt.Errorf("drain %s: %w", StreamJournal, err)
		}
		if left == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("drain %s: %d entries left to move: %w", StreamJournal, left, ctx.Err())
		case <-t.C:
		}
	}
}

// JournalLeft is how many entries of HZ_JOURNAL are not moved yet: not delivered to a mover, or
// delivered and not all acknowledged (being moved, or handed back to be moved again, which the
// consumer's pending counts leave out); an entry acknowledged above one that is not counts until
// the floor passes it. Every entry of the journal while its mover consumer does not exist; 0 when
// there is no journal.
func JournalLeft(ctx context.Context, js jetstream.JetStream) (uint64, error) {
	c, err := js.Consumer(ctx, StreamJournal, MoverConsumer)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return 0, nil
	}
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		s, err := js.Stream(ctx, StreamJournal)
		if err != nil {
			return 0, fmt.Errorf("journal: %w", err)
		}
		return s.CachedInfo().State.Msgs, nil
	}
	if err != nil {
		return 0, fmt.Errorf("journal mover consumer: %w", err)
	}
	info := c.CachedInfo()
	return info.NumPending + info.Delivered.Stream - min(info.AckFloor.Stream, info.Delivered.Stream), nil
}

// gather takes, after first, what else is there, up to MaxEntries, and while entries come faster
// than one per move (the last move took more than one), what else arrives within Linger:
// nats-server pays about the same for an atomic batch of 40 events as for one of 400 (it stages
// each batch in a file store of its own), so under load a short wait for more makes moving several
// times cheaper, while at a quiet moment an entry is moved at once.
func (m *Mover) gather(first jetstream.Msg, in <-chan jetstream.Msg) []jetstream.Msg {
	entries := []jetstream.Msg{first}
	defer func() { m.lastMove = len(entries) }()
	var linger <-chan time.Time
	if m.o.Linger > 0 && m.lastMove > 1 {
		t := time.NewTimer(m.o.Linger)
		defer t.Stop()
		linger = t.C
	}
	for len(entries) < m.o.MaxEntries {
		select {
		case msg := <-in:
			entries = append(entries, msg)
			continue
		default:
		}
		if linger == nil {
			break
		}
		select {
		case msg := <-in:
			entries = append(entries, msg)
		case <-linger:
			return entries
		}
	}
	return entries
}

// moving is one entry being moved.
type moving struct {
	entry  jetstream.Msg
	events int
	failed bool // an event of it is not stored: the entry is moved again
}

// event is one message of an entry on its way to HZ_EVENTS.
type event struct {
	msg   *moving
	m     *nats.Msg
	size  int
	alone bool // publish on its own: its entry was delivered before, so it is likely stored already
}

// move stores the events of entries and settles each entry: acknowledged (and purged later) when
// all its events are stored, handed back for a retry in a second when one is not, dead-lettered when it
// cannot be read.
func (m *Mover) move(ctx context.Context, entries []jetstream.Msg) {
	start := time.Now()
	var evs []*event
	var ms []*moving
	for _, e := range entries {
		msgs, err := readJournalEntry(e.Headers(), e.Data())
		if err != nil {
			m.deadLetter(ctx, e, err)
			continue
		}
		mv := &moving{entry: e, events: len(msgs)}
		ms = append(ms, mv)
		redelivered := false
		if meta, err := e.Metadata(); err == nil && meta.NumDelivered > 1 {
			redelivered = true
		}
		for _, msg := range msgs {
			evs = append(evs, &event{msg: mv, m: msg, size: msgSize(msg), alone: redelivered})
		}
	}
	m.store(ctx, evs)
	for _, mv := range ms {
		if mv.failed {
			m.m.entries.WithLabelValues("retried").Inc()
			_ = mv.entry.NakWithDelay(time.Second)
			continue
		}
		if err := mv.entry.Ack(); err != nil {
			// Moved again after AckWait; the duplicate window stores each event once.
			m.o.Log.Warn("journal mover: entry moved but not removed", "events", mv.events, "err", err)
		}
		m.m.entries.WithLabelValues("moved").Inc()
		m.settledSeq(mv.entry)
	}
	m.m.moveSeconds.Observe(time.Since(start).Seconds())
}

// store writes evs to their stream: as atomic batches within the bounds, each event on its own
// when its batch fails for an id already stored (the server refuses the whole batch without saying
// which) or breaks off. Once a publish fails for any other reason (the stream full, the connection
// lost, a timeout) the rest is not tried: every entry with an event not stored is moved again a
// second later, whole, rather than each of its events waiting for its own timeout.
func (m *Mover) store(ctx context.Context, evs []*event) {
	var pending, alone []*event
	for _, ev := range evs {
		if ev.alone {
			alone = append(alone, ev)
		} else {
			pending = append(pending, ev)
		}
	}
	for i, ev := range alone {
		if !m.storeAlone(ctx, ev) {
			failAll(alone[i:], pending)
			return
		}
	}
	for len(pending) > 0 {
		var batch []*event
		batch, pending = nextBatch(pending, m.o.MaxMessages, moverBatchBytes,
			func(ev *event) (string, int) { return ev.m.Header.Get(nats.MsgIdHdr), ev.size },
			func(*event) bool { return true })
		if len(batch) == 1 {
			if !m.storeAlone(ctx, batch[0]) {
				failAll(pending)
				return
			}
			continue
		}
		msgs := make([]*nats.Msg, len(batch))
		for i, ev := range batch {
			msgs[i] = ev.m
		}
		bctx, cancel := context.WithTimeout(ctx, m.o.CommitTimeout)
		_, err := commitAtomic(bctx, m.nc, m.idPf+strconv.FormatUint(m.ids.Add(1), 36), msgs)
		cancel()
		if err == nil {
			m.m.events.WithLabelValues("stored").Add(float64(len(batch)))
			continue
		}
		reason := fallbackReason(err)
		m.m.fallbacks.WithLabelValues(reason).Inc()
		if reason != "duplicate" && reason != "incomplete" {
			m.o.Log.Warn("journal mover: atomic batch failed; its entries are moved again", "events", len(batch), "reason", reason, "err", err)
			failAll(batch, pending)
			return
		}
		lvl := slog.LevelWarn
		if reason == "duplicate" {
			lvl = slog.LevelDebug // an event delivered twice: expected
		}
		m.o.Log.Log(ctx, lvl, "journal mover: atomic batch failed; storing its events one by one",
			"events", len(batch), "reason", reason, "err", err)
		for i, ev := range batch {
			if !m.storeAlone(ctx, ev) {
				failAll(batch[i:], pending)
				return
			}
		}
	}
}

// moverBatchBytes bounds the bytes of one atomic batch of the mover, as GroupCommit's default
// bounds an entry.
const moverBatchBytes = 8 << 20

// failAll marks the entries of evs as not moved.
func failAll(evs ...[]*event) {
	for _, e := range evs {
		for _, ev := range e {
			ev.msg.failed = true
		}
	}
}

// storeAlone publishes ev on its own and reports whether it is stored (or was already).
func (m *Mover) storeAlone(ctx context.Context, ev *event) bool {
	pctx, cancel := context.WithTimeout(ctx, m.o.CommitTimeout)
	ack, err := publishAlone(pctx, m.js, ev.m)
	cancel()
	switch {
	case err != nil:
		ev.msg.failed = true
		m.m.events.WithLabelValues("failed").Inc()
		m.o.Log.Warn("journal mover: event not stored; its entry is moved again", "subject", ev.m.Subject, "err", err)
		return false
	case ack.Duplicate:
		m.m.events.WithLabelValues("duplicate").Inc()
	default:
		m.m.events.WithLabelValues("stored").Inc()
	}
	return true
}

// deadLetter keeps an entry that cannot be read in HZ_DLQ and removes it from the journal; when
// the letter cannot be stored, the entry stays and is tried again.
func (m *Mover) deadLetter(ctx context.Context, e jetstream.Msg, cause error) {
	dl := DeadLetter{
		Stage: DeadLetterStageJournal, Subject: e.Subject(), Header: e.Headers(), Data: e.Data(),
		Stream: StreamJournal, Consumer: MoverConsumer, Class: ClassPermanent, Reason: "bad_journal_entry",
		Err: cause, Handler: "journal-mover", Time: time.Now(),
	}
	if meta, err := e.Metadata(); err == nil {
		dl.OrigSeq, dl.Attempts = meta.Sequence.Stream, int(meta.NumDelivered)
	}
	dctx, cancel := context.WithTimeout(ctx, m.o.CommitTimeout)
	defer cancel()
	if err := m.dlq.DeadLetter(dctx, dl); err != nil {
		m.o.Log.Error("journal mover: unreadable entry not dead-lettered; trying again", "err", errors.Join(cause, err))
		_ = e.NakWithDelay(time.Second)
		return
	}
	m.o.Log.Error("journal mover: unreadable entry dead-lettered", "stream_seq", dl.OrigSeq, "err", cause)
	m.m.entries.WithLabelValues("dead_lettered").Inc()
	_ = e.Term()
	m.settledSeq(e)
}

// settledSeq records that e was acknowledged or terminated, for purge.
func (m *Mover) settledSeq(e jetstream.Msg) {
	if meta, err := e.Metadata(); err == nil {
		m.settledTo = max(m.settledTo, meta.Sequence.Stream)
	}
}

type moverMetrics struct {
	entries     *prometheus.CounterVec
	events      *prometheus.CounterVec
	fallbacks   *prometheus.CounterVec
	moveSeconds prometheus.Histogram
}

func newMoverMetrics(reg prometheus.Registerer) *moverMetrics {
	f := promauto.With(reg)
	return &moverMetrics{
		entries: f.NewCounterVec(prometheus.CounterOpts{
			Name: "hz_journal_entries_total",
			Help: "Journal entries settled by this receiver's mover, by outcome (moved, retried, dead_lettered).",
		}, []string{"outcome"}),
		events: f.NewCounterVec(prometheus.CounterOpts{
			Name: "hz_journal_events_total",
			Help: "Events of journal entries written to HZ_EVENTS, by outcome (stored, duplicate: already stored, failed: its entry is moved again).",
		}, []string{"outcome"}),
		fallbacks: f.NewCounterVec(prometheus.CounterOpts{
			Name: "hz_journal_batch_fallbacks_total",
			Help: "Atomic batches of the mover that failed as a whole and were stored event by event, by reason (duplicate, incomplete, too_many_batches, refused, timeout, connection).",
		}, []string{"reason"}),
		moveSeconds: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "hz_journal_move_seconds",
			Help:    "Time to move the entries taken together into HZ_EVENTS and settle them.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}),
	}
}
