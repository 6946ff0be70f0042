package receiver

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/config"
	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/pubsub/pubsubtest"
	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/testenv"
)

// fakeKey is shaped like Hardenize's subscriberCredentials; it must never show up in a log.
const fakeKey = `{"type": "service_account", "project_id": "hz-events-pubsub", "private_key": "-----BEGIN PRIVATE KEY-----\nNEVER-LOG-ME\n-----END PRIVATE KEY-----\n", "client_email": "ep-1-1005@hz-events-pubsub.iam.gserviceaccount.com"}`

// writeDestination writes the GET /eventDestinations answer for topic, as a user saves it.
func writeDestination(t *testing.T, topic *pubsubtest.Topic) string {
	t.Helper()
	doc, err := json.Marshal(map[string]any{"eventDestinations": []map[string]string{{
		"destinationId": "pubsub://events/1/1005", "type": "pubsub", "project": topic.Project,
		"topic": topic.TopicName(), "subscription": topic.Subscription, "subscriberCredentials": fakeKey,
	}}})
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "destination.json")
	require.NoError(t, os.WriteFile(path, doc, 0o600))
	return path
}

// A user points the receiver at the destination JSON from Hardenize: events published to the
// subscription are stored in HZ_EVENTS like webhooks, with or without the webhook listener.
func TestReceiverWithPubSubSource(t *testing.T) {
	for _, sources := range []string{"pubsub", "webhook,pubsub"} {
		t.Run(sources, func(t *testing.T) {
			host := pubsubtest.EmulatorHost(t)
			topic := pubsubtest.NewTopic(t)
			dir := t.TempDir()
			h := &harness{t: t, natsDir: filepath.Join(dir, "nats"), secrets: filepath.Join(dir, "hooks.yaml")}
			h.writeSecrets(testSecret)
			h.startNATS(0)
			t.Cleanup(func() { h.nats.Shutdown() })

			var cfg Config
			// Group commit on: a Pub/Sub message is acked only after the batch holding it was.
			env := map[string]string{"PUBSUB_EMULATOR_HOST": host, "HZ_SOURCE": sources, "HZ_GROUP_COMMIT": "on"}
			set := config.NewSet("receiver", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
			Bind(set, &cfg)
			require.NoError(t, set.Parse([]string{
				"--pubsub-destination", writeDestination(t, topic), "--secrets-file", h.secrets,
				"--nats-url", h.nats.URL(), "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--data-dir", dir,
			}))

			var logs testenv.Buffer
			ctx, cancel := context.WithCancel(context.Background())
			app, err := New(ctx, cfg, Deps{Log: slog.New(slog.NewJSONHandler(&logs, nil)), Registry: prometheus.NewRegistry()})
			require.NoError(t, err)
			h.app, h.cancel, h.done = app, cancel, make(chan error, 1)
			go func() { h.done <- app.Run(ctx) }()
			t.Cleanup(h.stop)
			conn, err := queue.Connect(ctx, h.nats.URL(), "test", slog.New(slog.NewTextHandler(io.Discard, nil)))
			require.NoError(t, err)
			t.Cleanup(func() { conn.Close(time.Second) })
			h.conn, h.js = conn, conn.JS
			h.waitReady()

			if sources == "pubsub" {
				assert.Empty(t, app.WebhookURL(), "no webhook listener with --source pubsub")
			} else {
				resp, _ := h.send(signed(t, sample(t, events.TypeTest, 1), time.Now()))
				assert.Equal(t, http.StatusNoContent, resp.StatusCode)
			}
			webhooks := h.stored()

			body := sample(t, events.TypeCTEntry, time.Now().UnixNano())
			topic.Publish(body, pubsubtest.Signed(testOrg, testHook, testSecret, time.Now(), body))
			require.Eventually(t, func() bool { return h.stored() == webhooks+1 }, 30*time.Second, 20*time.Millisecond)
			m := h.lastStored()
			assert.Equal(t, body, m.Data)
			assert.Equal(t, queue.SourcePubSub, m.Header.Get(queue.HeaderSource))
			require.Eventually(t, func() bool {
				return strings.Contains(h.metrics(), `hz_pubsub_acked_total{outcome="stored"} 1`)
			}, 10*time.Second, 20*time.Millisecond, "acked after the store")

			h.stop()
			assert.Zero(t, topic.Pending())
			assert.NotContains(t, logs.String(), "NEVER-LOG-ME")
			assert.NotContains(t, logs.String(), "PRIVATE KEY")
		})
	}
}

func TestPubSubConfigErrorsNameTheSetting(t *testing.T) {
	dir := t.TempDir()
	write := func(name, doc string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(doc), 0o600))
		return p
	}
	noCreds := write("nocreds.json", `{"destinationId":"d","type":"pubsub","project":"p","subscription":"s","subscriberCredentials":""}`)
	notKey := write("notkey.json", `{"private_key":"NEVER-LOG-ME"}`)
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"unknown source", []string{"--source", "webhook,ftp"}, []string{"--source"}},
		{"pubsub without a subscription", []string{"--source", "pubsub"},
			[]string{"--pubsub-project", "--pubsub-subscription", "--pubsub-credentials"}},
		{"bad flow control", []string{"--source", "pubsub", "--pubsub-destination", noCreds, "--pubsub-max-outstanding-messages", "0",
			"--pubsub-max-outstanding-bytes", "10", "--pubsub-streams", "0", "--pubsub-max-callbacks", "0", "--pubsub-nack-delay", "-1s", "--pubsub-max-ack-extension", "5s"},
			[]string{"--pubsub-max-outstanding-messages", "--pubsub-max-outstanding-bytes", "--pubsub-streams", "--pubsub-max-callbacks", "--pubsub-nack-delay", "--pubsub-max-ack-extension"}},
		{"missing destination file", []string{"--source", "pubsub", "--pubsub-destination", filepath.Join(dir, "absent.json")}, []string{"--pubsub-destination"}},
		{"destination without credentials", []string{"--source", "pubsub", "--pubsub-destination", noCreds}, []string{"--pubsub-destination", "subscriberCredentials"}},
		{"credentials file not a key", []string{"--source", "pubsub", "--pubsub-project", "p", "--pubsub-subscription", "s", "--pubsub-credentials", notKey},
			[]string{"--pubsub-credentials"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var cfg Config
			set := config.NewSet("receiver", func(string) (string, bool) { return "", false })
			Bind(set, &cfg)
			require.NoError(t, set.Parse(append([]string{"--dev", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
				"--embedded-nats-port", "0", "--data-dir", t.TempDir()}, tc.args...)))
			app, err := New(context.Background(), cfg, Deps{Log: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry()})
			require.Error(t, err)
			assert.Nil(t, app)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.NotContains(t, err.Error(), "NEVER-LOG-ME")
		})
	}
}

func TestSourceDefaultsToWebhook(t *testing.T) {
	var cfg Config
	set := config.NewSet("receiver", func(string) (string, bool) { return "", false })
	Bind(set, &cfg)
	require.NoError(t, set.Parse(nil))
	assert.Equal(t, []string{SourceWebhook}, cfg.Sources)
	assert.True(t, cfg.enabled(SourceWebhook))
	assert.False(t, cfg.enabled(SourcePubSub))
	assert.True(t, Config{}.enabled(SourceWebhook), "a Config without sources is a webhook receiver")
}
