package faults

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/events"
)

// Scenario 2: kill -9 a worker in the middle of a backlog. The events are in HZ_EVENTS (sent
// through the receiver) before the worker starts; it is killed once part of them is stored, and
// after its restart every event is stored exactly once, nothing dead-lettered.
func TestKillWorkerInBacklog(t *testing.T) {
	const n = 10000
	s := startStack(t)
	bodies := sampleBodies(t, events.TypeCTEntry, n)
	snd := &sender{url: s.webhookURL, org: org, hook: hook, secret: secret, body: bodyOf(bodies)}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	snd.run(ctx, n, 32, 0)
	require.NoError(t, ctx.Err(), "sender finished")
	require.Equal(t, n, snd.count204())

	dbURL := sqliteURL(t)
	// Small batches and a short ack wait: the kill lands mid-drain and the restart does not wait 30s
	// for the killed worker's unacknowledged batches.
	args := []string{"--batch-size", "20", "--ack-wait", "3s"}
	w := s.startWorker(dbURL, args...)
	db := openStore(t, dbURL)
	waitStored(t, db, n/4, 2*time.Minute)
	w.Kill()
	atKill := storedCount(db)
	require.Less(t, atKill, n, "the worker was killed before it drained the backlog")

	s.startWorker(dbURL, args...)
	waitStored(t, db, n, 3*time.Minute)
	require.Eventually(t, func() bool { _, left := s.queueState(allTypesConsumer()); return left == 0 },
		time.Minute, 100*time.Millisecond, "the consumer finished every message")

	stored, err := storedEvents(ctx, db)
	require.NoError(t, err)
	dead, _ := s.queueState(allTypesConsumer())
	lost := lostIn(snd.accepted, stored)
	_, dups := compare(n, snd.accepted, s.storedIDs())
	record(row{N: 2, Scenario: "kill -9 worker in backlog (SQLite)", Sent: n, NoContent: snd.count204(), Stored: len(stored), Lost: lost, Duplicates: dups,
		Note: fmt.Sprintf("killed with %d stored; %d dead-lettered", atKill, dead)})
	assert.Zero(t, lost)
	assert.Zero(t, dups)
	assert.Zero(t, dead, "nothing dead-lettered")
	assert.Len(t, stored, n)
}
