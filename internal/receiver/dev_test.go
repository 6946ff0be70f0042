package receiver

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/config"
	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/testenv"
	"github.com/hzhook/hzhook/internal/verify"
	"github.com/hzhook/hzhook/internal/worker"
)

// The newcomer's path: --dev prints a demo hook and a command; a signed test event gets 204 and the
// in-process worker acknowledges it.
func TestDevModeEndToEnd(t *testing.T) {
	var cfg Config
	set := config.NewSet("receiver", func(string) (string, bool) { return "", false })
	Bind(set, &cfg)
	require.NoError(t, set.Parse([]string{"--dev", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
		"--embedded-nats-port", "0", "--dev-api-listen", "127.0.0.1:0", "--data-dir", t.TempDir()}))

	var out testenv.Buffer
	var logs testenv.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	app, err := New(ctx, cfg, Deps{Log: slog.New(slog.NewJSONHandler(&logs, nil)), Registry: prometheus.NewRegistry(), Out: &out})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	defer func() {
		cancel()
		require.NoError(t, <-done)
	}()

	hook := app.DemoHook()
	require.NotNil(t, hook)
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "receiver ready") }, 10*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "hzctl send") }, 5*time.Second, 20*time.Millisecond)
	assert.Contains(t, out.String(), "--hook "+hook.ID+" --secret "+hook.Secrets[0])
	assert.NotContains(t, logs.String(), hook.Secrets[0], "the secret is printed for the newcomer, never logged")

	apiURL, token := app.DevAPIURL()
	assert.Contains(t, out.String(), "HZ_ADMIN_TOKEN="+token+" go run ./cmd/hzctl certs list --api "+apiURL)
	send := func(typ string, id int64) {
		body, err := events.Sample(typ, id, time.Now())
		require.NoError(t, err)
		req, err := http.NewRequest(http.MethodPost, app.WebhookURL(), bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set(queue.HeaderOrg, hook.Org)
		req.Header.Set(queue.HeaderHookID, hook.ID)
		req.Header.Set(queue.HeaderSignature, verify.Sign(hook.Secrets[0], time.Now(), body))
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusNoContent, resp.StatusCode)
	}
	send(events.TypeTest, 0)

	require.Eventually(t, func() bool { return strings.Contains(logs.String(), `"msg":"event acknowledged"`) }, 10*time.Second, 20*time.Millisecond)
	c, err := app.conn.JS.Consumer(ctx, queue.StreamEvents, worker.ConsumerName([]string{"test", "ct.entry", "pki.cert.new"}))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		info, err := c.Info(ctx)
		return err == nil && info.AckFloor.Stream == 1 && info.NumAckPending == 0
	}, 10*time.Second, 20*time.Millisecond)

	// A ct.entry becomes a certificate in the dev worker's inventory, visible through its API.
	send(events.TypeCTEntry, 77)
	require.Eventually(t, func() bool {
		req, _ := http.NewRequest(http.MethodGet, apiURL+"/api/v1/certificates", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var page struct {
			Total int `json:"total"`
		}
		return resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&page) == nil && page.Total == 1
	}, 10*time.Second, 50*time.Millisecond)

	// The printed console link: log in with the printed token and see the certificate.
	assert.Contains(t, out.String(), "Or open the console and log in with that token:\n  "+apiURL+"/ui/")
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	browser := &http.Client{Jar: jar}
	req, err := http.NewRequest(http.MethodPost, apiURL+"/ui/login", strings.NewReader(url.Values{"token": {token}, "next": {"/ui/certificates"}}.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", apiURL)
	resp, err := browser.Do(req)
	require.NoError(t, err)
	page, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(page))
	assert.Contains(t, string(page), "1 certificate")
	assert.Contains(t, string(page), "www.example.com")
}
