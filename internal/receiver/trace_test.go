package receiver_test

import (
	"bytes"
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
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/hzhook/hzhook/internal/alerts"
	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/logging"
	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/receiver"
	"github.com/hzhook/hzhook/internal/receiver/receivertest"
	"github.com/hzhook/hzhook/internal/testenv"
	"github.com/hzhook/hzhook/internal/tracing"
	"github.com/hzhook/hzhook/internal/verify"
	"github.com/hzhook/hzhook/internal/worker"
)

// alertSink is a webhook alert sink that records each request's traceparent.
type alertSink struct {
	mu     sync.Mutex
	parent []string
}

func (s *alertSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	s.mu.Lock()
	s.parent = append(s.parent, r.Header.Get("traceparent"))
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (s *alertSink) received() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.parent...)
}

// service is one traced binary of the test: its spans in memory (exported as each ends) and its
// JSON logs, built as cmd/ builds them (logging.New: records carry trace_id).
type service struct {
	spans *tracetest.InMemoryExporter
	logs  *testenv.Buffer
	tr    *tracing.Tracing
}

func newService(t *testing.T, name string, on bool) service {
	t.Helper()
	s := service{spans: tracetest.NewInMemoryExporter(), logs: &testenv.Buffer{}, tr: tracing.Off()}
	if on {
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(s.spans),
			sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", name))))
		s.tr = tracing.New(tp)
		t.Cleanup(func() { _ = s.tr.ShutdownWithin(5 * time.Second) })
	}
	return s
}

// pipeline is a real receiver (embedded JetStream) and a real worker (SQLite, a rules file that
// makes an unexpectedIssuer of every sample ct.entry, the signed webhook sink), each traced into
// its own exporter when on. It returns the receiver, the sink and both services.
func pipeline(t *testing.T, on bool) (*receiver.App, *alertSink, verify.Hook, service, service) {
	t.Helper()
	rs, ws := newService(t, "hzhook-receiver", on), newService(t, "hzhook-worker", on)
	hook := verify.Hook{Org: "demo", ID: "0123456789abcdef0123456789abcdef", Secrets: []string{"fedcba9876543210fedcba9876543210"}}
	dir := t.TempDir()

	rcfg := receiver.DefaultConfig()
	rcfg.Listen, rcfg.AdminListen = "127.0.0.1:0", "127.0.0.1:0"
	rcfg.SecretsFile = receivertest.WriteHooks(t, dir, hook)
	rcfg.DataDir, rcfg.EmbeddedNATSPort, rcfg.LogLevel = filepath.Join(dir, "receiver"), 0, "debug"
	rlog, err := logging.New(rs.logs, "debug")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	rd := receiver.Deps{Log: rlog, Registry: prometheus.NewRegistry()}
	if on {
		rd.TracerProvider, rd.Propagator = rs.tr.TracerProvider, rs.tr.Propagator
	}
	app, err := receiver.New(ctx, rcfg, rd)
	require.NoError(t, err)
	rdone := make(chan error, 1)
	go func() { rdone <- app.Run(ctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-rdone) })
	require.Eventually(t, func() bool { return strings.Contains(rs.logs.String(), "receiver ready") }, 10*time.Second, 20*time.Millisecond)

	sink := &alertSink{}
	hookSrv := httptest.NewServer(sink)
	t.Cleanup(hookSrv.Close)
	rules := filepath.Join(dir, "rules.yaml")
	require.NoError(t, os.WriteFile(rules, []byte("watch:\n  - name: .example.com\n    issuers: [{sha256: ["+strings.Repeat("ab", 32)+"]}]\n"), 0o600))
	wcfg := worker.DefaultConfig()
	wcfg.NATSURL, wcfg.DB, wcfg.AdminListen = app.NATSURL(), "sqlite://"+filepath.Join(dir, "hzhook.db"), "127.0.0.1:0"
	wcfg.AdminToken, wcfg.LogLevel, wcfg.Lint.Enabled = "test-admin-token", "debug", false
	wcfg.Alerts.Rules, wcfg.Alerts.WebhookURL, wcfg.Alerts.WebhookSecret = rules, hookSrv.URL, "alert-secret-0123456789"
	// No expiry scan: its sweep, run at start, may publish the finding between its commit and the
	// event's own publish (in the same trace, from the finding's stored traceparent: see
	// internal/findings), which would make the publish span this test looks for two.
	wcfg.Alerts.ExpiryScanEvery = 0
	wlog, err := logging.New(ws.logs, "debug")
	require.NoError(t, err)
	wd := worker.Deps{Log: wlog, Registry: prometheus.NewRegistry()}
	if on {
		wd.TracerProvider, wd.Propagator = ws.tr.TracerProvider, ws.tr.Propagator
	}
	w, err := worker.New(ctx, wcfg, wd)
	require.NoError(t, err)
	wdone := make(chan error, 1)
	go func() { wdone <- w.Run(ctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-wdone) })
	return app, sink, hook, rs, ws
}

