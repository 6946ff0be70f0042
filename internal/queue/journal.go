package queue

import (
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
)

// The intake journal: GroupCommit writes concurrent deliveries into HZ_JOURNAL as one message, an
// entry, so that a server that syncs every write syncs once for many events; a Mover stores each
// entry's events in HZ_EVENTS and only then removes the entry (HZ_JOURNAL is a work queue).
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

// journalFormat is the only entry encoding: a gob stream of one []journalRecord.
const journalFormat = "gob/1"

// journalRecordOverhead is an upper bound of what gob adds to a record beyond its subject, headers
// and body (field tags and lengths), counted against an entry's byte bound.
const journalRecordOverhead = 64

// journalRoom is the most record bytes an entry on nc may hold: the server's max_payload, less room
// for the entry's own headers and the gob type description.
func journalRoom(nc *nats.Conn) int {
	return max(int(nc.MaxPayload())-4096, 1024)
}

// journalRecord is one message in an entry, as the intake handed it over.
type journalRecord struct {
	Subject string
	Header  nats.Header
	Data    []byte
}

// journalEntry is the HZ_JOURNAL message holding msgs.
func journalEntry(msgs []*nats.Msg) (*nats.Msg, error) {
	recs := make([]journalRecord, len(msgs))
	size := 0
	for i, m := range msgs {
		recs[i] = journalRecord{Subject: m.Subject, Header: m.Header, Data: m.Data}
		size += msgSize(m) + journalRecordOverhead
	}
	var buf bytes.Buffer
	buf.Grow(size + 512)
	if err := gob.NewEncoder(&buf).Encode(recs); err != nil {
		return nil, fmt.Errorf("encode journal entry of %d: %w", len(msgs), err)
	}
	entry := nats.NewMsg(JournalSubject)
	entry.Header.Set(HeaderJournalFormat, journalFormat)
	entry.Header.Set(HeaderJournalEvents, strconv.Itoa(len(msgs)))
	entry.Data = buf.Bytes()
	return entry, nil
}

// errBadEntry is a journal entry the Mover cannot store: dead-lettered, never retried.
var errBadEntry = errors.New("bad journal entry")

// readJournalEntry returns the messages of the entry with headers h and body data, each bound for HZ_EVENTS with its Nats-Msg-Id.
// Anything else (another format, a record for another stream, a count that does not match) is
// errBadEntry: a Mover publishes only where the intake may.
func readJournalEntry(h nats.Header, data []byte) ([]*nats.Msg, error) {
	if f := h.Get(HeaderJournalFormat); f != journalFormat {
		return nil, fmt.Errorf("%w: format %q, want %q", errBadEntry, f, journalFormat)
	}
	var recs []journalRecord
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&recs); err != nil {
		return nil, fmt.Errorf("%w: %v", errBadEntry, err)
	}
	if n := h.Get(HeaderJournalEvents); n != strconv.Itoa(len(recs)) {
		return nil, fmt.Errorf("%w: %d records, header says %q", errBadEntry, len(recs), n)
	}
	msgs := make([]*nats.Msg, len(recs))
	for i, r := range recs {
		if !strings.HasPrefix(r.Subject, EventsSubjectPrefix) || strings.ContainsAny(r.Subject[len(EventsSubjectPrefix):], ".*> \t\r\n") || len(r.Subject) == len(EventsSubjectPrefix) {
			return nil, fmt.Errorf("%w: record %d is for subject %q, not one of %s", errBadEntry, i+1, r.Subject, StreamEvents)
		}
		if r.Header.Get(nats.MsgIdHdr) == "" {
			return nil, fmt.Errorf("%w: record %d has no %s", errBadEntry, i+1, nats.MsgIdHdr)
		}
		msgs[i] = &nats.Msg{Subject: r.Subject, Header: r.Header, Data: r.Data}
	}
	return msgs, nil
}
