package dispatch

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/hzhook/hzhook/internal/queue"
)

// Options configure a Dispatcher. Stream, Consumer, FilterSubjects, Stage and Handlers are required;
// a zero tuning field takes its value from DefaultOptions.
type Options struct {
	Stream         string   // stream consumed, e.g. queue.StreamEvents
	Consumer       string   // durable consumer shared by every replica of the group
	Description    string   // consumer description shown by nats consumer info
	FilterSubjects []string // the group's subjects
	Stage          string   // dead letters go to hz.dlq.<Stage> in HZ_DLQ: "worker", "alerts", ...

	// RouteHeader names the header whose value selects the handler; default queue.HeaderEventType.
	RouteHeader string
	// ParseEnvelope parses every body as a Hardenize event (Message.Event); a body that is not one
	// is dead-lettered as permanent. Its type routes the message when RouteHeader is missing.
	ParseEnvelope bool
	// Handlers maps a route key (an event type) to its handler.
	Handlers map[string]Handler
	// AckOnly lists route keys acknowledged and counted without a handler (events.TypeTest).
	AckOnly []string

	MaxDeliver  int             // deliveries before a failing message is dead-lettered; default 5
	Backoff     []time.Duration // delay before delivery n+1 after failed delivery n; last step repeats
	AckWait     time.Duration   // server-side redelivery timer; handlers send InProgress every AckWait/2
	BatchSize   int             // messages per fetch and per Handle call (per handler); default 50
	Concurrency int             // batches processed at once by this replica; default 4
	FetchWait   time.Duration   // how long an idle fetch waits for a first message; default 2s
	// ShutdownGrace is how long in-flight batches may run after the context ends; then their
	// handler context is cancelled. Default 30s.
	ShutdownGrace time.Duration
	// PollInterval is how often consumer and dead-letter gauges are refreshed; default 10s.
	PollInterval time.Duration
	// Received, when set, is told the bounded type label and the receive time (Hz-Received-At; zero
	// when absent) of every message fetched, whatever its outcome: the worker's silent-feed gauge.
	Received func(label string, receivedAt time.Time)

	Log        *slog.Logger
	Registerer prometheus.Registerer
	Now        func() time.Time
	// TracerProvider makes a consumer span of every message, ended when it is settled, and a span
	// of every handler call linked to the spans of its messages. Nil: no spans.
	TracerProvider trace.TracerProvider
	// Propagator reads the trace context stored in each message's headers: its consumer span
	// continues that trace. Nil: none is read (each span starts a trace).
	Propagator propagation.TextMapPropagator
}

// DefaultOptions are the tuning defaults of a dispatcher (the worker's --max-deliver, --backoff,
// --ack-wait, --batch-size, --concurrency and --shutdown-timeout defaults are these): 5 deliveries,
// retries after 1s, 5s, 30s, 2m, 10m, 30s ack wait, batches of 50, 4 in flight.
func DefaultOptions() Options {
	return Options{
		MaxDeliver:    5,
		Backoff:       []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute},
		AckWait:       30 * time.Second,
		BatchSize:     50,
		Concurrency:   4,
		FetchWait:     2 * time.Second,
		ShutdownGrace: 30 * time.Second,
		PollInterval:  10 * time.Second,
	}
}

// withDefaults fills every zero tuning field from DefaultOptions.
func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.RouteHeader == "" {
		o.RouteHeader = queue.HeaderEventType
	}
	if o.MaxDeliver == 0 {
		o.MaxDeliver = d.MaxDeliver
	}
	if len(o.Backoff) == 0 {
		o.Backoff = d.Backoff
	}
	if o.AckWait == 0 {
		o.AckWait = d.AckWait
	}
	if o.BatchSize == 0 {
		o.BatchSize = d.BatchSize
	}
	if o.Concurrency == 0 {
		o.Concurrency = d.Concurrency
	}
	if o.FetchWait == 0 {
		o.FetchWait = d.FetchWait
	}
	if o.ShutdownGrace == 0 {
		o.ShutdownGrace = d.ShutdownGrace
	}
	if o.PollInterval == 0 {
		o.PollInterval = d.PollInterval
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

func (o Options) validate() error {
	var errs []error
	if o.Stream == "" {
		errs = append(errs, errors.New("stream is required"))
	}
	if o.Consumer == "" {
		errs = append(errs, errors.New("consumer is required"))
	}
	if len(o.FilterSubjects) == 0 {
		errs = append(errs, errors.New("at least one filter subject is required"))
	}
	if o.Stage == "" {
		errs = append(errs, errors.New("dead-letter stage is required"))
	}
	if o.MaxDeliver < 1 {
		errs = append(errs, fmt.Errorf("max deliver %d: must be at least 1", o.MaxDeliver))
	}
	for _, b := range o.Backoff {
		if b < 0 {
			errs = append(errs, fmt.Errorf("backoff %s: must not be negative", b))
		}
	}
	if o.AckWait < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("ack wait %s: must be at least 100ms", o.AckWait))
	}
	if o.BatchSize < 1 || o.Concurrency < 1 {
		errs = append(errs, errors.New("batch size and concurrency must be at least 1"))
	}
	for k, h := range o.Handlers {
		if h == nil {
			errs = append(errs, fmt.Errorf("handler for %q is nil", k))
		}
	}
	return errors.Join(errs...)
}

// delay is the backoff before the next delivery after failed delivery attempt (1-based), clamped
// to the last step of the schedule.
func (o Options) delay(attempt int) time.Duration {
	i := min(max(attempt-1, 0), len(o.Backoff)-1)
	return o.Backoff[i]
}
