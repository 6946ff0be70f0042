package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/dispatch"
	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/inventory"
	"github.com/hzhook/hzhook/internal/linting"
	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/queue/embedded"
	"github.com/hzhook/hzhook/internal/testenv"
)

// BenchmarkDrain loads a backlog of ct.entry events into JetStream (an embedded server) and drains
// it into SQLite and, when HZ_TEST_POSTGRES_URL is set, PostgreSQL (the test server, fsync=off),
// and when HZ_TEST_DURABLE_POSTGRES_URL is set, PostgreSQL with fsync=on: batched (one transaction per
// fetched batch) beside the one-transaction-per-message baseline. It consumes JetStream directly
// (no dispatcher) and acknowledges each message after its transaction commits. Run it once:
//
//	go test -run '^$' -bench Drain -benchtime 1x ./internal/ingest/
//
// With linting on (HZ_BENCH_LINT, default 1) the SQLite batched drain runs twice more while the
// worker's lint stage (internal/linting, its own dispatcher and consumer, one batch per CPU)
// drains the same backlog into the same store: giving way to the writer's batches, as the worker
// runs it, and not. It reports the writer's rate and when the lint stage was done.
//
// HZ_BENCH_EVENTS (default 100000) sets the backlog, HZ_BENCH_BASELINE_EVENTS (default the backlog,
// at most 20000) the part the slow baseline drains, HZ_BENCH_BATCH (default 500) the batch size.
func BenchmarkDrain(b *testing.B) {
	n := benchEnv(b, "HZ_BENCH_EVENTS", 100000)
	nBase := benchEnv(b, "HZ_BENCH_BASELINE_EVENTS", min(n, 20000))
	batchSize := benchEnv(b, "HZ_BENCH_BATCH", 500)
	withLint := benchEnv(b, "HZ_BENCH_LINT", 1) != 0
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)

	srv, err := embedded.Start(embedded.Options{StoreDir: b.TempDir()}, log)
	require.NoError(b, err)
	b.Cleanup(srv.Shutdown)
	conn, err := queue.Connect(ctx, srv.URL(), "bench", log)
	require.NoError(b, err)
	b.Cleanup(func() { conn.Close(time.Second) })
	require.NoError(b, queue.EnsureStreams(ctx, conn.JS, queue.DefaultStreamOptions()))
	loadBacklog(b, conn.JS, n)

	backends := map[string]func(b *testing.B) string{
		"sqlite": func(b *testing.B) string { return "sqlite://" + filepath.Join(b.TempDir(), "bench.db") },
	}
	if os.Getenv("HZ_TEST_POSTGRES_URL") != "" {
		backends["postgres"] = func(b *testing.B) string { return testenv.PostgresSchema(b) }
	}
	if testenv.DurablePostgresURL() != "" {
		backends["postgres-fsync"] = func(b *testing.B) string { return testenv.DurablePostgresSchema(b) }
	}
	for b.Loop() {
		for _, name := range []string{"sqlite", "postgres", "postgres-fsync"} {
			newURL, ok := backends[name]
			if !ok {
				b.Logf("%s: skipped (HZ_TEST_POSTGRES_URL or HZ_TEST_DURABLE_POSTGRES_URL not set)", name)
				continue
			}
			base := drain(b, conn.JS, newURL(b), name+"-baseline", nBase, 1)
			batched := drain(b, conn.JS, newURL(b), name+"-batched", n, batchSize)
			b.ReportMetric(base, name+"-per-message-events/s")
			b.ReportMetric(batched, name+"-batched-events/s")
			b.ReportMetric(batched/base, name+"-speedup-x")
			b.Logf("%s: per-message %.0f events/s (%d events), batched %.0f events/s (%d events, batch %d), %.1fx",
				name, base, nBase, batched, n, batchSize, batched/base)
			if name != "sqlite" || !withLint {
				continue
			}
			for _, yield := range []bool{true, false} {
				run := map[bool]string{true: "sqlite-lint", false: "sqlite-lint-noyield"}[yield]
				r := drainLinting(b, conn.JS, newURL(b), run, n, batchSize, yield)
				b.ReportMetric(r.rate, run+"-events/s")
				b.ReportMetric(r.lintDone.Seconds(), run+"-done-s")
				b.ReportMetric(r.linted, run+"-certs")
				b.Logf("%s: batched %.0f events/s (%.2fx lint off) while linting; lint stage done after %.1fs (drain %.1fs), %.0f certificates linted",
					run, r.rate, r.rate/batched, r.lintDone.Seconds(), float64(n)/r.rate, r.linted)
			}
		}
	}
}

