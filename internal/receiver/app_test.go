package receiver

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/config"
	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/queue/embedded"
	"github.com/hzhook/hzhook/internal/verify"
)

const (
	testOrg    = "demo.child"
	testHook   = "bfc384726b6447a4b70a171de49e466f"
	testSecret = "3685c06a966e4d0ea625d0b475719661"
	newSecret  = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
)

// harness is a receiver on 127.0.0.1:0 in front of a real in-process JetStream server.
type harness struct {
	t       *testing.T
	app     *App
	nats    *embedded.Server
	natsDir string
	conn    *queue.Conn
	js      jetstream.JetStream
	secrets string
	cancel  context.CancelFunc
	done    chan error
}

func startHarness(t *testing.T, mutate func(*Config)) *harness {
	t.Helper()
	dir := t.TempDir()
	h := &harness{t: t, natsDir: filepath.Join(dir, "nats"), secrets: filepath.Join(dir, "hooks.yaml")}
	h.writeSecrets(testSecret)
	h.startNATS(0)

	cfg := DefaultConfig()
	cfg.Listen, cfg.AdminListen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.SecretsFile, cfg.SecretsReload = h.secrets, 50*time.Millisecond
	cfg.NATSURL, cfg.DataDir = h.nats.URL(), dir
	cfg.MaxBodyBytes, cfg.MaxInFlight = 64<<10, 64
	cfg.StreamMaxAge, cfg.DedupWindow, cfg.ShutdownTimeout = time.Hour, time.Minute, 5*time.Second
	if mutate != nil {
		mutate(&cfg)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	app, err := New(ctx, cfg, Deps{Log: log, Registry: prometheus.NewRegistry()})
	require.NoError(t, err)
	h.app, h.cancel, h.done = app, cancel, make(chan error, 1)
	go func() { h.done <- app.Run(ctx) }()
	t.Cleanup(func() {
		h.stop()
		h.nats.Shutdown()
	})

	conn, err := queue.Connect(ctx, h.nats.URL(), "test", log)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(time.Second) })
	h.conn, h.js = conn, conn.JS
	h.waitReady()
	return h
}

func (h *harness) startNATS(port int) {
	h.t.Helper()
	srv, err := embedded.Start(embedded.Options{StoreDir: h.natsDir, Port: port}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(h.t, err)
	h.nats = srv
}

func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	h.cancel = nil
	select {
	case err := <-h.done:
		require.NoError(h.t, err)
	case <-time.After(15 * time.Second):
		h.t.Fatal("receiver did not stop within 15s")
	}
}

func (h *harness) writeSecrets(secrets ...string) {
	h.t.Helper()
	quoted := make([]string, len(secrets))
	for i, s := range secrets {
		quoted[i] = fmt.Sprintf("%q", s)
	}
	doc := fmt.Sprintf("hooks:\n  - org: %s\n    id: %s\n    secrets: [%s]\n", testOrg, testHook, strings.Join(quoted, ", "))
	tmp := h.secrets + ".tmp"
	require.NoError(h.t, os.WriteFile(tmp, []byte(doc), 0o600))
	require.NoError(h.t, os.Rename(tmp, h.secrets))
}

func (h *harness) waitReady() {
	h.t.Helper()
	require.Eventually(h.t, func() bool { return h.readyz() == http.StatusOK }, 10*time.Second, 20*time.Millisecond)
}

