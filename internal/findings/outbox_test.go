package findings_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/hzhook/hzhook/internal/alerts"
	"github.com/hzhook/hzhook/internal/findings"
	"github.com/hzhook/hzhook/internal/inventory"
	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/rules"
	"github.com/hzhook/hzhook/internal/testenv"
)

func TestTraceParentRoundTrip(t *testing.T) {
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, SpanID: trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8},
		TraceFlags: trace.FlagsSampled,
	})
	tp := findings.TraceParent(sc)
	assert.Equal(t, "00-0102030405060708090a0b0c0d0e0f10-0102030405060708-01", tp)
	got := findings.ParseTraceParent(tp)
	assert.Equal(t, sc.TraceID(), got.TraceID())
	assert.Equal(t, sc.SpanID(), got.SpanID())
	assert.Empty(t, findings.TraceParent(trace.SpanContext{}), "not traced: nothing stored")
	assert.False(t, findings.ParseTraceParent("").IsValid())
	assert.False(t, findings.ParseTraceParent("00-zz").IsValid())
}

// Whoever publishes a finding's alert (the event's handler, a redelivery, the expiry scan's sweep
// much later), it goes out in the trace of the event that made the finding: the publish span is a
// child of the stored traceparent, and the alert message carries the publish span's context. A
// finding stored without one is published in a trace of its own.
func TestOutboxPublishesInTheFindingsTrace(t *testing.T) {
	conn, _ := testenv.JetStream(t)
	require.NoError(t, queue.EnsureAlertStream(t.Context(), conn.JS))
	store, err := inventory.Open(t.Context(), "sqlite://"+filepath.Join(t.TempDir(), "hzhook.db"), testenv.DiscardLog())
	require.NoError(t, err)
	t.Cleanup(store.Close)

	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	outbox := findings.NewOutbox(store, queue.NewPublisher(conn.JS), alerts.NewMetrics(prometheus.NewRegistry()), testenv.DiscardLog(), time.Now,
		findings.Tracing{TracerProvider: tp, Propagator: propagation.TraceContext{}})
	_, event := tp.Tracer("test").Start(context.Background(), "process HZ_EVENTS")
	event.End()

	tests := []struct {
		name   string
		tbs    string
		origin trace.SpanContext
	}{
		{"traced event", "aa", event.SpanContext()},
		{"untraced event", "bb", trace.SpanContext{}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			exp.Reset()
			tbs := tc.tbs + "00000000000000000000000000000000000000000000000000000000000000"
			f := rules.Finding{Type: rules.TypeWildcard, TBSSHA256: tbs, SHA256: "cc" + tbs[2:]}
			row, err := findings.Row(f, rules.Cert{SHA256: f.SHA256, TBSSHA256: tbs, Subject: "CN=*.example.com"}, time.Now())
			require.NoError(t, err)
			rows := []inventory.FindingRow{row}
			findings.WithTraceParent(rows, tc.origin)
			require.NoError(t, store.RecordFindings(t.Context(), rows))

			n, err := outbox.PublishOldest(t.Context(), time.Now(), 10) // the sweep
			require.NoError(t, err)
			require.Equal(t, 1, n)

			spans := exp.GetSpans()
			require.Len(t, spans, 1)
			publish := spans[0]
			assert.Equal(t, "send "+queue.StreamAlerts, publish.Name)
			if tc.origin.IsValid() {
				assert.Equal(t, tc.origin.TraceID(), publish.SpanContext.TraceID())
				assert.Equal(t, tc.origin.SpanID(), publish.Parent.SpanID())
			} else {
				assert.False(t, publish.Parent.IsValid(), "a trace of its own")
			}
			s, err := conn.JS.Stream(t.Context(), queue.StreamAlerts)
			require.NoError(t, err)
			msg, err := s.GetMsg(t.Context(), uint64(i+1))
			require.NoError(t, err)
			stored := findings.ParseTraceParent(msg.Header.Get(queue.HeaderTraceParent))
			assert.Equal(t, publish.SpanContext.TraceID(), stored.TraceID(), "the alert message carries the trace")
			assert.Equal(t, publish.SpanContext.SpanID(), stored.SpanID())
		})
	}
}

// A sweep publishes only the findings made at or before its bound, oldest first: a finding whose
// event is publishing it right now (newer than the bound) is left to that event.
func TestSweepLeavesNewerFindingsAlone(t *testing.T) {
	conn, _ := testenv.JetStream(t)
	require.NoError(t, queue.EnsureAlertStream(t.Context(), conn.JS))
	store, err := inventory.Open(t.Context(), "sqlite://"+filepath.Join(t.TempDir(), "hzhook.db"), testenv.DiscardLog())
	require.NoError(t, err)
	t.Cleanup(store.Close)
	outbox := findings.NewOutbox(store, queue.NewPublisher(conn.JS), alerts.NewMetrics(prometheus.NewRegistry()), testenv.DiscardLog(), time.Now, findings.Tracing{})

	now := time.Now()
	var rows []inventory.FindingRow
	for i, made := range []time.Time{now.Add(-2 * time.Minute), now.Add(-90 * time.Second), now} {
		tbs := strings.Repeat(string(rune('a'+i)), 64)
		f := rules.Finding{Type: rules.TypeWildcard, TBSSHA256: tbs, SHA256: tbs}
		row, err := findings.Row(f, rules.Cert{SHA256: tbs, TBSSHA256: tbs, Subject: "CN=*.example.com"}, made)
		require.NoError(t, err)
		rows = append(rows, row)
	}
	require.NoError(t, store.RecordFindings(t.Context(), rows))

	n, err := outbox.Sweep(t.Context(), now.Add(-time.Minute))
	require.NoError(t, err)
	assert.Equal(t, 2, n, "the two made over a minute ago")
	left, err := store.UnpublishedOldest(t.Context(), now, 10)
	require.NoError(t, err)
	require.Len(t, left, 1)
	assert.Equal(t, rows[2].TBSSHA256, left[0].TBSSHA256, "the newest is left to its event")

	n, err = outbox.Sweep(t.Context(), now)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	s, err := conn.JS.Stream(t.Context(), queue.StreamAlerts)
	require.NoError(t, err)
	assert.Equal(t, uint64(3), s.CachedInfo().State.Msgs, "each alert once")
}
