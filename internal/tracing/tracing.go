package tracing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// The standard variables FromEnv reads itself to decide whether and how to export. Every other
// one in EnvNames is read by the OpenTelemetry SDK that FromEnv calls.
const (
	EnvSDKDisabled      = "OTEL_SDK_DISABLED"
	EnvTracesExporter   = "OTEL_TRACES_EXPORTER"
	EnvEndpoint         = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvTracesEndpoint   = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	EnvProtocol         = "OTEL_EXPORTER_OTLP_PROTOCOL"
	EnvTracesProtocol   = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	EnvTracesSampler    = "OTEL_TRACES_SAMPLER"
	EnvTracesSamplerArg = "OTEL_TRACES_SAMPLER_ARG"
)

// EnvNames are the standard OpenTelemetry variables the receiver and the worker read: FromEnv's
// own, and those the SDK's exporter, resource, span limits and batch span processor read
// themselves when FromEnv builds them. OTEL_EXPORTER_OTLP_INSECURE is not among them: the
// endpoint's scheme (http: or https:) decides, as FromEnv hands the exporter the URL. internal/deploycheck accepts exactly these in the manifests beside the
// HZ_* settings.
var EnvNames = []string{
	EnvSDKDisabled, EnvTracesExporter,
	EnvEndpoint, EnvTracesEndpoint, EnvProtocol, EnvTracesProtocol,
	"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
	"OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
	"OTEL_EXPORTER_OTLP_COMPRESSION", "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
	"OTEL_EXPORTER_OTLP_CERTIFICATE", "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
	"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
	"OTEL_EXPORTER_OTLP_CLIENT_KEY", "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY",
	"OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES",
	EnvTracesSampler, EnvTracesSamplerArg,
	"OTEL_BSP_SCHEDULE_DELAY", "OTEL_BSP_EXPORT_TIMEOUT", "OTEL_BSP_MAX_QUEUE_SIZE", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
	"OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_SPAN_EVENT_COUNT_LIMIT",
	"OTEL_SPAN_LINK_COUNT_LIMIT", "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT",
}

// Options configure FromEnv.
type Options struct {
	// ServiceName is the service.name of the resource unless OTEL_SERVICE_NAME (or service.name in
	// OTEL_RESOURCE_ATTRIBUTES) names another: "hzhook-receiver", "hzhook-worker".
	ServiceName string
	// LookupEnv reads the variables FromEnv decides on: whether to trace, the endpoint, the
	// protocol and the sampler (os.LookupEnv in main, a map in tests). The SDK reads the others in
	// EnvNames (headers, timeout, certificates, resource attributes, batching) from the process
	// environment itself.
	LookupEnv func(string) (string, bool)
	// Log receives the SDK's export errors. The SDK reports them only to OpenTelemetry's
	// process-wide error handler, so FromEnv sets that one global (when tracing is on and Log is
	// set); provider and propagator stay local. Nil: the SDK's default handler (stderr).
	Log *slog.Logger
}

// Tracing is a binary's tracing: what to pass down, and the shutdown that flushes it.
type Tracing struct {
	// TracerProvider makes every span; a no-op provider when tracing is off.
	TracerProvider trace.TracerProvider
	// Propagator writes and reads the trace context of stored messages and outgoing requests: W3C
	// Trace Context when tracing is on, nothing at all when it is off (no headers are added).
	Propagator propagation.TextMapPropagator
	// Enabled is true when spans are exported.
	Enabled bool
	// Exporter describes where spans go ("otlp grpc", "otlp http/protobuf"), for the start log.
	Exporter string

	sdk *sdktrace.TracerProvider // nil when off
}

// Off is tracing switched off: a no-op provider and a propagator that writes and reads nothing.
func Off() *Tracing {
	return &Tracing{TracerProvider: noop.NewTracerProvider(), Propagator: propagation.NewCompositeTextMapPropagator()}
}

// Propagator is the propagator of hzhook's trace context: W3C Trace Context (traceparent,
// tracestate).
func Propagator() propagation.TextMapPropagator { return propagation.TraceContext{} }