func (h *harness) readyz() int {
	resp, err := http.Get(h.app.AdminURL() + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// stored is the number of messages in HZ_EVENTS.
func (h *harness) stored() uint64 {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(h.t, h.conn.WaitConnected(ctx))
	h.moved()
	s, err := h.js.Stream(context.Background(), queue.StreamEvents)
	require.NoError(h.t, err)
	info, err := s.Info(context.Background())
	require.NoError(h.t, err)
	return info.State.Msgs
}

// moved waits until every intake journal entry is moved: every event answered 204 is in HZ_EVENTS
// then.
func (h *harness) moved() {
	h.t.Helper()
	require.Eventually(h.t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		left, err := queue.JournalLeft(ctx, h.js)
		return err == nil && left == 0
	}, 20*time.Second, 5*time.Millisecond, "the journal's entries moved into HZ_EVENTS")
}

func (h *harness) lastStored() *jetstream.RawStreamMsg {
	h.t.Helper()
	s, err := h.js.Stream(context.Background(), queue.StreamEvents)
	require.NoError(h.t, err)
	info, err := s.Info(context.Background())
	require.NoError(h.t, err)
	msg, err := s.GetMsg(context.Background(), info.State.LastSeq)
	require.NoError(h.t, err)
	return msg
}

type delivery struct {
	method  string
	org     string
	hook    string
	sig     string
	body    []byte
	headers map[string]string
}

func signed(t *testing.T, body []byte, at time.Time) delivery {
	t.Helper()
	return delivery{method: http.MethodPost, org: testOrg, hook: testHook, sig: verify.Sign(testSecret, at, body), body: body}
}

func sample(t *testing.T, typ string, id int64) []byte {
	t.Helper()
	b, err := events.Sample(typ, id, time.Now())
	require.NoError(t, err)
	return b
}

func (h *harness) send(d delivery) (*http.Response, string) {
	h.t.Helper()
	resp, text, err := h.trySend(d)
	require.NoError(h.t, err)
	return resp, text
}

// trySend is send for goroutines other than the test's own, and for deliveries that may fail
// on the wire: it returns the error instead of failing the test.
func (h *harness) trySend(d delivery) (*http.Response, string, error) {
	req, err := http.NewRequest(d.method, h.app.WebhookURL(), bytes.NewReader(d.body))
	if err != nil {
		return nil, "", err
	}
	for k, v := range map[string]string{queue.HeaderOrg: d.org, queue.HeaderHookID: d.hook, queue.HeaderSignature: d.sig} {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	for k, v := range d.headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

func TestWebhookStoresGenuineEvents(t *testing.T) {
	h := startHarness(t, nil)
	for _, typ := range []string{events.TypeTest, events.TypeCTEntry, events.TypeCertNew} {
		t.Run(typ, func(t *testing.T) {
			body := sample(t, typ, time.Now().UnixNano())
			before := h.stored()
			resp, text := h.send(signed(t, body, time.Now()))
			require.Equal(t, http.StatusNoContent, resp.StatusCode, text)
			assert.Empty(t, text)
			require.Equal(t, before+1, h.stored())

			msg := h.lastStored()
			assert.Equal(t, body, msg.Data, "stored byte for byte")
			assert.Equal(t, queue.Subject(typ), msg.Subject)
			assert.Equal(t, testOrg, msg.Header.Get(queue.HeaderOrg))
			assert.Equal(t, testHook, msg.Header.Get(queue.HeaderHookID))
			assert.NotEmpty(t, msg.Header.Get(queue.HeaderSignature))
			assert.Equal(t, typ, msg.Header.Get(queue.HeaderEventType))
			assert.Equal(t, queue.SourceWebhook, msg.Header.Get(queue.HeaderSource))
			assert.NotEmpty(t, msg.Header.Get(queue.HeaderReceivedAt))
			assert.True(t, strings.HasPrefix(msg.Header.Get("Nats-Msg-Id"), testOrg+"/"+testHook+"/"))
		})
	}
}

// Request bodies are read into reused buffers: concurrent deliveries of different sizes, mixed with
// rejected ones, must each be stored exactly as sent.
func TestWebhookConcurrentBodiesStoredByteForByte(t *testing.T) {
	h := startHarness(t, nil)
	const n = 200
	sent := make(map[string][]byte, n)
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		slots = make(chan struct{}, 32) // requests in flight
	)
	for i := range n {
		typ := []string{events.TypeTest, events.TypeCTEntry, events.TypeCertNew}[i%3]
		body := sample(t, typ, int64(1000+i))
		d := signed(t, body, time.Now())
		if i%7 == 0 {
			d.sig = verify.Sign("wrong", time.Now(), body)
		}
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			resp, text := h.send(d)
			if i%7 == 0 {
				assert.Equal(t, http.StatusBadRequest, resp.StatusCode, text)
				return
			}
			assert.Equal(t, http.StatusNoContent, resp.StatusCode, text)
			mu.Lock()
			sent[strconv.Itoa(1000+i)] = body
			mu.Unlock()
		})
	}
	wg.Wait()
	// Connections dialled but never used would hold the receiver's shutdown for net/http's 5s grace.
	http.DefaultClient.CloseIdleConnections()
	require.Equal(t, uint64(len(sent)), h.stored())

	s, err := h.js.Stream(context.Background(), queue.StreamEvents)
	require.NoError(t, err)
	for seq := uint64(1); seq <= uint64(len(sent)); seq++ {
		msg, err := s.GetMsg(context.Background(), seq)
		require.NoError(t, err)
		id := msg.Header.Get(queue.HeaderEventID)
		require.Contains(t, sent, id)
		assert.Equal(t, sent[id], msg.Data, "event %s stored byte for byte", id)
	}
}

