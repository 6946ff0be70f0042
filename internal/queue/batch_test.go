package queue

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hzhook/hzhook/internal/queue/embedded"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// groupCommit starts a GroupCommit with one commit slot on conn, and a Mover beside it, and closes
// them with the test.
func groupCommit(t *testing.T, conn *Conn, o GroupCommitOptions) (*GroupCommit, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	o.Registerer = reg
	if o.MaxInFlight == 0 {
		o.MaxInFlight = 1
	}
	g := NewGroupCommit(conn.NC, conn.JS, o)
	t.Cleanup(func() { _ = g.Close(context.Background()) })
	runMover(t, conn, MoverOptions{Registerer: reg})
	return g, reg
}

// runMover runs a Mover on conn until the test ends.
func runMover(t *testing.T, conn *Conn, o MoverOptions) {
	t.Helper()
	if o.PurgeEvery == 0 {
		o.PurgeEvery = 10 * time.Millisecond
	}
	m, err := NewMover(context.Background(), conn.NC, conn.JS, o)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
}

// hold takes every commit slot, so that what is published next waits in the queue; the returned
// function gives them back once n messages are queued: the collector then takes them as one batch
// (up to its bounds).
func hold(t *testing.T, g *GroupCommit) (release func(n int)) {
	t.Helper()
	for range cap(g.slots) {
		g.slots <- struct{}{}
	}
	return func(n int) {
		t.Helper()
		require.Eventually(t, func() bool {
			g.mu.Lock()
			defer g.mu.Unlock()
			return len(g.queue) >= n
		}, 10*time.Second, time.Millisecond, "%d messages queued", n)
		for range cap(g.slots) {
			<-g.slots
		}
	}
}

// outcome is what one Publish returned.
type outcome struct {
	ack Ack
	err error
}

// publishAll publishes msgs concurrently with their ids and returns each one's outcome, in order.
func publishAll(ctx context.Context, g *GroupCommit, msgs []*nats.Msg, ids []string) []outcome {
	out := make([]outcome, len(msgs))
	var wg sync.WaitGroup
	for i := range msgs {
		wg.Go(func() {
			ack, err := g.PublishAck(ctx, msgs[i], ids[i])
			out[i] = outcome{ack, err}
		})
	}
	wg.Wait()
	return out
}

// events returns n distinct messages (bodies of different lengths and bytes) and their ids.
func events(n int, prefix string) ([]*nats.Msg, []string) {
	msgs, ids := make([]*nats.Msg, n), make([]string, n)
	for i := range n {
		m := nats.NewMsg(Subject("ct.entry"))
		m.Data = []byte(fmt.Sprintf(`{"id":%d,"type":"ct.entry","pad":%q}`, i, make([]byte, i%7)))
		m.Header.Set(HeaderEventID, strconv.Itoa(i))
		msgs[i], ids[i] = m, prefix+"/"+strconv.Itoa(i)
	}
	return msgs, ids
}

// stored reads the message at seq of HZ_EVENTS.
func stored(t *testing.T, conn *Conn, seq uint64) *jetstream.RawStreamMsg {
	t.Helper()
	s, err := conn.JS.Stream(context.Background(), StreamEvents)
	require.NoError(t, err)
	m, err := s.GetMsg(context.Background(), seq)
	require.NoError(t, err, "seq %d", seq)
	return m
}

func streamMsgs(t *testing.T, conn *Conn) uint64 {
	t.Helper()
	return msgsIn(t, conn, StreamEvents)
}

func msgsIn(t *testing.T, conn *Conn, stream string) uint64 {
	t.Helper()
	s, err := conn.JS.Stream(context.Background(), stream)
	require.NoError(t, err)
	info, err := s.Info(context.Background())
	require.NoError(t, err)
	return info.State.Msgs
}

// moved waits until every journal entry is moved and purged and HZ_EVENTS holds want messages.
func moved(t *testing.T, conn *Conn, want uint64) {
	t.Helper()
	require.Eventually(t, func() bool {
		left, err := JournalLeft(context.Background(), conn.JS)
		require.NoError(t, err)
		return left == 0 && msgsIn(t, conn, StreamJournal) == 0 && streamMsgs(t, conn) == want
	}, 20*time.Second, 5*time.Millisecond, "journal moved, %d events stored", want)
	assert.Equal(t, want, streamMsgs(t, conn))
}

