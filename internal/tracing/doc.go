// Package tracing builds a binary's OpenTelemetry tracing from the standard OTEL_* environment
// variables: an OTLP exporter (gRPC or HTTP) when an endpoint is set, a no-op provider otherwise,
// and the W3C Trace Context propagator. main builds it and passes its TracerProvider and Propagator
// down through constructors like the Prometheus registry: no package sets or reads OpenTelemetry's
// global provider or propagator.
package tracing