func TestWebhookEventsAPIFormWithDataAsString(t *testing.T) {
	h := startHarness(t, nil)
	body := []byte(`{"id":10001,"type":"ct","createdOn":"2023-09-22T15:34:49.675Z","apiVersion":"0.14.0","data":"{ \"field\": \"value\" }"}`)
	resp, text := h.send(signed(t, body, time.Now()))
	require.Equal(t, http.StatusNoContent, resp.StatusCode, text)
	assert.Equal(t, body, h.lastStored().Data)
}

func TestWebhookDuplicateDeliveryStoredOnce(t *testing.T) {
	h := startHarness(t, nil)
	body := sample(t, events.TypeCTEntry, 424242)
	for i := 0; i < 3; i++ { // Hardenize retries sign afresh: a new timestamp each time
		resp, text := h.send(signed(t, body, time.Now().Add(time.Duration(i)*time.Second)))
		require.Equal(t, http.StatusNoContent, resp.StatusCode, text)
	}
	assert.Equal(t, uint64(1), h.stored())
}

func TestWebhookRejectsBadInput(t *testing.T) {
	h := startHarness(t, nil)
	body := sample(t, events.TypeTest, 0)
	now := time.Now()
	good := signed(t, body, now)
	with := func(f func(*delivery)) delivery { d := good; f(&d); return d }
	mac := strings.SplitN(good.sig, "hmac-sha256=", 2)[1]
	ts := fmt.Sprint(now.UnixMilli())
	big := bytes.Repeat([]byte("x"), 64<<10+1)

	tests := []struct {
		name string
		d    delivery
		code int
		msg  string
	}{
		{"missing org", with(func(d *delivery) { d.org = "" }), 400, "missing event hook metadata"},
		{"missing hook id", with(func(d *delivery) { d.hook = "" }), 400, "missing event hook metadata"},
		{"missing signature", with(func(d *delivery) { d.sig = "" }), 400, "missing event hook metadata"},
		{"unknown org", with(func(d *delivery) { d.org = "other" }), 400, "unknown organization or event hook"},
		{"unknown hook", with(func(d *delivery) { d.hook = "74bf16db59ef4d55aeeb7fe9f7d5171d" }), 400, "unknown organization or event hook"},
		{"wrong secret", with(func(d *delivery) { d.sig = verify.Sign("wrong-secret-0123456789", now, body) }), 400, "signature does not match"},
		{"tampered body", with(func(d *delivery) { d.body = append([]byte(nil), body...); d.body[len(d.body)-2] ^= 1 }), 400, "signature does not match"},
		{"bad hex", with(func(d *delivery) { d.sig = "t=" + ts + "; hmac-sha256=" + strings.Repeat("zz", 32) }), 400, "malformed"},
		{"mac too short", with(func(d *delivery) { d.sig = "t=" + ts + "; hmac-sha256=" + mac[:62] }), 400, "malformed"},
		{"mac too long", with(func(d *delivery) { d.sig = "t=" + ts + "; hmac-sha256=" + mac + "00" }), 400, "malformed"},
		{"no timestamp", with(func(d *delivery) { d.sig = "hmac-sha256=" + mac }), 400, "malformed"},
		{"stale timestamp", signed(t, body, now.Add(-5*time.Minute-time.Second)), 400, "outside tolerance"},
		{"future timestamp", signed(t, body, now.Add(5*time.Minute+time.Second)), 400, "outside tolerance"},
		{"malformed json", signed(t, []byte(`{"id":1,"type":"test"`), now), 400, "not a Hardenize event"},
		{"not an event", signed(t, []byte(`{"hello":"world"}`), now), 400, "not a Hardenize event"},
		{"body over the limit", signed(t, big, now), 413, "body exceeds"},
		{"wrong method", with(func(d *delivery) { d.method = http.MethodGet }), 405, ""},
		{"put", with(func(d *delivery) { d.method = http.MethodPut }), 405, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := h.stored()
			resp, text := h.send(tc.d)
			require.Equal(t, tc.code, resp.StatusCode, text)
			assert.Contains(t, resp.Header.Get("Content-Type"), "application/json")
			assert.True(t, strings.HasPrefix(text, `{"errors":[{"message":`), text)
			assert.Contains(t, text, tc.msg)
			assert.NotContains(t, text, testSecret)
			assert.Equal(t, before, h.stored(), "nothing stored")
		})
	}

	metrics := h.metrics()
	for _, reason := range []string{"missing_metadata", "unknown_hook", "bad_signature", "malformed_signature", "stale_timestamp", "invalid_event"} {
		assert.Contains(t, metrics, `hz_intake_rejected_total{reason="`+reason+`",source="webhook"}`)
	}
	assert.Contains(t, metrics, `hz_http_requests_total{code="413",listener="webhook"} 1`)
	assert.NotContains(t, metrics, testSecret)
}

