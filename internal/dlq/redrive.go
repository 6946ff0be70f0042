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
)

// redriveSuffix marks the message id of a redrive that the duplicate window would otherwise drop.
const redriveSuffix = "/redrive/"

// Redriven is the outcome of one redrive.
type Redriven struct {
	Seq       uint64 `json:"seq"`       // the dead letter's sequence (now deleted)
	Subject   string `json:"subject"`   // where it went
	MsgID     string `json:"msgId"`     // Nats-Msg-Id it was published with
	StreamSeq uint64 `json:"streamSeq"` // its new sequence in the original stream
}

// Redrive publishes dead letter seq back to its original subject with its original headers (the
// dead-letter headers removed) and its original Nats-Msg-Id, waits for the stream's
// acknowledgement, then deletes the dead letter. While the original is still inside the stream's
// duplicate window that id would be dropped as a duplicate, so the id then becomes
// "<original>/redrive/<seq>" (the event id headers are unchanged; handlers are idempotent).
// A redrive that is interrupted between publish and delete may be repeated safely: the second
// publish is deduplicated.
func (s *Store) Redrive(ctx context.Context, seq uint64) (Redriven, error) {
	l, err := s.Get(ctx, seq)
	if err != nil {
		return Redriven{}, err
	}
	if l.Subject == "" || strings.ContainsAny(l.Subject, "*> \t\r\n") {
		return Redriven{}, fmt.Errorf("dead letter %d: no usable original subject %q", seq, l.Subject)
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
	r := Redriven{Seq: seq, Subject: l.Subject, MsgID: base}
	ack, err := s.publish(ctx, msg, r.MsgID)
	if err == nil && ack.Duplicate && base != "" {
		r.MsgID = base + redriveSuffix + strconv.FormatUint(seq, 10)
		ack, err = s.publish(ctx, msg, r.MsgID)
	}
	if err != nil {
		return Redriven{}, fmt.Errorf("redrive dead letter %d to %s: %w", seq, l.Subject, err)
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

// Bulk is the outcome of an operation on every dead letter matching a filter.
type Bulk struct {
	Matched  int         `json:"matched"`
	Done     int         `json:"done"`
	Failed   []BulkError `json:"failed"`
	Redriven []Redriven  `json:"redriven,omitempty"`
}

// BulkError is one dead letter a bulk operation could not handle.
type BulkError struct {
	Seq   uint64 `json:"seq"`
	Error string `json:"error"`
}

// ErrNoFilter refuses a bulk operation without a filter unless all was asked for explicitly.
var ErrNoFilter = errors.New("name a filter (class, reason, type, stage, handler) or ask for all")

// RedriveMatching redrives every dead letter matching f (all when all is true and f is empty),
// oldest first. It goes on after a failure and reports each one.
func (s *Store) RedriveMatching(ctx context.Context, f Filter, all bool) (Bulk, error) {
	return s.bulk(ctx, f, all, func(seq uint64, b *Bulk) error {
		r, err := s.Redrive(ctx, seq)
		if err == nil {
			b.Redriven = append(b.Redriven, r)
		}
		return err
	})
}

// PurgeMatching deletes every dead letter matching f (all when all is true and f is empty).
func (s *Store) PurgeMatching(ctx context.Context, f Filter, all bool) (Bulk, error) {
	return s.bulk(ctx, f, all, func(seq uint64, _ *Bulk) error { return s.delete(ctx, seq) })
}

func (s *Store) bulk(ctx context.Context, f Filter, all bool, op func(uint64, *Bulk) error) (Bulk, error) {
	if f.IsZero() && !all {
		return Bulk{}, ErrNoFilter
	}
	var seqs []uint64
	if err := s.scan(ctx, func(l Letter) {
		if f.Match(l) {
			seqs = append(seqs, l.Seq)
		}
	}); err != nil {
		return Bulk{}, err
	}
	b := Bulk{Matched: len(seqs), Failed: []BulkError{}}
	for _, seq := range seqs {
		if err := ctx.Err(); err != nil {
			return b, err
		}
		if err := op(seq, &b); err != nil {
			b.Failed = append(b.Failed, BulkError{Seq: seq, Error: err.Error()})
			continue
		}
		b.Done++
	}
	return b, nil
}
