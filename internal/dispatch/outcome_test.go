package dispatch

import (
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/testenv"
)

func TestTransientFailuresAreRetriedWithBackoff(t *testing.T) {
	conn, _ := testenv.JetStream(t)
	h := newHandler(func(_ Message, n int) error {
		if n <= 2 {
			return errors.New("store unavailable")
		}
		return nil
	})
	o := testOptions("retry", map[string]Handler{events.TypeCTEntry: h}, events.TypeCTEntry)
	reg := prometheus.NewRegistry()
	o.Registerer = reg
	run(t, conn, o)
	publish(t, conn, events.TypeCTEntry, 1)

	require.Eventually(t, func() bool { return settled(t, conn, "retry") && h.count("1") == 3 }, waitFor, tick)
	ts := h.times("1")
	require.Len(t, ts, 3, "called exactly three times")
	assert.GreaterOrEqual(t, ts[1].Sub(ts[0]), o.Backoff[0], "first retry waits the first backoff step")
	assert.GreaterOrEqual(t, ts[2].Sub(ts[1]), o.Backoff[1], "second retry waits the second backoff step")
	assert.Empty(t, deadLetters(t, conn))

	m := collectorValue(reg)
	assert.Equal(t, 2.0, m("retry", events.TypeCTEntry, OutcomeRetried))
	assert.Equal(t, 1.0, m("retry", events.TypeCTEntry, OutcomeOK))
}

func TestFailuresEndInTheDeadLetterQueue(t *testing.T) {
	tests := []struct {
		name        string
		fail        func(m Message, n int) error
		wantCalls   int
		wantClass   string
		wantReason  string
		wantErr     string
		wantAttempt string
	}{
		{
			name:      "transient until max deliver",
			fail:      func(Message, int) error { return errors.New("sink unavailable") },
			wantCalls: 3, wantClass: queue.ClassTransient, wantReason: ReasonMaxDeliver,
			wantErr: "sink unavailable", wantAttempt: "3",
		},
		{
			name:      "permanent at once",
			fail:      func(Message, int) error { return events.Permanent(errors.New("sha256 mismatch")) },
			wantCalls: 1, wantClass: queue.ClassPermanent, wantReason: ReasonInvalidPayload,
			wantErr: "sha256 mismatch", wantAttempt: "1",
		},
		{
			name: "wrapped permanent at once",
			fail: func(Message, int) error {
				return errors.Join(errors.New("store"), events.Permanent(errors.New("bad pem")))
			},
			wantCalls: 1, wantClass: queue.ClassPermanent, wantReason: ReasonInvalidPayload,
			wantErr: "bad pem", wantAttempt: "1",
		},
		{
			name:      "panic every time",
			fail:      func(Message, int) error { panic("nil map") },
			wantCalls: 3, wantClass: queue.ClassTransient, wantReason: ReasonMaxDeliver,
			wantErr: "handler panic: nil map", wantAttempt: "3",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conn, _ := testenv.JetStream(t)
			h := newHandler(tc.fail)
			run(t, conn, testOptions("dlq", map[string]Handler{events.TypeCertNew: h}, events.TypeCertNew))
			body := publish(t, conn, events.TypeCertNew, 7)

			require.Eventually(t, func() bool { return len(deadLetters(t, conn)) == 1 && settled(t, conn, "dlq") }, waitFor, tick)
			assert.Equal(t, tc.wantCalls, h.count("7"), "deliveries before dead-lettering")
			dl := deadLetters(t, conn)[0]
			assert.Equal(t, "hz.dlq.worker", dl.Subject)
			assert.Equal(t, body, dl.Data, "original body kept verbatim")
			assert.Equal(t, tc.wantClass, dl.Header.Get(queue.HeaderDLQClass))
			assert.Equal(t, tc.wantReason, dl.Header.Get(queue.HeaderDLQReason))
			assert.Contains(t, dl.Header.Get(queue.HeaderDLQError), tc.wantErr)
			assert.Equal(t, tc.wantAttempt, dl.Header.Get(queue.HeaderDLQAttempts))
			assert.Equal(t, events.TypeCertNew, dl.Header.Get(queue.HeaderDLQHandler))
			assert.Equal(t, "hz.events.pki_cert_new", dl.Header.Get(queue.HeaderDLQSubject))
			assert.Equal(t, queue.MsgID("demo", "hook", "7", body), dl.Header.Get(queue.HeaderOriginalMsgID))
			assert.Equal(t, "demo", dl.Header.Get(queue.HeaderOrg), "original headers kept")
		})
	}
}

