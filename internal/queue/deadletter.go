package queue

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Dead-letter headers, added to the original message's headers in HZ_DLQ.
const (
	HeaderDLQError      = "Hz-Error"            // the error text (never a secret, never a body)
	HeaderDLQReason     = "Hz-Error-Reason"     // bounded label: a rejection reason or an error class
	HeaderDLQClass      = "Hz-Error-Class"      // ClassPermanent, ClassTransient or ClassRejected
	HeaderDLQAttempts   = "Hz-Attempts"         // deliveries tried before dead-lettering
	HeaderDLQHandler    = "Hz-Handler"          // the failing handler (route key) or stage
	HeaderDLQStream     = "Hz-Original-Stream"  // the stream the message was consumed from
	HeaderDLQConsumer   = "Hz-Consumer"         // the durable consumer that failed it; a redrive goes back to it
	HeaderDLQTime       = "Hz-Dead-Lettered-At" // RFC 3339, UTC
	HeaderDLQSubject    = "Hz-Original-Subject" // where a redrive sends it back
	HeaderDLQSeq        = "Hz-Original-Seq"     // sequence in Hz-Original-Stream, when it came from a stream
	HeaderOriginalMsgID = "Hz-Original-Msg-Id"  // Nats-Msg-Id restored on redrive
)

// Error classes of dead letters.
const (
	ClassPermanent = "permanent" // bad data: no retry can help
	ClassTransient = "transient" // kept failing until the delivery limit
	ClassRejected  = "rejected"  // failed verification at intake (Pub/Sub cannot answer 400)
)

// DeadLetter is one message given up on, with why.
type DeadLetter struct {
	Stage    string      // subject token after hz.dlq.: "worker", "pubsub", "alerts"
	Subject  string      // original subject
	Header   nats.Header // original headers, copied
	Data     []byte      // original body, verbatim
	Stream   string      // the stream it was consumed from ("" when not from a stream)
	Consumer string      // the durable consumer that failed it ("" when not from a consumer)
	OrigSeq  uint64      // sequence in Stream (0 when not from a stream)
	Class    string
	Reason   string
	Err      error
	Handler  string
	Attempts int
	Time     time.Time
}

// DeadLetter stores dl in HZ_DLQ and returns nil only once the letter is there: the caller may
// then terminate the original, and not before.
//
// The letter's Nats-Msg-Id names exactly one failure of one message, so that two letters never
// collide: "dlq/<stream>/<consumer>/<seq>" for a message a consumer gave up on (the same HZ_EVENTS
// event failed by two worker groups, the same alert failed by two sinks, an event and an alert that
// share a sequence number: each its own letter), "dlq/<stage>/<original id>" otherwise (a rejected
// Pub/Sub message). Dead-lettering the same failure again within HZ_DLQ's duplicate window (a crash
// between storing the letter and terminating the original) stores it once. A duplicate answer is
// trusted only when the letter it names is still in HZ_DLQ; when it was purged meanwhile, the
// letter is stored anew under an id of its own.
func (p *Publisher) DeadLetter(ctx context.Context, dl DeadLetter) error {
	msg := nats.NewMsg(DLQSubjectPrefix + Token(dl.Stage))
	msg.Data = dl.Data
	for k, vs := range dl.Header {
		if k == nats.MsgIdHdr {
			continue
		}
		for _, v := range vs {
			msg.Header.Add(k, v)
		}
	}
	origID := dl.Header.Get(nats.MsgIdHdr)
	if origID == "" {
		origID = dl.Header.Get(HeaderOriginalMsgID)
	}
	if origID != "" {
		msg.Header.Set(HeaderOriginalMsgID, origID)
	}
	errText := ""
	if dl.Err != nil {
		errText = dl.Err.Error()
	}
	if len(errText) > 1024 {
		errText = errText[:1024]
	}
	msg.Header.Set(HeaderDLQError, errText)
	msg.Header.Set(HeaderDLQReason, dl.Reason)
	msg.Header.Set(HeaderDLQClass, dl.Class)
	msg.Header.Set(HeaderDLQAttempts, strconv.Itoa(dl.Attempts))
	msg.Header.Set(HeaderDLQHandler, dl.Handler)
	msg.Header.Set(HeaderDLQTime, dl.Time.UTC().Format(time.RFC3339Nano))
	msg.Header.Set(HeaderDLQSubject, dl.Subject)
	if dl.Stream != "" {
		msg.Header.Set(HeaderDLQStream, dl.Stream)
	}
	if dl.Consumer != "" {
		msg.Header.Set(HeaderDLQConsumer, dl.Consumer)
	}
	if dl.OrigSeq > 0 {
		msg.Header.Set(HeaderDLQSeq, strconv.FormatUint(dl.OrigSeq, 10))
	}
	id := letterID(dl, origID)
	if id == "" {
		if _, err := p.js.PublishMsg(ctx, msg); err != nil {
			return fmt.Errorf("dead-letter: %w", err)
		}
		return nil
	}
	ack, err := p.js.PublishMsg(ctx, msg, jetstream.WithMsgID(id))
	if err != nil {
		return fmt.Errorf("dead-letter: %w", err)
	}
	if !ack.Duplicate {
		return nil
	}
	stored, err := p.holds(ctx, ack.Stream, ack.Sequence, id)
	if err != nil {
		return fmt.Errorf("dead-letter: check the letter already stored: %w", err)
	}
	if stored {
		return nil
	}
	// The letter that made this a duplicate is gone (purged or redriven): this failure needs its own.
	if _, err := p.js.PublishMsg(ctx, msg, jetstream.WithMsgID(id+"/"+dl.Time.UTC().Format(time.RFC3339Nano))); err != nil {
		return fmt.Errorf("dead-letter: %w", err)
	}
	return nil
}

// letterID is the Nats-Msg-Id of a dead letter (see DeadLetter). "" when nothing identifies the
// failure: the letter is then never deduplicated.
func letterID(dl DeadLetter, origID string) string {
	switch {
	case dl.OrigSeq > 0:
		return "dlq/" + cmp.Or(dl.Stream, "?") + "/" + cmp.Or(dl.Consumer, dl.Stage) + "/" + strconv.FormatUint(dl.OrigSeq, 10)
	case origID != "":
		return "dlq/" + dl.Stage + "/" + origID
	}
	return ""
}

// holds reports whether stream still has, at seq, the message published with id.
func (p *Publisher) holds(ctx context.Context, stream string, seq uint64, id string) (bool, error) {
	s, err := p.js.Stream(ctx, stream)
	if err != nil {
		return false, err
	}
	m, err := s.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return m.Header.Get(nats.MsgIdHdr) == id, nil
}
