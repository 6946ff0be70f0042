package dlq

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/apiwire"
	"github.com/hzhook/hzhook/internal/dispatch"
	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/testenv"
)

// publish stores an event as the receiver does and returns its Nats-Msg-Id.
func publish(t *testing.T, conn *queue.Conn, typ string, id int) string {
	t.Helper()
	body := fmt.Appendf(nil, `{"id":%d,"type":%q,"createdOn":"2026-01-02T03:04:05Z","data":{}}`, id, typ)
	ev := queue.StoredEvent{Org: "demo", HookID: "hook", EventID: strconv.Itoa(id), Type: typ, Source: queue.SourceWebhook,
		ReceivedAt: time.Now(), Body: body}
	msgID := ev.MsgID()
	_, err := queue.NewPublisher(conn.JS).Publish(context.Background(), ev.Msg(), msgID)
	require.NoError(t, err)
	return msgID
}

// faultyHandler fails (permanently for ids in permanent, transiently otherwise) while broken.
type faultyHandler struct {
	broken    atomic.Bool
	permanent map[string]bool
	mu        sync.Mutex
	ok        map[string]int // successful calls by event id
}

func (h *faultyHandler) Handle(_ context.Context, batch []dispatch.Message) []error {
	errs := make([]error, len(batch))
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, m := range batch {
		switch {
		case h.broken.Load() && h.permanent[m.Event.ID]:
			errs[i] = events.Permanent(errors.New("bad payload"))
		case h.broken.Load():
			errs[i] = errors.New("store down")
		default:
			h.ok[m.Event.ID]++
		}
	}
	return errs
}

func (h *faultyHandler) calls(id string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ok[id]
}

// runWorker runs a dispatcher for ct.entry and pki.cert.new with fast retries and 2 deliveries.
func runWorker(t *testing.T, conn *queue.Conn, h dispatch.Handler) {
	t.Helper()
	d, err := dispatch.New(conn.JS, nil, dispatch.Options{
		Stream: queue.StreamEvents, Consumer: "dlq-test", Stage: "worker", ParseEnvelope: true,
		FilterSubjects: []string{queue.Subject(events.TypeCTEntry), queue.Subject(events.TypeCertNew)},
		Handlers:       map[string]dispatch.Handler{events.TypeCTEntry: h, events.TypeCertNew: h},
		MaxDeliver:     2, Backoff: []time.Duration{20 * time.Millisecond}, FetchWait: 200 * time.Millisecond,
		Log: testenv.DiscardLog(), Registerer: prometheus.NewRegistry(),
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })
}

// deadLettered fills HZ_DLQ through a real dispatcher: ids 1-3 ct.entry transient, 4 pki.cert.new
// transient, 5 ct.entry permanent. The handler is fixed afterwards.
func deadLettered(t *testing.T) (*queue.Conn, *Store, *faultyHandler, map[string]string) {
	t.Helper()
	conn, _ := testenv.JetStream(t)
	h := &faultyHandler{permanent: map[string]bool{"5": true}, ok: map[string]int{}}
	h.broken.Store(true)
	runWorker(t, conn, h)
	ids := map[string]string{}
	for id := 1; id <= 5; id++ {
		typ := events.TypeCTEntry
		if id == 4 {
			typ = events.TypeCertNew
		}
		ids[strconv.Itoa(id)] = publish(t, conn, typ, id)
	}
	s := New(conn.JS, Options{})
	require.Eventually(t, func() bool {
		p, err := s.List(context.Background(), Filter{}, 1, 10)
		return err == nil && p.Total == 5
	}, 20*time.Second, 20*time.Millisecond)
	h.broken.Store(false)
	return conn, s, h, ids
}