// FromEnv builds the tracing the standard variables ask for. It is off (Off) unless
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT is set, and also when
// OTEL_SDK_DISABLED is true or OTEL_TRACES_EXPORTER is none. When on, spans go in batches to an
// OTLP exporter over gRPC or HTTP (OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL: grpc, or http/protobuf by
// default) at that endpoint, which reads its headers, timeout, compression and certificates from
// the other OTEL_EXPORTER_OTLP_* variables itself; the resource is service.name
// Options.ServiceName with OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES applied over it; the
// sampler is OTEL_TRACES_SAMPLER (default parentbased_always_on). A value FromEnv cannot honour is
// an error naming the variable, so that a typo stops the binary at start instead of silently
// tracing differently. Call Shutdown before exiting.
func FromEnv(ctx context.Context, o Options) (*Tracing, error) {
	get := func(k string) string {
		if o.LookupEnv == nil {
			return ""
		}
		v, _ := o.LookupEnv(k)
		return strings.TrimSpace(v)
	}
	if v := get(EnvSDKDisabled); v != "" {
		off, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not true or false", EnvSDKDisabled, v)
		}
		if off {
			return Off(), nil
		}
	}
	switch v := strings.ToLower(get(EnvTracesExporter)); v {
	case "", "otlp":
	case "none":
		return Off(), nil
	default:
		return nil, fmt.Errorf("%s: %q is not supported: use otlp (the default) or none", EnvTracesExporter, v)
	}
	endpoint, err := endpointURL(get(EnvTracesEndpoint), get(EnvEndpoint))
	if err != nil {
		return nil, err
	}
	if endpoint == nil {
		return Off(), nil
	}
	smp, err := sampler(get(EnvTracesSampler), get(EnvTracesSamplerArg))
	if err != nil {
		return nil, err
	}
	protocol, protoVar := get(EnvTracesProtocol), EnvTracesProtocol
	if protocol == "" {
		protocol, protoVar = get(EnvProtocol), EnvProtocol
	}
	var exp sdktrace.SpanExporter
	switch protocol {
	case "", "http/protobuf":
		protocol = "http/protobuf"
		exp, err = otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint.http))
	case "grpc":
		exp, err = otlptracegrpc.New(ctx, otlptracegrpc.WithEndpointURL(endpoint.grpc))
	default:
		return nil, fmt.Errorf("%s: %q is not supported: use grpc or http/protobuf", protoVar, protocol)
	}
	if err != nil {
		return nil, fmt.Errorf("otlp trace exporter (%s): %w", protocol, err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", o.ServiceName)),
		resource.WithFromEnv(), // OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME: over the default name
		resource.WithTelemetrySDK(),
		resource.WithHost(),
	)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		_ = exp.Shutdown(ctx)
		return nil, fmt.Errorf("trace resource (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES): %w", err)
	}
	if o.Log != nil {
		log := o.Log
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("opentelemetry error", "err", err) }))
	}
	sdk := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res), sdktrace.WithSampler(smp))
	return &Tracing{TracerProvider: sdk, Propagator: Propagator(), Enabled: true, Exporter: "otlp " + protocol, sdk: sdk}, nil
}

// New is tracing on into the given SDK provider (tests: one with an in-memory exporter).
func New(tp *sdktrace.TracerProvider) *Tracing {
	return &Tracing{TracerProvider: tp, Propagator: Propagator(), Enabled: true, Exporter: "sdk", sdk: tp}
}

// Shutdown flushes the spans not yet exported and stops the exporter, waiting at most until ctx
// ends. It does nothing when tracing is off.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t.sdk == nil {
		return nil
	}
	if err := t.sdk.Shutdown(ctx); err != nil {
		return fmt.Errorf("flush traces: %w", err)
	}
	return nil
}

// ShutdownWithin is Shutdown bounded by d, for the deferred call in main.
func (t *Tracing) ShutdownWithin(d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return t.Shutdown(ctx)
}

// endpoint is where spans go: the URL an HTTP exporter posts to, and the one a gRPC exporter
// dials (scheme, host and port; http: is without TLS).
type endpoint struct{ http, grpc string }

// endpointURL reads OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used as it is) or else
// OTEL_EXPORTER_OTLP_ENDPOINT (a base URL: HTTP posts to its path + /v1/traces), as the OTLP
// exporter specification says; nil when neither is set. FromEnv hands the exporter the URL itself,
// so that what decided "tracing on" is also where spans go.
func endpointURL(traces, base string) (*endpoint, error) {
	name, raw := EnvTracesEndpoint, traces
	if raw == "" {
		name, raw = EnvEndpoint, base
	}
	if raw == "" {
		return nil, nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s: %q is not an http:// or https:// URL", name, raw)
	}
	e := &endpoint{http: u.String(), grpc: (&url.URL{Scheme: u.Scheme, Host: u.Host}).String()}
	if name == EnvEndpoint {
		u.Path = path.Join("/", u.Path, "v1/traces")
		e.http = u.String()
	}
	return e, nil
}

// sampler reads OTEL_TRACES_SAMPLER and its argument as the SDK would (nil: its default,
// parentbased_always_on), but refuses what it does not know: the SDK itself would report a typo
// only through the error handler and sample everything.
func sampler(name, arg string) (sdktrace.Sampler, error) {
	ratio := 1.0
	if arg != "" {
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || r < 0 || r > 1 {
			return nil, fmt.Errorf("%s: %q is not a ratio from 0 to 1", EnvTracesSamplerArg, arg)
		}
		ratio = r
	}
	switch strings.ToLower(name) {
	case "", "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	case "traceidratio":
		return sdktrace.TraceIDRatioBased(ratio), nil
	case "parentbased_traceidratio":
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio)), nil
	default:
		return nil, fmt.Errorf("%s: %q is not supported: use always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio", EnvTracesSampler, name)
	}
}
