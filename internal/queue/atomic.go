package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Headers of a JetStream atomic batch publish (nats-server 2.12 and later, stream allow_atomic).
const (
	headerBatchID     = "Nats-Batch-Id"
	headerBatchSeq    = "Nats-Batch-Sequence"
	headerBatchCommit = "Nats-Batch-Commit"
)

// MaxBatchMessages is nats-server's default limit of messages in one atomic batch
// (jetstream.limits.max_batch_size).
const MaxBatchMessages = 1000

// Ack is what the stream acknowledged for one message.
type Ack struct {
	Sequence  uint64 // stream sequence of the message (for a duplicate: the one stored before, when the server says)
	Duplicate bool   // the stream already held a message with this Nats-Msg-Id; nothing new was stored
	// Journaled is true when the message was stored in HZ_JOURNAL inside an entry of several
	// (see GroupCommit): it is on disk, and the Mover stores it in its stream moments later.
	// Sequence and Duplicate are not known then.
	Journaled bool
}

// nextBatch splits items into the next batch and the rest, keeping their order: at most maxN items
// and maxBytes (a larger first item goes alone); an item whose id is already in the batch is left
// for a later batch (nats-server refuses a whole atomic batch that repeats an id); an item admit
// refuses is dropped. admit is called only for items that go into the batch.
func nextBatch[T any](items []T, maxN, maxBytes int, idSize func(T) (string, int), admit func(T) bool) (batch, rest []T) {
	var (
		ids  map[string]struct{}
		size int
	)
	for i, it := range items {
		id, n := idSize(it)
		if len(batch) == maxN || len(batch) > 0 && size+n > maxBytes {
			return batch, append(rest, items[i:]...)
		}
		if _, dup := ids[id]; dup && id != "" {
			rest = append(rest, it)
			continue
		}
		if !admit(it) {
			continue
		}
		if id != "" {
			if ids == nil {
				ids = make(map[string]struct{}, min(len(items), maxN))
			}
			ids[id] = struct{}{}
		}
		batch = append(batch, it)
		size += n
	}
	return batch, rest
}

// msgSize is what a message counts against a batch's byte bound: subject, headers and body.
func msgSize(msg *nats.Msg) int {
	n := len(msg.Subject) + len(msg.Data)
	for k, vs := range msg.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

// publishAlone stores msg (already carrying its Nats-Msg-Id) with a plain publish.
func publishAlone(ctx context.Context, js jetstream.JetStream, msg *nats.Msg) (Ack, error) {
	msg.Header.Del(headerBatchID)
	msg.Header.Del(headerBatchSeq)
	msg.Header.Del(headerBatchCommit)
	ack, err := js.PublishMsg(ctx, msg)
	if err != nil {
		return Ack{}, fmt.Errorf("publish to %s: %w", msg.Subject, err)
	}
	return Ack{Sequence: ack.Sequence, Duplicate: ack.Duplicate}, nil
}

// batchAck is nats-server's acknowledgement of an atomic batch: the sequence of its last message,
// its id and its size (the messages are stored with consecutive sequences, in batch order).
type batchAck struct {
	Error    *jetstream.APIError `json:"error"`
	Stream   string              `json:"stream"`
	Sequence uint64              `json:"seq"`
	Batch    string              `json:"batch"`
	Count    int                 `json:"count"`
}

// errBadBatchAck is an acknowledgement that does not cover the batch sent.
var errBadBatchAck = errors.New("acknowledgement does not match the batch")

// commitAtomic writes msgs (each already carrying its Nats-Msg-Id) as one atomic batch with id and
// returns the stream sequence of its first message.
func commitAtomic(ctx context.Context, nc *nats.Conn, id string, msgs []*nats.Msg) (uint64, error) {
	var resp *nats.Msg
	for i, msg := range msgs {
		h := msg.Header
		h.Set(headerBatchID, id)
		h.Set(headerBatchSeq, strconv.Itoa(i+1))
		var err error
		if i < len(msgs)-1 {
			err = nc.PublishMsg(msg)
		} else {
			h.Set(headerBatchCommit, "1")
			resp, err = nc.RequestMsgWithContext(ctx, msg)
		}
		if err != nil {
			return 0, fmt.Errorf("atomic batch of %d, message %d: %w", len(msgs), i+1, err)
		}
	}
	var ack batchAck
	if err := json.Unmarshal(resp.Data, &ack); err != nil {
		return 0, fmt.Errorf("atomic batch acknowledgement: %w", err)
	}
	if ack.Error != nil {
		return 0, fmt.Errorf("atomic batch of %d: %w", len(msgs), ack.Error)
	}
	n := uint64(len(msgs))
	if ack.Batch != id || ack.Count != len(msgs) || ack.Sequence < n {
		return 0, fmt.Errorf("atomic batch %s of %d: %w: batch %q, count %d, seq %d", id, len(msgs), errBadBatchAck, ack.Batch, ack.Count, ack.Sequence)
	}
	return ack.Sequence - n + 1, nil
}

// JetStream error codes of a failed atomic batch (nats-server errors.json).
const (
	errCodeBatchIncomplete jetstream.ErrorCode = 10176
	errCodeBatchDuplicate  jetstream.ErrorCode = 10201
	errCodeBatchInflight   jetstream.ErrorCode = 10210
)

// fallbackReason is the bounded metric label of a failed batch or journal entry.
func fallbackReason(err error) string {
	var apiErr *jetstream.APIError
	switch {
	case errors.As(err, &apiErr) && apiErr.ErrorCode == errCodeBatchDuplicate:
		return "duplicate"
	case errors.As(err, &apiErr) && apiErr.ErrorCode == errCodeBatchIncomplete:
		return "incomplete"
	case errors.As(err, &apiErr) && apiErr.ErrorCode == errCodeBatchInflight:
		return "too_many_batches"
	case errors.As(err, &apiErr):
		return "refused"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		return "timeout"
	default:
		return "connection"
	}
}
