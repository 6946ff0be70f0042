package intake_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/intake"
	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/testenv"
	"github.com/hzhook/hzhook/internal/verify"
)

const (
	org    = "demo"
	hook   = "bfc384726b6447a4b70a171de49e466f"
	secret = "3685c06a966e4d0ea625d0b475719661"
)

// newIntake verifies with the demo hook's secret at clock now and stores in a real JetStream.
func newIntake(t *testing.T, now time.Time) (*intake.Intake, jetstream.JetStream) {
	t.Helper()
	conn, _ := testenv.JetStream(t)
	store, err := verify.NewStore([]verify.Hook{{Org: org, ID: hook, Secrets: []string{secret}}})
	require.NoError(t, err)
	v := verify.NewVerifier(store, 5*time.Minute, func() time.Time { return now })
	in := intake.New(v, queue.NewPublisher(conn.JS), intake.Options{PublishTimeout: 5 * time.Second, Registerer: prometheus.NewRegistry()})
	return in, conn.JS
}

func event(id int) []byte {
	return fmt.Appendf(nil, `{"id":%d,"type":"ct.entry","createdOn":"2026-01-02T03:04:05Z","apiVersion":"0.14.0","data":{"n":%d}}`, id, id)
}

func stored(t *testing.T, js jetstream.JetStream) uint64 {
	t.Helper()
	s, err := js.Stream(context.Background(), queue.StreamEvents)
	require.NoError(t, err)
	info, err := s.Info(context.Background())
	require.NoError(t, err)
	return info.State.Msgs
}

// Every way a delivery can be refused maps to its reason, and nothing refused is stored.
func TestAcceptRejectsWithAReason(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	in, js := newIntake(t, now)
	body := event(1)
	good := verify.Sign(secret, now, body)
	tests := []struct {
		name   string
		d      intake.Delivery
		reason string
	}{
		{"no org", intake.Delivery{HookID: hook, Signature: good, Body: body}, intake.ReasonMissingMetadata},
		{"no hook", intake.Delivery{Org: org, Signature: good, Body: body}, intake.ReasonMissingMetadata},
		{"no signature", intake.Delivery{Org: org, HookID: hook, Body: body}, intake.ReasonMissingMetadata},
		{"unknown org", intake.Delivery{Org: "other", HookID: hook, Signature: good, Body: body}, intake.ReasonUnknownHook},
		{"unknown hook", intake.Delivery{Org: org, HookID: "nope", Signature: good, Body: body}, intake.ReasonUnknownHook},
		{"malformed signature", intake.Delivery{Org: org, HookID: hook, Signature: "t=1; sha1=00", Body: body}, intake.ReasonMalformedSignature},
		{"wrong secret", intake.Delivery{Org: org, HookID: hook, Signature: verify.Sign("another-secret-0123456789", now, body), Body: body}, intake.ReasonBadSignature},
		{"body changed", intake.Delivery{Org: org, HookID: hook, Signature: good, Body: event(2)}, intake.ReasonBadSignature},
		{"stale", intake.Delivery{Org: org, HookID: hook, Signature: verify.Sign(secret, now.Add(-10*time.Minute), body), Body: body}, intake.ReasonStaleTimestamp},
		{"from the future", intake.Delivery{Org: org, HookID: hook, Signature: verify.Sign(secret, now.Add(10*time.Minute), body), Body: body}, intake.ReasonStaleTimestamp},
		{"stale against the publish time", intake.Delivery{Org: org, HookID: hook, Signature: good, Body: body, PublishedAt: now.Add(time.Hour)}, intake.ReasonStaleTimestamp},
		{"not an event", intake.Delivery{Org: org, HookID: hook, Signature: verify.Sign(secret, now, []byte(`{"id":1}`)), Body: []byte(`{"id":1}`)}, intake.ReasonInvalidEvent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.d.Source = queue.SourceWebhook
			_, err := in.Accept(context.Background(), tc.d)
			var rej *intake.RejectError
			require.ErrorAs(t, err, &rej)
			assert.Equal(t, tc.reason, rej.Reason)
			assert.False(t, errors.Is(err, intake.ErrUnavailable))
			assert.NotContains(t, err.Error(), secret)
		})
	}
	assert.Zero(t, stored(t, js), "nothing refused is stored")
}

// A delivery whose caller went away (a client hanging up, shutdown) is still stored or reported:
// Accept publishes under its own timeout, not the caller's context.
func TestAcceptOutlivesACancelledCaller(t *testing.T) {
	now := time.Now()
	in, js := newIntake(t, now)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	body := event(7)
	res, err := in.Accept(ctx, intake.Delivery{Org: org, HookID: hook, Signature: verify.Sign(secret, now, body), Body: body, Source: queue.SourceWebhook})
	require.NoError(t, err)
	assert.Equal(t, "7", res.Event.ID)
	assert.Equal(t, uint64(1), stored(t, js))
}

// Accept keeps nothing of the body but Result.Event.Data: the caller may reuse its buffer at once,
// and the stored event stays byte for byte what was delivered.
func TestAcceptLetsTheCallerReuseTheBody(t *testing.T) {
	now := time.Now()
	in, js := newIntake(t, now)
	original := event(8)
	body := bytes.Clone(original)
	res, err := in.Accept(context.Background(), intake.Delivery{Org: org, HookID: hook, Signature: verify.Sign(secret, now, body), Body: body, Source: queue.SourceWebhook})
	require.NoError(t, err)
	require.False(t, res.Duplicate)
	for i := range body {
		body[i] = 'x'
	}
	assert.Equal(t, "8", res.Event.ID, "the event's strings are its own")
	assert.Equal(t, "ct.entry", res.Event.Type)
	s, err := js.Stream(context.Background(), queue.StreamEvents)
	require.NoError(t, err)
	m, err := s.GetMsg(context.Background(), 1)
	require.NoError(t, err)
	assert.Equal(t, original, m.Data)
	assert.Equal(t, queue.MsgID(org, hook, "8", original), m.Header.Get("Nats-Msg-Id"))
	assert.Equal(t, queue.SourceWebhook, m.Header.Get(queue.HeaderSource))
}

// A redelivery is accepted again and stored once; a store that cannot take the event is
// ErrUnavailable, never a rejection.
func TestAcceptDuplicatesAndUnavailable(t *testing.T) {
	now := time.Now()
	in, js := newIntake(t, now)
	body := event(9)
	d := intake.Delivery{Org: org, HookID: hook, Signature: verify.Sign(secret, now, body), Body: body, Source: queue.SourcePubSub}
	_, err := in.Accept(context.Background(), d)
	require.NoError(t, err)
	res, err := in.Accept(context.Background(), d)
	require.NoError(t, err)
	assert.True(t, res.Duplicate)
	assert.Equal(t, uint64(1), stored(t, js))

	require.NoError(t, js.DeleteStream(context.Background(), queue.StreamEvents))
	d.Body = event(10)
	d.Signature = verify.Sign(secret, now, d.Body)
	_, err = in.Accept(context.Background(), d)
	require.ErrorIs(t, err, intake.ErrUnavailable)
	var rej *intake.RejectError
	assert.False(t, errors.As(err, &rej))
}