func TestListFiltersAndPages(t *testing.T) {
	_, s, _, _ := deadLettered(t)
	ctx := context.Background()
	tests := []struct {
		name      string
		f         Filter
		page      int
		size      int
		wantIDs   []string
		wantTotal int
		wantPages int
	}{
		{"all", Filter{}, 1, 10, []string{"1", "2", "3", "4", "5"}, 5, 1},
		{"past the end", Filter{}, 4, 2, []string{}, 5, 3},
		{"permanent", Filter{Class: queue.ClassPermanent}, 1, 10, []string{"5"}, 1, 1},
		{"reason", Filter{Reason: dispatch.ReasonMaxDeliver}, 1, 10, []string{"1", "2", "3", "4"}, 4, 1},
		{"type", Filter{Type: events.TypeCertNew}, 1, 10, []string{"4"}, 1, 1},
		{"no match", Filter{Stage: "alerts"}, 1, 10, []string{}, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := s.List(ctx, tc.f, tc.page, tc.size)
			require.NoError(t, err)
			got := []string{}
			for _, l := range p.Items {
				got = append(got, l.EventID)
			}
			assert.ElementsMatch(t, tc.wantIDs, got)
			assert.Equal(t, tc.wantTotal, p.Total)
			assert.Equal(t, tc.wantPages, p.Pages)
		})
	}
	// Pages partition the listing, oldest first.
	all, err := s.List(ctx, Filter{}, 1, 10)
	require.NoError(t, err)
	var paged []apiwire.DLQLetter
	for page := 1; page <= 3; page++ {
		p, err := s.List(ctx, Filter{}, page, 2)
		require.NoError(t, err)
		assert.Equal(t, 3, p.Pages)
		paged = append(paged, p.Items...)
	}
	assert.Equal(t, all.Items, paged)
	for i := 1; i < len(all.Items); i++ {
		assert.Less(t, all.Items[i-1].Seq, all.Items[i].Seq)
	}

	p, err := s.List(ctx, Filter{Class: queue.ClassTransient, Type: events.TypeCTEntry}, 1, 1)
	require.NoError(t, err)
	l := p.Items[0]
	assert.Equal(t, "worker", l.Stage)
	assert.Equal(t, "hz.events.ct_entry", l.Subject)
	assert.Equal(t, 2, l.Attempts)
	assert.Equal(t, "store down", l.Error)
	assert.Equal(t, events.TypeCTEntry, l.Handler)
	assert.Positive(t, l.Size)
	assert.False(t, l.DeadLetteredAt.IsZero())
}

// Redriving a dead letter after the fault is fixed processes it exactly once, with its original
// headers and without the dead-letter ones.
func TestRedriveAfterFixProcessesOnce(t *testing.T) {
	conn, s, h, ids := deadLettered(t)
	ctx := context.Background()
	p, err := s.List(ctx, Filter{Type: events.TypeCertNew}, 1, 1)
	require.NoError(t, err)
	seq := p.Items[0].Seq

	r, err := s.Redrive(ctx, seq)
	require.NoError(t, err)
	assert.Equal(t, "hz.redrive.events.dlq-test", r.Subject, "back to the consumer that failed it, and no other")
	assert.Equal(t, "dlq-test", r.Consumer)
	assert.Equal(t, apiwire.RedriveOutcomeRedriven, r.Outcome)
	assert.Equal(t, ids["4"]+"/redrive/"+strconv.FormatUint(seq, 10), r.MsgID,
		"the original id is still inside the duplicate window, so the redrive gets its own")
	require.Eventually(t, func() bool { return h.calls("4") == 1 }, 20*time.Second, 20*time.Millisecond)

	_, err = s.Get(ctx, seq)
	require.ErrorIs(t, err, ErrNotFound, "a redriven letter leaves the queue")
	_, err = s.Redrive(ctx, seq)
	require.ErrorIs(t, err, ErrNotFound, "a second redrive finds nothing")

	st, err := conn.JS.Stream(ctx, queue.StreamEvents)
	require.NoError(t, err)
	m, err := st.GetMsg(ctx, r.StreamSeq)
	require.NoError(t, err)
	assert.Equal(t, "demo", m.Header.Get(queue.HeaderOrg))
	assert.Equal(t, "4", m.Header.Get(queue.HeaderEventID))
	for _, k := range []string{queue.HeaderDLQError, queue.HeaderDLQReason, queue.HeaderDLQClass, queue.HeaderDLQAttempts,
		queue.HeaderDLQHandler, queue.HeaderDLQTime, queue.HeaderDLQSubject, queue.HeaderDLQSeq} {
		assert.Empty(t, m.Header.Get(k), k)
	}
	// Everything the stream holds, the redriven message included, has been delivered and settled:
	// a second copy would have been handled by now.
	require.Eventually(t, func() bool {
		c, err := conn.JS.Consumer(ctx, queue.StreamEvents, "dlq-test")
		if err != nil {
			return false
		}
		info, err := c.Info(ctx)
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.AckFloor.Stream >= r.StreamSeq
	}, 20*time.Second, 20*time.Millisecond)
	assert.Equal(t, 1, h.calls("4"))
}

