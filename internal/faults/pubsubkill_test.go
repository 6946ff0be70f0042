package faults

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"sync/atomic"
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

// Scenario 14: kill -9 a receiver taking events from the Pub/Sub subscription while messages are
// in flight: messages it stored in JetStream but had not acked yet on Pub/Sub come back to the
// restarted receiver, and each is stored once (same Nats-Msg-Id); nothing published is lost.
func TestKillPubSubReceiverBetweenStoreAndAck(t *testing.T) {
	const n = 2000
	host := pubsubtest.EmulatorHost(t)
	topic := pubsubtest.NewTopic(t)
	s := startStack(t, stackOptions{receiverEnv: []string{
		"HZ_SOURCE=webhook,pubsub", "PUBSUB_EMULATOR_HOST=" + host,
		"HZ_PUBSUB_PROJECT=" + topic.Project, "HZ_PUBSUB_SUBSCRIPTION=" + topic.Subscription, "HZ_LOG_LEVEL=info",
		// A small window of leased messages, each leased 10s at a time. The emulator does not see
		// that the killed receiver's stream is gone: it keeps handing it messages, which come back
		// only when their lease ends (the first lease of a stream is --pubsub-max-ack-extension).
		"HZ_PUBSUB_MAX_OUTSTANDING_MESSAGES=100", "HZ_PUBSUB_MAX_CALLBACKS=16", "HZ_PUBSUB_MAX_ACK_EXTENSION=10s",
	}})
	bodies := sampleBodies(t, events.TypeCTEntry, n)
	var sent atomic.Int64
	go func() {
		for _, b := range bodies {
			topic.Publish(b, pubsubtest.Signed(org, hook, secret, time.Now(), b))
			sent.Add(1)
		}
	}()
	require.Eventually(t, func() bool { return len(s.storedIDs()) >= n/3 }, 3*time.Minute, 50*time.Millisecond)
	s.receiver.Kill()
	atKill := len(s.storedIDs())
	require.NoError(t, s.receiver.Start())
	waitHTTP(t, s.readyURL, http.StatusOK, time.Minute)

	metrics := s.readyURL[:len(s.readyURL)-len("/readyz")] + "/metrics"
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("published %d, stored %d of %d; receiver metrics: received %.0f, acked %.0f, nacked %.0f, rejected %.0f; log:\n%s", sent.Load(), len(s.storedIDs()), n,
				labelled(t, metrics, "hz_pubsub_received_total", ""), labelled(t, metrics, "hz_pubsub_acked_total", `outcome="stored"`),
				labelled(t, metrics, "hz_pubsub_nacked_total", `reason="unavailable"`), labelled(t, metrics, "hz_intake_rejected_total", `reason="stale_timestamp",source="pubsub"`),
				tail(s.receiver.Log, 30))
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
		Note: fmt.Sprintf("killed with %d stored; %0.f redeliveries of stored events answered as duplicates after the restart", atKill, redelivered)})
	assert.Less(t, atKill, n, "killed with messages still to take")
	assert.Zero(t, lost, "every published message is stored")
	assert.Zero(t, dups, "a redelivered message is stored once")
	if redelivered == 0 {
		t.Log("no stored-but-unacked message came back this time: the window was missed, the other counts still hold")
	}
}
