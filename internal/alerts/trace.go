package alerts

import (
	"context"
	"net/http"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Tracing is how an HTTP sink traces its requests.
type Tracing struct {
	// TracerProvider makes a client span of every request, a child of the alert message's span
	// (and so in the trace of the event that made the finding). Nil: no spans.
	TracerProvider trace.TracerProvider
	// Propagator writes the request span's trace context into the request's headers
	// (traceparent): a receiver that traces continues the same trace. Nil: none.
	Propagator propagation.TextMapPropagator
}

// httpTracer is Tracing made ready for post: nil tracer means no spans.
type httpTracer struct {
	tracer trace.Tracer
	prop   propagation.TextMapPropagator
}

func (t Tracing) http() httpTracer {
	h := httpTracer{prop: t.Propagator}
	if t.TracerProvider != nil {
		h.tracer = t.TracerProvider.Tracer("github.com/hzhook/hzhook/internal/alerts")
	}
	return h
}

// start begins the client span of req and writes the trace context into its headers. The span
// names the server's host and port, never the URL's path or query: a Slack incoming-webhook URL
// is a credential.
func (t httpTracer) start(ctx context.Context, kind string, req *http.Request) (context.Context, trace.Span) {
	var span trace.Span = noop.Span{} // never the caller's: this code ends it
	if t.tracer != nil {
		attrs := []attribute.KeyValue{
			attribute.String("http.request.method", req.Method),
			attribute.String("server.address", req.URL.Hostname()),
			attribute.String("url.scheme", req.URL.Scheme),
			attribute.String("hz.sink", kind),
		}
		if p, err := strconv.Atoi(req.URL.Port()); err == nil {
			attrs = append(attrs, attribute.Int("server.port", p))
		}
		ctx, span = t.tracer.Start(ctx, req.Method, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	}
	if t.prop != nil {
		t.prop.Inject(ctx, propagation.HeaderCarrier(req.Header))
	}
	return ctx, span
}

// end records the answer's status (0: none came) and the error of the attempt.
func endHTTP(span trace.Span, status int, err error) {
	if span.IsRecording() {
		if status > 0 {
			span.SetAttributes(attribute.Int("http.response.status_code", status))
		}
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
	}
	span.End()
}
