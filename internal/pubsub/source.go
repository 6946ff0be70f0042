package pubsub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	gpubsub "cloud.google.com/go/pubsub/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/hzhook/hzhook/internal/intake"
	"github.com/hzhook/hzhook/internal/queue"
)

// Acceptor verifies and stores one delivery (intake.Intake).
type Acceptor interface {
	Accept(ctx context.Context, d intake.Delivery) (intake.Result, error)
}

// DeadLetterer stores a message given up on in HZ_DLQ (queue.Publisher).
type DeadLetterer interface {
	DeadLetter(ctx context.Context, dl queue.DeadLetter) error
}

// Config says where the subscription is and how hard to pull it.
type Config struct {
	Project      string // Google Cloud project of the subscription
	Subscription string // subscription id, or projects/<p>/subscriptions/<id>
	// CredentialsJSON is the service-account key (the destination's subscriberCredentials). It is
	// used only when EmulatorHost is empty, and never logged.
	CredentialsJSON []byte
	EmulatorHost    string // host:port of the Pub/Sub emulator (PUBSUB_EMULATOR_HOST); empty = Google Cloud

	MaxOutstandingMessages int           // flow control: unacked messages held at once
	MaxOutstandingBytes    int           // flow control: bytes of unacked messages held at once
	Streams                int           // StreamingPull streams
	MaxCallbacks           int           // messages handled concurrently
	NackDelay              time.Duration // wait before nacking a message JetStream could not store
	// MaxAckExtension bounds each lease the client asks for, and the first one of a stream: a
	// crashed receiver's messages are delivered again at most this long after its last extension.
	// 0 is the library's default (60s for the first lease, then up to 10 minutes per extension).
	MaxAckExtension   time.Duration
	DeadLetterTimeout time.Duration // bound on storing a rejected message in HZ_DLQ
	ShutdownTimeout   time.Duration // bound on finishing in-flight messages at shutdown
	HealthInterval    time.Duration // how often the subscription is checked for /readyz
	RecoverAfter      time.Duration // a restarted stream counts as healthy after running this long
}

func (c *Config) defaults() {
	if c.MaxOutstandingMessages <= 0 {
		c.MaxOutstandingMessages = 1000
	}
	if c.MaxOutstandingBytes <= 0 {
		c.MaxOutstandingBytes = 64 << 20
	}
	if c.Streams <= 0 {
		c.Streams = 1
	}
	if c.MaxCallbacks <= 0 {
		c.MaxCallbacks = 64
	}
	if c.NackDelay < 0 {
		c.NackDelay = 0
	}
	if c.DeadLetterTimeout <= 0 {
		c.DeadLetterTimeout = 5 * time.Second
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 20 * time.Second
	}
	if c.HealthInterval <= 0 {
		c.HealthInterval = 30 * time.Second
	}
	if c.RecoverAfter <= 0 {
		c.RecoverAfter = 10 * time.Second
	}
}

// Deps are the source's injected dependencies.
type Deps struct {
	Log        *slog.Logger
	Registerer prometheus.Registerer
	Now        func() time.Time // dead-letter time
	// TracerProvider makes a consumer span of each message, the parent of intake's spans. Nil: no
	// spans.
	TracerProvider trace.TracerProvider
	// Propagator writes the message span's trace context into a rejected message's dead letter, so
	// that its redrive (verified again by a receiver) continues the trace. Nil: none.
	Propagator propagation.TextMapPropagator
}

// Source receives the subscription's messages and hands each to the intake. Run it once.
type Source struct {
	cfg    Config
	client *gpubsub.Client
	sub    *gpubsub.Subscriber
	in     Acceptor
	dlq    DeadLetterer
	log    *slog.Logger
	now    func() time.Time
	m      *metrics
	slots  chan struct{}
	tracer trace.Tracer // nil: no spans
	prop   propagation.TextMapPropagator
	health health
	busy   sync.WaitGroup // messages being handled
}

