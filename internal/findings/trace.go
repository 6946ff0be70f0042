package findings

import (
	"context"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/hzhook/hzhook/internal/inventory"
)

// TraceParent is the W3C traceparent of sc, stored with the findings of the event message whose
// span it is (inventory.FindingRow.TraceParent): "" when sc is not valid (tracing off).
func TraceParent(sc trace.SpanContext) string {
	if !sc.IsValid() {
		return ""
	}
	c := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(trace.ContextWithSpanContext(context.Background(), sc), c)
	return c["traceparent"]
}

// ParseTraceParent reads a stored traceparent; the zero SpanContext when there is none or it is
// malformed.
func ParseTraceParent(s string) trace.SpanContext {
	if s == "" {
		return trace.SpanContext{}
	}
	ctx := propagation.TraceContext{}.Extract(context.Background(), propagation.MapCarrier{"traceparent": s})
	return trace.SpanContextFromContext(ctx)
}

// WithTraceParent sets the traceparent of sc on every row (nothing when sc is not valid).
func WithTraceParent(rows []inventory.FindingRow, sc trace.SpanContext) {
	if !sc.IsValid() {
		return
	}
	tp := TraceParent(sc)
	for i := range rows {
		rows[i].TraceParent = tp
	}
}
