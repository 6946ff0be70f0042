package backfill_test

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/backfill"
	"github.com/hzhook/hzhook/internal/hardenize"
	"github.com/hzhook/hzhook/internal/hardenize/hardenizetest"
	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/receiver"
	"github.com/hzhook/hzhook/internal/receiver/receivertest"
	"github.com/hzhook/hzhook/internal/testenv"
	"github.com/hzhook/hzhook/internal/verify"
)

const (
	org    = "demo"
	hookID = "bfc384726b6447a4b70a171de49e466f"
	secret = "3685c06a966e4d0ea625d0b475719661"
)

// env is a fake Hardenize API whose webhook hook delivers to a real receiver storing in JetStream.
type env struct {
	api  *hardenizetest.Server
	app  *receiver.App
	conn *queue.Conn
	hook hardenize.EventHook
}

func newEnv(t *testing.T) *env {
	t.Helper()
	secrets := receivertest.WriteHooks(t, t.TempDir(), verify.Hook{Org: org, ID: hookID, Secrets: []string{secret}})
	app := receivertest.Start(t, secrets, func(c *receiver.Config) { c.DedupWindow = time.Hour })
	conn, err := queue.Connect(context.Background(), app.NATSURL(), "backfill-test", testenv.DiscardLog())
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(time.Second) })

	api := hardenizetest.NewServer(org)
	t.Cleanup(api.Close)
	hook := api.AddHook(hardenize.EventHook{ID: hookID, Secret: secret, EventTypes: []string{"ct.entry", "pki.cert.new"},
		Status: hardenize.StatusEnabled, Destination: app.WebhookURL()})
	return &env{api: api, app: app, conn: conn, hook: hook}
}

func (e *env) client(t *testing.T) *hardenize.Client {
	t.Helper()
	c, err := hardenize.New(hardenize.Options{BaseURL: e.api.BaseURL(), Org: org, Credentials: e.api.Credentials(),
		Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }})
	require.NoError(t, err)
	return c
}

func (e *env) stored(t *testing.T) uint64 {
	t.Helper()
	s, err := e.conn.JS.Stream(context.Background(), queue.StreamEvents)
	require.NoError(t, err)
	info, err := s.Info(context.Background())
	require.NoError(t, err)
	return info.State.Msgs
}

// addEvents adds n events; every third one shares its createdOn with the one before, so pages end
// inside groups of equal timestamps.
func (e *env) addEvents(t *testing.T, start time.Time, n int) []hardenizetest.Event {
	t.Helper()
	var out []hardenizetest.Event
	at := start
	for i := range n {
		if i%3 != 2 {
			at = at.Add(time.Second)
		}
		typ := "ct.entry"
		if i%4 == 0 {
			typ = "pki.cert.new"
		}
		ev, err := e.api.AddEvent(typ, at)
		require.NoError(t, err)
		out = append(out, ev)
	}
	return out
}

func TestBackfillAfterOutageStoresExactlyTheMissingEvents(t *testing.T) {
	tests := []struct {
		name          string
		scanStream    bool
		wantDup       int
		wantScanFound int
	}{
		{"duplicate window drops webhook copies", false, 35, 0},
		{"stream scan finds webhook copies", true, 0, 35},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			start := time.Now().Add(-72 * time.Hour).UTC()
			evs := e.addEvents(t, start, 95)
			// Webhooks delivered the first 20 and the last 15; the 60 between were lost in an outage.
			for _, ev := range append(append([]hardenizetest.Event{}, evs[:20]...), evs[80:]...) {
				code, err := e.api.Deliver(ctx, hookID, ev)
				require.NoError(t, err)
				require.Equal(t, http.StatusNoContent, code)
			}
			require.EqualValues(t, 35, e.stored(t))

			deps := backfill.Deps{API: e.client(t), Publisher: queue.NewPublisher(e.conn.JS)}
			if tc.scanStream {
				deps.Stream = e.conn.JS
			}
			e.api.Throttle(2) // the API refuses the first requests: retried
			var progress []backfill.Progress
			st, err := backfill.New(deps).Run(ctx, backfill.Options{Org: org, HookID: hookID, Since: start, PageSize: 10,
				Progress: func(p backfill.Progress) { progress = append(progress, p) }})
			require.NoError(t, err)

			assert.Equal(t, 95, st.Events)
			assert.Equal(t, 60, st.Stored)
			assert.Equal(t, tc.wantDup, st.Duplicates)
			assert.Equal(t, tc.wantScanFound, st.AlreadyStored)
			assert.GreaterOrEqual(t, st.Pages, 10, "95 events in pages of 10")
			assert.Equal(t, evs[94].CreatedOn, st.Cursor)
			assert.EqualValues(t, 95, e.stored(t), "every event exactly once")
			require.Len(t, progress, st.Pages)
			assert.True(t, progress[len(progress)-1].Completed)

			again, err := backfill.New(deps).Run(ctx, backfill.Options{Org: org, HookID: hookID, Since: start, PageSize: 10})
			require.NoError(t, err)
			assert.Equal(t, 0, again.Stored, "a second run stores nothing")
			assert.EqualValues(t, 95, e.stored(t))
		})
	}
}

