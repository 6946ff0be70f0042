package intake

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/verify"
)

// ErrUnavailable means the event could not be stored now; the sender should retry later.
var ErrUnavailable = errors.New("event store unavailable")

// Verifier proves a delivery genuine; the signature's timestamp is held against at (zero: now).
type Verifier interface {
	VerifyAt(org, hookID, signature string, body []byte, at time.Time) error
}

// Publisher stores a message durably and returns once the store acknowledged it.
type Publisher interface {
	Publish(ctx context.Context, msg *nats.Msg, msgID string) (duplicate bool, err error)
}

// Delivery is one event as it arrived, before any check.
type Delivery struct {
	Org       string // X-Hardenize-Org
	HookID    string // X-Hardenize-EventHookId
	Signature string // X-Hardenize-Signature
	Body      []byte // verbatim; stored byte for byte. Accept keeps no reference to it once it returned, except Result.Event.Data
	Source    string // queue.SourceWebhook, queue.SourcePubSub, ...
	// PublishedAt is when the sender handed the delivery to a transport that keeps a backlog (the
	// Pub/Sub publish time); the signature's timestamp must be within the tolerance of it. Zero for
	// webhooks: the timestamp is held against the receiver's clock.
	PublishedAt time.Time
}

// Result describes a stored event.
type Result struct {
	Event     events.Event
	Duplicate bool // the stream already held this event (same Nats-Msg-Id): stored once
}

// Options tune an Intake.
type Options struct {
	PublishTimeout time.Duration    // bound on waiting for the stream's acknowledgement
	Now            func() time.Time // clock for the receive-time header
	Registerer     prometheus.Registerer
}

// Intake verifies and stores deliveries. It is safe for concurrent use.
type Intake struct {
	verifier Verifier
	pub      Publisher
	timeout  time.Duration
	now      func() time.Time
	m        *metrics
}

// New returns an Intake that checks deliveries with v and stores them with p.
func New(v Verifier, p Publisher, o Options) *Intake {
	if o.PublishTimeout <= 0 {
		o.PublishTimeout = 5 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	return &Intake{verifier: v, pub: p, timeout: o.PublishTimeout, now: o.Now, m: newMetrics(o.Registerer)}
}

// Accept checks d and stores it in HZ_EVENTS. It returns nil only after JetStream acknowledged the
// write, so the caller may then answer 204 (or ack on Pub/Sub). A *RejectError means the delivery
// is not genuine or not an event and must not be retried as is; an error wrapping ErrUnavailable
// means nothing may be assumed stored and the sender should retry. Redeliveries of a stored event are
// accepted again and stored once.
//
// The publish is not cut short when ctx is cancelled (a client hanging up, or shutdown): it runs to
// its own timeout so that an event half-way into the stream is either acknowledged or reported.
func (in *Intake) Accept(ctx context.Context, d Delivery) (Result, error) {
	src := d.Source
	if d.Org == "" || d.HookID == "" || d.Signature == "" {
		return Result{}, in.reject(src, ReasonMissingMetadata, errors.New("missing X-Hardenize-Org, X-Hardenize-EventHookId or X-Hardenize-Signature"))
	}
	if err := in.verifier.VerifyAt(d.Org, d.HookID, d.Signature, d.Body, d.PublishedAt); err != nil {
		return Result{}, in.reject(src, reasonOf(err), err)
	}
	ev, err := events.ParseEnvelope(d.Body)
	if err != nil {
		return Result{}, in.reject(src, ReasonInvalidEvent, err)
	}

	stored := queue.StoredEvent{
		Org: d.Org, HookID: d.HookID, Signature: d.Signature, EventID: ev.ID, Type: ev.Type,
		Source: src, ReceivedAt: in.now(), Body: d.Body,
	}

	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), in.timeout)
	defer cancel()
	start := time.Now()
	dup, err := in.pub.Publish(pctx, stored.Msg(), stored.MsgID())
	in.m.enqueueSeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		in.m.unavailable.WithLabelValues(src).Inc()
		return Result{Event: ev}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if dup {
		in.m.duplicates.WithLabelValues(src).Inc()
	} else {
		in.m.enqueued.WithLabelValues(src, typeLabel(ev.Type)).Inc()
	}
	return Result{Event: ev, Duplicate: dup}, nil
}

func (in *Intake) reject(src, reason string, err error) error {
	in.m.rejected.WithLabelValues(src, reason).Inc()
	return &RejectError{Reason: reason, Err: err}
}

func reasonOf(err error) string {
	switch {
	case errors.Is(err, verify.ErrUnknownHook):
		return ReasonUnknownHook
	case errors.Is(err, verify.ErrMalformedSignature):
		return ReasonMalformedSignature
	case errors.Is(err, verify.ErrStale):
		return ReasonStaleTimestamp
	default:
		return ReasonBadSignature
	}
}

// typeLabel bounds the type label: event types come from the wire.
func typeLabel(t string) string {
	switch t {
	case events.TypeTest, events.TypeCTEntry, events.TypeCertNew:
		return t
	}
	return "other"
}
