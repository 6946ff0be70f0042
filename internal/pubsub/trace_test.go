package pubsub

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/intake"
	"github.com/hzhook/hzhook/internal/pubsub/pubsubtest"
	"github.com/hzhook/hzhook/internal/queue"
)

// Each message is a consumer span of its own (a new root: nothing in Hardenize's attributes is
// trusted as a parent); a stored event carries the traceparent of its publish, a child of that
// span, and a rejected message's dead letter the message span's own, for its redrive to continue.
func TestMessagesAreTraced(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	f := newFixtureWith(t, fixtureOptions{tp: sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))})
	genuine := sample(t, events.TypeCTEntry, time.Now().UnixNano())
	f.publishSigned(genuine)
	refused := sample(t, events.TypeTest, time.Now().UnixNano()+1)
	f.topic.Publish(refused, pubsubtest.Signed(testOrg, testHook, "0f1e2d3c4b5a69788796a5b4c3d2e1f0", time.Now(), refused))
	require.Eventually(t, func() bool { return f.acked(OutcomeStored) == 1 && f.acked(OutcomeDeadLettered) == 1 }, wait, 20*time.Millisecond)
	f.stop() // every span ended

	parentOf := func(h map[string][]string) trace.SpanContext {
		return trace.SpanContextFromContext(queue.ExtractTrace(context.Background(), propagation.TraceContext{}, h))
	}
	spans := exp.GetSpans()
	byName := map[string][]tracetest.SpanStub{}
	for _, s := range spans {
		byName[s.Name] = append(byName[s.Name], s)
	}
	process := byName["process "+f.src.Subscription()]
	require.Len(t, process, 2)
	for _, p := range process {
		assert.Equal(t, trace.SpanKindConsumer, p.SpanKind)
		assert.False(t, p.Parent.IsValid(), "a new root")
	}
	send := byName["send "+queue.StreamEvents]
	require.Len(t, send, 1)

	stored := f.messages(queue.StreamEvents)
	require.Len(t, stored, 1)
	assert.Equal(t, send[0].SpanContext, parentOf(stored[0].Header).WithRemote(false), "the stored event continues the publish's trace")

	dead := f.messages(queue.StreamDLQ)
	require.Len(t, dead, 1)
	letter := parentOf(dead[0].Header)
	require.True(t, letter.IsValid(), "the dead letter keeps the message's trace")
	var rejected tracetest.SpanStub
	for _, p := range process {
		if p.SpanContext.SpanID() == letter.SpanID() {
			rejected = p
		} else {
			assert.Equal(t, p.SpanContext.SpanID(), send[0].Parent.SpanID(), "the publish is the genuine message's child")
		}
	}
	require.True(t, rejected.SpanContext.IsValid())
	var reason string
	for _, kv := range rejected.Attributes {
		if kv.Key == "hz.reject.reason" {
			reason = kv.Value.AsString()
		}
	}
	assert.Equal(t, intake.ReasonBadSignature, reason)
}
