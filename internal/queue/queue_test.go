package queue

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hzhook/hzhook/internal/queue/embedded"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func startJetStream(t *testing.T) *Conn {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := embedded.Start(embedded.Options{StoreDir: t.TempDir()}, log)
	require.NoError(t, err)
	t.Cleanup(srv.Shutdown)
	conn, err := Connect(context.Background(), srv.URL(), "test", log)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(time.Second) })
	require.NoError(t, EnsureStreams(context.Background(), conn.JS, DefaultStreamOptions()))
	return conn
}

func TestSubjectIsOneSafeToken(t *testing.T) {
	tests := map[string]string{
		"ct.entry":            "hz.events.ct_entry",
		"pki.cert.new":        "hz.events.pki_cert_new",
		"test":                "hz.events.test",
		"":                    "hz.events._",
		"a.>":                 "hz.events.a__",
		"*":                   "hz.events._",
		"x y\tz\r\n":          "hz.events.x_y_z__",
		"user.auth.signed_in": "hz.events.user_auth_signed_in",
		"ünï":                 "hz.events.__n__",
	}
	for typ, want := range tests {
		assert.Equal(t, want, Subject(typ), typ)
	}
}

func FuzzSubject(f *testing.F) {
	for _, s := range []string{"ct.entry", "a.>", "*", "", "x y", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, typ string) {
		s := Subject(typ)
		tok := strings.TrimPrefix(s, EventsSubjectPrefix)
		if tok == "" || strings.ContainsAny(tok, ".*> \t\r\n") {
			t.Fatalf("subject %q for %q has extra tokens or wildcards", s, typ)
		}
	})
}

func TestMsgID(t *testing.T) {
	assert.Equal(t, "demo/abc/42", MsgID("demo", "abc", "42", []byte("x")))
	a, b := MsgID("demo", "abc", "0", []byte("one")), MsgID("demo", "abc", "0", []byte("two"))
	assert.NotEqual(t, a, b, "distinct test events are all kept")
	assert.Equal(t, a, MsgID("demo", "abc", "0", []byte("one")), "a retried test event is still deduplicated")
}

func TestPublishWaitsForAckAndDeduplicates(t *testing.T) {
	conn := startJetStream(t)
	p := NewPublisher(conn.JS)
	ctx := context.Background()
	msg := nats.NewMsg(Subject("ct.entry"))
	msg.Data = []byte(`{"id":1}`)
	dup, err := p.Publish(ctx, msg, "demo/h/1")
	require.NoError(t, err)
	assert.False(t, dup)
	dup, err = p.Publish(ctx, msg, "demo/h/1")
	require.NoError(t, err)
	assert.True(t, dup)

	s, err := conn.JS.Stream(ctx, StreamEvents)
	require.NoError(t, err)
	info, err := s.Info(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), info.State.Msgs)
	assert.Equal(t, jetstream.FileStorage, info.Config.Storage)
	assert.Equal(t, jetstream.DiscardNew, info.Config.Discard)

	_, err = p.Publish(ctx, nats.NewMsg("not.a.stream.subject"), "")
	require.Error(t, err, "no stream: never a silent success")
}