func TestBackfillMessagesLookLikeWebhookDeliveries(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	evs := e.addEvents(t, time.Now().Add(-time.Hour), 1)
	_, err := backfill.New(backfill.Deps{API: e.client(t), Publisher: queue.NewPublisher(e.conn.JS)}).
		Run(ctx, backfill.Options{Org: org, HookID: hookID, Since: evs[0].CreatedOn.Add(-time.Second)})
	require.NoError(t, err)
	s, err := e.conn.JS.Stream(ctx, queue.StreamEvents)
	require.NoError(t, err)
	msg, err := s.GetMsg(ctx, 1)
	require.NoError(t, err)
	assert.Equal(t, queue.Subject(evs[0].Type), msg.Subject)
	assert.Equal(t, string(evs[0].APIBody), string(msg.Data), "the event JSON as the API returned it")
	for h, want := range map[string]string{
		jetstream.MsgIDHeader: queue.MsgID(org, hookID, "10001", nil),
		queue.HeaderSource:    queue.SourceBackfill, queue.HeaderOrg: org, queue.HeaderHookID: hookID,
		queue.HeaderEventID: "10001", queue.HeaderEventType: evs[0].Type,
	} {
		assert.Equal(t, want, msg.Header.Get(h), h)
	}
	assert.NotEmpty(t, msg.Header.Get(queue.HeaderReceivedAt))
}

func TestInterruptedBackfillResumesFromCheckpoint(t *testing.T) {
	e := newEnv(t)
	start := time.Now().Add(-48 * time.Hour).UTC()
	e.addEvents(t, start, 47)
	cp := backfill.FileCheckpoint{Path: filepath.Join(t.TempDir(), "backfill.json")}
	deps := backfill.Deps{API: e.client(t), Publisher: queue.NewPublisher(e.conn.JS)}
	opts := backfill.Options{Org: org, HookID: hookID, Since: start, PageSize: 10, Checkpoint: cp}

	ctx, cancel := context.WithCancel(context.Background())
	opts.Progress = func(p backfill.Progress) {
		if p.Pages == 3 {
			cancel()
		}
	}
	first, err := backfill.New(deps).Run(ctx, opts)
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, 3, first.Pages)
	saved, ok, err := cp.Load(context.Background())
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, first.Cursor, saved.Cursor)
	assert.NotEmpty(t, saved.Seen)

	opts.Progress = nil
	second, err := backfill.New(deps).Run(context.Background(), opts)
	require.NoError(t, err)
	assert.True(t, second.Resumed)
	assert.Equal(t, 47, first.Stored+second.Stored, "no gap")
	assert.Equal(t, 0, second.Duplicates, "no event published twice")
	assert.EqualValues(t, 47, e.stored(t))

	other := opts
	other.Type = "ct.entry"
	_, err = backfill.New(deps).Run(context.Background(), other)
	require.ErrorContains(t, err, "checkpoint is for org")
}

func TestBackfillFiltersByType(t *testing.T) {
	e := newEnv(t)
	start := time.Now().Add(-time.Hour).UTC()
	evs := e.addEvents(t, start, 12)
	want := 0
	for _, ev := range evs {
		if ev.Type == "ct.entry" {
			want++
		}
	}
	st, err := backfill.New(backfill.Deps{API: e.client(t), Publisher: queue.NewPublisher(e.conn.JS)}).
		Run(context.Background(), backfill.Options{Org: org, HookID: hookID, Since: start, Type: "ct.entry", PageSize: 5})
	require.NoError(t, err)
	assert.Equal(t, want, st.Stored)
}
