package faults

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/bench"
	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/queue"
)

const (
	org    = "demo"
	hook   = "bfc384726b6447a4b70a171de49e466f"
	secret = "3685c06a966e4d0ea625d0b475719661"
)

// stack is nats-server + receiver as processes.
type stack struct {
	t                    *testing.T
	dir                  string
	natsPort             int
	nats, receiver       *bench.Proc
	webhookURL, readyURL string
}

// stackOptions vary a stack: extra nats-server arguments, extra receiver environment.
type stackOptions struct {
	natsArgs    []string
	receiverEnv []string
}

func startStack(t *testing.T, opts ...stackOptions) *stack {
	t.Helper()
	var o stackOptions
	for _, x := range opts {
		o.natsArgs = append(o.natsArgs, x.natsArgs...)
		o.receiverEnv = append(o.receiverEnv, x.receiverEnv...)
	}
	s := &stack{t: t, dir: t.TempDir(), natsPort: freePort(t)}
	secrets := filepath.Join(s.dir, "hooks.yaml")
	require.NoError(t, os.WriteFile(secrets, []byte(fmt.Sprintf("hooks:\n  - org: %s\n    id: %s\n    secrets: [%q]\n", org, hook, secret)), 0o600))
	s.nats = natsServer(t, filepath.Join(s.dir, "js"), s.natsPort, o.natsArgs...)
	web, admin := freePort(t), freePort(t)
	s.webhookURL = "http://" + addr(web) + "/hardenize/events"
	s.readyURL = "http://" + addr(admin) + "/readyz"
	s.receiver = startProc(t, "receiver", append([]string{
		"HZ_LISTEN=" + addr(web), "HZ_ADMIN_LISTEN=" + addr(admin), "HZ_SECRETS_FILE=" + secrets,
		"HZ_NATS_URL=nats://" + addr(s.natsPort), "HZ_DEDUP_WINDOW=30m", "HZ_LOG_LEVEL=warn",
	}, o.receiverEnv...))
	waitHTTP(t, s.readyURL, http.StatusOK, 30*time.Second)
	return s
}

// storedIDs reads every Hz-Event-Id in HZ_EVENTS with its number of copies (see streamIDs).
func (s *stack) storedIDs() map[int]int {
	s.t.Helper()
	return streamIDs(s.t, "nats://"+addr(s.natsPort))
}

// journalNote says how many journal entries the receivers wrote and how many were handed to a
// mover more than once (an entry of the killed receiver, or one handed back at a shutdown); ""
// when nothing was journaled.
func (s *stack) journalNote() string {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := queue.Connect(ctx, "nats://"+addr(s.natsPort), "faults-journal", slog.New(slog.DiscardHandler))
	require.NoError(s.t, err)
	defer conn.Close(time.Second)
	c, err := conn.JS.Consumer(ctx, queue.StreamJournal, queue.MoverConsumer)
	require.NoError(s.t, err)
	d := c.CachedInfo().Delivered
	if d.Stream == 0 {
		return ""
	}
	return fmt.Sprintf("; %d journal entries, %d deliveries of them to a mover", d.Stream, d.Consumer)
}

func compare(sent int, accepted map[int]bool, stored map[int]int) (lost, dups int) {
	for id := range accepted {
		if stored[id] == 0 {
			lost++
		}
	}
	for _, n := range stored {
		if n > 1 {
			dups += n - 1
		}
	}
	return lost, dups
}

// Scenario 1: kill -9 the receiver in the middle of a 20,000-event load. Every event answered 204
// is in HZ_EVENTS; the sender's retries after the restart complete the set, and a worker then
// stores every one.
func TestKillReceiverUnderLoad(t *testing.T) {
	killReceiverUnderLoad(t, 1, "kill -9 receiver under load")
}

// Scenario 15: scenario 1 with a receiver that journals (group commit on a server that syncs
// always). The kill leaves entries journaled and answered 204 but not yet moved, and entries moved
// in part: the restarted receiver moves them again once their acknowledgement wait is over, and
// HZ_EVENTS's duplicate window stores each event once.
func TestKillJournalingReceiverUnderLoad(t *testing.T) {
	killReceiverUnderLoad(t, 15, "kill -9 receiver under load (journal, sync always)", durableNATS(t, freePort(t)))
}

