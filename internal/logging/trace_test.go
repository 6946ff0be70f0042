package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace"
)

func TestWithTraceAddsTraceAndSpanID(t *testing.T) {
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		TraceFlags: trace.FlagsSampled,
	})
	traced := trace.ContextWithSpanContext(context.Background(), sc)
	tests := []struct {
		name     string
		log      func(l *slog.Logger)
		wantSpan bool
	}{
		{"context with a span", func(l *slog.Logger) { l.InfoContext(traced, "event stored", "id", "1") }, true},
		{"logger with attributes and a group", func(l *slog.Logger) {
			l.With("component", "worker").WithGroup("g").InfoContext(traced, "event stored", "id", "1")
		}, true},
		{"no context", func(l *slog.Logger) { l.Info("event stored", "id", "1") }, false},
		{"context without a span", func(l *slog.Logger) { l.InfoContext(context.Background(), "event stored", "id", "1") }, false},
		{"invalid span context", func(l *slog.Logger) {
			l.InfoContext(trace.ContextWithSpanContext(context.Background(), trace.SpanContext{}), "event stored")
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			l, err := New(&buf, "info")
			require.NoError(t, err)
			tc.log(l)
			var rec map[string]any
			require.NoError(t, json.Unmarshal(buf.Bytes(), &rec), buf.String())
			if !tc.wantSpan {
				assert.NotContains(t, rec, KeyTraceID)
				assert.NotContains(t, rec, KeySpanID)
				return
			}
			// Under a group they are in it, as every attribute of the record is (hzhook's
			// loggers use no groups).
			got := rec
			if g, ok := rec["g"].(map[string]any); ok {
				got = g
			}
			assert.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", got[KeyTraceID])
			assert.Equal(t, "00f067aa0ba902b7", got[KeySpanID])
		})
	}
}

func TestWithTraceKeepsLevel(t *testing.T) {
	var buf bytes.Buffer
	l, err := New(&buf, "warn")
	require.NoError(t, err)
	l.InfoContext(context.Background(), "not shown")
	assert.Empty(t, buf.String())
	assert.False(t, l.Enabled(context.Background(), slog.LevelInfo))
}
