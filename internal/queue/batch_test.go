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

// groupCommit starts a GroupCommit with one commit slot on conn and closes it with the test.
func groupCommit(t *testing.T, conn *Conn, o GroupCommitOptions) (*GroupCommit, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	o.Registerer = reg
	if o.MaxInFlight == 0 {
		o.MaxInFlight = 1
	}
	g, err := NewGroupCommit(conn.NC, conn.JS, o)
	require.NoError(t, err)
	t.Cleanup(func() { _ = g.Close(context.Background()) })
	return g, reg
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
	s, err := conn.JS.Stream(context.Background(), StreamEvents)
	require.NoError(t, err)
	info, err := s.Info(context.Background())
	require.NoError(t, err)
	return info.State.Msgs
}

func fallbacks(reg *prometheus.Registry, reason string) float64 {
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "hz_queue_batch_fallbacks_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == reason {
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

// requireStoredAsSent checks that each outcome's sequence holds exactly its own message.
func requireStoredAsSent(t *testing.T, conn *Conn, msgs []*nats.Msg, ids []string, out []outcome) {
	t.Helper()
	for i, o := range out {
		require.NoError(t, o.err, "message %d", i)
		m := stored(t, conn, o.ack.Sequence)
		assert.Equal(t, msgs[i].Data, m.Data, "message %d: body byte for byte", i)
		assert.Equal(t, ids[i], m.Header.Get(nats.MsgIdHdr), "message %d", i)
		assert.Equal(t, msgs[i].Header.Get(HeaderEventID), m.Header.Get(HeaderEventID), "message %d", i)
		assert.Equal(t, msgs[i].Subject, m.Subject)
	}
}

func TestGroupCommitAnswersEachMessageWithItsOwnStoredMessage(t *testing.T) {
	conn := startJetStream(t)
	g, reg := groupCommit(t, conn, GroupCommitOptions{MaxMessages: 100})
	msgs, ids := events(250, "demo/h")
	release := hold(t, g)
	go release(len(msgs))
	out := publishAll(context.Background(), g, msgs, ids)

	requireStoredAsSent(t, conn, msgs, ids, out)
	seqs := map[uint64]bool{}
	for _, o := range out {
		assert.False(t, o.ack.Duplicate)
		seqs[o.ack.Sequence] = true
	}
	assert.Len(t, seqs, len(msgs), "every message its own sequence")
	assert.Equal(t, uint64(len(msgs)), streamMsgs(t, conn))
	n, sum := batches(t, reg)
	assert.Equal(t, uint64(3), n, "250 queued messages in batches of at most 100")
	assert.Equal(t, float64(len(msgs)), sum)
	assert.Zero(t, fallbacks(reg, "duplicate")+fallbacks(reg, "timeout")+fallbacks(reg, "incomplete"))

	// The caller's message is not changed: no batch headers leak into what it may reuse.
	assert.Empty(t, msgs[0].Header.Get(headerBatchID))
	assert.Empty(t, msgs[0].Header.Get(nats.MsgIdHdr))
}

func TestGroupCommitKeepsARepeatedIDOutOfTheBatch(t *testing.T) {
	conn := startJetStream(t)
	g, reg := groupCommit(t, conn, GroupCommitOptions{})
	msgs, ids := events(10, "demo/h")
	msgs, ids = append(msgs, msgs[3]), append(ids, ids[3]) // a retry racing its original
	release := hold(t, g)
	go release(len(msgs))
	out := publishAll(context.Background(), g, msgs, ids)

	requireStoredAsSent(t, conn, msgs, ids, out)
	assert.Equal(t, uint64(10), streamMsgs(t, conn), "stored once")
	assert.NotEqual(t, out[3].ack.Duplicate, out[10].ack.Duplicate, "one of the two is the duplicate")
	assert.Equal(t, out[3].ack.Sequence, out[10].ack.Sequence)
	n, _ := batches(t, reg)
	assert.Equal(t, uint64(2), n, "the repeat waits for the next batch")
	assert.Zero(t, fallbacks(reg, "duplicate"), "the batch itself did not fail")
}

func TestGroupCommitFallsBackWhenABatchHoldsAStoredID(t *testing.T) {
	conn := startJetStream(t)
	g, reg := groupCommit(t, conn, GroupCommitOptions{})
	msgs, ids := events(20, "demo/h")
	first, err := NewPublisher(conn.JS).Publish(context.Background(), msgs[7], ids[7])
	require.NoError(t, err)
	require.False(t, first)

	release := hold(t, g)
	go release(len(msgs))
	out := publishAll(context.Background(), g, msgs, ids)

	assert.Equal(t, float64(1), fallbacks(reg, "duplicate"), "the server refused the batch as a whole")
	requireStoredAsSent(t, conn, msgs, ids, out)
	for i, o := range out {
		assert.Equal(t, i == 7, o.ack.Duplicate, "message %d", i)
	}
	assert.Equal(t, uint64(20), streamMsgs(t, conn), "each stored once")
}

func TestGroupCommitFallsBackWhenABatchBreaksOff(t *testing.T) {
	conn := startJetStream(t)
	g, reg := groupCommit(t, conn, GroupCommitOptions{MaxBytes: 64 << 20})
	msgs, ids := events(6, "demo/h")
	msgs[2].Data = make([]byte, conn.NC.MaxPayload()+1) // refused by the client after 1 was sent
	release := hold(t, g)
	go release(len(msgs))
	out := publishAll(context.Background(), g, msgs, ids)

	assert.Equal(t, float64(1), fallbacks(reg, "connection"))
	require.ErrorIs(t, out[2].err, nats.ErrMaxPayload)
	out[2] = outcome{}
	for i, o := range out {
		if i == 2 {
			continue
		}
		require.NoError(t, o.err, "message %d", i)
		m := stored(t, conn, o.ack.Sequence)
		assert.Equal(t, msgs[i].Data, m.Data)
		assert.Empty(t, m.Header.Get(headerBatchID), "stored by its own publish, not by the broken batch")
	}
	assert.Equal(t, uint64(5), streamMsgs(t, conn), "the broken batch stored nothing")
}

func TestGroupCommitFallsBackWhenTheCommitTimesOut(t *testing.T) {
	conn := startJetStream(t)
	g, reg := groupCommit(t, conn, GroupCommitOptions{CommitTimeout: time.Nanosecond})
	msgs, ids := events(8, "demo/h")
	release := hold(t, g)
	go release(len(msgs))
	out := publishAll(context.Background(), g, msgs, ids)

	assert.Equal(t, float64(1), fallbacks(reg, "timeout"))
	// The batch may have been stored after all: each message is then answered as a duplicate of
	// itself, never stored twice.
	requireStoredAsSent(t, conn, msgs, ids, out)
	assert.Equal(t, uint64(8), streamMsgs(t, conn))
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
	assert.Equal(t, float64(1), fallbacks(reg, "connection")+fallbacks(reg, "timeout"), "the batch failed, then each message")
	srv, err = embedded.Start(embedded.Options{StoreDir: dir, Port: port}, log)
	require.NoError(t, err)
	t.Cleanup(srv.Shutdown)
	require.NoError(t, conn.WaitConnected(context.Background()))
	assert.Zero(t, streamMsgs(t, conn))
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
	assert.Equal(t, uint64(len(msgs)), streamMsgs(t, conn), "every queued message stored when Close returns")
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("publishers still waiting after Close")
	}
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
	requireStoredAsSent(t, conn, msgs[1:], ids[1:], out)
	assert.Equal(t, uint64(2), streamMsgs(t, conn), "the abandoned message was not sent")
}

func TestGroupCommitSendsALoneMessageOnItsOwn(t *testing.T) {
	conn := startJetStream(t)
	g, reg := groupCommit(t, conn, GroupCommitOptions{Linger: time.Hour})
	msgs, ids := events(1, "demo/h")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out := publishAll(ctx, g, msgs, ids)
	requireStoredAsSent(t, conn, msgs, ids, out)
	m := stored(t, conn, out[0].ack.Sequence)
	assert.Empty(t, m.Header.Get(headerBatchID), "a plain publish, no batch of one")
	n, sum := batches(t, reg)
	assert.Equal(t, uint64(1), n)
	assert.Equal(t, float64(1), sum)
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
	requireStoredAsSent(t, conn, msgs, ids, publishAll(ctx, g, msgs, ids))
	assert.Zero(t, fallbacks(reg, "refused"), "batches accepted")
}
