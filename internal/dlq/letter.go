package dlq

import (
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hzhook/hzhook/internal/apiwire"
	"github.com/hzhook/hzhook/internal/queue"
)

// Letter is one dead letter as Get returns it: its record, headers and body.
type Letter struct {
	apiwire.DLQLetter
	Header nats.Header
	Data   []byte
}

// Filter selects dead letters; empty fields match anything.
type Filter struct {
	Class    string // queue.ClassPermanent, ClassTransient, ClassRejected
	Reason   string
	Type     string // event type
	Stage    string
	Handler  string
	Consumer string // the consumer that failed them, e.g. hz-alerts-slack
}

// IsZero reports whether f matches every dead letter.
func (f Filter) IsZero() bool { return f == Filter{} }

// Match reports whether l passes f.
func (f Filter) Match(l apiwire.DLQLetter) bool {
	eq := func(want, got string) bool { return want == "" || want == got }
	return eq(f.Class, l.Class) && eq(f.Reason, l.Reason) && eq(f.Type, l.Type) &&
		eq(f.Stage, l.Stage) && eq(f.Handler, l.Handler) && eq(f.Consumer, l.Consumer)
}

// letterOf reads the dead-letter headers of a stored message.
func letterOf(seq uint64, subject string, h nats.Header, size int) apiwire.DLQLetter {
	l := apiwire.DLQLetter{
		Seq:      seq,
		Stage:    strings.TrimPrefix(subject, queue.DLQSubjectPrefix),
		Subject:  h.Get(queue.HeaderDLQSubject),
		MsgID:    h.Get(queue.HeaderOriginalMsgID),
		EventID:  h.Get(queue.HeaderEventID),
		Type:     h.Get(queue.HeaderEventType),
		Org:      h.Get(queue.HeaderOrg),
		Class:    h.Get(queue.HeaderDLQClass),
		Reason:   h.Get(queue.HeaderDLQReason),
		Error:    h.Get(queue.HeaderDLQError),
		Handler:  h.Get(queue.HeaderDLQHandler),
		Stream:   h.Get(queue.HeaderDLQStream),
		Consumer: h.Get(queue.HeaderDLQConsumer),
		Size:     size,
	}
	l.OriginalSeq, _ = strconv.ParseUint(h.Get(queue.HeaderDLQSeq), 10, 64)
	l.Attempts, _ = strconv.Atoi(h.Get(queue.HeaderDLQAttempts))
	l.DeadLetteredAt, _ = time.Parse(time.RFC3339Nano, h.Get(queue.HeaderDLQTime))
	return l
}

// letterOfMsg reads a message of a headers-only consumer (the body size is in Nats-Msg-Size).
func letterOfMsg(m jetstream.Msg, seq uint64) apiwire.DLQLetter {
	size, _ := strconv.Atoi(m.Headers().Get(msgSizeHeader))
	return letterOf(seq, m.Subject(), m.Headers(), size)
}

// msgSizeHeader carries the body size in a headers-only delivery.
const msgSizeHeader = "Nats-Msg-Size"

// dlqHeaders are added by dead-lettering and removed again by a redrive.
var dlqHeaders = []string{
	queue.HeaderDLQError, queue.HeaderDLQReason, queue.HeaderDLQClass, queue.HeaderDLQAttempts,
	queue.HeaderDLQHandler, queue.HeaderDLQTime, queue.HeaderDLQSubject, queue.HeaderDLQSeq,
	queue.HeaderDLQStream, queue.HeaderDLQConsumer,
	queue.HeaderOriginalMsgID, nats.MsgIdHdr, msgSizeHeader,
}