func killReceiverUnderLoad(t *testing.T, scenario int, name string, opts ...stackOptions) {
	const n = 20000
	s := startStack(t, opts...)
	snd := &sender{url: s.webhookURL, org: org, hook: hook, secret: secret, body: bodyOf(sampleBodies(t, events.TypeCTEntry, n))}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	done := make(chan struct{})
	go func() { snd.run(ctx, n, 32, 0); close(done) }()

	require.Eventually(t, func() bool { return snd.count204() >= n*2/5 }, 3*time.Minute, 10*time.Millisecond)
	s.receiver.Kill()
	at204 := snd.count204()
	time.Sleep(time.Second)
	require.NoError(t, s.receiver.Start())
	<-done
	require.NoError(t, ctx.Err(), "sender finished")

	stored := s.storedIDs()
	journal := s.journalNote()
	lost, dups := compare(n, snd.accepted, stored)
	assert.Equal(t, n, snd.count204())
	assert.Zero(t, lost, "every 204 is in HZ_EVENTS")
	assert.Zero(t, dups, "each once in HZ_EVENTS")
	assert.Len(t, stored, n)

	dbURL := sqliteURL(t)
	s.startWorker(dbURL)
	db := openStore(t, dbURL)
	waitStored(t, db, n, 3*time.Minute)
	inStore, err := storedEvents(ctx, db)
	require.NoError(t, err)
	storeLost := lostIn(snd.accepted, inStore)
	record(row{N: scenario, Scenario: name, Sent: n, NoContent: snd.count204(), Stored: len(inStore), Lost: lost + storeLost, Duplicates: dups,
		Note: fmt.Sprintf("killed after %d 204s; HZ_EVENTS held %d (lost %d, duplicates %d)%s; stored by a worker after", at204, len(stored), lost, dups, journal)})
	assert.Zero(t, storeLost)
	assert.Len(t, inStore, n)
}

// Scenario 3: stop nats-server during load. The receiver answers 503 (never 204) within 2 s,
// /readyz goes false, and it recovers by itself when NATS is back; retries complete the set.
func TestStopNATSUnderLoad(t *testing.T) {
	const n = 5000
	s := startStack(t)
	snd := &sender{url: s.webhookURL, org: org, hook: hook, secret: secret, body: eventBody("pki.cert.new")}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	done := make(chan struct{})
	go func() { snd.run(ctx, n, 16, time.Millisecond); close(done) }()

	require.Eventually(t, func() bool { return snd.count204() >= n/4 }, 3*time.Minute, 10*time.Millisecond)
	s.nats.Stop(30 * time.Second)
	down := time.Now()
	waitHTTP(t, s.readyURL, http.StatusServiceUnavailable, 10*time.Second)
	time.Sleep(3 * time.Second)
	upAt := time.Now()
	require.NoError(t, s.nats.Start())
	waitHTTP(t, s.readyURL, http.StatusOK, 30*time.Second)
	<-done
	require.NoError(t, ctx.Err(), "sender finished")

	var during, slow, wrong204 int
	for _, a := range snd.snapshot() {
		if a.start.After(down.Add(100*time.Millisecond)) && a.start.Before(upAt) {
			during++
			if a.code == http.StatusNoContent {
				wrong204++
			}
			if a.code != 0 && a.took > 2*time.Second+250*time.Millisecond {
				slow++
			}
		}
	}
	stored := s.storedIDs()
	lost, dups := compare(n, snd.accepted, stored)
	record(row{N: 3, Scenario: "stop nats-server under load", Sent: n, NoContent: snd.count204(), Stored: len(stored), Lost: lost, Duplicates: dups,
		Note: fmt.Sprintf("%d requests while NATS down: %d answered 204, %d slower than 2s", during, wrong204, slow)})
	assert.Positive(t, during, "requests were sent while NATS was down")
	assert.Zero(t, wrong204, "never 204 while NATS is down")
	assert.Zero(t, slow, "503 within 2s")
	assert.Zero(t, lost)
	assert.Zero(t, dups)
	assert.Len(t, stored, n)
}
