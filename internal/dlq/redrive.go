package dlq

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hzhook/hzhook/internal/apiwire"
	"github.com/hzhook/hzhook/internal/queue"
)

// redriveSuffix marks the message id of a redrive that the duplicate window would otherwise drop.
const redriveSuffix = "/redrive/"

// ErrNotVerifiable refuses the redrive of a letter that was never verified (class rejected) when
// no receiver is there to verify it.
var ErrNotVerifiable = errors.New("this dead letter was refused at intake and never verified: it can only be redriven through the receiver's verification, which this worker cannot reach")

// ErrVerifierUnavailable means the receiver's verification could not be asked now (no receiver
// answered, or it could not store the event): try again later.
var ErrVerifierUnavailable = errors.New("the receiver's verification is not available now")

// RejectedError is a letter of class rejected that failed the receiver's verification again: it
// stays a letter.
type RejectedError struct {
	Seq    uint64
	Reason string // the rejection reason, as intake names it
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("dead letter %d still fails verification (%s); it stays in the queue", e.Seq, e.Reason)
}

// Reverifier hands a delivery that was refused at intake back to the intake's verification (with
// today's secrets, against its original publish time), which stores it when it passes
// (*queue.ReverifyClient: a receiver answers over NATS).
type Reverifier interface {
	Reverify(ctx context.Context, header nats.Header, body []byte) (queue.Reverdict, error)
}

// Redrive sends dead letter seq back and deletes it once it is stored again:
//
//   - a letter of a consumer (an event a worker group failed, an alert a sink failed) goes to
//     queue.RedriveSubject of its stream and consumer, which that consumer alone takes, with its
//     original headers (the dead-letter headers removed) and its original Nats-Msg-Id. While the
//     original is still inside the stream's duplicate window that id would be dropped, so it
//     then becomes "<original>/redrive/<seq>" (handlers are idempotent). A letter written before
//     letters named their consumer goes back to its original subject.
//   - a letter that was never verified (class rejected: a Pub/Sub message that failed
//     verification) never goes to a stream directly: it is verified again by the receiver and
//     stored only if it passes (outcome verified); otherwise it stays and the error is a
//     *RejectedError. Without a Reverifier the error wraps ErrNotVerifiable.
//
// A redrive interrupted between publish and delete may be repeated safely: the second publish is
// deduplicated.
func (s *Store) Redrive(ctx context.Context, seq uint64) (apiwire.DLQRedriven, error) {
	l, err := s.Get(ctx, seq)
	if err != nil {
		return apiwire.DLQRedriven{}, err
	}
	if l.Class == queue.ClassRejected {
		return s.reverify(ctx, l)
	}
	subject := l.Subject
	if l.Consumer != "" && l.Stream != "" {
		subject = queue.RedriveSubject(l.Stream, l.Consumer)
	}
	if subject == "" || strings.ContainsAny(subject, "*> \t\r\n") {
		return apiwire.DLQRedriven{}, fmt.Errorf("dead letter %d: no usable original subject %q", seq, subject)
	}
	msg := nats.NewMsg(subject)
	msg.Data = l.Data
	msg.Header = originalHeader(l.Header)
	base, _, _ := strings.Cut(l.MsgID, redriveSuffix)
	r := apiwire.DLQRedriven{Seq: seq, Outcome: apiwire.RedriveOutcomeRedriven, Subject: subject, Consumer: l.Consumer, MsgID: base}
	ack, err := s.publish(ctx, msg, r.MsgID)
	if err == nil && ack.Duplicate && base != "" {
		r.MsgID = base + redriveSuffix + strconv.FormatUint(seq, 10)
		ack, err = s.publish(ctx, msg, r.MsgID)
	}
	if err != nil {
		return apiwire.DLQRedriven{}, fmt.Errorf("redrive dead letter %d to %s: %w", seq, subject, err)
	}
	r.StreamSeq = ack.Sequence
	if err := s.delete(ctx, seq); err != nil {
		return r, err
	}
	return r, nil
}

