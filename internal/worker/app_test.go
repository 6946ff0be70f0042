package worker

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/config"
	"github.com/hzhook/hzhook/internal/dlq"
	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/testenv"
)

// testToken is the admin token of workers started by startApp.
const testToken = "worker-test-token"

// startApp boots a worker on conn's server and stops it (asserting a clean stop) when the test ends.
func startApp(t *testing.T, url string, args ...string) *App {
	t.Helper()
	cfg := testConfig(t, append([]string{"--nats-url", url, "--backoff", "50ms", "--max-deliver", "2"}, args...)...)
	cfg.AdminToken = testToken
	ctx, cancel := context.WithCancel(context.Background())
	app, err := New(ctx, cfg, Deps{Log: testenv.DiscardLog(), Registry: prometheus.NewRegistry()})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	return app
}

// The worker's own handlers store events in the inventory: a good ct.entry and pki.cert.new become
// certificates the API answers with, a ct.entry whose leaf does not hash to its sha256 is
// dead-lettered at once as permanent.
func TestWorkerStoresEventsAndDeadLettersBadData(t *testing.T) {
	conn, srv := testenv.JetStream(t)
	app := startApp(t, srv.URL())
	for i, typ := range []string{events.TypeCTEntry, events.TypeCertNew, events.TypeTest} {
		body, err := events.Sample(typ, int64(i+1), time.Now())
		require.NoError(t, err)
		publishEvent(t, conn, typ, i+1, body)
	}
	bad, err := events.Sample(events.TypeCTEntry, 9, time.Now())
	require.NoError(t, err)
	publishEvent(t, conn, events.TypeCTEntry, 9, tamperSHA256(t, bad))

	consumer := ConsumerName([]string{events.TypeCTEntry, events.TypeCertNew})
	store := dlq.New(conn.JS, dlq.Options{})
	require.Eventually(t, func() bool {
		p, err := store.List(context.Background(), dlq.Filter{}, 1, 10)
		return err == nil && p.Total == 1 && settled(conn, consumer)
	}, 20*time.Second, 20*time.Millisecond)
	p, err := store.List(context.Background(), dlq.Filter{}, 1, 10)
	require.NoError(t, err)
	l := p.Items[0]
	assert.Equal(t, "9", l.EventID)
	assert.Equal(t, queue.ClassPermanent, l.Class)
	assert.Equal(t, "invalid_payload", l.Reason)
	assert.Equal(t, 1, l.Attempts)
	assert.Contains(t, l.Error, "SHA-256 of the DER does not match")

	// The API is closed without the token, and answers with the two certificates.
	resp, err := http.Get(app.AdminURL() + "/api/v1/certificates")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	req, err := http.NewRequest(http.MethodGet, app.AdminURL()+"/api/v1/certificates", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var page struct {
		Total int `json:"total"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&page))
	assert.Equal(t, 2, page.Total)
}

func TestReadyzFollowsNATS(t *testing.T) {
	_, srv := testenv.JetStream(t)
	app := startApp(t, srv.URL())
	status := func() int {
		resp, err := http.Get(app.AdminURL() + "/readyz")
		if err != nil {
			return 0
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Eventually(t, func() bool { return status() == http.StatusOK }, 10*time.Second, 20*time.Millisecond)
	srv.Shutdown()
	require.Eventually(t, func() bool { return status() == http.StatusServiceUnavailable }, 10*time.Second, 20*time.Millisecond)
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
	}{
		{name: "defaults"},
		{name: "backoff from env", env: map[string]string{"HZ_BACKOFF": "100ms,2s"}},
		{name: "bad backoff", args: []string{"--backoff", "1s,soon"}, wantErr: "-backoff: \"soon\" is not a duration"},
		{name: "negative backoff", args: []string{"--backoff", "-1s"}, wantErr: "-backoff: \"-1s\" must not be negative"},
		{name: "bad backoff from env", env: map[string]string{"HZ_BACKOFF": "1s,,x"}, wantErr: "HZ_BACKOFF"},
		{name: "max deliver not an integer", env: map[string]string{"HZ_MAX_DELIVER": "5x"}, wantErr: "HZ_MAX_DELIVER"},
		{name: "zero concurrency", args: []string{"--concurrency", "0"}, wantErr: "--concurrency"},
		{name: "huge batch", env: map[string]string{"HZ_BATCH_SIZE": "100000"}, wantErr: "--batch-size"},
		{name: "no shutdown time", args: []string{"--shutdown-timeout", "0s"}, wantErr: "--shutdown-timeout"},
		{name: "max deliver", args: []string{"--max-deliver", "0"}, wantErr: "--max-deliver"},
		{name: "alerts from env", env: map[string]string{"HZ_RULES_FILE": "rules.yaml", "HZ_ALERT_WEBHOOK_URL": "https://alerts.example.com/in",
			"HZ_ALERT_WEBHOOK_SECRET": "s3cret-s3cret-s3cret", "HZ_ALERT_SLACK_URL": "https://hooks.slack.com/services/x", "HZ_ALERT_LOG": "true", "HZ_EXPIRY_SCAN_EVERY": "0"}},
		{name: "webhook without secret", args: []string{"--alert-webhook-url", "https://alerts.example.com/in"}, wantErr: "HZ_ALERT_WEBHOOK_SECRET"},
		{name: "webhook not http", args: []string{"--alert-webhook-url", "ftp://x"}, env: map[string]string{"HZ_ALERT_WEBHOOK_SECRET": "s"}, wantErr: "--alert-webhook-url"},
		{name: "slack URL not echoed", env: map[string]string{"HZ_ALERT_SLACK_URL": "hooks.slack.com/services/secret"}, wantErr: "HZ_ALERT_SLACK_URL: must be"},
		{name: "negative expiry scan", args: []string{"--expiry-scan-every", "-1h"}, wantErr: "--expiry-scan-every"},
		{name: "lint off from env", env: map[string]string{"HZ_LINT": "false", "HZ_LINT_CONCURRENCY": "3"}},
		{name: "lint not a boolean", env: map[string]string{"HZ_LINT": "sometimes"}, wantErr: "HZ_LINT"},
		{name: "negative lint concurrency", args: []string{"--lint-concurrency", "-1"}, wantErr: "--lint-concurrency"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var cfg Config
			set := config.NewSet("worker", func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
			Bind(set, &cfg)
			set.FlagSet().SetOutput(io.Discard)
			// A value that is not of its type stops parsing; a parsed one that is out of range
			// fails validation. Both name the setting.
			err := set.Parse(tc.args)
			if err == nil {
				err = cfg.Validate()
			}
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}
	var cfg Config
	set := config.NewSet("worker", func(string) (string, bool) { return "", false })
	Bind(set, &cfg)
	require.NoError(t, set.Parse(nil))
	assert.Equal(t, []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute}, cfg.Backoff)
	assert.Equal(t, DefaultConfig(), cfg, "no flag and no variable give exactly DefaultConfig")
}

func TestConsumerNameIsSortedAndShared(t *testing.T) {
	assert.Equal(t, "hz-worker-ct_entry-pki_cert_new", ConsumerName([]string{"pki.cert.new", "ct.entry"}))
	assert.Equal(t, ConsumerName([]string{"ct.entry", "pki.cert.new"}), ConsumerName([]string{"pki.cert.new", "ct.entry"}))
}

// tamperSHA256 replaces data.sha256 of an event body by a well-formed but wrong fingerprint.
func tamperSHA256(t *testing.T, body []byte) []byte {
	t.Helper()
	var env map[string]any
	require.NoError(t, json.Unmarshal(body, &env))
	env["data"].(map[string]any)["sha256"] = strings.Repeat("ab", 32)
	out, err := json.Marshal(env)
	require.NoError(t, err)
	return out
}
