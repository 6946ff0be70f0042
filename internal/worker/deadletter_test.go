package worker

import (
	"context"
	"log/slog"
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
	"github.com/hzhook/hzhook/internal/dlq"
	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/testenv"
)

// switchSink answers 400 (a permanent failure: dead-lettered at once) until it is fixed, then 204,
// counting what it accepted.
type switchSink struct {
	mu       sync.Mutex
	fixed    bool
	accepted int
}

func (s *switchSink) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.fixed {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	s.accepted++
	w.WriteHeader(http.StatusNoContent)
}

func (s *switchSink) fix() { s.mu.Lock(); s.fixed = true; s.mu.Unlock() }
func (s *switchSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

// Every failure gets a letter of its own, and a redrive reaches only the consumer that failed:
// an event dead-lettered from HZ_EVENTS sequence 1 and the alert at HZ_ALERTS sequence 1 that both
// the webhook and the Slack sink refuse are three letters, as many as the worker logged; once the
// sinks are fixed, redriving the webhook's letter delivers to the webhook and not to Slack again.
func TestEveryFailureHasItsLetterAndRedriveReachesOnlyItsConsumer(t *testing.T) {
	conn, srv := testenv.JetStream(t)
	hookSink, slackSink := &switchSink{}, &switchSink{}
	hook, slack := httptest.NewServer(hookSink), httptest.NewServer(slackSink)
	t.Cleanup(hook.Close)
	t.Cleanup(slack.Close)
	rulesFile := filepath.Join(t.TempDir(), "rules.yaml")
	require.NoError(t, os.WriteFile(rulesFile, []byte("watch:\n  - name: .example.com\n    issuers: [{sha256: ["+strings.Repeat("ab", 32)+"]}]\n"), 0o600))
	cfg := testConfig(t, "--nats-url", srv.URL(), "--backoff", "50ms", "--max-deliver", "3", "--rules", rulesFile, "--types", events.TypeCTEntry,
		"--lint=false") // the lint stage's own alerts and letters are not what this test counts
	cfg.Alerts.WebhookURL, cfg.Alerts.WebhookSecret = hook.URL, "alert-secret-0123456789"
	cfg.Alerts.SlackURL = slack.URL
	require.NoError(t, cfg.Validate())
	var logs testenv.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	app, err := New(ctx, cfg, Deps{Log: slog.New(slog.NewJSONHandler(&logs, nil)), Registry: prometheus.NewRegistry()})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })

	good, err := events.Sample(events.TypeCTEntry, 2, time.Now())
	require.NoError(t, err)
	publishEvent(t, conn, events.TypeCTEntry, 1, tamperSHA256(t, good)) // HZ_EVENTS seq 1: a permanent failure
	publishEvent(t, conn, events.TypeCTEntry, 2, good)                  // its finding is HZ_ALERTS seq 1

	letters := dlq.New(conn.JS, dlq.Options{})
	require.Eventually(t, func() bool {
		p, err := letters.List(ctx, dlq.Filter{}, 1, 10)
		return err == nil && p.Total == 3
	}, 30*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool {
		return settledOn(conn, queue.StreamAlerts, SinkConsumer(alerts.KindWebhook)) && settledOn(conn, queue.StreamAlerts, SinkConsumer(alerts.KindSlack))
	}, 10*time.Second, 20*time.Millisecond)
	p, err := letters.List(ctx, dlq.Filter{}, 1, 10)
	require.NoError(t, err)
	require.Equal(t, 3, p.Total, "no letter is lost to another's id")
	assert.Equal(t, 3, strings.Count(logs.String(), `"msg":"event dead-lettered"`), "as many letters as terminated messages")
	byConsumer := map[string]uint64{}
	for _, l := range p.Items {
		byConsumer[l.Consumer] = l.OriginalSeq
	}
	assert.Equal(t, map[string]uint64{
		ConsumerName([]string{events.TypeCTEntry}): 1,
		SinkConsumer(alerts.KindWebhook):           1,
		SinkConsumer(alerts.KindSlack):             1,
	}, byConsumer, "the same original sequence, three different failures")

	hookSink.fix()
	slackSink.fix()
	b, err := letters.RedriveMatching(ctx, dlq.Filter{Consumer: SinkConsumer(alerts.KindWebhook)}, false)
	require.NoError(t, err)
	require.Equal(t, 1, b.Done)
	require.Eventually(t, func() bool { return hookSink.count() == 1 }, 20*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool {
		return settledOn(conn, queue.StreamAlerts, SinkConsumer(alerts.KindSlack)) && settledOn(conn, queue.StreamAlerts, SinkConsumer(alerts.KindWebhook))
	}, 10*time.Second, 20*time.Millisecond)
	assert.Zero(t, slackSink.count(), "Slack refused the alert once and was not sent it again by the webhook's redrive")

	b, err = letters.RedriveMatching(ctx, dlq.Filter{Consumer: SinkConsumer(alerts.KindSlack)}, false)
	require.NoError(t, err)
	require.Equal(t, 1, b.Done)
	require.Eventually(t, func() bool { return slackSink.count() == 1 }, 20*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool { return settledOn(conn, queue.StreamAlerts, SinkConsumer(alerts.KindWebhook)) }, 10*time.Second, 20*time.Millisecond)
	assert.Equal(t, 1, hookSink.count(), "and the Slack redrive did not reach the webhook")
}
