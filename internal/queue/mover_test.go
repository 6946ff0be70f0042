package queue

import (
	"context"
	"encoding/binary"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// journalOf stores msgs (with ids) as one journal entry, the way GroupCommit does.
func journalOf(t *testing.T, conn *Conn, msgs []*nats.Msg, ids []string) {
	t.Helper()
	_, err := conn.JS.PublishMsg(context.Background(), entryOf(msgs, ids))
	require.NoError(t, err)
}

// entryOf is the journal entry of msgs, each with its id (or, where ids is nil, the one its
// headers carry).
func entryOf(msgs []*nats.Msg, ids []string) *nats.Msg {
	recs := make([][]byte, len(msgs))
	for i, m := range msgs {
		id := m.Header.Get(nats.MsgIdHdr)
		if ids != nil {
			id = ids[i]
		}
		recs[i] = appendRecord(nil, m, id)
	}
	return journalEntry(recs)
}

func TestJournalEntryKeepsEveryMessageByteForByte(t *testing.T) {
	msgs, ids := events(5, "demo/h")
	for i, m := range msgs {
		m.Header.Set(nats.MsgIdHdr, ids[i])
		m.Header.Add("Hz-Multi", "a")
		m.Header.Add("Hz-Multi", "b")
	}
	msgs[1].Data = []byte{0, 0xff, '\n', 0} // any bytes
	entry := entryOf(msgs, nil)
	assert.Equal(t, "5", entry.Header.Get(HeaderJournalEvents))
	requireReads(t, entry, msgs)
}

// requireReads checks that entry reads as want: subjects, headers and bodies.
func requireReads(t *testing.T, entry *nats.Msg, want []*nats.Msg) {
	t.Helper()
	got, err := readJournalEntry(entry.Header, entry.Data)
	require.NoError(t, err)
	require.Len(t, got, len(want))
	for i := range want {
		assert.Equal(t, want[i].Subject, got[i].Subject)
		assert.Equal(t, want[i].Header, got[i].Header)
		assert.Equal(t, want[i].Data, got[i].Data)
	}
}

func TestReadJournalEntryRefusesWhatTheIntakeNeverWrites(t *testing.T) {
	good := func() []*nats.Msg {
		msgs, ids := events(2, "demo/h")
		for i, m := range msgs {
			m.Header.Set(nats.MsgIdHdr, ids[i])
		}
		return msgs
	}
	for name, mutate := range map[string]func(e *nats.Msg){
		"another format":    func(e *nats.Msg) { e.Header.Set(HeaderJournalFormat, "json/1") },
		"no format":         func(e *nats.Msg) { e.Header.Del(HeaderJournalFormat) },
		"a count that lies": func(e *nats.Msg) { e.Header.Set(HeaderJournalEvents, "3") },
		"a truncated body":  func(e *nats.Msg) { e.Data = e.Data[:len(e.Data)/2] },
		"not an entry":      func(e *nats.Msg) { e.Data = []byte(`[{"Subject":"hz.events.ct_entry"}]`) },
		"bytes after it":    func(e *nats.Msg) { e.Data = append(e.Data, 0) },
		"a huge length":     func(e *nats.Msg) { e.Data = binary.AppendUvarint(nil, 1<<62) },
		"no count":          func(e *nats.Msg) { e.Header.Del(HeaderJournalEvents) },
		"an empty body":     func(e *nats.Msg) { e.Data = nil },
	} {
		t.Run(name, func(t *testing.T) {
			e := entryOf(good(), nil)
			mutate(e)
			_, err := readJournalEntry(e.Header, e.Data)
			require.ErrorIs(t, err, errBadEntry)
		})
	}
	for name, m := range map[string]*nats.Msg{
		"another stream":    {Subject: AlertsSubjectPrefix + "weakKey", Header: nats.Header{nats.MsgIdHdr: {"x"}}},
		"two tokens":        {Subject: EventsSubjectPrefix + "ct.entry", Header: nats.Header{nats.MsgIdHdr: {"x"}}},
		"a wildcard":        {Subject: EventsSubjectPrefix + ">", Header: nats.Header{nats.MsgIdHdr: {"x"}}},
		"no type token":     {Subject: EventsSubjectPrefix, Header: nats.Header{nats.MsgIdHdr: {"x"}}},
		"no Nats-Msg-Id":    {Subject: Subject("ct.entry"), Header: nats.Header{}},
		"a redrive subject": {Subject: RedriveSubject(StreamEvents, "hz-worker-ct_entry"), Header: nats.Header{nats.MsgIdHdr: {"x"}}},
	} {
		t.Run(name, func(t *testing.T) {
			e := entryOf([]*nats.Msg{m}, nil)
			_, err := readJournalEntry(e.Header, e.Data)
			require.ErrorIs(t, err, errBadEntry)
		})
	}
}

// FuzzReadJournalEntry: any body is read without a panic, and what is read is written back to an
// entry that reads the same.
func FuzzReadJournalEntry(f *testing.F) {
	msgs, ids := events(3, "demo/h")
	for i, m := range msgs {
		m.Header.Set(nats.MsgIdHdr, ids[i])
	}
	f.Add(3, entryOf(msgs, nil).Data)
	f.Add(1, entryOf(msgs[:1], nil).Data)
	f.Add(2, []byte{0x0b})
	f.Fuzz(func(t *testing.T, n int, data []byte) {
		h := nats.Header{HeaderJournalFormat: {journalFormat}, HeaderJournalEvents: {strconv.Itoa(n)}}
		got, err := readJournalEntry(h, data)
		if err != nil {
			require.ErrorIs(t, err, errBadEntry)
			return
		}
		requireReads(t, entryOf(got, nil), got)
	})
}

func TestMoverDeadLettersAnEntryItCannotRead(t *testing.T) {
	conn := startJetStream(t)
	reg := prometheus.NewRegistry()
	runMover(t, conn, MoverOptions{Registerer: reg})
	bad := nats.NewMsg(JournalSubject)
	bad.Header.Set(HeaderJournalFormat, journalFormat)
	bad.Header.Set(HeaderJournalEvents, "1")
	bad.Data = []byte("<script>not an entry</script>")
	_, err := conn.JS.PublishMsg(context.Background(), bad)
	require.NoError(t, err)

	require.Eventually(t, func() bool { return msgsIn(t, conn, StreamDLQ) == 1 }, 10*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool { return msgsIn(t, conn, StreamJournal) == 0 }, 10*time.Second, 5*time.Millisecond,
		"removed from the journal once dead-lettered")
	assert.Zero(t, streamMsgs(t, conn))
	var letters []jetstream.Msg
	require.NoError(t, Scan(context.Background(), conn.JS, StreamDLQ, ScanOptions{}, func(m jetstream.Msg) error {
		letters = append(letters, m)
		return nil
	}))
	require.Len(t, letters, 1)
	l := letters[0]
	assert.Equal(t, DLQSubjectPrefix+DeadLetterStageJournal, l.Subject())
	assert.Equal(t, bad.Data, l.Data(), "the entry kept byte for byte")
	assert.Equal(t, "bad_journal_entry", l.Headers().Get(HeaderDLQReason))
	assert.Equal(t, ClassPermanent, l.Headers().Get(HeaderDLQClass))
	assert.Equal(t, JournalSubject, l.Headers().Get(HeaderDLQSubject))
	assert.Equal(t, StreamJournal, l.Headers().Get(HeaderDLQStream))
	assert.Equal(t, float64(1), counter(reg, "hz_journal_entries_total", "dead_lettered"))
}

func TestMoverMovesAgainTheEntryOfAMoverThatDied(t *testing.T) {
	conn := startJetStream(t)
	ctx := context.Background()
	msgs, ids := events(12, "demo/h")
	journalOf(t, conn, msgs, ids)

	// A mover takes the entry, stores half of its events and dies before it removes the entry.
	cons, err := conn.JS.CreateOrUpdateConsumer(ctx, StreamJournal, jetstream.ConsumerConfig{
		Durable: MoverConsumer, AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Second, MaxDeliver: -1,
	})
	require.NoError(t, err)
	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	require.NoError(t, err)
	for range batch.Messages() {
	}
	require.NoError(t, batch.Error())
	pub := NewPublisher(conn.JS)
	for i := range 6 {
		_, err := pub.Publish(ctx, msgs[i], ids[i])
		require.NoError(t, err)
	}

	reg := prometheus.NewRegistry()
	runMover(t, conn, MoverOptions{AckWait: time.Second, Registerer: reg})
	moved(t, conn, 12)
	byID := storedByID(t, conn) // fails on an id stored twice
	for i, id := range ids {
		require.Contains(t, byID, id)
		assert.Equal(t, msgs[i].Data, byID[id].Data())
	}
	assert.Equal(t, float64(6), counter(reg, "hz_journal_events_total", "duplicate"))
	assert.Equal(t, float64(6), counter(reg, "hz_journal_events_total", "stored"))
	assert.Zero(t, counter(reg, "hz_journal_batch_fallbacks_total", "duplicate"),
		"a redelivered entry's events go one by one, not into a batch bound to fail")
}

func TestMoverKeepsAnEntryUntilEveryEventIsStored(t *testing.T) {
	conn := startJetStream(t)
	ctx := context.Background()
	s, err := conn.JS.Stream(ctx, StreamEvents)
	require.NoError(t, err)
	cfg := s.CachedInfo().Config
	cfg.MaxMsgs = 3 // HZ_EVENTS is full after three (DiscardNew)
	_, err = conn.JS.UpdateStream(ctx, cfg)
	require.NoError(t, err)

	msgs, ids := events(8, "demo/h")
	journalOf(t, conn, msgs, ids)
	reg := prometheus.NewRegistry()
	runMover(t, conn, MoverOptions{Registerer: reg})
	require.Eventually(t, func() bool { return counter(reg, "hz_journal_entries_total", "retried") >= 2 }, 10*time.Second, 5*time.Millisecond)
	assert.Equal(t, uint64(1), msgsIn(t, conn, StreamJournal), "the entry stays: it is the only copy of five events")
	left, err := JournalLeft(ctx, conn.JS)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), left, "not acknowledged")
	assert.Equal(t, uint64(3), streamMsgs(t, conn))

	cfg.MaxMsgs = -1
	_, err = conn.JS.UpdateStream(ctx, cfg)
	require.NoError(t, err)
	moved(t, conn, 8)
	byID := storedByID(t, conn)
	for i, id := range ids {
		require.Contains(t, byID, id, "event %d", i)
	}
	assert.Zero(t, counter(reg, "hz_journal_entries_total", "dead_lettered"))
}