func TestRedriveRestoresTheOriginalMsgIDOutsideTheWindow(t *testing.T) {
	conn, _ := testenv.JetStream(t)
	ctx := context.Background()
	// A dead letter whose original is no longer in the duplicate window: write it directly.
	h := nats.Header{}
	h.Set(nats.MsgIdHdr, "demo/hook/77")
	h.Set(queue.HeaderEventType, events.TypeCTEntry)
	require.NoError(t, queue.NewPublisher(conn.JS).DeadLetter(ctx, queue.DeadLetter{
		Stage: "worker", Subject: queue.Subject(events.TypeCTEntry), Header: h, Data: []byte(`{}`),
		Class: queue.ClassTransient, Reason: dispatch.ReasonMaxDeliver, Err: errors.New("x"), Attempts: 5, Time: time.Now(),
	}))
	s := New(conn.JS, Options{})
	p, err := s.List(ctx, Filter{}, 1, 1)
	require.NoError(t, err)
	r, err := s.Redrive(ctx, p.Items[0].Seq)
	require.NoError(t, err)
	assert.Equal(t, "demo/hook/77", r.MsgID)
	st, err := conn.JS.Stream(ctx, queue.StreamEvents)
	require.NoError(t, err)
	m, err := st.GetMsg(ctx, r.StreamSeq)
	require.NoError(t, err)
	assert.Equal(t, "demo/hook/77", m.Header.Get(nats.MsgIdHdr))
}

func TestBulkRedriveAndPurgeByFilter(t *testing.T) {
	_, s, h, _ := deadLettered(t)
	ctx := context.Background()

	_, err := s.RedriveMatching(ctx, Filter{}, false)
	require.ErrorIs(t, err, ErrNoFilter)
	_, err = s.PurgeMatching(ctx, Filter{}, false)
	require.ErrorIs(t, err, ErrNoFilter)

	b, err := s.RedriveMatching(ctx, Filter{Class: queue.ClassTransient}, false)
	require.NoError(t, err)
	assert.Equal(t, 4, b.Matched)
	assert.Equal(t, 4, b.Done)
	assert.Empty(t, b.Failed)
	require.Eventually(t, func() bool {
		return h.calls("1") == 1 && h.calls("2") == 1 && h.calls("3") == 1 && h.calls("4") == 1
	}, 20*time.Second, 20*time.Millisecond)

	b, err = s.PurgeMatching(ctx, Filter{Class: queue.ClassPermanent}, false)
	require.NoError(t, err)
	assert.Equal(t, 1, b.Done)
	p, err := s.List(ctx, Filter{}, 1, 10)
	require.NoError(t, err)
	assert.Zero(t, p.Total)
	assert.Equal(t, 0, h.calls("5"), "purged, never processed")
}

func TestPurgeOne(t *testing.T) {
	_, s, _, _ := deadLettered(t)
	ctx := context.Background()
	p, err := s.List(ctx, Filter{}, 1, 1)
	require.NoError(t, err)
	seq := p.Items[0].Seq
	require.NoError(t, s.Purge(ctx, seq))
	require.ErrorIs(t, s.Purge(ctx, seq), ErrNotFound)
	p, err = s.List(ctx, Filter{}, 1, 10)
	require.NoError(t, err)
	assert.Equal(t, 4, p.Total)
}
