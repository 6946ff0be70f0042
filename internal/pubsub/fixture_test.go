package pubsub

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/intake"
	"github.com/hzhook/hzhook/internal/pubsub/pubsubtest"
	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/queue/embedded"
	"github.com/hzhook/hzhook/internal/verify"
)

const (
	testOrg    = "demo.child"
	testHook   = "bfc384726b6447a4b70a171de49e466f"
	testSecret = "3685c06a966e4d0ea625d0b475719661"
)

// fixture is a Source on an emulator subscription in front of a real in-process JetStream.
type fixture struct {
	t       *testing.T
	topic   *pubsubtest.Topic
	natsDir string
	nats    *embedded.Server
	conn    *queue.Conn
	src     *Source
	cancel  context.CancelFunc
	done    chan error
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newFixture starts a Source; wrap, when given, replaces the intake it feeds.
func newFixture(t *testing.T, mutate func(*Config), wrap ...func(Acceptor) Acceptor) *fixture {
	t.Helper()
	return newFixtureWith(t, fixtureOptions{mutate: mutate, wrap: wrap})
}

type fixtureOptions struct {
	mutate func(*Config)
	wrap   []func(Acceptor) Acceptor
	now    func() time.Time     // the receiver's clock; time.Now when nil
	tp     trace.TracerProvider // traces the source and the intake (W3C propagation) when set
}

func newFixtureWith(t *testing.T, o fixtureOptions) *fixture {
	t.Helper()
	mutate, wrap := o.mutate, o.wrap
	host := pubsubtest.EmulatorHost(t)
	f := &fixture{t: t, topic: pubsubtest.NewTopic(t), natsDir: filepath.Join(t.TempDir(), "nats")}
	f.startNATS(0)
	t.Cleanup(func() { f.nats.Shutdown() })
	conn, err := queue.Connect(context.Background(), f.nats.URL(), "pubsub-test", quietLog())
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(time.Second) })
	f.conn = conn
	require.NoError(t, queue.EnsureStreams(context.Background(), conn.JS, queue.DefaultStreamOptions()))

	store, err := verify.NewStore([]verify.Hook{{Org: testOrg, ID: testHook, Secrets: []string{testSecret}}})
	require.NoError(t, err)
	reg := prometheus.NewRegistry()
	pub := queue.NewPublisher(conn.JS)
	var prop propagation.TextMapPropagator
	if o.tp != nil {
		prop = propagation.TraceContext{}
	}
	var in Acceptor = intake.New(verify.NewVerifier(store, 5*time.Minute, o.now), pub, intake.Options{PublishTimeout: 2 * time.Second, Registerer: reg,
		TracerProvider: o.tp, Propagator: prop})
	for _, w := range wrap {
		in = w(in)
	}
	cfg := Config{
		Project: f.topic.Project, Subscription: f.topic.Subscription, EmulatorHost: host,
		NackDelay: 50 * time.Millisecond, ShutdownTimeout: 10 * time.Second, HealthInterval: 100 * time.Millisecond,
		RecoverAfter: 500 * time.Millisecond,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	f.src, err = New(context.Background(), cfg, in, pub, Deps{Log: quietLog(), Registerer: reg, TracerProvider: o.tp, Propagator: prop})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, f.src.Close()) })
	f.start()
	return f
}

func (f *fixture) start() {
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel, f.done = cancel, make(chan error, 1)
	go func() { f.done <- f.src.Run(ctx) }()
	f.t.Cleanup(f.stop)
}

// stop ends Run and waits for it: in-flight messages are finished by then.
func (f *fixture) stop() {
	f.t.Helper()
	if f.cancel == nil {
		return
	}
	f.cancel()
	f.cancel = nil
	select {
	case err := <-f.done:
		require.NoError(f.t, err)
	case <-time.After(30 * time.Second):
		f.t.Fatal("pubsub source did not stop within 30s")
	}
}

func (f *fixture) startNATS(port int) {
	f.t.Helper()
	srv, err := embedded.Start(embedded.Options{StoreDir: f.natsDir, Port: port}, quietLog())
	require.NoError(f.t, err)
	f.nats = srv
}

// publishSigned publishes body as Hardenize would, signed now.
func (f *fixture) publishSigned(body []byte) string {
	f.t.Helper()
	return f.topic.Publish(body, pubsubtest.Signed(testOrg, testHook, testSecret, time.Now(), body))
}

// messages returns every message of stream, in order.
func (f *fixture) messages(stream string) []*jetstream.RawStreamMsg {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(f.t, f.conn.WaitConnected(ctx))
	s, err := f.conn.JS.Stream(ctx, stream)
	require.NoError(f.t, err)
	info, err := s.Info(ctx)
	require.NoError(f.t, err)
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		require.NoError(f.t, err)
		out = append(out, m)
	}
	return out
}

func (f *fixture) count(stream string) int { return len(f.messages(stream)) }

func (f *fixture) acked(outcome string) float64 {
	return value(f.src.m.acked.WithLabelValues(outcome))
}

func (f *fixture) nacked(reason string) float64 {
	return value(f.src.m.nacked.WithLabelValues(reason))
}

func (f *fixture) ackedTotal() float64 {
	return f.acked(OutcomeStored) + f.acked(OutcomeDuplicate) + f.acked(OutcomeDeadLettered)
}

func sample(t *testing.T, typ string, id int64) []byte {
	t.Helper()
	b, err := events.Sample(typ, id, time.Now())
	require.NoError(t, err)
	return b
}

// value reads a counter or gauge.
func value(m prometheus.Metric) float64 {
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		panic(err)
	}
	switch {
	case d.Counter != nil:
		return d.Counter.GetValue()
	case d.Histogram != nil:
		return float64(d.Histogram.GetSampleCount())
	}
	return d.Gauge.GetValue()
}