func TestMoverMovesABacklogOfEntries(t *testing.T) {
	conn := startJetStream(t)
	var all []string
	for e := range 20 {
		msgs, ids := events(25, "demo/e"+strconv.Itoa(e))
		journalOf(t, conn, msgs, ids)
		all = append(all, ids...)
	}
	reg := prometheus.NewRegistry()
	runMover(t, conn, MoverOptions{Registerer: reg})
	moved(t, conn, uint64(len(all)))
	byID := storedByID(t, conn)
	for _, id := range all {
		require.Contains(t, byID, id)
	}
	assert.Equal(t, float64(20), counter(reg, "hz_journal_entries_total", "moved"))
	assert.Equal(t, float64(len(all)), counter(reg, "hz_journal_events_total", "stored"))
	assert.Zero(t, counter(reg, "hz_journal_batch_fallbacks_total", "duplicate")+counter(reg, "hz_journal_batch_fallbacks_total", "refused"))
}

func TestMoverStartsItsConsumerAgainWhenItIsDeleted(t *testing.T) {
	conn := startJetStream(t)
	ctx := context.Background()
	runMover(t, conn, MoverOptions{})
	msgs, ids := events(4, "demo/h")
	journalOf(t, conn, msgs[:2], ids[:2])
	moved(t, conn, 2)

	require.NoError(t, conn.JS.DeleteConsumer(ctx, StreamJournal, MoverConsumer))
	journalOf(t, conn, msgs[2:], ids[2:])
	left, err := JournalLeft(ctx, conn.JS)
	require.NoError(t, err)
	assert.Positive(t, left, "an entry without a mover consumer counts as left")
	moved(t, conn, 4)
	byID := storedByID(t, conn)
	for _, id := range ids {
		require.Contains(t, byID, id)
	}
}
