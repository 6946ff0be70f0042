package faults

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/events"
)

// Scenario 5: PostgreSQL is stopped for a few seconds and started again while events arrive and the
// worker (default retry settings) writes them. The worker retries; nothing is dead-lettered and
// nothing is lost.
func TestRestartPostgresUnderLoad(t *testing.T) {
	const (
		n    = 6000
		down = 3 * time.Second
	)
	pg := startPostgres(t)
	s := startStack(t)
	bodies := sampleBodies(t, events.TypeCertNew, n)
	w := s.startWorker(pg.URL())
	db := openStore(t, pg.URL())

	snd := &sender{url: s.webhookURL, org: org, hook: hook, secret: secret, body: bodyOf(bodies)}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	done := make(chan struct{})
	go func() { snd.run(ctx, n, 4, 2*time.Millisecond); close(done) }()

	waitStored(t, db, n/5, 2*time.Minute)
	pg.Stop()
	atStop := snd.count204()
	time.Sleep(down)
	pg.Start()
	<-done
	require.NoError(t, ctx.Err(), "sender finished")
	assert.Less(t, atStop, n, "events were still arriving when PostgreSQL stopped")

	waitStored(t, db, n, 3*time.Minute)
	require.Eventually(t, func() bool { _, left := s.queueState(allTypesConsumer()); return left == 0 },
		time.Minute, 100*time.Millisecond, "the consumer finished every message")
	stored, err := storedEvents(ctx, db)
	require.NoError(t, err)
	dead, _ := s.queueState(allTypesConsumer())
	retried := retriedDeliveries(t, w.adminURL)
	lost := lostIn(snd.accepted, stored)
	_, dups := compare(n, snd.accepted, s.storedIDs())
	record(row{N: 5, Scenario: "restart PostgreSQL under load", Sent: n, NoContent: snd.count204(), Stored: len(stored), Lost: lost, Duplicates: dups,
		Note: fmt.Sprintf("down %s after %d 204s; %d deliveries retried; %d dead-lettered", down, atStop, retried, dead)})
	assert.Zero(t, lost)
	assert.Zero(t, dups)
	assert.Zero(t, dead, "nothing dead-lettered")
	assert.Len(t, stored, n)
}

// retriedDeliveries sums hz_dispatch_processed_total{outcome="retried"} on the worker's /metrics.
func retriedDeliveries(t *testing.T, adminURL string) int {
	t.Helper()
	resp, err := http.Get(adminURL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	total := 0.0
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "hz_dispatch_processed_total{") && strings.Contains(line, `outcome="retried"`) {
			f := strings.Fields(line)
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			require.NoError(t, err)
			total += v
		}
	}
	return int(total)
}
