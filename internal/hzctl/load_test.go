package hzctl

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/events"
)

func TestLoadAgainstARealReceiver(t *testing.T) {
	app := startReceiver(t)
	e := env(map[string]string{"HZ_HOOK_SECRET": secret})
	base := []string{"load", "--url", app.WebhookURL(), "--org", org, "--hook", hook, "--concurrency", "4", "--duration", "1s", "--size", "4096"}

	code, out, errOut := runHzctl(t, e, append(base, "--rate", "100", "--json")...)
	require.Equal(t, 0, code, errOut)
	var rep LoadReport
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	require.Positive(t, rep.Requests)
	assert.Equal(t, map[string]int{"204": rep.Requests}, rep.Answers, "every freshly signed, unique event is accepted")
	assert.InDelta(t, 4096, rep.BodyBytes, 32)
	l := rep.LatencyMs
	assert.Positive(t, l.P50)
	assert.LessOrEqual(t, l.P50, l.P90)
	assert.LessOrEqual(t, l.P90, l.P99)
	assert.LessOrEqual(t, l.P99, l.Max)
	assert.Positive(t, rep.Throughput)

	code, out, errOut = runHzctl(t, e, append(base, "--rate", "0")...)
	require.Equal(t, 0, code, errOut)
	for _, want := range []string{"throughput", "answers     204: ", "latency     p50 ", "p90 ", "p99 ", "max "} {
		assert.Contains(t, out, want)
	}

	wrong := env(map[string]string{"HZ_HOOK_SECRET": "another-secret-of-sufficient-length"})
	code, out, _ = runHzctl(t, wrong, append(base, "--duration", "200ms", "--json")...)
	require.Equal(t, 0, code)
	var refused LoadReport
	require.NoError(t, json.Unmarshal([]byte(out), &refused))
	assert.Equal(t, map[string]int{"400": refused.Requests}, refused.Answers, "answer codes are counted, not hidden")
}

func TestLoadBodies(t *testing.T) {
	b, err := newLoadBody(3000, time.Now())
	require.NoError(t, err)
	one, two := b.with(41), b.with(42)
	assert.InDelta(t, 3000, len(one), 4)
	for id, body := range map[string][]byte{"41": one, "42": two} {
		ev, err := events.ParseEnvelope(body)
		require.NoError(t, err)
		assert.Equal(t, id, ev.ID)
		assert.Equal(t, events.TypeCTEntry, ev.Type)
		_, _, _, err = events.DecodeCTEntry(ev)
		require.NoError(t, err, "the padding is an unknown field, ignored")
	}
	small, err := newLoadBody(10, time.Now())
	require.NoError(t, err)
	assert.Greater(t, len(small.with(1)), 10, "never smaller than the sample")
}

func TestLoadNeedsTheSecretFromTheEnvironment(t *testing.T) {
	code, _, errOut := runHzctl(t, env(nil), "load", "--org", org, "--hook", hook)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "env HZ_HOOK_SECRET")
}
