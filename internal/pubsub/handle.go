package pubsub

import (
	"context"
	"errors"
	"strings"
	"time"

	gpubsub "cloud.google.com/go/pubsub/v2"
	"github.com/nats-io/nats.go"
	otelattr "go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/intake"
	"github.com/hzhook/hzhook/internal/queue"
)

// HeaderMessageID is Pub/Sub's id of a message (stable across redeliveries), kept with its dead
// letter besides its attributes and queue.HeaderPublishedAt.
const HeaderMessageID = "Hz-PubSub-Message-Id"

// DeadLetterStage is the HZ_DLQ subject token of rejected Pub/Sub messages (hz.dlq.pubsub).
const DeadLetterStage = "pubsub"

// handle is the one place a message's fate is decided: ack after the event is stored (or was
// already), dead-letter then ack when it is refused for good, nack when it could not be stored.
func (s *Source) handle(ctx context.Context, m *gpubsub.Message) {
	s.busy.Add(1)
	defer s.busy.Done()
	ctx, span := s.startSpan(ctx, m)
	defer span.End()
	start := time.Now()
	s.m.received.Inc()
	if !m.PublishTime.IsZero() {
		s.m.ageSeconds.Observe(start.Sub(m.PublishTime).Seconds())
	}
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		s.nack(m, NackShutdown, start)
		return
	}
	defer func() { <-s.slots }()
	s.m.inFlight.Inc()
	defer s.m.inFlight.Dec()

	res, err := s.in.Accept(ctx, intake.Delivery{
		Org:       attribute(m.Attributes, queue.HeaderOrg),
		HookID:    attribute(m.Attributes, queue.HeaderHookID),
		Signature: attribute(m.Attributes, queue.HeaderSignature),
		Body:      m.Data,
		Source:    queue.SourcePubSub,
		// Pub/Sub keeps a backlog for 7 days: judge the signature by when Hardenize published the
		// message, not by when this receiver got to it.
		PublishedAt: m.PublishTime,
	})
	var rej *intake.RejectError
	if span.IsRecording() {
		switch {
		case errors.As(err, &rej):
			span.SetAttributes(otelattr.String("hz.reject.reason", rej.Reason))
		case err != nil:
			span.SetStatus(codes.Error, err.Error())
		default:
			span.SetAttributes(otelattr.String(queue.AttrEventID, res.Event.ID), otelattr.String(queue.AttrEventType, res.Event.Type))
		}
	}
	switch {
	case err == nil:
		outcome := OutcomeStored
		if res.Duplicate {
			outcome = OutcomeDuplicate
		}
		s.ack(m, outcome, start)
		s.log.DebugContext(ctx, "event stored", "event_id", res.Event.ID, "type", res.Event.Type,
			"duplicate", res.Duplicate, "message_id", m.ID)
	case errors.As(err, &rej):
		s.m.rejected.WithLabelValues(rej.Reason).Inc()
		s.log.InfoContext(ctx, "message rejected; dead-lettering", "reason", rej.Reason, "err", rej.Err, "message_id", m.ID)
		dl := s.deadLetter(m, rej)
		queue.InjectTrace(ctx, s.prop, dl.Header) // its redrive continues this trace
		if err := s.storeDeadLetter(ctx, dl); err != nil {
			s.log.WarnContext(ctx, "dead-letter failed; nacking for redelivery", "err", err, "message_id", m.ID)
			s.pause(ctx)
			s.nack(m, NackDeadLetterFailed, start)
			return
		}
		s.ack(m, OutcomeDeadLettered, start)
	default:
		s.log.WarnContext(ctx, "event not stored; nacking for redelivery", "err", err, "message_id", m.ID)
		s.pause(ctx)
		s.nack(m, NackUnavailable, start)
	}
}

// startSpan starts the consumer span of one message: a new root (Hardenize publishes from outside;
// nothing in the message's attributes is trusted as a parent), or a no-op span without a tracer.
func (s *Source) startSpan(ctx context.Context, m *gpubsub.Message) (context.Context, trace.Span) {
	if s.tracer == nil {
		return ctx, noop.Span{}
	}
	attempt := 1
	if m.DeliveryAttempt != nil {
		attempt = *m.DeliveryAttempt
	}
	return s.tracer.Start(ctx, "process "+s.sub.String(), trace.WithNewRoot(), trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			otelattr.String("messaging.system", "gcp_pubsub"),
			otelattr.String("messaging.operation.type", "process"),
			otelattr.String("messaging.destination.subscription.name", s.sub.String()),
			otelattr.String("messaging.message.id", m.ID),
			otelattr.Int(queue.AttrAttempt, attempt),
		))
}

// storeDeadLetter is not cut short by shutdown, only by its own timeout, like intake's publish.
func (s *Source) storeDeadLetter(ctx context.Context, dl queue.DeadLetter) error {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.DeadLetterTimeout)
	defer cancel()
	return s.dlq.DeadLetter(dctx, dl)
}

func (s *Source) ack(m *gpubsub.Message, outcome string, start time.Time) {
	m.Ack()
	s.m.acked.WithLabelValues(outcome).Inc()
	s.m.handleSeconds.Observe(time.Since(start).Seconds())
}

func (s *Source) nack(m *gpubsub.Message, reason string, start time.Time) {
	m.Nack()
	s.m.nacked.WithLabelValues(reason).Inc()
	s.m.handleSeconds.Observe(time.Since(start).Seconds())
}

// pause holds a message that could not be stored for NackDelay before it is nacked: Pub/Sub
// redelivers a nacked message at once, and a subscription owned by Hardenize may have no retry
// backoff, so without it an outage of JetStream becomes a busy loop. Shutdown cuts it short.
func (s *Source) pause(ctx context.Context) {
	if s.cfg.NackDelay <= 0 {
		return
	}
	t := time.NewTimer(s.cfg.NackDelay)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// deadLetter builds the HZ_DLQ record of a rejected message: its body verbatim, its attributes as
// headers, and the Pub/Sub message id as original id, so a redelivery of the same message (an ack
// that got lost) is dead-lettered once.
func (s *Source) deadLetter(m *gpubsub.Message, rej *intake.RejectError) queue.DeadLetter {
	h := nats.Header{}
	for k, v := range m.Attributes {
		h[k] = []string{v}
	}
	h.Set(queue.HeaderSource, queue.SourcePubSub)
	h.Set(HeaderMessageID, m.ID)
	if !m.PublishTime.IsZero() {
		h.Set(queue.HeaderPublishedAt, m.PublishTime.UTC().Format(time.RFC3339Nano))
	}
	h.Set(nats.MsgIdHdr, "pubsub/"+s.sub.String()+"/"+m.ID)
	subject := ""
	if ev, err := events.ParseEnvelope(m.Data); err == nil {
		subject = queue.Subject(ev.Type)
	}
	attempts := 1
	if m.DeliveryAttempt != nil {
		attempts = *m.DeliveryAttempt
	}
	return queue.DeadLetter{
		Stage:    DeadLetterStage,
		Subject:  subject,
		Header:   h,
		Data:     m.Data,
		Class:    queue.ClassRejected,
		Reason:   rej.Reason,
		Err:      rej,
		Handler:  "pubsub",
		Attempts: attempts,
		Time:     s.now(),
	}
}

// attribute returns the named attribute; Pub/Sub attribute keys are case-sensitive, so a key that
// differs only in case from the documented X-Hardenize-* name is accepted too.
func attribute(attrs map[string]string, name string) string {
	if v, ok := attrs[name]; ok {
		return v
	}
	for k, v := range attrs {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}
