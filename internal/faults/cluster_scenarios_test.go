package faults

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/worker"
)

// publishTimeout is the receiver's default --publish-timeout: the longest a webhook may wait for
// JetStream before it is answered 503.
const publishTimeout = 2 * time.Second

// workerOn starts a worker process on natsURL with the store at dbURL and waits until it is ready.
func workerOn(t *testing.T, natsURL, dbURL string, args ...string) *workerProc {
	return workerOnEnv(t, natsURL, dbURL, nil, args...)
}

// election summarises what a sender saw from a fault at `at` on: the requests answered 503, the
// slowest answer, and when the first 204 came again.
type election struct {
	unavailable int
	slowest     time.Duration
	recovered   time.Duration // from the fault to the first 204 of a request sent after it
	wrong       int           // answers other than 204 and 503 (a 5xx of another kind, a dropped connection)
}

func observe(snd *sender, at time.Time) election {
	var e election
	first := time.Time{}
	for _, a := range snd.snapshot() {
		if a.start.Before(at) {
			continue
		}
		e.slowest = max(e.slowest, a.took)
		switch a.code {
		case http.StatusNoContent:
			if first.IsZero() || a.start.Before(first) {
				first = a.start
			}
		case http.StatusServiceUnavailable:
			e.unavailable++
		default:
			e.wrong++
		}
	}
	if !first.IsZero() {
		e.recovered = first.Sub(at)
	}
	return e
}

