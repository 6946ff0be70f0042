package dispatch

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/queue"
)

// Dead-letter reasons (the Hz-Error-Reason header): bounded labels an operator filters on.
const (
	ReasonInvalidPayload  = "invalid_payload"  // a handler returned a *events.PermanentError
	ReasonInvalidEnvelope = "invalid_envelope" // the body is not a Hardenize event
	ReasonMaxDeliver      = "max_deliver"      // transient failures until the delivery limit
)

// settle is the one place where an outcome becomes a JetStream acknowledgement:
//
//   - nil: Ack.
//   - an error wrapping *events.PermanentError: dead-letter (class permanent), then Term.
//   - any other error on delivery MaxDeliver or later: dead-letter (class transient), then Term.
//   - any other error before that: NakWithDelay with the backoff of this attempt.
//
// When the dead letter cannot be stored the message is nak'ed instead, so it is never terminated
// without a trace in HZ_DLQ. Failures are logged once, here.
func (d *Dispatcher) settle(ctx context.Context, dv *delivery, err error) {
	ctx = dv.msg.Context(ctx) // log with the message's trace
	outcome := d.outcome(ctx, dv, err)
	endMessage(dv.span, outcome, err)
}

// outcomeAckFailed is the span outcome of a message whose acknowledgement did not reach the
// server: it comes again after AckWait.
const outcomeAckFailed = "ack_failed"

func (d *Dispatcher) outcome(ctx context.Context, dv *delivery, err error) string {
	log := d.o.Log.With("type", dv.key, "seq", dv.msg.Seq, "attempt", dv.msg.Attempt,
		"event_id", dv.msg.Header.Get(queue.HeaderEventID), "consumer", d.o.Consumer)
	var perm *events.PermanentError
	switch {
	case err == nil:
		if aerr := dv.raw.Ack(); aerr != nil {
			log.WarnContext(ctx, "ack failed", "err", aerr)
			return outcomeAckFailed
		}
		d.m.processed.WithLabelValues(d.o.Consumer, dv.label, OutcomeOK).Inc()
		level := slog.LevelDebug
		if slices.Contains(d.o.AckOnly, dv.key) {
			level = slog.LevelInfo // test events are rare and sent on purpose: show them
		}
		log.Log(ctx, level, "event acknowledged", "source", dv.msg.Source)
		return OutcomeOK
	case errors.As(err, &perm):
		reason := dv.reason
		if reason == "" {
			reason = ReasonInvalidPayload
		}
		return d.deadLetter(ctx, log, dv, queue.ClassPermanent, reason, err)
	case dv.msg.Attempt >= d.o.MaxDeliver:
		return d.deadLetter(ctx, log, dv, queue.ClassTransient, ReasonMaxDeliver, err)
	default:
		return d.retry(ctx, log, dv, err)
	}
}

func (d *Dispatcher) retry(ctx context.Context, log *slog.Logger, dv *delivery, err error) string {
	delay := d.o.delay(dv.msg.Attempt)
	if nerr := dv.raw.NakWithDelay(delay); nerr != nil {
		// The server redelivers after AckWait anyway.
		log.WarnContext(ctx, "nak failed", "err", nerr)
	}
	d.m.processed.WithLabelValues(d.o.Consumer, dv.label, OutcomeRetried).Inc()
	log.WarnContext(ctx, "event failed; retrying", "err", err, "retry_in", delay.String())
	return OutcomeRetried
}

func (d *Dispatcher) deadLetter(ctx context.Context, log *slog.Logger, dv *delivery, class, reason string, err error) string {
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	derr := d.dlq.DeadLetter(dctx, queue.DeadLetter{
		Stage:    d.o.Stage,
		Subject:  dv.msg.Subject,
		Header:   dv.msg.Header,
		Data:     dv.msg.Data,
		Stream:   d.o.Stream,
		Consumer: d.o.Consumer,
		OrigSeq:  dv.msg.Seq,
		Class:    class,
		Reason:   reason,
		Err:      err,
		Handler:  dv.key,
		Attempts: dv.msg.Attempt,
		Time:     d.o.Now(),
	})
	if derr != nil {
		log.ErrorContext(ctx, "dead-letter failed; retrying the event", "err", derr, "cause", err)
		_ = dv.raw.NakWithDelay(d.o.delay(dv.msg.Attempt))
		d.m.processed.WithLabelValues(d.o.Consumer, dv.label, OutcomeRetried).Inc()
		return OutcomeRetried
	}
	// Terminated only after the dead letter is stored: a crash in between redelivers the message,
	// and its letter is deduplicated by stream, consumer and sequence.
	if terr := dv.raw.TermWithReason(class + ": " + reason); terr != nil {
		log.WarnContext(ctx, "term failed", "err", terr)
	}
	d.m.processed.WithLabelValues(d.o.Consumer, dv.label, OutcomeDeadLettered).Inc()
	log.WarnContext(ctx, "event dead-lettered", "class", class, "reason", reason, "err", err)
	return OutcomeDeadLettered
}