type lintDrain struct {
	rate     float64       // the writer's events per second
	lintDone time.Duration // from the start of the drain until the lint stage finished the backlog
	linted   float64       // distinct certificates linted
}

// drainLinting is drain while the lint stage consumes the same count events into the same store
// through a dispatcher of its own (batches of 50, one per CPU, as the worker runs it), giving way
// to the writer when yield is set.
func drainLinting(b *testing.B, js jetstream.JetStream, dbURL, name string, count, batchSize int, yield bool) lintDrain {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store, err := inventory.Open(ctx, dbURL, slog.New(slog.DiscardHandler))
	require.NoError(b, err)
	defer store.Close()
	reg := prometheus.NewRegistry()
	o := linting.Options{Registerer: reg}
	hs := New(store, Options{}).Handlers()
	if yield {
		o.Yield = linting.NewYield(linting.DefaultMaxYield)
		hs = o.Yield.Track(hs)
	}
	stage, err := linting.New(store, o)
	require.NoError(b, err)
	consumer := "bench-" + name + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	d, err := dispatch.New(js, nil, dispatch.Options{
		Stream: queue.StreamEvents, Consumer: consumer, FilterSubjects: []string{queue.Subject(events.TypeCTEntry)},
		Stage: "lint", Handlers: stage.Handlers(), BatchSize: 50, Concurrency: linting.DefaultConcurrency(runtime.GOMAXPROCS(0)), Registerer: reg,
	})
	require.NoError(b, err)
	stopped := make(chan error, 1)
	go func() { stopped <- d.Run(ctx) }()
	rate, start := drainWith(b, js, hs[events.TypeCTEntry], name, count, batchSize)
	for {
		c, err := js.Consumer(ctx, queue.StreamEvents, consumer)
		if err == nil {
			if info, err := c.Info(ctx); err == nil && info.Delivered.Stream >= uint64(count) && info.NumAckPending == 0 {
				break
			}
		}
		if time.Since(start) > 30*time.Minute {
			b.Fatal("lint stage not done after 30 minutes")
		}
		time.Sleep(20 * time.Millisecond)
	}
	r := lintDrain{rate: rate, lintDone: time.Since(start)}
	cancel()
	require.NoError(b, <-stopped)
	mfs, err := reg.Gather()
	require.NoError(b, err)
	for _, mf := range mfs {
		if mf.GetName() == "hz_lint_certificates_total" {
			for _, m := range mf.GetMetric() {
				if m.GetLabel()[0].GetValue() == "linted" {
					r.linted = m.GetCounter().GetValue()
				}
			}
		}
	}
	return r
}

func benchEnv(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	require.NoError(b, err, name)
	return n
}

