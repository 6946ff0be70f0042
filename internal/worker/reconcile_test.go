package worker

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/hardenize/hardenizetest"
	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/testenv"
)

// Belt and braces: two replicas with --reconcile-every pull the events API; the events webhooks
// already delivered are not stored again, the missing ones are stored exactly once.
func TestReconcileStoresOnlyMissingEventsOnce(t *testing.T) {
	conn, srv := testenv.JetStream(t)
	api := hardenizetest.NewServer("demo")
	t.Cleanup(api.Close)
	const total, delivered = 30, 12
	start := time.Now().Add(-2 * time.Hour)
	for i := 0; i < total; i++ {
		ev, err := api.AddEvent(events.TypeCTEntry, start.Add(time.Duration(i)*time.Minute))
		require.NoError(t, err)
		if i < delivered { // these arrived by webhook before the outage
			publishEvent(t, conn, events.TypeCTEntry, int(ev.ID), ev.WebhookBody)
		}
	}

	cfg := testConfig(t, "--nats-url", srv.URL(), "--types", "pki.cert.new")
	creds := api.Credentials()
	cfg.Reconcile = ReconcileConfig{Every: time.Hour, APIURL: api.BaseURL(), Org: "demo", HookID: "hook", User: creds.User, Password: creds.Password}
	require.NoError(t, cfg.Validate())
	regs := []*prometheus.Registry{prometheus.NewRegistry(), prometheus.NewRegistry()}
	for _, reg := range regs {
		ctx, cancel := context.WithCancel(context.Background())
		app, err := New(ctx, cfg, Deps{Log: testenv.DiscardLog(), Registry: reg})
		require.NoError(t, err)
		done := make(chan error, 1)
		go func() { done <- app.Run(ctx) }()
		t.Cleanup(func() { cancel(); require.NoError(t, <-done) })
	}

	ids := func() map[string]int {
		out := map[string]int{}
		s, err := conn.JS.Stream(context.Background(), queue.StreamEvents)
		require.NoError(t, err)
		info, err := s.Info(context.Background())
		require.NoError(t, err)
		for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
			m, err := s.GetMsg(context.Background(), seq)
			require.NoError(t, err)
			out[m.Header.Get(queue.HeaderEventID)]++
		}
		return out
	}
	require.Eventually(t, func() bool { return len(ids()) == total }, 30*time.Second, 100*time.Millisecond)
	runs := func(outcome string) float64 {
		var sum float64
		for _, reg := range regs {
			mfs, err := reg.Gather()
			require.NoError(t, err)
			for _, mf := range mfs {
				if mf.GetName() != "hz_reconcile_runs_total" {
					continue
				}
				for _, m := range mf.GetMetric() {
					if m.GetLabel()[0].GetValue() == outcome {
						sum += m.GetCounter().GetValue()
					}
				}
			}
		}
		return sum
	}
	require.Eventually(t, func() bool { return runs("ok")+runs("skipped") == 2 }, 30*time.Second, 50*time.Millisecond)
	assert.Zero(t, runs("failed"))

	got := ids()
	for i := 0; i < total; i++ {
		id := strconv.Itoa(10001 + i)
		assert.Equal(t, 1, got[id], "event %s stored exactly once", id)
	}
}
