package pubsub

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/intake"
	"github.com/hzhook/hzhook/internal/pubsub/pubsubtest"
	"github.com/hzhook/hzhook/internal/queue"
)

const wait = 30 * time.Second

func TestGenuineMessagesAreStoredByteIdenticalAndAcked(t *testing.T) {
	f := newFixture(t, nil)
	bodies := map[string][]byte{}
	for i, typ := range []string{events.TypeTest, events.TypeCTEntry, events.TypeCertNew} {
		bodies[typ] = sample(t, typ, time.Now().UnixNano()+int64(i))
		f.publishSigned(bodies[typ])
	}
	require.Eventually(t, func() bool { return f.acked(OutcomeStored) == 3 }, wait, 20*time.Millisecond)

	stored := f.messages(queue.StreamEvents)
	require.Len(t, stored, 3)
	for _, m := range stored {
		typ := m.Header.Get(queue.HeaderEventType)
		t.Run(typ, func(t *testing.T) {
			assert.Equal(t, bodies[typ], m.Data, "stored byte for byte")
			assert.Equal(t, queue.Subject(typ), m.Subject)
			assert.Equal(t, queue.SourcePubSub, m.Header.Get(queue.HeaderSource))
			assert.Equal(t, testOrg, m.Header.Get(queue.HeaderOrg))
			assert.Equal(t, testHook, m.Header.Get(queue.HeaderHookID))
			assert.NotEmpty(t, m.Header.Get(queue.HeaderSignature))
		})
	}
	assert.Zero(t, f.count(queue.StreamDLQ))

	f.stop()
	assert.Zero(t, f.topic.Pending(), "every message acked: nothing left to redeliver")
	if !testing.Short() {
		// An unacked message would come back once its lease (the 10s ack deadline) ran out.
		time.Sleep(pubsubtest.AckDeadline + time.Second)
		assert.Zero(t, f.topic.Pending(), "no redelivery after the ack deadline")
	}
}

func TestRejectedMessagesAreDeadLetteredAndAcked(t *testing.T) {
	f := newFixture(t, nil)
	now := time.Now()
	body := func() []byte { return sample(t, events.TypeTest, now.UnixNano()) }
	tests := []struct {
		name   string
		body   []byte
		attrs  func(b []byte) map[string]string
		reason string
	}{
		{"bad signature", body(), func(b []byte) map[string]string {
			return pubsubtest.Signed(testOrg, testHook, "0f1e2d3c4b5a69788796a5b4c3d2e1f0", now, b)
		}, intake.ReasonBadSignature},
		{"unknown hook", body(), func(b []byte) map[string]string {
			return pubsubtest.Signed(testOrg, "00000000000000000000000000000000", testSecret, now, b)
		}, intake.ReasonUnknownHook},
		{"stale timestamp", body(), func(b []byte) map[string]string {
			return pubsubtest.Signed(testOrg, testHook, testSecret, now.Add(-time.Hour), b)
		}, intake.ReasonStaleTimestamp},
		{"malformed signature", body(), func(b []byte) map[string]string {
			a := pubsubtest.Signed(testOrg, testHook, testSecret, now, b)
			a[queue.HeaderSignature] = "garbage"
			return a
		}, intake.ReasonMalformedSignature},
		{"missing attributes", body(), func([]byte) map[string]string {
			return map[string]string{queue.HeaderOrg: testOrg}
		}, intake.ReasonMissingMetadata},
		{"not an event", []byte(`{"hello":"world"}`), func(b []byte) map[string]string {
			return pubsubtest.Signed(testOrg, testHook, testSecret, now, b)
		}, intake.ReasonInvalidEvent},
	}
	ids := map[string]int{}
	for i, tc := range tests {
		ids[f.topic.Publish(tc.body, tc.attrs(tc.body))] = i
	}
	require.Eventually(t, func() bool { return f.acked(OutcomeDeadLettered) == float64(len(tests)) }, wait, 20*time.Millisecond)

	dead := f.messages(queue.StreamDLQ)
	require.Len(t, dead, len(tests))
	byID := map[string]int{}
	for i, m := range dead {
		byID[m.Header.Get(HeaderMessageID)] = i
	}
	for id, i := range ids {
		tc := tests[i]
		t.Run(tc.name, func(t *testing.T) {
			j, ok := byID[id]
			require.True(t, ok, "dead letter of message %s", id)
			m := dead[j]
			assert.Equal(t, "hz.dlq."+DeadLetterStage, m.Subject)
			assert.Equal(t, tc.body, m.Data, "kept byte for byte")
			assert.Equal(t, tc.reason, m.Header.Get(queue.HeaderDLQReason))
			assert.Equal(t, queue.ClassRejected, m.Header.Get(queue.HeaderDLQClass))
			assert.Equal(t, queue.SourcePubSub, m.Header.Get(queue.HeaderSource))
			assert.Equal(t, testOrg, m.Header.Get(queue.HeaderOrg))
			assert.NotEmpty(t, m.Header.Get(queue.HeaderDLQError))
			assert.NotContains(t, m.Header.Get(queue.HeaderDLQError), testSecret)
			assert.Equal(t, float64(1), value(f.src.m.rejected.WithLabelValues(tc.reason)))
		})
	}
	assert.Zero(t, f.count(queue.StreamEvents), "nothing unverified reaches HZ_EVENTS")

	f.stop()
	assert.Zero(t, f.topic.Pending(), "rejected messages are acked, never looping")
}