// A body larger than the limit is refused even when Content-Length is absent (chunked) or lies.
func TestWebhookBodyLimitDoesNotTrustContentLength(t *testing.T) {
	h := startHarness(t, nil)
	big := bytes.Repeat([]byte("a"), 64<<10+10)
	d := signed(t, big, time.Now())
	for _, cl := range []string{"", "100"} {
		t.Run("content-length="+cl, func(t *testing.T) {
			conn, err := net.Dial("tcp", strings.TrimPrefix(strings.Split(h.app.WebhookURL(), "/hardenize")[0], "http://"))
			require.NoError(t, err)
			defer conn.Close()
			var req bytes.Buffer
			fmt.Fprintf(&req, "POST /hardenize/events HTTP/1.1\r\nHost: x\r\n%s: %s\r\n%s: %s\r\n%s: %s\r\n",
				queue.HeaderOrg, d.org, queue.HeaderHookID, d.hook, queue.HeaderSignature, d.sig)
			if cl == "" {
				fmt.Fprintf(&req, "Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(big), big)
			} else {
				fmt.Fprintf(&req, "Content-Length: %s\r\n\r\n%s", cl, big)
			}
			_, _ = conn.Write(req.Bytes())
			require.NoError(t, conn.SetReadDeadline(time.Now().Add(5*time.Second)))
			status, err := io.ReadAll(io.LimitReader(conn, 12))
			require.NoError(t, err)
			if cl == "" {
				assert.Equal(t, "HTTP/1.1 413", string(status))
			} else {
				// Only the declared 100 bytes are the body: a signature over a truncated body fails.
				assert.Equal(t, "HTTP/1.1 400", string(status))
			}
		})
	}
	assert.Equal(t, uint64(0), h.stored())
}

func TestWebhookSecretRotationAndReload(t *testing.T) {
	h := startHarness(t, nil)
	bodyFor := func() []byte { return sample(t, events.TypeCTEntry, time.Now().UnixNano()) }
	withSecret := func(secret string) int {
		body := bodyFor()
		d := signed(t, body, time.Now())
		d.sig = verify.Sign(secret, time.Now(), body)
		resp, _ := h.send(d)
		return resp.StatusCode
	}
	require.Equal(t, http.StatusBadRequest, withSecret(newSecret))

	h.writeSecrets(testSecret, newSecret) // rotation: both verify
	require.Eventually(t, func() bool { return withSecret(newSecret) == http.StatusNoContent }, 5*time.Second, 50*time.Millisecond)
	assert.Equal(t, http.StatusNoContent, withSecret(testSecret))

	require.NoError(t, os.WriteFile(h.secrets, []byte("hooks: [ broken"), 0o600)) // a broken reload keeps the old secrets
	require.Eventually(t, func() bool {
		return strings.Contains(h.metrics(), `hz_config_checks_total{file="secrets",outcome="invalid"}`)
	}, 5*time.Second, 20*time.Millisecond, "the broken file was read and refused")
	assert.Equal(t, http.StatusNoContent, withSecret(newSecret))

	h.writeSecrets(newSecret) // old secret retired
	require.Eventually(t, func() bool { return withSecret(testSecret) == http.StatusBadRequest }, 5*time.Second, 50*time.Millisecond)
	assert.Equal(t, http.StatusNoContent, withSecret(newSecret))
}

func TestWebhookNATSDownAnswers503NeverNoContent(t *testing.T) {
	h := startHarness(t, func(c *Config) { c.PublishTimeout = 500 * time.Millisecond })
	resp, text := h.send(signed(t, sample(t, events.TypeTest, 0), time.Now()))
	require.Equal(t, http.StatusNoContent, resp.StatusCode, text)
	port := h.nats.Port()

	h.nats.Shutdown()
	require.Eventually(t, func() bool { return h.readyz() == http.StatusServiceUnavailable }, 5*time.Second, 20*time.Millisecond)
	for i := 0; i < 5; i++ {
		resp, text := h.send(signed(t, sample(t, events.TypeCTEntry, int64(1000+i)), time.Now()))
		require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, text)
		assert.NotEmpty(t, resp.Header.Get("Retry-After"))
		assert.Contains(t, text, "retry later")
	}

	h.startNATS(port) // NATS comes back with its store: the receiver recovers by itself
	h.waitReady()
	resp, text = h.send(signed(t, sample(t, events.TypeCTEntry, 2000), time.Now()))
	require.Equal(t, http.StatusNoContent, resp.StatusCode, text)
	assert.Equal(t, uint64(2), h.stored(), "only the two events answered 204 are stored")
}

