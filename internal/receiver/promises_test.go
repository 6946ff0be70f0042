package receiver

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/testenv"
	"github.com/hzhook/hzhook/internal/verify"
)

// A full HZ_EVENTS refuses new events with 503 (Hardenize retries later) and never discards the
// events it already holds to make room.
func TestFullStreamAnswers503AndKeepsStoredEvents(t *testing.T) {
	h := startHarness(t, func(c *Config) { c.StreamMaxBytes = 32 << 10 })
	var stored []string
	var refused *http.Response
	for i := 1; i <= 100 && refused == nil; i++ {
		body := sample(t, events.TypeCTEntry, int64(i))
		resp, text := h.send(signed(t, body, time.Now()))
		switch resp.StatusCode {
		case http.StatusNoContent:
			stored = append(stored, fmt.Sprint(i))
		case http.StatusServiceUnavailable:
			refused = resp
		default:
			t.Fatalf("event %d: unexpected %d %s", i, resp.StatusCode, text)
		}
	}
	require.NotNil(t, refused, "the stream never filled up")
	require.NotEmpty(t, stored)
	assert.NotEmpty(t, refused.Header.Get("Retry-After"))
	assert.Equal(t, uint64(len(stored)), h.stored(), "every event answered 204 is still there")

	s, err := h.js.Stream(t.Context(), queue.StreamEvents)
	require.NoError(t, err)
	first, err := s.GetMsg(t.Context(), 1)
	require.NoError(t, err)
	assert.Equal(t, stored[0], first.Header.Get(queue.HeaderEventID), "the oldest event was not discarded")
}

// On shutdown a request already being served finishes, and is answered 204 only because its event
// was stored; new connections are refused meanwhile.
func TestShutdownFinishesInFlightRequests(t *testing.T) {
	h := startHarness(t, nil)
	body := sample(t, events.TypeCTEntry, 4242)
	addr := strings.TrimPrefix(strings.Split(h.app.WebhookURL(), "/hardenize")[0], "http://")
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	half := len(body) / 2
	_, err = fmt.Fprintf(conn, "POST /hardenize/events HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n%s: %s\r\n%s: %s\r\n%s: %s\r\n\r\n%s",
		len(body), queue.HeaderOrg, testOrg, queue.HeaderHookID, testHook,
		queue.HeaderSignature, verify.Sign(testSecret, time.Now(), body), body[:half])
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return strings.Contains(h.metrics(), `hz_http_in_flight_requests{listener="webhook"} 1`)
	}, 5*time.Second, 10*time.Millisecond)

	cancel := h.cancel
	h.cancel = nil // this test stops the receiver itself
	cancel()
	require.Eventually(t, func() bool {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err != nil
	}, 5*time.Second, 10*time.Millisecond, "the listener stops accepting")

	_, err = conn.Write(body[half:])
	require.NoError(t, err)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	status, err := bufio.NewReader(conn).ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "HTTP/1.1 204 No Content", strings.TrimSpace(status))

	select {
	case err := <-h.done:
		require.NoError(t, err)
	case <-time.After(15 * time.Second):
		t.Fatal("receiver did not stop")
	}
	require.Equal(t, uint64(1), h.stored())
	assert.True(t, bytes.Equal(body, h.lastStored().Data))
}

// The receiver may start before NATS (a rollout, a node restart): it is not ready and answers no
// webhook until NATS is up and the streams exist, then it serves without a restart.
func TestReceiverStartsBeforeNATS(t *testing.T) {
	dir := t.TempDir()
	h := &harness{t: t, natsDir: dir + "/nats", secrets: dir + "/hooks.yaml"}
	h.writeSecrets(testSecret)
	port, err := freeLoopbackPort()
	require.NoError(t, err)
	cfg := Config{
		Listen: "127.0.0.1:0", AdminListen: "127.0.0.1:0", WebhookPath: "/hardenize/events",
		SecretsFile: h.secrets, SecretsReload: time.Second, NATSURL: fmt.Sprintf("nats://127.0.0.1:%d", port), DataDir: dir,
		Tolerance: 5 * time.Minute, MaxBodyBytes: 64 << 10, MaxInFlight: 8, PublishTimeout: time.Second,
		StreamReplicas: 1, StreamMaxBytes: -1, DedupWindow: time.Minute, ShutdownTimeout: 5 * time.Second, LogLevel: "info",
		Durability: DefaultDurability(),
	}
	app, err := New(t.Context(), cfg, Deps{Log: testenv.DiscardLog(), Registry: prometheus.NewRegistry()})
	require.NoError(t, err)
	h.app = app
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	time.Sleep(300 * time.Millisecond)
	assert.Equal(t, http.StatusServiceUnavailable, h.readyz(), "not ready without NATS")

	h.startNATS(port)
	t.Cleanup(h.nats.Shutdown)
	h.waitReady()
	conn, err := queue.Connect(ctx, h.nats.URL(), "test", testenv.DiscardLog())
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(time.Second) })
	h.conn, h.js = conn, conn.JS
	resp, text := h.send(signed(t, sample(t, events.TypeTest, 0), time.Now()))
	require.Equal(t, http.StatusNoContent, resp.StatusCode, text)
	assert.Equal(t, uint64(1), h.stored())
}

func freeLoopbackPort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