// A receiver that comes back after an outage longer than the tolerance stores the backlog Pub/Sub kept
// for it: each message is judged by when Hardenize published it. A message signed long before it was
// published (a replay) is still stale; see TestRejectedMessagesAreDeadLetteredAndAcked.
func TestBacklogOlderThanToleranceIsStored(t *testing.T) {
	anHourLate := func() time.Time { return time.Now().Add(time.Hour) }
	f := newFixtureWith(t, fixtureOptions{now: anHourLate})
	body := sample(t, events.TypeCTEntry, time.Now().UnixNano())
	f.publishSigned(body)
	require.Eventually(t, func() bool { return f.acked(OutcomeStored) == 1 }, wait, 20*time.Millisecond)
	stored := f.messages(queue.StreamEvents)
	require.Len(t, stored, 1)
	assert.Equal(t, body, stored[0].Data)
	assert.Zero(t, f.count(queue.StreamDLQ))
	assert.Equal(t, float64(1), value(f.src.m.ageSeconds), "the message's age is observed")
}

func TestJetStreamDownNacksUntilBackThenStoresEverythingOnce(t *testing.T) {
	f := newFixture(t, nil)
	port := f.nats.Port()
	f.nats.Shutdown()
	require.Eventually(t, func() bool { return !f.conn.Ready() }, wait, 10*time.Millisecond)

	const n = 5
	var bodies [][]byte
	for i := range n {
		b := sample(t, events.TypeCTEntry, time.Now().UnixNano()+int64(i))
		bodies = append(bodies, b)
		f.publishSigned(b)
	}
	require.Eventually(t, func() bool { return f.nacked(NackUnavailable) >= 2*n }, wait, 10*time.Millisecond,
		"messages are nacked and redelivered while JetStream is down")
	assert.Zero(t, f.ackedTotal(), "none acked before it is stored")

	f.startNATS(port)
	require.Eventually(t, func() bool { return f.acked(OutcomeStored)+f.acked(OutcomeDuplicate) >= n }, wait, 20*time.Millisecond)

	stored := f.messages(queue.StreamEvents)
	require.Len(t, stored, n, "none lost, each stored once")
	got := map[string]bool{}
	for _, m := range stored {
		got[string(m.Data)] = true
	}
	for _, b := range bodies {
		assert.True(t, got[string(b)])
	}
	assert.Zero(t, f.count(queue.StreamDLQ))

	f.stop()
	assert.Zero(t, f.topic.Pending())
}

func TestSameMessagePublishedTwiceIsStoredOnce(t *testing.T) {
	f := newFixture(t, nil)
	body := sample(t, events.TypeCertNew, time.Now().UnixNano())
	attrs := pubsubtest.Signed(testOrg, testHook, testSecret, time.Now(), body)
	first := f.topic.Publish(body, attrs)
	second := f.topic.Publish(body, attrs)
	require.NotEqual(t, first, second, "two Pub/Sub messages")

	require.Eventually(t, func() bool { return f.ackedTotal() == 2 }, wait, 20*time.Millisecond)
	assert.Equal(t, float64(1), f.acked(OutcomeStored))
	assert.Equal(t, float64(1), f.acked(OutcomeDuplicate))
	stored := f.messages(queue.StreamEvents)
	require.Len(t, stored, 1)
	assert.Equal(t, body, stored[0].Data)

	f.stop()
	assert.Zero(t, f.topic.Pending())
}

func TestReadinessFollowsTheSubscription(t *testing.T) {
	f := newFixture(t, nil)
	require.Eventually(t, func() bool { return f.src.Ready() == nil }, wait, 20*time.Millisecond)

	f.topic.DeleteSubscription()
	require.Eventually(t, func() bool {
		err := f.src.Ready()
		return err != nil && strings.Contains(err.Error(), "subscription not found")
	}, wait, 20*time.Millisecond)

	require.Eventually(t, func() bool { return value(f.src.m.receiveErrors) >= 1 }, wait, 20*time.Millisecond,
		"the stream failed too, and is retried")

	f.topic.CreateSubscription()
	require.Eventually(t, func() bool { return f.src.Ready() == nil }, 2*wait, 50*time.Millisecond)
	f.publishSigned(sample(t, events.TypeTest, 1))
	require.Eventually(t, func() bool { return f.acked(OutcomeStored) == 1 }, wait, 20*time.Millisecond, "receiving again")

	f.stop()
	assert.EqualError(t, f.src.Ready(), "pubsub source stopping")
}

func TestShutdownFinishesInFlightMessages(t *testing.T) {
	block := make(chan struct{})
	f := newFixture(t, nil, func(Acceptor) Acceptor {
		return acceptorFunc(func(ctx context.Context, d intake.Delivery) (intake.Result, error) {
			<-block // an event half-way into the stream when shutdown begins
			return intake.Result{}, nil
		})
	})
	f.publishSigned(sample(t, events.TypeTest, 1))
	require.Eventually(t, func() bool { return value(f.src.m.inFlight) == 1 }, wait, 10*time.Millisecond)

	stopped := make(chan struct{})
	go func() { f.stop(); close(stopped) }()
	require.Eventually(t, func() bool { return f.src.Ready() != nil }, wait, 10*time.Millisecond)
	select {
	case <-stopped:
		t.Fatal("Run returned while a message was still being handled")
	default:
	}
	close(block)
	<-stopped
	assert.Equal(t, float64(1), f.acked(OutcomeStored), "the in-flight message was finished and acked")
	assert.Zero(t, f.topic.Pending())
}

type acceptorFunc func(context.Context, intake.Delivery) (intake.Result, error)

func (a acceptorFunc) Accept(ctx context.Context, d intake.Delivery) (intake.Result, error) {
	return a(ctx, d)
}