// New creates the Pub/Sub client for cfg. It opens no connection yet: Run does.
func New(ctx context.Context, cfg Config, in Acceptor, dlq DeadLetterer, d Deps) (*Source, error) {
	cfg.defaults()
	if cfg.Project == "" || cfg.Subscription == "" {
		return nil, errors.New("pubsub: project and subscription are required")
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Registerer == nil {
		d.Registerer = prometheus.NewRegistry()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	client, err := gpubsub.NewClient(ctx, cfg.Project, clientOptions(cfg)...)
	if err != nil {
		return nil, fmt.Errorf("pubsub client for project %s: %w", cfg.Project, err)
	}
	sub := client.Subscriber(cfg.Subscription)
	sub.ReceiveSettings.MaxOutstandingMessages = cfg.MaxOutstandingMessages
	sub.ReceiveSettings.MaxOutstandingBytes = cfg.MaxOutstandingBytes
	sub.ReceiveSettings.NumGoroutines = cfg.Streams
	sub.ReceiveSettings.MaxDurationPerAckExtension = cfg.MaxAckExtension
	sub.ReceiveSettings.ShutdownOptions = &gpubsub.ShutdownOptions{
		Behavior: gpubsub.ShutdownBehaviorWaitForProcessing,
		Timeout:  cfg.ShutdownTimeout,
	}
	s := &Source{
		cfg: cfg, client: client, sub: sub, in: in, dlq: dlq,
		log: d.Log.With("component", "pubsub", "subscription", sub.String()),
		now: d.Now, m: newMetrics(d.Registerer),
		slots: make(chan struct{}, cfg.MaxCallbacks),
		prop:  d.Propagator,
	}
	if d.TracerProvider != nil {
		s.tracer = d.TracerProvider.Tracer("github.com/hzhook/hzhook/internal/pubsub")
	}
	return s, nil
}

// clientOptions points the client at the emulator (no credentials) or at Google Cloud with the
// service-account key; with neither, Application Default Credentials apply.
func clientOptions(cfg Config) []option.ClientOption {
	if cfg.EmulatorHost != "" {
		return []option.ClientOption{
			option.WithEndpoint(cfg.EmulatorHost),
			option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
			option.WithoutAuthentication(),
			option.WithTelemetryDisabled(),
		}
	}
	if len(cfg.CredentialsJSON) > 0 {
		return []option.ClientOption{option.WithAuthCredentialsJSON(option.ServiceAccount, cfg.CredentialsJSON)}
	}
	return nil
}

// Subscription is the fully qualified subscription name.
func (s *Source) Subscription() string { return s.sub.String() }

// Run receives until ctx ends, then stops pulling and waits (at most the shutdown timeout) for
// in-flight messages to be acked or nacked. A failing subscription stream (not found, permission
// denied, unreachable) is logged, reported by Ready and retried with backoff; Run returns only
// when ctx ends.
func (s *Source) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	hctx, stopHealth := context.WithCancel(ctx)
	wg.Go(func() { s.watchHealth(hctx) })
	stopReady := context.AfterFunc(ctx, s.health.setStopping) // readiness goes false first
	defer func() {
		stopReady()
		stopHealth()
		wg.Wait()
		s.busy.Wait() // should Receive give up on a slow callback at its timeout, still wait for it
	}()

	s.log.InfoContext(ctx, "pubsub source starting")
	for wait := time.Second; ; wait = min(2*wait, 30*time.Second) {
		start := time.Now()
		s.health.setReceiving(start)
		err := explain(s.sub.Receive(ctx, s.handle))
		if ctx.Err() != nil {
			s.log.InfoContext(ctx, "pubsub source stopped")
			return nil
		}
		if err == nil {
			err = errors.New("subscription stream ended")
		}
		s.m.receiveErrors.Inc()
		s.health.setFailed(err)
		if time.Since(start) > time.Minute {
			wait = time.Second
		}
		s.log.ErrorContext(ctx, "pubsub receive failed; retrying", "err", err, "retry_in", wait.String())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// Close releases the client. Call it after Run returned.
func (s *Source) Close() error {
	if err := s.client.Close(); err != nil {
		return fmt.Errorf("close pubsub client: %w", err)
	}
	return nil
}
