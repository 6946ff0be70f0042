package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/events"
)

// durableNATS is the stack option of a nats-server that syncs every write before acknowledging it
// (as deploy/k8s configures it), with its monitoring endpoint on monitorPort, and a receiver that
// group-commits (an external single-node server that syncs always, as the README prescribes).
func durableNATS(t *testing.T, monitorPort int) stackOptions {
	t.Helper()
	conf := filepath.Join(t.TempDir(), "nats.conf")
	require.NoError(t, os.WriteFile(conf, []byte("jetstream {\n  sync_interval: always\n}\n"), 0o600))
	return stackOptions{
		natsArgs:    []string{"-c", conf, "-m", strconv.Itoa(monitorPort)},
		receiverEnv: []string{"HZ_GROUP_COMMIT=on"},
	}
}

// syncAlways reads the running nats-server's JetStream configuration from its /varz.
func syncAlways(t *testing.T, monitorPort int) bool {
	t.Helper()
	resp, err := http.Get("http://" + addr(monitorPort) + "/varz")
	require.NoError(t, err)
	defer resp.Body.Close()
	var v struct {
		JetStream struct {
			Config struct {
				SyncAlways bool `json:"sync_always"`
			} `json:"config"`
		} `json:"jetstream"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&v))
	return v.JetStream.Config.SyncAlways
}

// metric reads one unlabelled sample from the receiver's /metrics.
func (s *stack) metric(name string) float64 {
	s.t.Helper()
	resp, err := http.Get(strings.TrimSuffix(s.readyURL, "/readyz") + "/metrics")
	require.NoError(s.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(s.t, err)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindSubmatch(b)
	require.NotNil(s.t, m, "%s in /metrics", name)
	v, err := strconv.ParseFloat(string(m[1]), 64)
	require.NoError(s.t, err)
	return v
}

// Scenario 6: kill -9 nats-server itself under load, with sync always and group commit. Every
// event answered 204 before the kill is in HZ_EVENTS after the restart: the acknowledgement of a
// batch came only after its sync. (kill -9 spares the page cache; what it proves is that nothing
// was acknowledged before it was written and that the server recovers its store, partial batches
// included. A power cut is not simulated.)
func TestKillNATSUnderLoad(t *testing.T) {
	const n = 6000
	monitor := freePort(t)
	s := startStack(t, durableNATS(t, monitor))
	require.True(t, syncAlways(t, monitor), "the running server syncs every write")
	snd := &sender{url: s.webhookURL, org: org, hook: hook, secret: secret, body: bodyOf(sampleBodies(t, events.TypeCTEntry, n))}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	done := make(chan struct{})
	go func() { snd.run(ctx, n, 32, 0); close(done) }()

	require.Eventually(t, func() bool { return snd.count204() >= n/3 }, 3*time.Minute, time.Millisecond)
	batches, batched := s.metric("hz_queue_batch_messages_count"), s.metric("hz_queue_batch_messages_sum")
	s.nats.Kill()
	killedAt := time.Now()
	at204 := snd.count204()
	time.Sleep(time.Second)
	require.NoError(t, s.nats.Start())
	<-done
	require.NoError(t, ctx.Err(), "sender finished")
	require.True(t, syncAlways(t, monitor), "still syncing every write after the restart")

	cutOff := 0 // requests in flight when the server died, not answered 204
	for _, a := range snd.snapshot() {
		if a.start.Before(killedAt) && a.start.Add(a.took).After(killedAt) && a.code != http.StatusNoContent {
			cutOff++
		}
	}
	stored := s.storedIDs()
	lost, dups := compare(n, snd.accepted, stored)
	record(row{N: 6, Scenario: "kill -9 nats-server under load (sync always, group commit)", Sent: n, NoContent: snd.count204(), Stored: len(stored), Lost: lost, Duplicates: dups,
		Note: fmt.Sprintf("killed after %d 204s, %d requests cut off; %.1f events per batch before the kill", at204, cutOff, batched/max(batches, 1))})
	assert.Positive(t, cutOff, "the kill hit requests in flight")
	assert.Greater(t, batched/max(batches, 1), 1.0, "deliveries were group-committed")
	assert.Equal(t, n, snd.count204())
	assert.Zero(t, lost, "every 204 is in HZ_EVENTS after the restart")
	assert.Zero(t, dups, "each once")
	assert.Len(t, stored, n)
}
