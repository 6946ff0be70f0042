package alerts

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// Each sink request is a client span, a child of the alert's span, whose traceparent goes with the
// request; the span names the host, never the URL's path (a Slack webhook URL is a credential).
// Without tracing no header is added.
func TestSinkRequestsAreTraced(t *testing.T) {
	var (
		mu      sync.Mutex
		parents []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		parents = append(parents, r.Header.Get("traceparent"))
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	secretPath := "/services/T0000/B0000/XXXXSECRETXXXX"

	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	on := Tracing{TracerProvider: tp, Propagator: propagation.TraceContext{}}
	ctx, parent := tp.Tracer("test").Start(context.Background(), "process HZ_ALERTS")
	defer parent.End()

	tests := []struct {
		name  string
		sink  func(tr Tracing) (Sink, error)
		trace Tracing
	}{
		{"slack, traced", func(tr Tracing) (Sink, error) {
			return NewSlackSink(SlackOptions{URL: srv.URL + secretPath, Trace: tr})
		}, on},
		{"webhook, traced", func(tr Tracing) (Sink, error) {
			return NewWebhookSink(WebhookOptions{URL: srv.URL + "/alerts", Secret: "s3cret-0123456789", Trace: tr})
		}, on},
		{"webhook, tracing off", func(tr Tracing) (Sink, error) {
			return NewWebhookSink(WebhookOptions{URL: srv.URL + "/alerts", Secret: "s3cret-0123456789", Trace: tr})
		}, Tracing{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			exp.Reset()
			mu.Lock()
			parents = nil
			mu.Unlock()
			s, err := tc.sink(tc.trace)
			require.NoError(t, err)
			require.NoError(t, s.Deliver(ctx, sampleAlert()))
			mu.Lock()
			defer mu.Unlock()
			require.Len(t, parents, 1)
			spans := exp.GetSpans()
			if tc.trace.TracerProvider == nil {
				assert.Empty(t, parents[0])
				assert.Empty(t, spans)
				return
			}
			require.Len(t, spans, 1)
			span := spans[0]
			assert.Equal(t, trace.SpanKindClient, span.SpanKind)
			assert.Equal(t, http.MethodPost, span.Name)
			assert.Equal(t, parent.SpanContext().SpanID(), span.Parent.SpanID())
			want := propagation.TraceContext{}
			got := trace.SpanContextFromContext(want.Extract(context.Background(), propagation.MapCarrier{"traceparent": parents[0]}))
			assert.Equal(t, span.SpanContext.TraceID(), got.TraceID())
			assert.Equal(t, span.SpanContext.SpanID(), got.SpanID())
			for _, kv := range span.Attributes {
				assert.NotContains(t, kv.Value.Emit(), "SECRET", "%s must not carry the URL's path", kv.Key)
			}
		})
	}
}
