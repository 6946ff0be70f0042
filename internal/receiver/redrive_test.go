package receiver

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/apiwire"
	"github.com/hzhook/hzhook/internal/config"
	"github.com/hzhook/hzhook/internal/dlq"
	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/handlers"
	"github.com/hzhook/hzhook/internal/handlers/adminapi"
	"github.com/hzhook/hzhook/internal/pubsub/pubsubtest"
	"github.com/hzhook/hzhook/internal/queue"
)

// A Pub/Sub message signed with a secret the receiver does not know is dead-lettered as rejected.
// Redriving it through the admin API hands it to the receiver's verification again: while the
// secret is unknown it is refused (409) and nothing enters HZ_EVENTS; once the secrets file holds
// the secret it passes and is stored byte for byte, and the letter is gone.
func TestRejectedLetterIsRedrivenOnlyThroughVerification(t *testing.T) {
	host := pubsubtest.EmulatorHost(t)
	topic := pubsubtest.NewTopic(t)
	dir := t.TempDir()
	h := &harness{t: t, natsDir: filepath.Join(dir, "nats"), secrets: filepath.Join(dir, "hooks.yaml")}
	h.writeSecrets(testSecret)
	h.startNATS(0)
	t.Cleanup(func() { h.nats.Shutdown() })

	var cfg Config
	env := map[string]string{"PUBSUB_EMULATOR_HOST": host, "HZ_SOURCE": "pubsub"}
	set := config.NewSet("receiver", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	Bind(set, &cfg)
	require.NoError(t, set.Parse([]string{
		"--pubsub-destination", writeDestination(t, topic), "--secrets-file", h.secrets, "--secrets-reload", "50ms",
		"--nats-url", h.nats.URL(), "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--data-dir", dir,
	}))
	ctx, cancel := context.WithCancel(context.Background())
	app, err := New(ctx, cfg, Deps{Log: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry()})
	require.NoError(t, err)
	h.app, h.cancel, h.done = app, cancel, make(chan error, 1)
	go func() { h.done <- app.Run(ctx) }()
	t.Cleanup(h.stop)
	conn, err := queue.Connect(ctx, h.nats.URL(), "test", slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(time.Second) })
	h.conn, h.js = conn, conn.JS
	h.waitReady()

	// The worker's admin API, as the worker wires it.
	e := handlers.NewAdminServer(prometheus.NewRegistry(), prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	const token = "redrive-test-token"
	adminapi.RegisterDLQ(e.Group("/api/v1", handlers.BearerToken(token)), dlq.New(conn.JS, dlq.Options{Reverifier: queue.NewReverifyClient(conn.NC)}))
	api := httptest.NewServer(e)
	t.Cleanup(api.Close)
	redrive := func(seq uint64) (int, string) {
		req, err := http.NewRequest(http.MethodPost, api.URL+"/api/v1/dlq/"+strconv.FormatUint(seq, 10)+"/redrive", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}

	body := sample(t, events.TypeCTEntry, time.Now().UnixNano())
	topic.Publish(body, pubsubtest.Signed(testOrg, testHook, newSecret, time.Now(), body)) // forged: newSecret is unknown
	letters := dlq.New(conn.JS, dlq.Options{})
	var seq uint64
	require.Eventually(t, func() bool {
		p, err := letters.List(ctx, dlq.Filter{Class: queue.ClassRejected}, 1, 10)
		if err != nil || p.Total != 1 {
			return false
		}
		seq = p.Items[0].Seq
		return true
	}, 30*time.Second, 20*time.Millisecond)
	require.Zero(t, h.stored())

	code, text := redrive(seq)
	assert.Equal(t, http.StatusConflict, code, text)
	assert.Contains(t, text, "still fails verification (bad_signature)")
	assert.Zero(t, h.stored(), "a letter that fails verification never enters HZ_EVENTS")
	_, err = letters.Get(ctx, seq)
	require.NoError(t, err, "and it stays a letter")

	h.writeSecrets(testSecret, newSecret) // the operator fixes the secrets file
	require.Eventually(t, func() bool {
		return strings.Contains(h.metrics(), `hz_config_checks_total{file="secrets",outcome="reloaded"}`)
	}, 10*time.Second, 20*time.Millisecond)
	code, text = redrive(seq)
	require.Equal(t, http.StatusOK, code, text)
	var r apiwire.DLQRedriven
	require.NoError(t, json.Unmarshal([]byte(text), &r))
	assert.Equal(t, apiwire.RedriveOutcomeVerified, r.Outcome)
	require.Equal(t, uint64(1), h.stored())
	m := h.lastStored()
	assert.Equal(t, body, m.Data)
	assert.Equal(t, queue.SourcePubSub, m.Header.Get(queue.HeaderSource))
	_, err = letters.Get(ctx, seq)
	require.ErrorIs(t, err, dlq.ErrNotFound, "a stored letter leaves the queue")
}
