package queue

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

const testTraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

func testSpanContext(t *testing.T) trace.SpanContext {
	t.Helper()
	ctx := propagation.TraceContext{}.Extract(context.Background(), propagation.MapCarrier{"traceparent": testTraceParent, "tracestate": "hz=1"})
	sc := trace.SpanContextFromContext(ctx)
	require.True(t, sc.IsValid())
	return sc
}

func TestHeaderCarrierInjectExtract(t *testing.T) {
	p := propagation.TraceContext{}
	ctx := trace.ContextWithSpanContext(context.Background(), testSpanContext(t))
	h := nats.Header{}
	InjectTrace(ctx, p, h)
	assert.Equal(t, nats.Header{HeaderTraceParent: {testTraceParent}, HeaderTraceState: {"hz=1"}}, h,
		"written in lower case, as the W3C names them and other NATS clients read them")

	tests := []struct {
		name   string
		header nats.Header
		want   string // trace id; "" = no valid span context
	}{
		{"as written", h, "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"canonical case (through an HTTP header map)", nats.Header{"Traceparent": {testTraceParent}}, "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"none", nats.Header{HeaderOrg: {"demo"}}, ""},
		{"malformed", nats.Header{HeaderTraceParent: {"00-zz-00f067aa0ba902b7-01"}}, ""},
		{"nil header", nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sc := trace.SpanContextFromContext(ExtractTrace(context.Background(), p, tc.header))
			if tc.want == "" {
				assert.False(t, sc.IsValid())
				return
			}
			require.True(t, sc.IsValid())
			assert.True(t, sc.IsRemote())
			assert.Equal(t, tc.want, sc.TraceID().String())
			assert.Equal(t, "00f067aa0ba902b7", sc.SpanID().String())
		})
	}
}

func TestStoredEventTrace(t *testing.T) {
	ev := StoredEvent{Org: "demo", HookID: "h", EventID: "1", Type: "ct.entry", Source: SourceWebhook, ReceivedAt: time.Now(), Body: []byte(`{}`)}
	traced := trace.ContextWithSpanContext(context.Background(), testSpanContext(t))
	tests := []struct {
		name string
		ctx  context.Context
		p    propagation.TextMapPropagator
		want string
	}{
		{"traced", traced, propagation.TraceContext{}, testTraceParent},
		{"tracing off: no propagator", traced, nil, ""},
		{"tracing off: the no-op propagator", traced, propagation.NewCompositeTextMapPropagator(), ""},
		{"no span", context.Background(), propagation.TraceContext{}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg := ev.TracedMsg(tc.ctx, tc.p)
			assert.Equal(t, tc.want, msg.Header.Get(HeaderTraceParent))
			if tc.want == "" {
				assert.Equal(t, ev.Msg().Header, msg.Header, "no header added")
			}
		})
	}
}
