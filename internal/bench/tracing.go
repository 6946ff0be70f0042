package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// TracingHeading is the results section of the intake with tracing on and off (hzbench intake
// --tracing-only; a full intake run has the same rows in its own section).
const TracingHeading = "## Intake with tracing on and off"

// OTLPSink is a stand-in OpenTelemetry collector: it accepts OTLP/HTTP exports (POST /v1/traces)
// and discards them, counting requests and bytes, so that hzhook's tracing costs what it costs with
// a collector without one being installed.
type OTLPSink struct {
	srv      *http.Server
	ln       net.Listener
	requests atomic.Int64
	bytes    atomic.Int64
}

// StartOTLPSink listens on a free loopback port.
func StartOTLPSink() (*OTLPSink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("otlp sink: %w", err)
	}
	s := &OTLPSink{ln: ln}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		s.requests.Add(1)
		s.bytes.Add(n)
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK) // an empty ExportTraceServiceResponse: everything accepted
	})
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// Endpoint is the OTEL_EXPORTER_OTLP_ENDPOINT of the sink.
func (s *OTLPSink) Endpoint() string { return "http://" + s.ln.Addr().String() }

// Received returns the exports and their bytes so far.
func (s *OTLPSink) Received() (requests, bytes int64) { return s.requests.Load(), s.bytes.Load() }

// Close stops the sink.
func (s *OTLPSink) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("otlp sink: %w", err)
	}
	return nil
}

// WriteTracingMarkdown writes the tracing comparison of r as its own section: hzhook's default
// set-up with tracing off and on (every span exported to an OTLP sink), and the ratio.
func (r IntakeReport) WriteTracingMarkdown(w io.Writer, now time.Time) {
	o := r.Options
	sr := r.Servers[0]
	fmt.Fprintf(w, "%s\n\n", TracingHeading)
	fmt.Fprintf(w, "%s: hzhook's default set-up (embedded NATS, `--nats-sync always`, group commit), signed %d-byte `ct.entry` events, keep-alive, %d connections, %s per run, median of %d runs, the two interleaved run by run; load from `hzctl load` on the same machine. %s\n\n",
		measuredOn(now), o.Size, o.Connections, o.Duration, o.Runs, conditions(r.LoadAverage, o.Note))
	fmt.Fprintf(w, "Tracing on is `OTEL_EXPORTER_OTLP_ENDPOINT` set to a stand-in collector in hzbench that accepts and discards `POST /v1/traces` (OTLP/HTTP, the default sampler: every request traced, two spans each and one per group commit); it received %d exports, %.1f MiB.\n\n",
		r.TraceExports, float64(r.TraceBytes)/(1<<20))
	writeTargets(w, []TargetResult{*sr.Embedded, *sr.Traced})
	fmt.Fprintf(w, "\n| comparison | requests/s | server CPU per request |\n|---|---:|---:|\n")
	fmt.Fprintf(w, "| tracing on vs off | %.2f× | %.2f× |\n\n", ratio(sr.Traced.RPS, sr.Embedded.RPS),
		ratio(float64(sr.Traced.CPUPerRequest), float64(sr.Embedded.CPUPerRequest)))
}
