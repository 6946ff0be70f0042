package webhook

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// tracerName is the instrumentation scope of the webhook's spans.
const tracerName = "github.com/hzhook/hzhook/internal/handlers/webhook"

// AttrRejectReason is the span attribute naming why a delivery was refused (intake's reason).
const AttrRejectReason = "hz.reject.reason"

// serverSpan makes one server span per request, named after the route ("POST /hardenize/events"),
// with the method, route (or path, off the route), client address and answer status; never a body,
// a header value or a signature. The listener faces the internet, so a traceparent the sender may have sent starts no
// trace of ours: the span is a new root, linked to it (OpenTelemetry's advice for public
// endpoints). Errors are answered here (c.Error), so the status is known when the span ends.
func serverSpan(tp trace.TracerProvider, p propagation.TextMapPropagator, route string) echo.MiddlewareFunc {
	tracer := tp.Tracer(tracerName)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer), trace.WithNewRoot()}
			if p != nil {
				if remote := trace.SpanContextFromContext(p.Extract(req.Context(), propagation.HeaderCarrier(req.Header))); remote.IsValid() {
					opts = append(opts, trace.WithLinks(trace.Link{SpanContext: remote}))
				}
			}
			name := req.Method
			if req.URL.Path == route {
				name += " " + route
			}
			ctx, span := tracer.Start(req.Context(), name, opts...)
			defer span.End()
			if span.IsRecording() { // few attributes: each costs again when exported
				span.SetAttributes(attribute.String("http.request.method", req.Method), attribute.String("client.address", c.RealIP()))
				if req.URL.Path == route {
					span.SetAttributes(attribute.String("http.route", route))
				} else {
					span.SetAttributes(attribute.String("url.path", req.URL.Path))
				}
			}
			c.SetRequest(req.WithContext(ctx))
			if err := next(c); err != nil {
				c.Error(err)
			}
			code := c.Response().Status
			span.SetAttributes(attribute.Int("http.response.status_code", code))
			if code >= http.StatusInternalServerError {
				span.SetStatus(codes.Error, http.StatusText(code))
			}
			return nil
		}
	}
}
