package dispatch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/errgroup"

	"github.com/hzhook/hzhook/internal/queue"
)

// DeadLetterer stores a message given up on (queue.Publisher in production).
type DeadLetterer interface {
	DeadLetter(ctx context.Context, dl queue.DeadLetter) error
}

// Dispatcher consumes one durable pull consumer and hands batches to the handler of each message's
// route key. Every replica of a worker group runs one Dispatcher on the same consumer; JetStream
// gives each message to one of them at a time.
type Dispatcher struct {
	js     jetstream.JetStream
	dlq    DeadLetterer
	o      Options
	m      *metrics
	tracer trace.Tracer // nil: no spans

	mu          sync.Mutex
	seenUnknown map[string]bool // route keys already logged as unknown (bounded)
}

// maxUnknownLogged bounds the memory spent remembering unknown types from the wire.
const maxUnknownLogged = 1000

// New validates o and registers the dispatcher's metrics. dlq receives dead letters; nil means
// queue.NewPublisher(js).
func New(js jetstream.JetStream, dlq DeadLetterer, o Options) (*Dispatcher, error) {
	o = o.withDefaults()
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("dispatch options: %w", err)
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, fmt.Errorf("dispatch metrics: %w", err)
	}
	if dlq == nil {
		dlq = queue.NewPublisher(js)
	}
	d := &Dispatcher{js: js, dlq: dlq, o: o, m: m, seenUnknown: map[string]bool{}}
	if o.TracerProvider != nil {
		d.tracer = o.TracerProvider.Tracer(tracerName)
	}
	return d, nil
}

// EnsureConsumer creates or updates the group's durable pull consumer: explicit ack, the configured
// AckWait, and no server-side delivery limit (MaxDeliver -1): the dispatcher counts deliveries and
// dead-letters, so a message is never dropped by the server without a trace in HZ_DLQ.
func (d *Dispatcher) EnsureConsumer(ctx context.Context) (jetstream.Consumer, error) {
	cfg := jetstream.ConsumerConfig{
		Durable:     d.o.Consumer,
		Description: d.o.Description,
		// The group's subjects, and the one a redrive of this consumer's dead letters uses.
		FilterSubjects: append(slices.Clone(d.o.FilterSubjects), queue.RedriveSubject(d.o.Stream, d.o.Consumer)),
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        d.o.AckWait,
		MaxDeliver:     -1,
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		MaxAckPending:  max(1000, 2*d.o.BatchSize*d.o.Concurrency),
	}
	c, err := d.js.CreateOrUpdateConsumer(ctx, d.o.Stream, cfg)
	if err != nil {
		return nil, fmt.Errorf("create or update consumer %s on %s: %w", cfg.Durable, d.o.Stream, err)
	}
	return c, nil
}

// Run consumes until ctx ends, then stops fetching, lets in-flight batches finish (their handler
// context is cancelled after ShutdownGrace; whatever fails then is nak'ed) and returns nil. It
// waits for the stream to exist, and survives NATS outages by retrying.
func (d *Dispatcher) Run(ctx context.Context) error {
	c, err := d.waitConsumer(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	d.o.Log.Info("dispatcher consuming", "stream", d.o.Stream, "consumer", d.o.Consumer,
		"subjects", d.o.FilterSubjects, "concurrency", d.o.Concurrency, "batch_size", d.o.BatchSize)

	// work outlives ctx by ShutdownGrace so in-flight batches can finish and be settled.
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	stopGrace := context.AfterFunc(ctx, func() { time.AfterFunc(d.o.ShutdownGrace, cancelWork) })
	defer stopGrace()

	var g errgroup.Group
	for range d.o.Concurrency {
		g.Go(func() error { d.loop(ctx, work, c); return nil })
	}
	g.Go(func() error { d.poll(ctx, c); return nil })
	err = g.Wait()
	d.o.Log.Info("dispatcher stopped", "consumer", d.o.Consumer)
	return err
}

// waitConsumer retries until the stream exists (the receiver creates it) and the consumer is set up.
func (d *Dispatcher) waitConsumer(ctx context.Context) (jetstream.Consumer, error) {
	for wait := 200 * time.Millisecond; ; wait = min(2*wait, 10*time.Second) {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		c, err := d.EnsureConsumer(cctx)
		cancel()
		if err == nil {
			return c, nil
		}
		if errors.Is(err, jetstream.ErrStreamNotFound) { // expected while the receiver is starting
			d.o.Log.Info("waiting for the receiver to create the stream", "stream", d.o.Stream, "retry_in", wait.String())
		} else {
			d.o.Log.Warn("consumer not ready; retrying", "err", err, "retry_in", wait.String())
		}
		if !sleep(ctx, wait) {
			return nil, ctx.Err()
		}
	}
}

// loop fetches and processes batches until ctx ends. It never fetches after ctx ended.
func (d *Dispatcher) loop(ctx, work context.Context, c jetstream.Consumer) {
	wait := 100 * time.Millisecond
	for ctx.Err() == nil {
		msgs, err := d.fetch(c)
		if len(msgs) > 0 {
			// Fetched messages are ours even when the pull ended in an error: process them.
			d.process(work, msgs)
		}
		if err == nil {
			wait = 100 * time.Millisecond
			continue
		}
		d.o.Log.Warn("fetch failed; retrying", "consumer", d.o.Consumer, "err", err, "retry_in", wait.String())
		if errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound) {
			if nc, err := d.waitConsumer(ctx); err == nil {
				c = nc
			}
		}
		sleep(ctx, wait)
		wait = min(2*wait, 5*time.Second)
	}
}