// storedByID reads HZ_EVENTS into a map by Nats-Msg-Id; a second message with one id fails.
func storedByID(t *testing.T, conn *Conn) map[string]jetstream.Msg {
	t.Helper()
	byID := map[string]jetstream.Msg{}
	require.NoError(t, Scan(context.Background(), conn.JS, StreamEvents, ScanOptions{}, func(m jetstream.Msg) error {
		id := m.Headers().Get(nats.MsgIdHdr)
		if _, dup := byID[id]; dup {
			return fmt.Errorf("id %s stored twice", id)
		}
		byID[id] = m
		return nil
	}))
	return byID
}

func fallbacks(reg *prometheus.Registry, reason string) float64 {
	return counter(reg, "hz_queue_batch_fallbacks_total", reason)
}

// counter is the value of the counter name with the one label value v.
func counter(reg *prometheus.Registry, name, v string) float64 {
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == v {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func batches(t *testing.T, reg *prometheus.Registry) (count uint64, sum float64) {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == "hz_queue_batch_messages" {
			h := mf.GetMetric()[0].GetHistogram()
			return h.GetSampleCount(), h.GetSampleSum()
		}
	}
	return 0, 0
}

// requireStoredAsSent checks that every outcome succeeded and that HZ_EVENTS holds each message
// exactly once, byte for byte under its own id; an outcome that was not journaled names its own
// stored message by sequence.
func requireStoredAsSent(t *testing.T, conn *Conn, msgs []*nats.Msg, ids []string, out []outcome) {
	t.Helper()
	byID := storedByID(t, conn)
	for i, o := range out {
		require.NoError(t, o.err, "message %d", i)
		m, ok := byID[ids[i]]
		require.True(t, ok, "message %d (%s) stored", i, ids[i])
		assert.Equal(t, msgs[i].Data, m.Data(), "message %d: body byte for byte", i)
		assert.Equal(t, msgs[i].Header.Get(HeaderEventID), m.Headers().Get(HeaderEventID), "message %d", i)
		assert.Equal(t, msgs[i].Subject, m.Subject())
		if !o.ack.Journaled {
			meta, err := m.Metadata()
			require.NoError(t, err)
			assert.Equal(t, meta.Sequence.Stream, o.ack.Sequence, "message %d: its own sequence", i)
		}
	}
}

func TestGroupCommitAnswersEachMessageOnceItsJournalEntryIsStored(t *testing.T) {
	conn := startJetStream(t)
	g, reg := groupCommit(t, conn, GroupCommitOptions{MaxMessages: 100})
	msgs, ids := events(250, "demo/h")
	release := hold(t, g)
	go release(len(msgs))
	out := publishAll(context.Background(), g, msgs, ids)

	for i, o := range out {
		require.NoError(t, o.err, "message %d", i)
		assert.True(t, o.ack.Journaled, "message %d", i)
	}
	n, sum := batches(t, reg)
	assert.Equal(t, uint64(3), n, "250 queued messages in entries of at most 100")
	assert.Equal(t, float64(len(msgs)), sum)
	moved(t, conn, uint64(len(msgs)))
	requireStoredAsSent(t, conn, msgs, ids, out)
	assert.Equal(t, float64(3), counter(reg, "hz_journal_entries_total", "moved"))
	assert.Equal(t, float64(len(msgs)), counter(reg, "hz_journal_events_total", "stored"))
	assert.Zero(t, fallbacks(reg, "timeout")+fallbacks(reg, "refused")+fallbacks(reg, "connection"))

	// The caller's message is not changed: no id or batch headers leak into what it may reuse.
	assert.Empty(t, msgs[0].Header.Get(nats.MsgIdHdr))
	assert.Empty(t, msgs[0].Header.Get(headerBatchID))
}

func TestGroupCommitStoresARetryRacingItsOriginalOnce(t *testing.T) {
	conn := startJetStream(t)
	g, reg := groupCommit(t, conn, GroupCommitOptions{})
	msgs, ids := events(10, "demo/h")
	msgs, ids = append(msgs, msgs[3]), append(ids, ids[3]) // a retry racing its original
	release := hold(t, g)
	go release(len(msgs))
	out := publishAll(context.Background(), g, msgs, ids)

	moved(t, conn, 10)
	requireStoredAsSent(t, conn, msgs, ids, out)
	// The repeat waits for the next batch; alone in it, it is published on its own, before or
	// after the Mover stores the entry of the other ten.
	n, _ := batches(t, reg)
	assert.Equal(t, uint64(2), n)
	assert.Equal(t, float64(10), counter(reg, "hz_journal_events_total", "duplicate")+counter(reg, "hz_journal_events_total", "stored"))
}

func TestMoverStoresAnEntryHoldingAStoredIDEventByEvent(t *testing.T) {
	conn := startJetStream(t)
	g, reg := groupCommit(t, conn, GroupCommitOptions{})
	msgs, ids := events(20, "demo/h")
	first, err := NewPublisher(conn.JS).Publish(context.Background(), msgs[7], ids[7])
	require.NoError(t, err)
	require.False(t, first)

	release := hold(t, g)
	go release(len(msgs))
	out := publishAll(context.Background(), g, msgs, ids)

	moved(t, conn, 20)
	requireStoredAsSent(t, conn, msgs, ids, out)
	assert.Equal(t, float64(1), counter(reg, "hz_journal_batch_fallbacks_total", "duplicate"), "the server refused the batch as a whole")
	assert.Equal(t, float64(1), counter(reg, "hz_journal_events_total", "duplicate"))
	assert.Equal(t, float64(19), counter(reg, "hz_journal_events_total", "stored"))
}

func TestGroupCommitSendsAMessageTooLargeForAnEntryOnItsOwn(t *testing.T) {
	conn := startJetStream(t)
	g, _ := groupCommit(t, conn, GroupCommitOptions{MaxBytes: 64 << 20})
	msgs, ids := events(6, "demo/h")
	msgs[2].Data = make([]byte, conn.NC.MaxPayload()+1) // refused by the client
	release := hold(t, g)
	go release(len(msgs))
	out := publishAll(context.Background(), g, msgs, ids)

	require.ErrorIs(t, out[2].err, nats.ErrMaxPayload)
	moved(t, conn, 5)
	requireStoredAsSent(t, conn, append(msgs[:2:2], msgs[3:]...), append(ids[:2:2], ids[3:]...), append(out[:2:2], out[3:]...))
}

func TestGroupCommitFallsBackWhenTheJournalRefusesTheEntry(t *testing.T) {
	conn := startJetStream(t)
	ctx := context.Background()
	s, err := conn.JS.Stream(ctx, StreamJournal)
	require.NoError(t, err)
	cfg := s.CachedInfo().Config
	cfg.MaxBytes = 100 // full at once: an entry is refused, never stored
	_, err = conn.JS.UpdateStream(ctx, cfg)
	require.NoError(t, err)
	g, reg := groupCommit(t, conn, GroupCommitOptions{})
	msgs, ids := events(8, "demo/h")
	release := hold(t, g)
	go release(len(msgs))
	out := publishAll(ctx, g, msgs, ids)

	assert.Equal(t, float64(1), fallbacks(reg, "refused"))
	for i, o := range out {
		assert.False(t, o.ack.Journaled, "message %d: stored on its own", i)
	}
	requireStoredAsSent(t, conn, msgs, ids, out)
	assert.Equal(t, uint64(8), streamMsgs(t, conn))
	assert.Zero(t, msgsIn(t, conn, StreamJournal))
}

func TestGroupCommitFallsBackWhenTheCommitTimesOut(t *testing.T) {
	conn := startJetStream(t)
	g, reg := groupCommit(t, conn, GroupCommitOptions{CommitTimeout: time.Nanosecond})
	msgs, ids := events(8, "demo/h")
	release := hold(t, g)
	go release(len(msgs))
	out := publishAll(context.Background(), g, msgs, ids)

	assert.Equal(t, float64(1), fallbacks(reg, "timeout"))
	// The entry may have been stored after all: the Mover then finds each event stored already,
	// and nothing is stored twice.
	moved(t, conn, 8)
	requireStoredAsSent(t, conn, msgs, ids, out)
}

func TestGroupCommitWithNATSDownAnswersNothingAsStored(t *testing.T) {
	log := testLog()
	dir := t.TempDir()
	srv, err := embedded.Start(embedded.Options{StoreDir: dir}, log)
	require.NoError(t, err)
	port := srv.Port()
	conn, err := Connect(context.Background(), srv.URL(), t.Name(), log)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(time.Second) })
	require.NoError(t, EnsureStreams(context.Background(), conn.JS, DefaultStreamOptions()))
	g, reg := groupCommit(t, conn, GroupCommitOptions{})

	msgs, ids := events(30, "demo/h")
	release := hold(t, g)
	var out []outcome
	done := make(chan struct{})
	go func() { out = publishAll(context.Background(), g, msgs, ids); close(done) }()
	require.Eventually(t, func() bool { g.mu.Lock(); defer g.mu.Unlock(); return len(g.queue) == len(msgs) }, 10*time.Second, time.Millisecond)
	srv.Shutdown() // with the batch queued
	release(len(msgs))
	<-done

	for i, o := range out {
		require.Error(t, o.err, "message %d: never a success without the server", i)
	}
	assert.Equal(t, float64(1), fallbacks(reg, "connection")+fallbacks(reg, "timeout"), "the entry failed, then each message")
	srv, err = embedded.Start(embedded.Options{StoreDir: dir, Port: port}, log)
	require.NoError(t, err)
	t.Cleanup(srv.Shutdown)
	require.NoError(t, conn.WaitConnected(context.Background()))
	assert.Zero(t, streamMsgs(t, conn))
	assert.Zero(t, msgsIn(t, conn, StreamJournal))
}

func testLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestGroupCommitCloseDrainsWhatIsQueued(t *testing.T) {
	conn := startJetStream(t)
	g, _ := groupCommit(t, conn, GroupCommitOptions{MaxMessages: 7})
	msgs, ids := events(40, "demo/h")
	release := hold(t, g)
	var out []outcome
	done := make(chan struct{})
	go func() { out = publishAll(context.Background(), g, msgs, ids); close(done) }()
	release(len(msgs))
	require.NoError(t, g.Close(context.Background()))
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("publishers still waiting after Close")
	}
	for i, o := range out {
		require.NoError(t, o.err, "message %d: answered before Close returned", i)
	}
	moved(t, conn, uint64(len(msgs)))
	requireStoredAsSent(t, conn, msgs, ids, out)

	_, err := g.Publish(context.Background(), msgs[0], "demo/h/after")
	require.ErrorIs(t, err, ErrClosed)
}

func TestGroupCommitDropsAMessageWhoseCallerGaveUp(t *testing.T) {
	conn := startJetStream(t)
	g, _ := groupCommit(t, conn, GroupCommitOptions{})
	msgs, ids := events(3, "demo/h")
	release := hold(t, g)
	ctx, cancel := context.WithCancel(context.Background())
	gaveUp := make(chan error, 1)
	go func() { _, err := g.Publish(ctx, msgs[0], ids[0]); gaveUp <- err }()
	require.Eventually(t, func() bool { g.mu.Lock(); defer g.mu.Unlock(); return len(g.queue) == 1 }, 10*time.Second, time.Millisecond)
	cancel()
	require.ErrorIs(t, <-gaveUp, context.Canceled)
	msgs[0].Data[0] = 'X' // the caller reuses its buffer

	go release(2)
	out := publishAll(context.Background(), g, msgs[1:], ids[1:])
	moved(t, conn, 2)
	requireStoredAsSent(t, conn, msgs[1:], ids[1:], out)
}