// A panicking handler takes neither the worker nor the other messages down.
func TestPanicIsSurvived(t *testing.T) {
	conn, _ := testenv.JetStream(t)
	h := newHandler(func(m Message, n int) error {
		if m.Header.Get(queue.HeaderEventID) == "1" && n == 1 {
			panic("boom")
		}
		return nil
	})
	o := testOptions("panic", map[string]Handler{events.TypeCTEntry: h}, events.TypeCTEntry)
	o.BatchSize = 1
	run(t, conn, o)
	publish(t, conn, events.TypeCTEntry, 1)
	publish(t, conn, events.TypeCTEntry, 2)

	require.Eventually(t, func() bool { return settled(t, conn, "panic") && h.count("1") == 2 && h.count("2") == 1 }, waitFor, tick)
	assert.Empty(t, deadLetters(t, conn))
}

func TestTestAndUnknownTypesAreAcknowledged(t *testing.T) {
	conn, _ := testenv.JetStream(t)
	var logs testenv.Buffer
	h := newHandler(func(Message, int) error { return nil })
	o := testOptions("mixed", map[string]Handler{events.TypeCTEntry: h}, "test", "user.new", "user.gone")
	o.Log = newJSONLog(&logs)
	reg := prometheus.NewRegistry()
	o.Registerer = reg
	run(t, conn, o)
	publish(t, conn, "test", 1)
	publish(t, conn, "user.new", 2)
	publish(t, conn, "user.new", 3)
	publish(t, conn, "user.gone", 4)

	require.Eventually(t, func() bool { return settled(t, conn, "mixed") }, waitFor, tick)
	m := collectorValue(reg)
	require.Eventually(t, func() bool { return m("mixed", "test", OutcomeOK) == 1 }, waitFor, tick)
	assert.Equal(t, 3.0, m("mixed", typeUnknown, OutcomeSkipped), "unknown types share one label")
	assert.Equal(t, 1, countLines(logs.String(), `"type":"user.new"`, "no handler for event type"), "logged once per type")
	assert.Equal(t, 1, countLines(logs.String(), `"type":"user.gone"`, "no handler for event type"))
	assert.Equal(t, 0, h.count("2"))
	assert.Empty(t, deadLetters(t, conn))
}

func TestBodyThatIsNotAnEventIsDeadLettered(t *testing.T) {
	conn, _ := testenv.JetStream(t)
	h := newHandler(func(Message, int) error { return nil })
	run(t, conn, testOptions("envelope", map[string]Handler{events.TypeCTEntry: h}, events.TypeCTEntry))
	msg := newMsg(events.TypeCTEntry, "9", []byte(`{"id":"not a number"}`))
	_, err := queue.NewPublisher(conn.JS).Publish(t.Context(), msg, "")
	require.NoError(t, err)

	require.Eventually(t, func() bool { return len(deadLetters(t, conn)) == 1 && settled(t, conn, "envelope") }, waitFor, tick)
	dl := deadLetters(t, conn)[0]
	assert.Equal(t, ReasonInvalidEnvelope, dl.Header.Get(queue.HeaderDLQReason))
	assert.Equal(t, queue.ClassPermanent, dl.Header.Get(queue.HeaderDLQClass))
	assert.Equal(t, 0, h.count("9"), "the handler never sees it")
}

func TestBackoffIsClampedToTheLastStep(t *testing.T) {
	o := Options{Backoff: []time.Duration{time.Second, 5 * time.Second}}
	for attempt, want := range map[int]time.Duration{0: time.Second, 1: time.Second, 2: 5 * time.Second, 3: 5 * time.Second, 99: 5 * time.Second} {
		assert.Equal(t, want, o.delay(attempt), "attempt %d", attempt)
	}
}

func TestOptionsAreValidated(t *testing.T) {
	conn, _ := testenv.JetStream(t)
	_, err := New(conn.JS, nil, Options{MaxDeliver: -1, Backoff: []time.Duration{-time.Second}})
	require.Error(t, err)
	for _, want := range []string{"stream", "consumer", "filter subject", "stage", "max deliver", "backoff"} {
		assert.Contains(t, err.Error(), want)
	}
}

// collectorValue reads hz_dispatch_processed_total from reg.
func collectorValue(reg *prometheus.Registry) func(consumer, typ, outcome string) float64 {
	return func(consumer, typ, outcome string) float64 {
		mfs, err := reg.Gather()
		if err != nil {
			return -1
		}
		for _, mf := range mfs {
			if mf.GetName() != "hz_dispatch_processed_total" {
				continue
			}
			for _, m := range mf.GetMetric() {
				labels := map[string]string{}
				for _, l := range m.GetLabel() {
					labels[l.GetName()] = l.GetValue()
				}
				if labels["consumer"] == consumer && labels["type"] == typ && labels["outcome"] == outcome {
					return m.GetCounter().GetValue()
				}
			}
		}
		return 0
	}
}
