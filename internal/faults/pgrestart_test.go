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
	const n = 6000
	pg := startPostgres(t)
	o := postgresOutageUnderLoad(t, pg, n, pg.Stop)
	record(row{N: 5, Scenario: "restart PostgreSQL under load", Sent: n, NoContent: o.noContent, Stored: o.stored, Lost: o.lost, Duplicates: o.dups,
		Note: fmt.Sprintf("down %s after %d 204s; %d deliveries retried; %d dead-lettered", o.down, o.at204, o.retried, o.dead)})
	assert.Less(t, o.at204, n, "events were still arriving when PostgreSQL stopped")
	assert.Zero(t, o.lost)
	assert.Zero(t, o.dups)
	assert.Zero(t, o.dead, "nothing dead-lettered")
	assert.Equal(t, n, o.stored)
}

// outage is what a PostgreSQL outage under load left: the counts of its fault table row, and how
// far the load was when it began.
type outage struct {
	down              time.Duration
	at204, atStored   int // 204s answered and events stored when the fault came
	noContent, stored int
	lost, dups, dead  int
	retried           int // deliveries the worker retried
}

// postgresOutageUnderLoad sends n pki.cert.new events to a worker writing into pg; once a fifth
// is stored, fault takes PostgreSQL down (a clean stop or kill -9) for three seconds, then it is
// started again on its data. It waits until the worker has settled every message and counts.
func postgresOutageUnderLoad(t *testing.T, pg *postgres, n int, fault func()) outage {
	t.Helper()
	o := outage{down: 3 * time.Second}
	s := startStack(t)
	w := s.startWorker(pg.URL())
	db := openStore(t, pg.URL())
	snd := &sender{url: s.webhookURL, org: org, hook: hook, secret: secret, body: bodyOf(sampleBodies(t, events.TypeCertNew, n))}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	done := make(chan struct{})
	go func() { snd.run(ctx, n, 4, 2*time.Millisecond); close(done) }()

	waitStored(t, db, n/5, 2*time.Minute)
	o.atStored = storedCount(db)
	fault()
	o.at204 = snd.count204()
	time.Sleep(o.down)
	pg.Start()
	<-done
	require.NoError(t, ctx.Err(), "sender finished")

	waitStored(t, db, n, 3*time.Minute)
	require.Eventually(t, func() bool { _, left := s.queueState(allTypesConsumer()); return left == 0 },
		time.Minute, 100*time.Millisecond, "the consumer finished every message")
	stored, err := storedEvents(ctx, db)
	require.NoError(t, err)
	o.dead, _ = s.queueState(allTypesConsumer())
	o.retried = retriedDeliveries(t, w.adminURL)
	o.lost = lostIn(snd.accepted, stored)
	_, o.dups = compare(n, snd.accepted, s.storedIDs())
	o.noContent, o.stored = snd.count204(), len(stored)
	return o
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
