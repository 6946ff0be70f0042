package webhook

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/intake"
	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/verify"
)

// acked stores nothing and acknowledges at once: what the route and intake cost, without NATS.
type acked struct{}

func (acked) Publish(context.Context, *nats.Msg, string) (bool, error) { return false, nil }

// BenchmarkWebhook is one verified delivery through the webhook route and intake, tracing off and
// on (spans batched to an exporter that discards them, or exported over OTLP/HTTP to a local
// server): the CPU and allocations tracing adds. The exporter's work runs in the batch
// processor's goroutine, which the benchmark's time includes.
func BenchmarkWebhook(b *testing.B) {
	hook := verify.Hook{Org: "bench", ID: "0123456789abcdef0123456789abcdef", Secrets: []string{"fedcba9876543210fedcba9876543210"}}
	store, err := verify.NewStore([]verify.Hook{hook})
	if err != nil {
		b.Fatal(err)
	}
	body, err := events.Sample(events.TypeCTEntry, 1, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	sig := verify.Sign(hook.Secrets[0], time.Now(), body)
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	b.Cleanup(collector.Close)
	otlp, err := otlptracehttp.New(b.Context(), otlptracehttp.WithEndpointURL(collector.URL+"/v1/traces"))
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		tp   trace.TracerProvider
	}{
		{"tracing off", nil},
		{"tracing on, spans discarded", sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))},
		{"tracing on, OTLP/HTTP export", sdktrace.NewTracerProvider(sdktrace.WithBatcher(otlp))},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var prop propagation.TextMapPropagator
			if tc.tp != nil {
				prop = propagation.TraceContext{}
			}
			in := intake.New(verify.NewVerifier(store, time.Hour, time.Now), acked{},
				intake.Options{Registerer: prometheus.NewRegistry(), TracerProvider: tc.tp, Propagator: prop})
			srv := NewServer(in, Options{Path: "/hardenize/events", MaxBodyBytes: 1 << 20, MaxInFlight: 1024,
				Log: slog.New(slog.DiscardHandler), Registerer: prometheus.NewRegistry(), TracerProvider: tc.tp, Propagator: prop})
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/hardenize/events", bytes.NewReader(body))
				req.Header.Set(queue.HeaderOrg, hook.Org)
				req.Header.Set(queue.HeaderHookID, hook.ID)
				req.Header.Set(queue.HeaderSignature, sig)
				rec := httptest.NewRecorder()
				srv.ServeHTTP(rec, req)
				if rec.Code != http.StatusNoContent {
					b.Fatalf("answer %d: %s", rec.Code, rec.Body)
				}
			}
		})
	}
}
