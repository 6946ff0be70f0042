package worker

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/alerts"
	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/testenv"
	"github.com/hzhook/hzhook/internal/verify"
)

// webhookSink records alert deliveries, answering 503 to the first failures requests.
type webhookSink struct {
	mu       sync.Mutex
	failures int
	keys     []string // Idempotency-Key of every accepted delivery
	attempts int
	bodies   [][]byte
	sigs     []string
}

func (s *webhookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts++
	if s.failures > 0 {
		s.failures--
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	s.keys = append(s.keys, r.Header.Get(alerts.HeaderIdempotencyKey))
	s.bodies = append(s.bodies, body)
	s.sigs = append(s.sigs, r.Header.Get(alerts.HeaderSignature))
	w.WriteHeader(http.StatusNoContent)
}

func (s *webhookSink) accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.keys)
}

// A worker with a rules file and a webhook sink: the findings of a ct.entry and a pki.cert.new
// reach the webhook once each, signed, through HZ_ALERTS, even though the webhook fails twice
// first; the last-event gauge shows when each type was last received.
func TestWorkerAlertsFindingsToWebhook(t *testing.T) {
	conn, srv := testenv.JetStream(t)
	sink := &webhookSink{failures: 2}
	hook := httptest.NewServer(sink)
	t.Cleanup(hook.Close)
	// The sample certificates chain to a generated CA: an allowlist naming another CA certificate
	// makes each of them an unexpectedIssuer; the pki.cert.new sample is also ctNonCompliant. Both
	// lack what the Baseline Requirements ask of a real one (AIA, policies): a lintError each,
	// from the lint stage.
	rulesFile := filepath.Join(t.TempDir(), "rules.yaml")
	require.NoError(t, os.WriteFile(rulesFile, []byte("watch:\n  - name: .example.com\n    issuers: [{sha256: ["+strings.Repeat("ab", 32)+"]}]\n"), 0o600))

	cfg := testConfig(t, "--nats-url", srv.URL(), "--backoff", "50ms", "--max-deliver", "5",
		"--rules", rulesFile, "--alert-log")
	cfg.Alerts.WebhookURL, cfg.Alerts.WebhookSecret = hook.URL, "alert-secret-0123456789" // the secret is env only
	require.NoError(t, cfg.Validate())
	reg := prometheus.NewRegistry()
	ctx, cancel := context.WithCancel(context.Background())
	app, err := New(ctx, cfg, Deps{Log: testenv.DiscardLog(), Registry: reg})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })

	received := time.Now().Add(-time.Minute).UTC()
	for i, typ := range []string{events.TypeCTEntry, events.TypeCertNew} {
		body, err := events.Sample(typ, int64(i+1), time.Now())
		require.NoError(t, err)
		publishEvent(t, conn, typ, i+1, body)
		// Redelivery of the same event (another message id) changes nothing.
		publishEvent(t, conn, typ, i+11, body)
	}
	require.Eventually(t, func() bool { return sink.accepted() == 5 }, 30*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool { return settledOn(conn, queue.StreamAlerts, SinkConsumer(alerts.KindWebhook)) }, 10*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool { return settledOn(conn, queue.StreamAlerts, SinkConsumer(alerts.KindLog)) }, 10*time.Second, 20*time.Millisecond)

	sink.mu.Lock()
	defer sink.mu.Unlock()
	assert.Equal(t, 7, sink.attempts, "two 503s, then five deliveries")
	types := map[string]int{}
	store, err := verify.NewStore([]verify.Hook{{Org: "me", ID: "alerts", Secrets: []string{"alert-secret-0123456789"}}})
	require.NoError(t, err)
	v := verify.NewVerifier(store, 5*time.Minute, time.Now)
	for i, body := range sink.bodies {
		var a alerts.Alert
		require.NoError(t, json.Unmarshal(body, &a))
		types[string(a.Type)]++
		assert.Equal(t, a.ID, sink.keys[i])
		require.NoError(t, v.Verify("me", "alerts", sink.sigs[i], body))
	}
	assert.Equal(t, map[string]int{"unexpectedIssuer": 2, "ctNonCompliant": 1, "lintError": 2}, types)

	mfs, err := reg.Gather()
	require.NoError(t, err)
	gauges := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() == "hz_worker_last_event_timestamp_seconds" {
			for _, m := range mf.GetMetric() {
				gauges[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
			}
		}
	}
	require.Contains(t, gauges, events.TypeCTEntry)
	require.Contains(t, gauges, events.TypeCertNew)
	assert.Greater(t, gauges[events.TypeCTEntry], float64(received.Unix()))
}

// settledOn reports whether a consumer of stream has delivered something and has nothing left.
func settledOn(conn *queue.Conn, stream, consumer string) bool {
	c, err := conn.JS.Consumer(context.Background(), stream, consumer)
	if err != nil {
		return false
	}
	info, err := c.Info(context.Background())
	return err == nil && info.Delivered.Stream > 0 && info.NumPending == 0 && info.NumAckPending == 0
}

// An event whose findings were stored but whose alerts could not be published (HZ_ALERTS took no
// messages) is dead-lettered after its attempts; the alert sweep publishes those alerts once
// HZ_ALERTS takes messages again, with the expiry scan off and no redrive.
func TestAlertSweepPublishesWhatADeadLetteredEventLeftBehind(t *testing.T) {
	conn, srv := testenv.JetStream(t)
	rulesFile := filepath.Join(t.TempDir(), "rules.yaml")
	require.NoError(t, os.WriteFile(rulesFile, []byte("watch:\n  - name: .example.com\n    issuers: [{sha256: ["+strings.Repeat("ab", 32)+"]}]\n"), 0o600))
	cfg := testConfig(t, "--nats-url", srv.URL(), "--backoff", "50ms", "--max-deliver", "2", "--lint=false",
		"--rules", rulesFile, "--expiry-scan-every", "0", "--alert-sweep-every", "1s")
	ctx, cancel := context.WithCancel(context.Background())
	app, err := New(ctx, cfg, Deps{Log: testenv.DiscardLog(), Registry: prometheus.NewRegistry()})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })

	alertStream, err := conn.JS.Stream(ctx, queue.StreamAlerts)
	require.NoError(t, err)
	alertCfg := alertStream.CachedInfo().Config
	moved := alertCfg
	moved.Subjects = []string{"test.elsewhere.>"}
	_, err = conn.JS.UpdateStream(ctx, moved)
	require.NoError(t, err, "HZ_ALERTS takes no alerts")

	body, err := events.Sample(events.TypeCTEntry, 1, time.Now())
	require.NoError(t, err)
	publishEvent(t, conn, events.TypeCTEntry, 1, body)
	dlqMsgs := func() uint64 {
		s, err := conn.JS.Stream(ctx, queue.StreamDLQ)
		require.NoError(t, err)
		return s.CachedInfo().State.Msgs
	}
	require.Eventually(t, func() bool { return dlqMsgs() == 1 }, 30*time.Second, 20*time.Millisecond, "the event is dead-lettered")

	_, err = conn.JS.UpdateStream(ctx, alertCfg)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		info, err := alertStream.Info(ctx)
		return err == nil && info.State.Msgs == 1
	}, 30*time.Second, 50*time.Millisecond, "the sweep publishes the stored finding's alert")
	msg, err := alertStream.GetMsg(ctx, 1)
	require.NoError(t, err)
	assert.Equal(t, string(alerts.Subject("unexpectedIssuer")), msg.Subject)
	assert.Equal(t, uint64(1), dlqMsgs(), "the letter stays, for the operator to redrive or purge")
}
