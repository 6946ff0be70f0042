package dispatch

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/testenv"
)

// publish stores one event as the receiver does: subject by type, X-Hardenize-* and Hz-* headers,
// Nats-Msg-Id. It returns the body.
func publish(t *testing.T, conn *queue.Conn, typ string, id int) []byte {
	t.Helper()
	body := fmt.Appendf(nil, `{"id":%d,"type":%q,"createdOn":"2026-01-02T03:04:05Z","data":{"n":%d}}`, id, typ, id)
	msg := newMsg(typ, strconv.Itoa(id), body)
	_, err := queue.NewPublisher(conn.JS).Publish(context.Background(), msg, queue.MsgID("demo", "hook", strconv.Itoa(id), body))
	require.NoError(t, err)
	return body
}

func newMsg(typ, id string, body []byte) *nats.Msg {
	return queue.StoredEvent{Org: "demo", HookID: "hook", EventID: id, Type: typ, Source: queue.SourceWebhook,
		ReceivedAt: time.Now(), Body: body}.Msg()
}

func newJSONLog(w io.Writer) *slog.Logger { return slog.New(slog.NewJSONHandler(w, nil)) }

// countLines counts the lines of s containing every one of subs.
func countLines(s string, subs ...string) int {
	n := 0
	for line := range strings.Lines(s) {
		all := true
		for _, sub := range subs {
			all = all && strings.Contains(line, sub)
		}
		if all {
			n++
		}
	}
	return n
}

// testOptions are fast options for the events stream, consuming types under consumer name.
func testOptions(name string, handlers map[string]Handler, types ...string) Options {
	subjects := make([]string, 0, len(types))
	for _, typ := range types {
		subjects = append(subjects, queue.Subject(typ))
	}
	return Options{
		Stream: queue.StreamEvents, Consumer: name, FilterSubjects: subjects, Stage: "worker",
		ParseEnvelope: true, Handlers: handlers, AckOnly: []string{"test"},
		MaxDeliver: 3, Backoff: []time.Duration{50 * time.Millisecond, 100 * time.Millisecond},
		AckWait: 5 * time.Second, BatchSize: 10, Concurrency: 2, FetchWait: 200 * time.Millisecond,
		ShutdownGrace: 5 * time.Second, PollInterval: 100 * time.Millisecond,
		Log: testenv.DiscardLog(), Registerer: prometheus.NewRegistry(),
	}
}

// run starts a dispatcher and stops it (asserting a clean stop) when the test ends.
func run(t *testing.T, conn *queue.Conn, o Options) *Dispatcher {
	t.Helper()
	d, err := New(conn.JS, nil, o)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	return d
}

// call is one Handle invocation as a handler saw it.
type call struct {
	at    time.Time
	batch []Message
}

// funcHandler records every call and answers with fn per message.
type funcHandler struct {
	mu    sync.Mutex
	calls []call
	fn    func(m Message, n int) error // n: how many times this event id was seen, from 1
	seen  map[string]int
}

func newHandler(fn func(m Message, n int) error) *funcHandler {
	return &funcHandler{fn: fn, seen: map[string]int{}}
}

func (h *funcHandler) Handle(_ context.Context, batch []Message) []error {
	h.mu.Lock()
	h.calls = append(h.calls, call{at: time.Now(), batch: batch})
	ns := make([]int, len(batch))
	for i, m := range batch {
		id := m.Header.Get(queue.HeaderEventID)
		h.seen[id]++
		ns[i] = h.seen[id]
	}
	h.mu.Unlock()
	errs := make([]error, len(batch))
	for i, m := range batch {
		errs[i] = h.fn(m, ns[i])
	}
	return errs
}

// times returns when the event with id was handled, in order.
func (h *funcHandler) times(id string) []time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	var ts []time.Time
	for _, c := range h.calls {
		for _, m := range c.batch {
			if m.Header.Get(queue.HeaderEventID) == id {
				ts = append(ts, c.at)
			}
		}
	}
	return ts
}

func (h *funcHandler) count(id string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.seen[id]
}

// settled reports whether the consumer has nothing pending and nothing unacknowledged.
func settled(t *testing.T, conn *queue.Conn, consumer string) bool {
	t.Helper()
	c, err := conn.JS.Consumer(context.Background(), queue.StreamEvents, consumer)
	if err != nil {
		return false
	}
	info, err := c.Info(context.Background())
	return err == nil && info.NumPending == 0 && info.NumAckPending == 0
}

// deadLetters returns every message in HZ_DLQ.
func deadLetters(t *testing.T, conn *queue.Conn) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx := context.Background()
	s, err := conn.JS.Stream(ctx, queue.StreamDLQ)
	require.NoError(t, err)
	info, err := s.Info(ctx)
	require.NoError(t, err)
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err == nil {
			out = append(out, m)
		}
	}
	return out
}

const (
	waitFor = 20 * time.Second
	tick    = 20 * time.Millisecond
)
