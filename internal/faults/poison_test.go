package faults

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/queue"
)

// Scenario 4: a poison event — the store refuses its certificate every time, through a SQLite
// trigger, an error the inventory must treat as transient — is retried up to --max-deliver and then
// dead-lettered, while the events behind it are stored. Dropping the trigger is "the fix"; a redrive
// through the admin API then stores it, once.
func TestPoisonEventDeadLetteredAndRedriven(t *testing.T) {
	const (
		n      = 2000
		poison = 50
	)
	s := startStack(t)
	bodies := sampleBodies(t, events.TypeCTEntry, n)
	dbURL := sqliteURL(t)
	w := s.startWorker(dbURL, "--max-deliver", "3", "--backoff", "100ms")
	setPoison(t, dbURL, certSHA256(t, bodies[poison-1]), true)

	snd := &sender{url: s.webhookURL, org: org, hook: hook, secret: secret, body: bodyOf(bodies)}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	snd.run(ctx, n, 16, 0)
	require.NoError(t, ctx.Err(), "sender finished")

	db := openStore(t, dbURL)
	waitStored(t, db, n-1, 2*time.Minute)
	require.Eventually(t, func() bool { dead, _ := s.queueState(allTypesConsumer()); return dead == 1 },
		time.Minute, 50*time.Millisecond, "the poison event is dead-lettered")
	before, err := storedEvents(ctx, db)
	require.NoError(t, err)
	assert.Zero(t, before[poison], "the poison event is not stored")
	letters := deadLetters(t, w.adminURL)
	require.Len(t, letters, 1)
	l := letters[0]
	assert.Equal(t, strconv.Itoa(poison), l.EventID)
	assert.Equal(t, queue.ClassTransient, l.Class, "a failing store is a transient error, retried")
	assert.Equal(t, 3, l.Attempts, "dead-lettered after --max-deliver deliveries")

	setPoison(t, dbURL, "", false)
	redrive(t, w.adminURL, l.Seq)
	waitStored(t, db, n, time.Minute)
	require.Eventually(t, func() bool { _, left := s.queueState(allTypesConsumer()); return left == 0 },
		time.Minute, 100*time.Millisecond, "the consumer finished every message")

	stored, err := storedEvents(ctx, db)
	require.NoError(t, err)
	dead, _ := s.queueState(allTypesConsumer())
	lost := lostIn(snd.accepted, stored)
	_, dups := compare(n, snd.accepted, s.storedIDs())
	record(row{N: 4, Scenario: "poison event, DLQ, fix, redrive", Sent: n, NoContent: snd.count204(), Stored: len(stored), Lost: lost, Duplicates: dups,
		Note: fmt.Sprintf("event %d: %s after %d attempts, %d others stored meanwhile; %d left in DLQ after redrive", poison, l.Class, l.Attempts, len(before), dead)})
	assert.Zero(t, lost)
	assert.Zero(t, dups)
	if !assert.Zero(t, dead, "no letter left after the redrive") {
		t.Logf("left in HZ_DLQ: %+v", deadLetters(t, w.adminURL))
	}
	assert.Len(t, stored, n)
}

// setPoison installs (on) or drops (off) a trigger that makes the worker's SQLite store refuse the
// certificate sha256.
func setPoison(t *testing.T, dbURL, sha256 string, on bool) {
	t.Helper()
	db, err := sql.Open("sqlite", strings.TrimPrefix(dbURL, "sqlite://")+"?_pragma=busy_timeout(10000)")
	require.NoError(t, err)
	defer db.Close()
	stmt := "DROP TRIGGER faults_poison"
	if on {
		require.NotContains(t, sha256, "'")
		stmt = fmt.Sprintf("CREATE TRIGGER faults_poison BEFORE INSERT ON certificates WHEN NEW.sha256 = '%s' BEGIN SELECT RAISE(ABORT, 'poison'); END", sha256)
	}
	_, err = db.Exec(stmt)
	require.NoError(t, err)
}

// letter is the part of a dead letter the test checks (GET /api/v1/dlq).
type letter struct {
	Seq      uint64 `json:"seq"`
	EventID  string `json:"eventId"`
	Class    string `json:"class"`
	Reason   string `json:"reason"`
	Attempts int    `json:"attempts"`
}

func deadLetters(t *testing.T, adminURL string) []letter {
	t.Helper()
	var page struct {
		Items []letter `json:"items"`
	}
	resp := adminCall(t, http.MethodGet, adminURL+"/api/v1/dlq")
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&page))
	return page.Items
}

func redrive(t *testing.T, adminURL string, seq uint64) {
	t.Helper()
	resp := adminCall(t, http.MethodPost, fmt.Sprintf("%s/api/v1/dlq/%d/redrive", adminURL, seq))
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

func adminCall(t *testing.T, method, url string) *http.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	return resp
}
