package queue

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
)

// The intake journal: GroupCommit writes concurrent deliveries into HZ_JOURNAL as one message, an
// entry, so that a server that syncs every write syncs once for many events; a Mover stores each
// entry's events in HZ_EVENTS and only then acknowledges the entry, which a later purge removes.
const (
	StreamJournal = "HZ_JOURNAL"
	// JournalSubject is the one subject of HZ_JOURNAL.
	JournalSubject = "hz.journal"
	// MoverConsumer is the durable consumer of HZ_JOURNAL that every receiver's Mover shares.
	MoverConsumer = "hz-journal-mover"
)

// Headers of a journal entry.
const (
	// HeaderJournalFormat names the encoding of an entry's body: journalFormat.
	HeaderJournalFormat = "Hz-Journal-Format"
	// HeaderJournalEvents is the number of messages in the entry.
	HeaderJournalEvents = "Hz-Journal-Events"
)

// journalFormat is the only entry encoding: for each message, its subject, its header fields
// (one key and one value each, a repeated key for several values) and its body, every string a
// uvarint length and its bytes, every count a uvarint. (gob cost the receiver an eighth of its CPU
// under load, most of it reflection and garbage.)
const journalFormat = "hz/1"

// journalRecordOverhead is an upper bound of what the encoding adds to a message beyond its subject,
// headers and body (its lengths and counts), counted against an entry's byte bound.
const journalRecordOverhead = 64

// journalRoom is the most record bytes an entry on nc may hold: the server's max_payload, less room
// for the entry's own headers.
func journalRoom(nc *nats.Conn) int {
	return max(int(nc.MaxPayload())-4096, 1024)
}

// appendRecord appends msg to b as a record of an entry, with msgID as its Nats-Msg-Id.
func appendRecord(b []byte, msg *nats.Msg, msgID string) []byte {
	str := func(v string) { b = append(binary.AppendUvarint(b, uint64(len(v))), v...) }
	str(msg.Subject)
	fields := 0
	for k, vs := range msg.Header {
		if k != nats.MsgIdHdr {
			fields += len(vs)
		}
	}
	b = binary.AppendUvarint(b, uint64(fields+1))
	str(nats.MsgIdHdr)
	str(msgID)
	for k, vs := range msg.Header {
		if k == nats.MsgIdHdr {
			continue
		}
		for _, v := range vs {
			str(k)
			str(v)
		}
	}
	return append(binary.AppendUvarint(b, uint64(len(msg.Data))), msg.Data...)
}

// journalEntry is the HZ_JOURNAL message holding recs (appendRecord).
func journalEntry(recs [][]byte) *nats.Msg {
	size := 0
	for _, r := range recs {
		size += len(r)
	}
	b := make([]byte, 0, size)
	for _, r := range recs {
		b = append(b, r...)
	}
	entry := nats.NewMsg(JournalSubject)
	entry.Header.Set(HeaderJournalFormat, journalFormat)
	entry.Header.Set(HeaderJournalEvents, strconv.Itoa(len(recs)))
	entry.Data = b
	return entry
}

// errBadEntry is a journal entry the Mover cannot store: dead-lettered, never retried.
var errBadEntry = errors.New("bad journal entry")

// entryReader reads the fields of an entry's body in turn; the first error sticks.
type entryReader struct {
	b   []byte
	err error
}

func (r *entryReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errors.New("truncated length")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *entryReader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = fmt.Errorf("a length of %d with %d bytes left", n, len(r.b))
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// record reads one record (see appendRecord).
func (r *entryReader) record() *nats.Msg {
	m := &nats.Msg{Subject: string(r.bytes())}
	fields := r.uvarint()
	if fields > uint64(len(r.b)) { // each field takes at least two bytes
		r.err = fmt.Errorf("%d header fields with %d bytes left", fields, len(r.b))
	}
	m.Header = make(nats.Header, min(fields, 16))
	for i := uint64(0); i < fields && r.err == nil; i++ {
		k, v := r.bytes(), r.bytes()
		m.Header[string(k)] = append(m.Header[string(k)], string(v))
	}
	m.Data = r.bytes()
	return m
}

// recordMsg is the message of one record appendRecord wrote.
func recordMsg(rec []byte) (*nats.Msg, error) {
	r := &entryReader{b: rec}
	m := r.record()
	if r.err != nil {
		return nil, fmt.Errorf("%w: %v", errBadEntry, r.err)
	}
	return m, nil
}

// readJournalEntry returns the messages of the entry with headers h and body data, each bound for
// HZ_EVENTS with its Nats-Msg-Id; their bodies share data. Anything else (another format, a
// record for another stream, a count that does not match, bytes left over) is errBadEntry: a
// Mover publishes only where the intake may.
func readJournalEntry(h nats.Header, data []byte) ([]*nats.Msg, error) {
	if f := h.Get(HeaderJournalFormat); f != journalFormat {
		return nil, fmt.Errorf("%w: format %q, want %q", errBadEntry, f, journalFormat)
	}
	want, err := strconv.Atoi(h.Get(HeaderJournalEvents))
	if err != nil || want < 1 || want > MaxBatchMessages {
		return nil, fmt.Errorf("%w: %s %q", errBadEntry, HeaderJournalEvents, h.Get(HeaderJournalEvents))
	}
	r := &entryReader{b: data}
	msgs := make([]*nats.Msg, 0, want)
	for len(r.b) > 0 && r.err == nil && len(msgs) < want {
		if m := r.record(); r.err == nil {
			msgs = append(msgs, m)
		}
	}
	switch {
	case r.err != nil:
		return nil, fmt.Errorf("%w: record %d: %v", errBadEntry, len(msgs)+1, r.err)
	case len(r.b) > 0:
		return nil, fmt.Errorf("%w: %d bytes after %d records", errBadEntry, len(r.b), len(msgs))
	case len(msgs) != want:
		return nil, fmt.Errorf("%w: %d records, header says %d", errBadEntry, len(msgs), want)
	}
	for i, m := range msgs {
		if !strings.HasPrefix(m.Subject, EventsSubjectPrefix) || len(m.Subject) == len(EventsSubjectPrefix) ||
			strings.ContainsAny(m.Subject[len(EventsSubjectPrefix):], ".*> \t\r\n") {
			return nil, fmt.Errorf("%w: record %d is for subject %q, not one of %s", errBadEntry, i+1, m.Subject, StreamEvents)
		}
		if ids := m.Header[nats.MsgIdHdr]; len(ids) != 1 || ids[0] == "" {
			return nil, fmt.Errorf("%w: record %d has %d %s values, want one", errBadEntry, i+1, len(ids), nats.MsgIdHdr)
		}
	}
	return msgs, nil
}
