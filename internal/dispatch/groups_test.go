package dispatch

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/testenv"
)

// ct.entry and pki.cert.new run as separate groups, each with its own durable consumer.
func TestGroupsSeeOnlyTheirTypes(t *testing.T) {
	conn, _ := testenv.JetStream(t)
	var mu sync.Mutex
	seen := map[string]map[string]bool{} // group → types seen
	record := func(group string) *funcHandler {
		return newHandler(func(m Message, _ int) error {
			mu.Lock()
			defer mu.Unlock()
			if seen[group] == nil {
				seen[group] = map[string]bool{}
			}
			seen[group][m.Event.Type] = true
			return nil
		})
	}
	ct, cert := record("ct"), record("cert")
	// Each group registers both handlers: only the consumer's filter keeps the other type away.
	both := func(h *funcHandler) map[string]Handler {
		return map[string]Handler{events.TypeCTEntry: h, events.TypeCertNew: h}
	}
	run(t, conn, testOptions("group-ct", both(ct), events.TypeCTEntry))
	run(t, conn, testOptions("group-cert", both(cert), events.TypeCertNew))
	for i := range 20 {
		publish(t, conn, []string{events.TypeCTEntry, events.TypeCertNew}[i%2], i)
	}

	require.Eventually(t, func() bool { return settled(t, conn, "group-ct") && settled(t, conn, "group-cert") }, waitFor, tick)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, map[string]bool{events.TypeCTEntry: true}, seen["ct"])
	assert.Equal(t, map[string]bool{events.TypeCertNew: true}, seen["cert"])
	for i := range 20 {
		h := map[bool]*funcHandler{true: ct, false: cert}[i%2 == 0]
		assert.Equal(t, 1, h.count(strconv.Itoa(i)), "event %d processed once by its group", i)
	}
}

// Replicas share the group's consumer: together they process every event, and never one event
// in two places at once.
func TestReplicasNeverProcessTheSameMessageConcurrently(t *testing.T) {
	conn, _ := testenv.JetStream(t)
	var mu sync.Mutex
	inFlight := map[string]bool{}
	var overlaps []string
	h := newHandler(func(m Message, _ int) error { return nil })
	slow := handlerFunc(func(ctx context.Context, batch []Message) []error {
		mu.Lock()
		for _, m := range batch {
			id := m.Header.Get(queue.HeaderEventID)
			if inFlight[id] {
				overlaps = append(overlaps, id)
			}
			inFlight[id] = true
		}
		mu.Unlock()
		time.Sleep(5 * time.Millisecond)
		errs := h.Handle(ctx, batch)
		mu.Lock()
		for _, m := range batch {
			delete(inFlight, m.Header.Get(queue.HeaderEventID))
		}
		mu.Unlock()
		return errs
	})
	const n = 200
	for i := range n {
		publish(t, conn, events.TypeCTEntry, i)
	}
	for range 2 {
		o := testOptions("replicated", map[string]Handler{events.TypeCTEntry: slow}, events.TypeCTEntry)
		o.BatchSize = 5
		run(t, conn, o)
	}

	require.Eventually(t, func() bool { return settled(t, conn, "replicated") }, waitFor, tick)
	mu.Lock()
	defer mu.Unlock()
	assert.Empty(t, overlaps)
	for i := range n {
		assert.Equal(t, 1, h.count(strconv.Itoa(i)), "event %d", i)
	}
}

// A handler slower than AckWait keeps its messages through InProgress signals: no second replica
// gets them meanwhile.
func TestSlowHandlerKeepsItsMessages(t *testing.T) {
	conn, _ := testenv.JetStream(t)
	h := newHandler(func(Message, int) error {
		time.Sleep(2500 * time.Millisecond)
		return nil
	})
	for range 2 {
		o := testOptions("slow", map[string]Handler{events.TypeCTEntry: h}, events.TypeCTEntry)
		o.AckWait = time.Second
		run(t, conn, o)
	}
	publish(t, conn, events.TypeCTEntry, 1)

	require.Eventually(t, func() bool { return settled(t, conn, "slow") && h.count("1") == 1 }, waitFor, tick)
	assert.Equal(t, 1, h.count("1"))
}

// Shutdown lets the batch in flight finish and acknowledges it.
func TestShutdownFinishesInFlightBatch(t *testing.T) {
	conn, _ := testenv.JetStream(t)
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	h := newHandler(func(Message, int) error {
		started <- struct{}{}
		<-release
		return nil
	})
	d, err := New(conn.JS, nil, testOptions("shutdown", map[string]Handler{events.TypeCTEntry: h}, events.TypeCTEntry))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	publish(t, conn, events.TypeCTEntry, 1)
	<-started
	cancel()
	close(release)
	require.NoError(t, <-done)
	// The ack left before Run returned; the server applies it asynchronously.
	require.Eventually(t, func() bool { return settled(t, conn, "shutdown") }, waitFor, tick)
	assert.Equal(t, 1, h.count("1"))
}

type handlerFunc func(ctx context.Context, batch []Message) []error

func (f handlerFunc) Handle(ctx context.Context, batch []Message) []error { return f(ctx, batch) }
