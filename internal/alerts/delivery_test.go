package alerts

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/dispatch"
	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/testenv"
)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startAlerts runs an embedded JetStream with HZ_ALERTS and HZ_DLQ.
func startAlerts(t *testing.T) *queue.Conn {
	t.Helper()
	conn, _ := testenv.JetStream(t)
	require.NoError(t, queue.EnsureAlertStream(t.Context(), conn.JS))
	return conn
}

// runSink runs the shared dispatcher over HZ_ALERTS for one sink, as a sink worker does.
func runSink(t *testing.T, conn *queue.Conn, sink Sink, m *Metrics) {
	t.Helper()
	d, err := dispatch.New(conn.JS, nil, dispatch.Options{
		Stream: queue.StreamAlerts, Consumer: "alerts-" + sink.Kind(), FilterSubjects: []string{queue.AlertsSubjectPrefix + ">"},
		Stage: "alerts", RouteHeader: HeaderAlertType, Handlers: Routes(NewHandler(sink, nil, m, discard())),
		MaxDeliver: 5, Backoff: []time.Duration{10 * time.Millisecond}, AckWait: 5 * time.Second,
		FetchWait: 100 * time.Millisecond, PollInterval: 100 * time.Millisecond,
		Log: discard(), Registerer: prometheus.NewRegistry(),
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })
}

func settled(t *testing.T, conn *queue.Conn, consumer string) bool {
	t.Helper()
	c, err := conn.JS.Consumer(t.Context(), queue.StreamAlerts, consumer)
	if err != nil {
		return false
	}
	info, err := c.Info(t.Context())
	return err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.Delivered.Stream > 0
}

func TestWebhookThatFailsTwiceDeliversOnce(t *testing.T) {
	conn := startAlerts(t)
	rec, url := serve(t, http.StatusServiceUnavailable, http.StatusServiceUnavailable, http.StatusOK)
	m := NewMetrics(prometheus.NewRegistry())
	runSink(t, conn, newSink(t, KindWebhook, url, nil), m)

	a := sampleAlert()
	pub := queue.NewPublisher(conn.JS)
	dup, err := Publish(t.Context(), pub, nil, a)
	require.NoError(t, err)
	require.False(t, dup)
	dup, err = Publish(t.Context(), pub, nil, a)
	require.NoError(t, err)
	assert.True(t, dup, "the same alert is stored once")

	require.Eventually(t, func() bool { return settled(t, conn, "alerts-webhook") }, 20*time.Second, 20*time.Millisecond)
	reqs := rec.requests()
	require.Len(t, reqs, 3, "two 503s, then the delivery")
	for _, r := range reqs {
		assert.Equal(t, a.ID, r.header.Get(HeaderIdempotencyKey))
	}
	assert.Equal(t, 1.0, counter(t, m.delivered.WithLabelValues(KindWebhook)))
	assert.Equal(t, 2.0, counter(t, m.failed.WithLabelValues(KindWebhook, queue.ClassTransient)))
	assert.Zero(t, dlqCount(t, conn))
}

func TestSinkAnswering400DeadLettersTheAlert(t *testing.T) {
	conn := startAlerts(t)
	rec, url := serve(t, http.StatusBadRequest)
	m := NewMetrics(prometheus.NewRegistry())
	runSink(t, conn, newSink(t, KindSlack, url, nil), m)

	a := sampleAlert()
	_, err := Publish(t.Context(), queue.NewPublisher(conn.JS), nil, a)
	require.NoError(t, err)

	require.Eventually(t, func() bool { return dlqCount(t, conn) == 1 }, 20*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool { return settled(t, conn, "alerts-slack") }, 20*time.Second, 20*time.Millisecond)
	assert.Len(t, rec.requests(), 1, "a permanent failure is not retried")

	msg, err := conn.JS.Stream(t.Context(), queue.StreamDLQ)
	require.NoError(t, err)
	dl, err := msg.GetLastMsgForSubject(t.Context(), queue.DLQSubjectPrefix+"alerts")
	require.NoError(t, err)
	assert.Equal(t, queue.ClassPermanent, dl.Header.Get(queue.HeaderDLQClass))
	assert.Equal(t, Subject(a.Type), dl.Header.Get("Hz-Original-Subject"))
	assert.Contains(t, dl.Header.Get("Hz-Error"), "400")
	assert.Equal(t, 1.0, counter(t, m.failed.WithLabelValues(KindSlack, queue.ClassPermanent)))
}

func dlqCount(t *testing.T, conn *queue.Conn) uint64 {
	t.Helper()
	s, err := conn.JS.Stream(t.Context(), queue.StreamDLQ)
	require.NoError(t, err)
	info, err := s.Info(t.Context(), jetstream.WithSubjectFilter(queue.DLQSubjectPrefix+"alerts"))
	require.NoError(t, err)
	return info.State.Msgs
}

// counter reads a counter without prometheus/testutil, whose dependencies are not in go.mod.
func counter(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	require.NoError(t, c.Write(&m))
	return m.GetCounter().GetValue()
}