func TestDeadLetterKeepsOriginalAndIsIdempotent(t *testing.T) {
	conn := startJetStream(t)
	p := NewPublisher(conn.JS)
	ctx := context.Background()
	h := nats.Header{}
	h.Set(HeaderOrg, "demo")
	h.Set(nats.MsgIdHdr, "demo/h/7")
	dl := DeadLetter{
		Stage: "worker", Subject: Subject("ct.entry"), Header: h, Data: []byte(`{"id":7}`), OrigSeq: 12,
		Class: ClassPermanent, Reason: "invalid_payload", Err: errors.New("sha256 mismatch"),
		Handler: "ct.entry", Attempts: 1, Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
	require.NoError(t, p.DeadLetter(ctx, dl))
	require.NoError(t, p.DeadLetter(ctx, dl), "second dead-lettering of the same original")

	s, err := conn.JS.Stream(ctx, StreamDLQ)
	require.NoError(t, err)
	info, err := s.Info(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(1), info.State.Msgs)
	m, err := s.GetMsg(ctx, info.State.LastSeq)
	require.NoError(t, err)
	assert.Equal(t, "hz.dlq.worker", m.Subject)
	assert.Equal(t, dl.Data, m.Data)
	assert.Equal(t, "demo", m.Header.Get(HeaderOrg))
	assert.Equal(t, "demo/h/7", m.Header.Get(HeaderOriginalMsgID))
	assert.Equal(t, "sha256 mismatch", m.Header.Get(HeaderDLQError))
	assert.Equal(t, ClassPermanent, m.Header.Get(HeaderDLQClass))
	assert.Equal(t, "1", m.Header.Get(HeaderDLQAttempts))
	assert.Equal(t, "12", m.Header.Get(HeaderDLQSeq))
	assert.Equal(t, "hz.events.ct_entry", m.Header.Get(HeaderDLQSubject))
	assert.Equal(t, "2026-01-02T03:04:05Z", m.Header.Get(HeaderDLQTime))

	// Another stage giving up on the same original keeps a dead letter of its own, once.
	other := dl
	other.Stage = "lint"
	require.NoError(t, p.DeadLetter(ctx, other))
	require.NoError(t, p.DeadLetter(ctx, other))
	info, err = s.Info(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(2), info.State.Msgs)
	m, err = s.GetMsg(ctx, info.State.LastSeq)
	require.NoError(t, err)
	assert.Equal(t, "hz.dlq.lint", m.Subject)
	assert.Equal(t, "12", m.Header.Get(HeaderDLQSeq))
}

// Letters of different failures never share an id, whatever their original sequence; the same
// failure dead-lettered again is one letter; a letter purged meanwhile does not swallow the next.
func TestDeadLetterIdentity(t *testing.T) {
	conn := startJetStream(t)
	p := NewPublisher(conn.JS)
	ctx := context.Background()
	letter := func(stage, stream, consumer string, seq uint64) DeadLetter {
		return DeadLetter{Stage: stage, Subject: "hz.x", Header: nats.Header{}, Data: []byte("x"), Stream: stream, Consumer: consumer,
			OrigSeq: seq, Class: ClassPermanent, Reason: "r", Err: errors.New("e"), Attempts: 1, Time: time.Now()}
	}
	count := func() uint64 {
		s, err := conn.JS.Stream(ctx, StreamDLQ)
		require.NoError(t, err)
		info, err := s.Info(ctx)
		require.NoError(t, err)
		return info.State.Msgs
	}
	failures := []DeadLetter{
		letter("worker", StreamEvents, "hz-worker-ct_entry", 1),
		letter("worker", StreamEvents, "hz-worker-pki_cert_new", 1), // the same event, another group
		letter("alerts", StreamAlerts, "hz-alerts-webhook", 1),      // an alert sharing the sequence
		letter("alerts", StreamAlerts, "hz-alerts-slack", 1),        // the same alert, another sink
	}
	for _, dl := range failures {
		require.NoError(t, p.DeadLetter(ctx, dl))
	}
	require.Equal(t, uint64(4), count(), "four failures, four letters")
	for _, dl := range failures {
		require.NoError(t, p.DeadLetter(ctx, dl), "a crash before Term dead-letters it again")
	}
	require.Equal(t, uint64(4), count(), "the same failure again is the same letter")

	s, err := conn.JS.Stream(ctx, StreamDLQ)
	require.NoError(t, err)
	info, err := s.Info(ctx)
	require.NoError(t, err)
	require.NoError(t, s.DeleteMsg(ctx, info.State.LastSeq)) // the Slack letter is purged meanwhile
	require.Equal(t, uint64(3), count())
	require.NoError(t, p.DeadLetter(ctx, failures[3]))
	require.Equal(t, uint64(4), count(), "a duplicate answer whose letter is gone is not trusted: the letter is stored anew")

	cfg, err := conn.JS.Stream(ctx, StreamDLQ)
	require.NoError(t, err)
	assert.Equal(t, DefaultStreamOptions().DLQDuplicates, cfg.CachedInfo().Config.Duplicates, "HZ_DLQ's duplicate window is set, not left to the server")
}

// A redrive subject is taken only by the consumer it names, in the stream it names.
func TestRedriveSubject(t *testing.T) {
	assert.Equal(t, "hz.redrive.events.hz-worker-ct_entry", RedriveSubject(StreamEvents, "hz-worker-ct_entry"))
	assert.Equal(t, "hz.redrive.alerts.hz-alerts-slack", RedriveSubject(StreamAlerts, "hz-alerts-slack"))
	assert.Equal(t, "hz.redrive.alerts.a_b_c", RedriveSubject(StreamAlerts, "a.b>c"), "one safe token whatever the name")
}

// startJetStreamSync is startJetStream with the embedded server syncing as o says.
func startJetStreamSync(t testing.TB, o embedded.Options) *Conn {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	o.StoreDir = t.TempDir()
	srv, err := embedded.Start(o, log)
	require.NoError(t, err)
	t.Cleanup(srv.Shutdown)
	conn, err := Connect(context.Background(), srv.URL(), "test", log)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(time.Second) })
	require.NoError(t, EnsureStreams(context.Background(), conn.JS, DefaultStreamOptions()))
	return conn
}