// storeAll starts a worker on natsURL and waits until it stored n events of the test hook; it
// returns lost and duplicated ids of accepted against the store.
func storeAll(t *testing.T, natsURL string, accepted map[int]bool, n int) (stored, lost int) {
	t.Helper()
	dbURL := sqliteURL(t)
	workerOn(t, natsURL, dbURL)
	db := openStore(t, dbURL)
	waitStored(t, db, n, 3*time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	inStore, err := storedEvents(ctx, db)
	require.NoError(t, err)
	lost = lostIn(accepted, inStore)
	return len(inStore), lost
}

// loadThen sends n ct.entry events through webhook with concurrency and calls fault once a share
// of them was accepted; it returns when every event was answered 204 (the sender retries the
// rest, as Hardenize does) and the time of the fault.
func loadThen(t *testing.T, snd *sender, n, concurrency int, share float64, fault func()) time.Time {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	done := make(chan struct{})
	go func() { snd.run(ctx, n, concurrency, 0); close(done) }()
	require.Eventually(t, func() bool { return float64(snd.count204()) >= share*float64(n) }, 4*time.Minute, 10*time.Millisecond)
	at := time.Now()
	fault()
	<-done
	require.NoError(t, ctx.Err(), "the sender finished")
	require.Equal(t, n, snd.count204())
	return at
}

// Scenario 7: kill -9 the node leading HZ_EVENTS (R3, sync always) under a 20,000-event load.
// While the cluster elects a new leader the receiver answers 503, never later than its publish
// timeout, and serves again by itself; every event answered 204 is in HZ_EVENTS once and ends up
// in the store.
func TestClusterKillStreamLeaderUnderLoad(t *testing.T) {
	const n = 20000
	c := startCluster(t)
	_, webhook, _ := receiverOn(t, c.URL())
	leader := c.streamLeader(queue.StreamEvents, true)
	snd := &sender{url: webhook, org: org, hook: hook, secret: secret, body: bodyOf(sampleBodies(t, events.TypeCTEntry, n))}
	var at204 int
	at := loadThen(t, snd, n, 16, 0.3, func() { at204 = snd.count204(); c.kill(leader) })
	e := observe(snd, at)
	newLeader := c.streamLeader(queue.StreamEvents, false, leader)
	c.start(leader)
	c.waitCaughtUp(queue.StreamEvents, "the killed node comes back on its data and catches up")

	ids := streamIDs(t, c.URL())
	lost, dups := compare(n, snd.accepted, ids)
	stored, storeLost := storeAll(t, c.URL(), snd.accepted, n)
	record(row{N: 7, Scenario: "kill -9 the HZ_EVENTS leader of a 3-node cluster under load", Sent: n, NoContent: snd.count204(), Stored: stored,
		Lost: lost + storeLost, Duplicates: dups,
		Note: fmt.Sprintf("killed %s after %d 204s, %s leads now; %d answered 503, 204 again after %s, slowest answer %s",
			c.names[leader], at204, c.names[newLeader], e.unavailable, e.recovered.Round(10*time.Millisecond), e.slowest.Round(10*time.Millisecond))})
	assert.NotEqual(t, leader, newLeader, "another node leads")
	assert.Zero(t, lost, "every 204 is in HZ_EVENTS")
	assert.Zero(t, dups, "each once in HZ_EVENTS")
	assert.Zero(t, storeLost, "and in the store")
	assert.Zero(t, e.wrong, "only 204 and 503 during the election")
	assert.LessOrEqual(t, e.slowest, publishTimeout+2*time.Second, "no answer hangs past the publish timeout")
	assert.Positive(t, e.recovered, "the receiver serves again by itself")
}

// Scenario 8: kill -9 a follower of HZ_EVENTS under load and start it again: the leader goes on
// storing, the follower catches up, nothing is lost.
func TestClusterKillFollowerUnderLoad(t *testing.T) {
	const n = 10000
	c := startCluster(t)
	_, webhook, _ := receiverOn(t, c.URL())
	leader := c.streamLeader(queue.StreamEvents, true)
	follower := (leader + 1) % clusterSize
	snd := &sender{url: webhook, org: org, hook: hook, secret: secret, body: bodyOf(sampleBodies(t, events.TypeCTEntry, n))}
	at := loadThen(t, snd, n, 16, 0.3, func() {
		c.kill(follower)
		go func() { time.Sleep(3 * time.Second); c.nodes[follower].Start() }() //nolint:errcheck // checked below by waitCaughtUp
	})
	e := observe(snd, at)
	c.waitNode(follower)
	caughtUp := c.waitCaughtUp(queue.StreamEvents, "the restarted follower catches up")
	ids := streamIDs(t, c.URL())
	lost, dups := compare(n, snd.accepted, ids)
	record(row{N: 8, Scenario: "kill -9 a follower under load, restart it", Sent: n, NoContent: snd.count204(), Stored: len(ids), Lost: lost, Duplicates: dups,
		Note: fmt.Sprintf("%s down 3s; %d answered 503; replicas current again %s after the load", c.names[follower], e.unavailable, caughtUp.Round(100*time.Millisecond))})
	assert.Zero(t, lost)
	assert.Zero(t, dups)
	assert.Zero(t, e.wrong)
}

// Scenario 9: kill -9 all three nodes at once under load and start them again: every event
// answered 204 before is there (each was on a quorum of disks), and the rest arrives by retry.
func TestClusterKillAllNodesUnderLoad(t *testing.T) {
	const n = 10000
	c := startCluster(t)
	_, webhook, admin := receiverOn(t, c.URL())
	c.streamLeader(queue.StreamEvents, true)
	snd := &sender{url: webhook, org: org, hook: hook, secret: secret, body: bodyOf(sampleBodies(t, events.TypeCTEntry, n))}
	var at204 int
	beforeKill := map[int]bool{}
	at := loadThen(t, snd, n, 16, 0.3, func() {
		for i := range clusterSize {
			c.kill(i)
		}
		snd.mu.Lock()
		at204 = len(snd.accepted)
		for id := range snd.accepted {
			beforeKill[id] = true
		}
		snd.mu.Unlock()
		waitHTTP(t, admin+"/readyz", http.StatusServiceUnavailable, 30*time.Second)
		time.Sleep(2 * time.Second)
		for i := range clusterSize {
			require.NoError(t, c.nodes[i].Start())
		}
	})
	e := observe(snd, at)
	ids := streamIDs(t, c.URL())
	lostBefore, _ := compare(n, beforeKill, ids)
	lost, dups := compare(n, snd.accepted, ids)
	record(row{N: 9, Scenario: "kill -9 all three nodes at once, restart", Sent: n, NoContent: snd.count204(), Stored: len(ids), Lost: lost, Duplicates: dups,
		Note: fmt.Sprintf("killed after %d 204s (%d of those lost); %d answered 503; 204 again after %s", at204, lostBefore, e.unavailable, e.recovered.Round(100*time.Millisecond))})
	assert.Zero(t, lostBefore, "every 204 before the kill survived it")
	assert.Zero(t, lost)
	assert.Zero(t, dups)
}

// consumerLeader is the index of the node leading consumer of stream, once it has a leader that
// is not one of the nodes named in down.
func (c *cluster) consumerLeader(stream, consumer string, down ...int) int {
	c.t.Helper()
	conn := c.connect()
	defer conn.Close(time.Second)
	leader := -1
	require.Eventually(c.t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		cons, err := conn.JS.Consumer(ctx, stream, consumer)
		if err != nil {
			return false
		}
		info := cons.CachedInfo()
		if info.Cluster == nil {
			return false
		}
		leader = slices.Index(c.names, info.Cluster.Leader)
		return leader >= 0 && !slices.Contains(down, leader)
	}, time.Minute, 100*time.Millisecond, "consumer %s has a leader", consumer)
	return leader
}