// loadBacklog publishes n ct.entry events: 500 issuances, each logged in many logs at many indexes.
func loadBacklog(b *testing.B, js jetstream.JetStream, n int) {
	ca := newTestCA(b)
	now := time.Now().UTC()
	var issuances []*issuance
	for i := range min(n, 500) {
		issuances = append(issuances, ca.issue(b, int64(i+1), []string{fmt.Sprintf("h%d.example.com", i)}, now, now.AddDate(0, 0, 90)))
	}
	for i := range n {
		is := issuances[i%len(issuances)]
		m := message(b, int64(i+1), events.TypeCTEntry, is.ctEntry(i%2 == 0, logName(i%7), int64(i), now.Add(time.Duration(i)*time.Millisecond)))
		msg := nats.NewMsg(queue.Subject(events.TypeCTEntry))
		msg.Data = m.Data
		msg.Header.Set(queue.HeaderOrg, "demo")
		msg.Header.Set(queue.HeaderHookID, "hook1")
		msg.Header.Set(queue.HeaderSource, queue.SourceWebhook)
		msg.Header.Set(queue.HeaderEventType, events.TypeCTEntry) // as intake stores it: the lint stage routes by it
		if _, err := js.PublishMsgAsync(msg, jetstream.WithMsgID(queue.MsgID("demo", "hook1", strconv.Itoa(i+1), m.Data))); err != nil {
			b.Fatal(err)
		}
		if i%5000 == 4999 {
			<-js.PublishAsyncComplete()
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		b.Fatal("publish backlog: timeout")
	}
}

// drain consumes count events from the start of HZ_EVENTS into a fresh store at dbURL, handing
// batchSize messages to each Handle call, and returns events per second.
func drain(b *testing.B, js jetstream.JetStream, dbURL, name string, count, batchSize int) float64 {
	store, err := inventory.Open(context.Background(), dbURL, slog.New(slog.DiscardHandler))
	require.NoError(b, err)
	defer store.Close()
	rate, _ := drainWith(b, js, New(store, Options{}).Handlers()[events.TypeCTEntry], name, count, batchSize)
	return rate
}

// drainWith is drain through handler h; it also returns when the drain started.
func drainWith(b *testing.B, js jetstream.JetStream, h dispatch.Handler, name string, count, batchSize int) (float64, time.Time) {
	ctx := context.Background()
	cons, err := js.CreateOrUpdateConsumer(ctx, queue.StreamEvents, jetstream.ConsumerConfig{
		Durable: "bench-" + name + "-" + strconv.FormatInt(time.Now().UnixNano(), 36), FilterSubject: queue.Subject(events.TypeCTEntry),
		AckPolicy: jetstream.AckExplicitPolicy, DeliverPolicy: jetstream.DeliverAllPolicy, MaxAckPending: 20000,
	})
	require.NoError(b, err)
	// Fetching the next messages overlaps with writing the current batch, as a dispatcher would.
	fetched := make(chan []jetstream.Msg, 2)
	fetchErr := make(chan error, 1)
	go func() {
		defer close(fetched)
		for left := count; left > 0; {
			batch, err := cons.Fetch(min(max(batchSize, 100), left, 1000), jetstream.FetchMaxWait(5*time.Second))
			if err != nil {
				fetchErr <- err
				return
			}
			var msgs []jetstream.Msg
			for m := range batch.Messages() {
				msgs = append(msgs, m)
			}
			if err := batch.Error(); err != nil {
				fetchErr <- err
				return
			}
			left -= len(msgs)
			fetched <- msgs
		}
	}()
	start := time.Now()
	for msgs := range fetched {
		for len(msgs) > 0 {
			k := min(batchSize, len(msgs))
			dm := make([]dispatch.Message, k)
			for i, m := range msgs[:k] {
				ev, err := events.ParseEnvelope(m.Data())
				require.NoError(b, err)
				h := m.Headers()
				dm[i] = dispatch.Message{Subject: m.Subject(), Header: h, Data: m.Data(), Event: ev, ReceivedAt: start,
					Org: h.Get(queue.HeaderOrg), HookID: h.Get(queue.HeaderHookID), Source: h.Get(queue.HeaderSource)}
			}
			for i, err := range h.Handle(ctx, dm) {
				require.NoError(b, err)
				require.NoError(b, msgs[i].Ack())
			}
			msgs = msgs[k:]
		}
	}
	select {
	case err := <-fetchErr:
		b.Fatal(err)
	default:
	}
	return float64(count) / time.Since(start).Seconds(), start
}