// reverify hands a rejected letter to the receiver's verification and deletes it once stored.
func (s *Store) reverify(ctx context.Context, l Letter) (apiwire.DLQRedriven, error) {
	if s.reverifier == nil {
		return apiwire.DLQRedriven{}, fmt.Errorf("dead letter %d: %w", l.Seq, ErrNotVerifiable)
	}
	v, err := s.reverifier.Reverify(ctx, originalHeader(l.Header), l.Data)
	if err != nil {
		return apiwire.DLQRedriven{}, fmt.Errorf("dead letter %d: %w: %w", l.Seq, ErrVerifierUnavailable, err)
	}
	if !v.Stored() {
		return apiwire.DLQRedriven{}, &RejectedError{Seq: l.Seq, Reason: v.Reason}
	}
	r := apiwire.DLQRedriven{Seq: l.Seq, Outcome: apiwire.RedriveOutcomeVerified, Duplicate: v.Outcome == queue.ReverifyDuplicate}
	if err := s.delete(ctx, l.Seq); err != nil {
		return r, err
	}
	return r, nil
}

// originalHeader is a letter's header without what dead-lettering added.
func originalHeader(h nats.Header) nats.Header {
	out := nats.Header{}
	for k, vs := range h {
		if slices.Contains(dlqHeaders, k) {
			continue
		}
		out[k] = append([]string(nil), vs...)
	}
	return out
}

func (s *Store) publish(ctx context.Context, msg *nats.Msg, id string) (*jetstream.PubAck, error) {
	var opts []jetstream.PublishOpt
	if id != "" {
		opts = append(opts, jetstream.WithMsgID(id))
	}
	return s.js.PublishMsg(ctx, msg, opts...)
}

// ErrNoFilter refuses a bulk operation without a filter unless all was asked for explicitly.
var ErrNoFilter = errors.New("name a filter (class, reason, type, stage, handler, consumer) or ask for all")

// RedriveMatching redrives every dead letter matching f (all when all is true and f is empty),
// oldest first. It goes on after a failure and reports each one.
func (s *Store) RedriveMatching(ctx context.Context, f Filter, all bool) (apiwire.DLQBulk, error) {
	return s.bulk(ctx, f, all, func(seq uint64, b *apiwire.DLQBulk) error {
		r, err := s.Redrive(ctx, seq)
		if err == nil {
			b.Redriven = append(b.Redriven, r)
		}
		return err
	})
}

// PurgeMatching deletes every dead letter matching f (all when all is true and f is empty).
func (s *Store) PurgeMatching(ctx context.Context, f Filter, all bool) (apiwire.DLQBulk, error) {
	return s.bulk(ctx, f, all, func(seq uint64, _ *apiwire.DLQBulk) error { return s.delete(ctx, seq) })
}

func (s *Store) bulk(ctx context.Context, f Filter, all bool, op func(uint64, *apiwire.DLQBulk) error) (apiwire.DLQBulk, error) {
	if f.IsZero() && !all {
		return apiwire.DLQBulk{}, ErrNoFilter
	}
	var seqs []uint64
	if err := s.scan(ctx, func(l apiwire.DLQLetter) {
		if f.Match(l) {
			seqs = append(seqs, l.Seq)
		}
	}); err != nil {
		return apiwire.DLQBulk{}, err
	}
	b := apiwire.DLQBulk{Matched: len(seqs), Failed: []apiwire.DLQBulkError{}}
	for _, seq := range seqs {
		if err := ctx.Err(); err != nil {
			return b, err
		}
		if err := op(seq, &b); err != nil {
			b.Failed = append(b.Failed, apiwire.DLQBulkError{Seq: seq, Error: err.Error()})
			continue
		}
		b.Done++
	}
	return b, nil
}