func TestGroupCommitSendsALoneMessageOnItsOwn(t *testing.T) {
	conn := startJetStream(t)
	g, reg := groupCommit(t, conn, GroupCommitOptions{Linger: time.Hour})
	msgs, ids := events(1, "demo/h")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out := publishAll(ctx, g, msgs, ids)
	require.False(t, out[0].ack.Journaled, "a plain publish, no entry of one")
	requireStoredAsSent(t, conn, msgs, ids, out)
	n, sum := batches(t, reg)
	assert.Equal(t, uint64(1), n)
	assert.Equal(t, float64(1), sum)
	assert.Zero(t, counter(reg, "hz_journal_entries_total", "moved"))
}

func TestEnsureStreamsAllowsAtomicPublishOnAStreamMadeBefore(t *testing.T) {
	srv, err := embedded.Start(embedded.Options{StoreDir: t.TempDir()}, testLog())
	require.NoError(t, err)
	t.Cleanup(srv.Shutdown)
	conn, err := Connect(context.Background(), srv.URL(), t.Name(), testLog())
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(time.Second) })
	ctx := context.Background()
	_, err = conn.JS.CreateStream(ctx, jetstream.StreamConfig{Name: StreamEvents, Subjects: []string{EventsSubjectPrefix + "*"}, Storage: jetstream.FileStorage})
	require.NoError(t, err)

	require.NoError(t, EnsureStreams(ctx, conn.JS, DefaultStreamOptions()))
	s, err := conn.JS.Stream(ctx, StreamEvents)
	require.NoError(t, err)
	assert.True(t, s.CachedInfo().Config.AllowAtomicPublish)
	g, reg := groupCommit(t, conn, GroupCommitOptions{})
	msgs, ids := events(5, "demo/h")
	release := hold(t, g)
	go release(len(msgs))
	out := publishAll(ctx, g, msgs, ids)
	moved(t, conn, 5)
	requireStoredAsSent(t, conn, msgs, ids, out)
	assert.Zero(t, counter(reg, "hz_journal_batch_fallbacks_total", "refused"), "the mover's atomic batch accepted")
}
