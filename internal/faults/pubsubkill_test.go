package faults

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/pubsub/pubsubtest"
)

// labelled reads the sample of name{labels} from the /metrics at url (0 when absent).
func labelled(t *testing.T, url, name, labels string) float64 {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	series := name
	if labels != "" {
		series += "{" + labels + "}"
	}
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindSubmatch(b)
	if m == nil {
		return 0
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	require.NoError(t, err)
	return v
}

// Scenario 14: kill -9 a receiver taking events from the Pub/Sub subscription between the
// JetStream ack and the Pub/Sub ack. The receiver reaches the emulator through a proxy that holds
// back what the receiver sends (its acks) for a second before the kill, while the receiver goes on
// storing the messages it already has: those are stored in JetStream and not acked on Pub/Sub.
// They come back to the restarted receiver when their lease ends, and each is stored once (same
// Nats-Msg-Id, answered as a duplicate); nothing published is lost.
func TestKillPubSubReceiverBetweenStoreAndAck(t *testing.T) {
	const n = 2000
	topic := pubsubtest.NewTopic(t)
	proxy := startHoldingProxy(t, pubsubtest.EmulatorHost(t))
	t.Cleanup(proxy.Release)
	// The whole backlog first, so that the receiver always has messages in hand.
	bodies := sampleBodies(t, events.TypeCTEntry, n)
	var wg sync.WaitGroup
	for k := range 8 {
		wg.Go(func() {
			for i := k; i < n; i += 8 {
				topic.Publish(bodies[i], pubsubtest.Signed(org, hook, secret, time.Now(), bodies[i]))
			}
		})
	}
	wg.Wait()
	s := startStack(t, stackOptions{receiverEnv: []string{
		"HZ_SOURCE=webhook,pubsub", "PUBSUB_EMULATOR_HOST=" + proxy.Addr(),
		"HZ_PUBSUB_PROJECT=" + topic.Project, "HZ_PUBSUB_SUBSCRIPTION=" + topic.Subscription, "HZ_LOG_LEVEL=info",
		// A small window of leased messages, each leased 10s at a time: those the killed receiver
		// held come back 10 s after its last extension.
		"HZ_PUBSUB_MAX_OUTSTANDING_MESSAGES=100", "HZ_PUBSUB_MAX_CALLBACKS=16", "HZ_PUBSUB_MAX_ACK_EXTENSION=10s",
	}})
	require.Eventually(t, func() bool { return len(s.storedIDs()) >= n/3 }, 3*time.Minute, 50*time.Millisecond)
	proxy.Hold()
	held := len(s.storedIDs())
	time.Sleep(time.Second)
	atKill := len(s.storedIDs())
	s.receiver.Kill()
	proxy.Release()
	require.Greater(t, atKill, held, "the receiver stored messages whose acks were held back")
	require.NoError(t, s.receiver.Start())
	waitHTTP(t, s.readyURL, http.StatusOK, time.Minute)

	metrics := s.readyURL[:len(s.readyURL)-len("/readyz")] + "/metrics"
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("stored %d of %d; receiver metrics: received %.0f, acked %.0f, nacked %.0f, rejected %.0f; log:\n%s", len(s.storedIDs()), n,
				labelled(t, metrics, "hz_pubsub_received_total", ""), labelled(t, metrics, "hz_pubsub_acked_total", `outcome="stored"`),
				labelled(t, metrics, "hz_pubsub_nacked_total", `reason="unavailable"`), labelled(t, metrics, "hz_intake_rejected_total", `reason="stale_timestamp",source="pubsub"`),
				s.receiver.LogTail(30))
		}
	})
	require.Eventually(t, func() bool { return len(s.storedIDs()) == n }, 5*time.Minute, time.Second, "every published event is stored")
	require.Eventually(t, func() bool { return topic.Pending() == 0 }, 2*time.Minute, time.Second, "and acked")
	ids := s.storedIDs()
	published := map[int]bool{}
	for i := 1; i <= n; i++ {
		published[i] = true
	}
	lost, dups := compare(n, published, ids)
	redelivered := labelled(t, metrics, "hz_intake_duplicates_total", `source="pubsub"`)
	record(row{N: 14, Scenario: "kill -9 a Pub/Sub receiver between the JetStream ack and the Pub/Sub ack", Sent: n, NoContent: n,
		Stored: len(ids), Lost: lost, Duplicates: dups,
		Note: fmt.Sprintf("acks held from %d stored, killed at %d; %.0f redelivered messages answered as duplicates after the restart", held, atKill, redelivered)})
	assert.Less(t, atKill, n, "killed with messages still to take")
	assert.Zero(t, lost, "every published message is stored")
	assert.Zero(t, dups, "a redelivered message is stored once")
	assert.Positive(t, redelivered, "messages stored before the kill came back and were answered as duplicates")
}