// post sends body signed as Hardenize does and returns the status.
func post(t *testing.T, url string, hook verify.Hook, body []byte, header http.Header) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set(queue.HeaderOrg, hook.Org)
	req.Header.Set(queue.HeaderHookID, hook.ID)
	req.Header.Set(queue.HeaderSignature, verify.Sign(hook.Secrets[0], time.Now(), body))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// spanNamed returns the one span of name (and kind) in spans of trace id.
func spanNamed(t *testing.T, spans tracetest.SpanStubs, id trace.TraceID, name string, kind trace.SpanKind) tracetest.SpanStub {
	t.Helper()
	var found []tracetest.SpanStub
	for _, s := range spans {
		if s.SpanContext.TraceID() == id && s.Name == name && s.SpanKind == kind {
			found = append(found, s)
		}
	}
	require.Len(t, found, 1, "spans named %q (%s) in trace %s", name, kind, id)
	return found[0]
}

func attr(s tracetest.SpanStub, key string) attribute.Value {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value
		}
	}
	return attribute.Value{}
}

// logsOf returns the JSON records of buf whose msg is msg.
func logsOf(t *testing.T, buf *testenv.Buffer, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// One trace from Hardenize's POST to the stored row and the alert's delivery: the webhook's server
// span, its publish (group-committed), the worker's consumer span continuing the traceparent stored
// in the event's headers, its part of the store transaction, the alert's publish on HZ_ALERTS, the
// sink's consumer span continuing the alert message's traceparent, the webhook sink's client
// request, and the traceparent that sink received: all one trace id, each span the child of the
// one before. The receiver's and the worker's logs of the event carry that trace id.
func TestOneTraceFromWebhookToRowAndAlert(t *testing.T) {
	app, sink, hook, rs, ws := pipeline(t, true)
	body, err := events.Sample(events.TypeCTEntry, 42, time.Now())
	require.NoError(t, err)
	// A traceparent from the sender is never continued (the listener is public): only linked.
	foreign := "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	require.Equal(t, http.StatusNoContent, post(t, app.WebhookURL(), hook, body, http.Header{"Traceparent": {foreign}}))
	require.Eventually(t, func() bool { return len(sink.received()) == 1 }, 30*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool {
		for _, s := range ws.spans.GetSpans() {
			if s.Name == "process "+queue.StreamAlerts && attr(s, "hz.outcome").AsString() == "ok" {
				return true
			}
		}
		return false
	}, 10*time.Second, 20*time.Millisecond, "the sink settled the alert")

	rspans, wspans := rs.spans.GetSpans(), ws.spans.GetSpans()
	var server tracetest.SpanStub
	for _, s := range rspans {
		if s.SpanKind == trace.SpanKindServer {
			server = s
		}
	}
	require.Equal(t, "POST /hardenize/events", server.Name)
	id := server.SpanContext.TraceID()
	assert.False(t, server.Parent.IsValid(), "the webhook request starts the trace")
	require.Len(t, server.Links, 1)
	assert.Equal(t, "0af7651916cd43dd8448eb211c80319c", server.Links[0].SpanContext.TraceID().String(), "the sender's trace is linked")
	assert.Equal(t, int64(http.StatusNoContent), attr(server, "http.response.status_code").AsInt64())
	assert.Equal(t, "/hardenize/events", attr(server, "http.route").AsString())
	assert.Equal(t, "42", attr(server, queue.AttrEventID).AsString())
	for _, kv := range server.Attributes {
		assert.NotContains(t, kv.Value.Emit(), hook.Secrets[0], "no secret in %s", kv.Key)
		assert.NotContains(t, kv.Value.Emit(), "hmac-sha256", "no signature in %s", kv.Key)
	}

	publish := spanNamed(t, rspans, id, "send "+queue.StreamEvents, trace.SpanKindProducer)
	assert.Equal(t, server.SpanContext.SpanID(), publish.Parent.SpanID())
	assert.Equal(t, int64(1), attr(publish, queue.AttrBatchMessages).AsInt64(), "group-committed in a batch of one")
	var batch tracetest.SpanStub
	for _, s := range rspans {
		if s.Name == "group commit" {
			batch = s
		}
	}
	require.Len(t, batch.Links, 1, "the group commit's span links the publishes it carried")
	assert.Equal(t, publish.SpanContext, batch.Links[0].SpanContext)

	consume := spanNamed(t, wspans, id, "process "+queue.StreamEvents, trace.SpanKindConsumer)
	assert.Equal(t, publish.SpanContext.SpanID(), consume.Parent.SpanID(), "the worker continues the stored traceparent")
	assert.True(t, consume.Parent.IsRemote())
	assert.Equal(t, worker.ConsumerName(worker.DefaultConfig().Types), attr(consume, queue.AttrConsumerGroup).AsString())
	assert.Equal(t, "ok", attr(consume, "hz.outcome").AsString())

	store := spanNamed(t, wspans, id, "store "+events.TypeCTEntry, trace.SpanKindInternal)
	assert.Equal(t, consume.SpanContext.SpanID(), store.Parent.SpanID())
	require.Len(t, store.Links, 1, "the message's part links the handler call that served its batch")
	handle := store.Links[0].SpanContext
	var commit tracetest.SpanStub
	for _, s := range wspans {
		if s.Name == "inventory commit" && s.SpanContext.TraceID() == handle.TraceID() {
			commit = s
		}
	}
	assert.Equal(t, handle.SpanID(), commit.Parent.SpanID(), "the transaction is a child of the handler call's span")
	sha := attr(store, "hz.cert.sha256").AsString()
	require.NotEmpty(t, sha)
	var names []string
	for _, e := range store.Events {
		names = append(names, e.Name)
	}
	assert.Equal(t, []string{"decoded", "committed"}, names)

	// The stored row the trace names is there.
	req, err := http.NewRequest(http.MethodGet, workerAPI(t, ws)+"/api/v1/certificates/"+sha, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer test-admin-token")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the certificate of the trace is in the inventory")

	alertPublish := spanNamed(t, wspans, id, "send "+queue.StreamAlerts, trace.SpanKindProducer)
	assert.Equal(t, consume.SpanContext.SpanID(), alertPublish.Parent.SpanID())
	assert.Equal(t, "unexpectedIssuer", attr(alertPublish, "hz.finding.type").AsString())
	deliver := spanNamed(t, wspans, id, "process "+queue.StreamAlerts, trace.SpanKindConsumer)
	assert.Equal(t, alertPublish.SpanContext.SpanID(), deliver.Parent.SpanID(), "the sink continues the alert message's traceparent")
	assert.Equal(t, worker.SinkConsumer(alerts.KindWebhook), attr(deliver, queue.AttrConsumerGroup).AsString())
	request := spanNamed(t, wspans, id, http.MethodPost, trace.SpanKindClient)
	assert.Equal(t, deliver.SpanContext.SpanID(), request.Parent.SpanID())
	assert.Equal(t, int64(http.StatusNoContent), attr(request, "http.response.status_code").AsInt64())

	got := propagation.TraceContext{}.Extract(context.Background(), propagation.HeaderCarrier{"Traceparent": sink.received()})
	sc := trace.SpanContextFromContext(got)
	assert.Equal(t, id, sc.TraceID(), "the alert webhook received the event's trace")
	assert.Equal(t, request.SpanContext.SpanID(), sc.SpanID())

	// The logs of the event carry its trace id, in both binaries.
	for _, c := range []struct {
		buf *testenv.Buffer
		msg string
	}{
		{rs.logs, "event stored"},
		{ws.logs, "event acknowledged"},
		{ws.logs, "finding alerted"},
		{ws.logs, "alert delivered"},
	} {
		recs := logsOf(t, c.buf, c.msg)
		require.NotEmpty(t, recs, "log %q", c.msg)
		assert.Equal(t, id.String(), recs[0][logging.KeyTraceID], "log %q", c.msg)
	}
}

// workerAPI finds the worker's admin URL in its start log.
func workerAPI(t *testing.T, ws service) string {
	t.Helper()
	recs := logsOf(t, ws.logs, "worker started")
	require.NotEmpty(t, recs)
	return recs[0]["admin"].(string)
}

// Tracing off: the same pipeline makes no span, stores no trace header with the event, sends none
// to the alert webhook, and logs no trace id.
func TestTracingOffAddsNothing(t *testing.T) {
	app, sink, hook, rs, ws := pipeline(t, false)
	body, err := events.Sample(events.TypeCTEntry, 43, time.Now())
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, post(t, app.WebhookURL(), hook, body, nil))
	require.Eventually(t, func() bool { return len(sink.received()) == 1 }, 30*time.Second, 20*time.Millisecond)
	assert.Equal(t, []string{""}, sink.received(), "no traceparent on the alert request")
	assert.Empty(t, rs.spans.GetSpans())
	assert.Empty(t, ws.spans.GetSpans())
	assert.NotContains(t, rs.logs.String(), logging.KeyTraceID)
	assert.NotContains(t, ws.logs.String(), logging.KeyTraceID)
}
