package queue

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
)

// Dead-letter headers, added to the original message's headers in HZ_DLQ.
const (
	HeaderDLQError      = "Hz-Error"            // the error text (never a secret, never a body)
	HeaderDLQReason     = "Hz-Error-Reason"     // bounded label: a rejection reason or an error class
	HeaderDLQClass      = "Hz-Error-Class"      // ClassPermanent, ClassTransient or ClassRejected
	HeaderDLQAttempts   = "Hz-Attempts"         // deliveries tried before dead-lettering
	HeaderDLQHandler    = "Hz-Handler"          // the failing handler or stage
	HeaderDLQTime       = "Hz-Dead-Lettered-At" // RFC 3339, UTC
	HeaderDLQSubject    = "Hz-Original-Subject" // where a redrive sends it back
	HeaderDLQSeq        = "Hz-Original-Seq"     // HZ_EVENTS sequence, when it came from there
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
	OrigSeq  uint64      // original stream sequence (0 when not from a stream)
	Class    string
	Reason   string
	Err      error
	Handler  string
	Attempts int
	Time     time.Time
}

// DeadLetter stores dl in HZ_DLQ and waits for the acknowledgement. It is idempotent per stage and
// original message: one stage dead-lettering the same stream sequence (or the same Nats-Msg-Id)
// twice within the duplicate window stores it once, so a worker that crashes between
// dead-lettering and terminating the original does not create a second dead letter. Two stages
// that give up on one message (the event writer and the lint stage both consume HZ_EVENTS; the
// alert sinks number HZ_ALERTS on their own) each keep theirs.
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
	dedup := ""
	if dl.OrigSeq > 0 {
		msg.Header.Set(HeaderDLQSeq, strconv.FormatUint(dl.OrigSeq, 10))
		dedup = "dlq/" + dl.Stage + "/seq/" + strconv.FormatUint(dl.OrigSeq, 10)
	} else if origID != "" {
		dedup = "dlq/" + dl.Stage + "/" + origID
	}
	if _, err := p.Publish(ctx, msg, dedup); err != nil {
		return fmt.Errorf("dead-letter: %w", err)
	}
	return nil
}