// Scenario 10: two worker replicas per group (ct.entry; pki.cert.new) on one PostgreSQL, on the
// 3-node cluster, while the node leading the ct.entry group's consumer is killed with kill -9
// under load and started again. The consumer moves to another node; every event answered 204 is
// stored, and no alert is delivered twice.
func TestClusterConsumerLeaderKilledUnderWorkersOnPostgres(t *testing.T) {
	const n = 8000
	c := startCluster(t)
	_, webhook, _ := receiverOn(t, c.URL())
	pg := startPostgres(t)
	sink, sinkURL := newAlertSink(t)
	env, args := alertArgs(t, sinkURL)
	var workers []*workerProc
	for _, types := range []string{events.TypeCTEntry, events.TypeCTEntry, events.TypeCertNew, events.TypeCertNew} {
		workers = append(workers, workerOnEnv(t, c.URL(), pg.URL(), env, append(args, "--types", types, "--batch-size", "20", "--lint=false")...))
	}
	ct, cert := worker.ConsumerName([]string{events.TypeCTEntry}), worker.ConsumerName([]string{events.TypeCertNew})
	leader := c.consumerLeader(queue.StreamEvents, ct)

	bodies, certNew := sampleBodies(t, events.TypeCTEntry, n), sampleBodies(t, events.TypeCertNew, n)
	for i := 1; i < n; i += 2 {
		bodies[i] = certNew[i] // every even id is a pki.cert.new
	}
	snd := &sender{url: webhook, org: org, hook: hook, secret: secret, body: bodyOf(bodies)}
	var newLeader int
	loadThen(t, snd, n, 16, 0.3, func() {
		c.kill(leader)
		newLeader = c.consumerLeader(queue.StreamEvents, ct, leader)
		require.NoError(t, c.nodes[leader].Start())
	})
	c.waitNode(leader)
	c.waitCaughtUp(queue.StreamEvents, "the killed node comes back on its data and catches up")

	db := openStore(t, pg.URL())
	waitStored(t, db, n, 3*time.Minute)
	waitDrained(t, c.URL(), ct, cert)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	inStore, err := storedEvents(ctx, db)
	require.NoError(t, err)
	findings := viewOf(t, workers[0].adminURL).Findings
	settle(t, func() int { n, _ := sink.counts(); return n }, len(findings), "every finding alerts")
	alerted, dupAlerts := sink.counts()
	lost, dups := compare(n, snd.accepted, streamIDs(t, c.URL()))
	lost += lostIn(snd.accepted, inStore)
	retried := 0
	for _, w := range workers {
		retried += retriedDeliveries(t, w.adminURL)
	}
	dead := deadLetterCount(t, c.URL())
	record(row{N: 10, Scenario: "kill -9 a worker consumer's leader node, 2 workers per group on PostgreSQL", Sent: n, NoContent: snd.count204(),
		Stored: len(inStore), Lost: lost, Duplicates: dups + dupAlerts,
		Note: fmt.Sprintf("%s led %s, %s after; %d findings, %d alerts; %d retried deliveries, %d dead-lettered",
			c.names[leader], ct, c.names[newLeader], len(findings), alerted, retried, dead)})
	assert.NotEqual(t, leader, newLeader, "the consumer moved")
	assert.Zero(t, lost, "every 204 is stored")
	assert.Zero(t, dups, "each event once in HZ_EVENTS")
	assert.Zero(t, dupAlerts, "each finding alerted once")
	assert.Zero(t, dead)
	assert.Len(t, inStore, n)
}
