package tracing

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func TestFromEnv(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		enabled  bool
		exporter string
		err      string
	}{
		{name: "nothing set: off", env: nil},
		{name: "only a protocol: off", env: map[string]string{EnvProtocol: "grpc"}},
		{name: "endpoint: http/protobuf", env: map[string]string{EnvEndpoint: "http://collector:4318"}, enabled: true, exporter: "otlp http/protobuf"},
		{name: "traces endpoint alone", env: map[string]string{EnvTracesEndpoint: "https://collector/v1/traces"}, enabled: true, exporter: "otlp http/protobuf"},
		{name: "grpc", env: map[string]string{EnvEndpoint: "http://collector:4317", EnvProtocol: "grpc"}, enabled: true, exporter: "otlp grpc"},
		{name: "traces protocol wins", env: map[string]string{EnvEndpoint: "http://c:4317", EnvProtocol: "http/protobuf", EnvTracesProtocol: "grpc"}, enabled: true, exporter: "otlp grpc"},
		{name: "sampler with ratio", env: map[string]string{EnvEndpoint: "http://c:4318", EnvTracesSampler: "parentbased_traceidratio", EnvTracesSamplerArg: "0.25"}, enabled: true, exporter: "otlp http/protobuf"},
		{name: "SDK disabled", env: map[string]string{EnvEndpoint: "http://c:4318", EnvSDKDisabled: "true"}},
		{name: "exporter none", env: map[string]string{EnvEndpoint: "http://c:4318", EnvTracesExporter: "none"}},
		{name: "unknown protocol", env: map[string]string{EnvEndpoint: "http://c:4318", EnvProtocol: "http/json"}, err: EnvProtocol},
		{name: "unknown exporter", env: map[string]string{EnvEndpoint: "http://c:4318", EnvTracesExporter: "zipkin"}, err: EnvTracesExporter},
		{name: "unknown sampler", env: map[string]string{EnvEndpoint: "http://c:4318", EnvTracesSampler: "always"}, err: EnvTracesSampler},
		{name: "bad ratio", env: map[string]string{EnvEndpoint: "http://c:4318", EnvTracesSampler: "traceidratio", EnvTracesSamplerArg: "2"}, err: EnvTracesSamplerArg},
		{name: "endpoint without scheme", env: map[string]string{EnvEndpoint: "collector:4317"}, err: EnvEndpoint},
		{name: "bad disabled flag", env: map[string]string{EnvEndpoint: "http://c:4318", EnvSDKDisabled: "perhaps"}, err: EnvSDKDisabled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := FromEnv(t.Context(), Options{ServiceName: "hzhook-test", LookupEnv: lookup(tc.env)})
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err, "the error names the variable")
				return
			}
			require.NoError(t, err)
			t.Cleanup(func() { _ = tr.ShutdownWithin(time.Second) })
			assert.Equal(t, tc.enabled, tr.Enabled)
			assert.Equal(t, tc.exporter, tr.Exporter)
			require.NotNil(t, tr.TracerProvider)
			if !tc.enabled {
				assert.Empty(t, tr.Propagator.Fields(), "off: no trace headers are written")
				_, span := tr.TracerProvider.Tracer("t").Start(context.Background(), "x")
				assert.False(t, span.SpanContext().IsValid(), "off: no spans")
			} else {
				assert.ElementsMatch(t, []string{"traceparent", "tracestate"}, tr.Propagator.Fields())
			}
		})
	}
}

func TestEndpointURL(t *testing.T) {
	tests := []struct{ traces, base, http, grpc string }{
		{"", "http://collector:4318", "http://collector:4318/v1/traces", "http://collector:4318"},
		{"", "https://collector:4318/otlp/", "https://collector:4318/otlp/v1/traces", "https://collector:4318"},
		{"http://c:4318/custom", "http://ignored:1", "http://c:4318/custom", "http://c:4318"},
	}
	for _, tc := range tests {
		e, err := endpointURL(tc.traces, tc.base)
		require.NoError(t, err)
		assert.Equal(t, tc.http, e.http)
		assert.Equal(t, tc.grpc, e.grpc)
	}
}

// The HTTP exporter posts protobuf to <endpoint>/v1/traces, with the resource's service name, and
// Shutdown flushes what was not exported yet.
func TestFromEnvExportsOverHTTP(t *testing.T) {
	var (
		mu    sync.Mutex
		posts []*http.Request
		body  []byte
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		posts, body = append(posts, r), append(body, b...)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	t.Cleanup(srv.Close)
	tr, err := FromEnv(t.Context(), Options{ServiceName: "hzhook-test", LookupEnv: lookup(map[string]string{EnvEndpoint: srv.URL})})
	require.NoError(t, err)
	_, span := tr.TracerProvider.Tracer("t").Start(context.Background(), "one span")
	span.End()
	require.NoError(t, tr.ShutdownWithin(5*time.Second))
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, posts)
	assert.Equal(t, http.MethodPost, posts[0].Method)
	assert.Equal(t, "/v1/traces", posts[0].URL.Path)
	assert.Equal(t, "application/x-protobuf", posts[0].Header.Get("Content-Type"))
	assert.Contains(t, string(body), "hzhook-test")
	assert.Contains(t, string(body), "one span")
}