func TestWebhookInFlightOverflowAnswers429(t *testing.T) {
	h := startHarness(t, func(c *Config) { c.MaxInFlight = 1 })
	// Hold the only slot: headers sent, body still coming.
	conn, err := net.Dial("tcp", strings.TrimPrefix(strings.Split(h.app.WebhookURL(), "/hardenize")[0], "http://"))
	require.NoError(t, err)
	defer conn.Close()
	_, err = fmt.Fprintf(conn, "POST /hardenize/events HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return strings.Contains(h.metrics(), `hz_http_in_flight_requests{listener="webhook"} 1`)
	}, 5*time.Second, 10*time.Millisecond, "the held request occupies the only slot")

	require.Eventually(t, func() bool {
		resp, _ := h.send(signed(t, sample(t, events.TypeTest, 0), time.Now()))
		return resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") != ""
	}, 5*time.Second, 20*time.Millisecond)
	assert.Equal(t, uint64(0), h.stored())

	conn.Close() // slot freed
	require.Eventually(t, func() bool {
		resp, _ := h.send(signed(t, sample(t, events.TypeTest, 0), time.Now()))
		return resp.StatusCode == http.StatusNoContent
	}, 5*time.Second, 20*time.Millisecond)
}

func TestGracefulShutdownGoesUnreadyAndStops(t *testing.T) {
	h := startHarness(t, nil)
	resp, _ := h.send(signed(t, sample(t, events.TypeTest, 0), time.Now()))
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	h.stop()
	assert.Equal(t, 0, h.readyz(), "admin listener closed")
	_, err := http.Get(h.app.WebhookURL())
	assert.Error(t, err, "webhook listener closed")
}

func TestAdminEndpoints(t *testing.T) {
	h := startHarness(t, nil)
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/metrics": 200, "/api/v1/nothing": 404} {
		resp, err := http.Get(h.app.AdminURL() + path)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, want, resp.StatusCode, path)
	}
	resp, _ := h.send(signed(t, sample(t, events.TypeTest, 0), time.Now()))
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	m := h.metrics()
	assert.Contains(t, m, `hz_intake_enqueued_total{source="webhook",type="test"} 1`)
	assert.Contains(t, m, `hz_http_requests_total{code="204",listener="webhook"} 1`)
	assert.Contains(t, m, "hz_intake_enqueue_seconds_bucket")
	assert.Contains(t, m, "hz_http_in_flight_requests")
}

func (h *harness) metrics() string {
	h.t.Helper()
	resp, err := http.Get(h.app.AdminURL() + "/metrics")
	require.NoError(h.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(h.t, err)
	return string(b)
}

func TestConfigValidateNamesEverySetting(t *testing.T) {
	err := Config{WebhookPath: "events", MaxBodyBytes: 1, LogLevel: "loud"}.Validate()
	require.Error(t, err)
	for _, flag := range []string{"--listen", "--admin-listen", "--webhook-path", "--secrets-file", "--tolerance", "--max-body-bytes", "--max-in-flight", "--publish-timeout", "--log-level"} {
		assert.Contains(t, err.Error(), flag)
	}
}

// DefaultConfig is the one home of the defaults: Bind with nothing set gives exactly it.
func TestDefaultConfigIsWhatBindGives(t *testing.T) {
	var cfg Config
	set := config.NewSet("receiver", func(string) (string, bool) { return "", false })
	Bind(set, &cfg)
	require.NoError(t, set.Parse(nil))
	assert.Equal(t, DefaultConfig(), cfg)
	dev := DefaultConfig()
	dev.Dev = true
	require.NoError(t, dev.Validate(), "the defaults with --dev are a valid configuration")
}
