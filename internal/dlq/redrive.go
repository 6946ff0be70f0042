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
)

// redriveSuffix marks the message id of a redrive that the duplicate window would otherwise drop.
const redriveSuffix = "/redrive/"

// Redrive publishes dead letter seq back to its original subject with its original headers (the
// dead-letter headers removed) and its original Nats-Msg-Id, waits for the stream's
// acknowledgement, then deletes the dead letter. While the original is still inside the stream's
// duplicate window that id would be dropped as a duplicate, so the id then becomes
// "<original>/redrive/<seq>" (the event id headers are unchanged; handlers are idempotent).
// A redrive that is interrupted between publish and delete may be repeated safely: the second
// publish is deduplicated.
func (s *Store) Redrive(ctx context.Context, seq uint64) (apiwire.DLQRedriven, error) {
	l, err := s.Get(ctx, seq)
	if err != nil {
		return apiwire.DLQRedriven{}, err
	}
	if l.Subject == "" || strings.ContainsAny(l.Subject, "*> \t\r\n") {
		return apiwire.DLQRedriven{}, fmt.Errorf("dead letter %d: no usable original subject %q", seq, l.Subject)
	}
	msg := nats.NewMsg(l.Subject)
	msg.Data = l.Data
	for k, vs := range l.Header {
		if slices.Contains(dlqHeaders, k) {
			continue
		}
		for _, v := range vs {
			msg.Header.Add(k, v)
		}
	}
	base, _, _ := strings.Cut(l.MsgID, redriveSuffix)
	r := apiwire.DLQRedriven{Seq: seq, Subject: l.Subject, MsgID: base}
	ack, err := s.publish(ctx, msg, r.MsgID)
	if err == nil && ack.Duplicate && base != "" {
		r.MsgID = base + redriveSuffix + strconv.FormatUint(seq, 10)
		ack, err = s.publish(ctx, msg, r.MsgID)
	}
	if err != nil {
		return apiwire.DLQRedriven{}, fmt.Errorf("redrive dead letter %d to %s: %w", seq, l.Subject, err)
	}
	r.StreamSeq = ack.Sequence
	if err := s.delete(ctx, seq); err != nil {
		return r, err
	}
	return r, nil
}

func (s *Store) publish(ctx context.Context, msg *nats.Msg, id string) (*jetstream.PubAck, error) {
	var opts []jetstream.PublishOpt
	if id != "" {
		opts = append(opts, jetstream.WithMsgID(id))
	}
	return s.js.PublishMsg(ctx, msg, opts...)
}

// ErrNoFilter refuses a bulk operation without a filter unless all was asked for explicitly.
var ErrNoFilter = errors.New("name a filter (class, reason, type, stage, handler) or ask for all")

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