// fetch returns the messages available now, up to BatchSize; when there are none it waits up to
// FetchWait for the first one and then takes whatever else is available. A quiet stream thus costs
// one pull request per FetchWait, and a busy one gets full batches without waiting.
func (d *Dispatcher) fetch(c jetstream.Consumer) ([]jetstream.Msg, error) {
	msgs, err := collect(c.FetchNoWait(d.o.BatchSize))
	if len(msgs) > 0 || err != nil {
		return msgs, err
	}
	msgs, err = collect(c.Fetch(1, jetstream.FetchMaxWait(d.o.FetchWait)))
	if len(msgs) == 0 || err != nil || d.o.BatchSize == 1 {
		return msgs, err
	}
	more, err := collect(c.FetchNoWait(d.o.BatchSize - 1))
	return append(msgs, more...), err
}

func collect(b jetstream.MessageBatch, err error) ([]jetstream.Msg, error) {
	if err != nil {
		return nil, err
	}
	var msgs []jetstream.Msg
	for m := range b.Messages() {
		msgs = append(msgs, m)
	}
	// An expired or empty pull (408, 404) is not an error: Error() is nil then.
	return msgs, b.Error()
}

// poll refreshes the consumer and dead-letter gauges until ctx ends.
func (d *Dispatcher) poll(ctx context.Context, c jetstream.Consumer) {
	t := time.NewTicker(d.o.PollInterval)
	defer t.Stop()
	dlqSubject := queue.DLQSubjectPrefix + queue.Token(d.o.Stage)
	for {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if info, err := c.Info(pctx); err == nil {
			d.m.pending.WithLabelValues(d.o.Consumer).Set(float64(info.NumPending))
			d.m.ackPending.WithLabelValues(d.o.Consumer).Set(float64(info.NumAckPending))
			d.m.redelivered.WithLabelValues(d.o.Consumer).Set(float64(info.NumRedelivered))
		}
		if s, err := d.js.Stream(pctx, queue.StreamDLQ); err == nil {
			if info, err := s.Info(pctx, jetstream.WithSubjectFilter(dlqSubject)); err == nil {
				d.m.dlqDepth.WithLabelValues(d.o.Stage).Set(float64(info.State.Subjects[dlqSubject]))
			}
		}
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// routeLabel is the bounded type label of a route key.
func (d *Dispatcher) routeLabel(key string) string {
	if _, ok := d.o.Handlers[key]; ok || slices.Contains(d.o.AckOnly, key) {
		return key
	}
	return typeUnknown
}

// firstUnknown reports whether key is seen as an unknown route key for the first time.
func (d *Dispatcher) firstUnknown(key string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.seenUnknown[key] || len(d.seenUnknown) >= maxUnknownLogged {
		return false
	}
	d.seenUnknown[key] = true
	return true
}

// sleep waits for d or until ctx ends; it reports whether the full time passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
