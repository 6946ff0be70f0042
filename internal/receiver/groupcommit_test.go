package receiver

import (
	"context"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/config"
	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/testenv"
)

// groupCommitOn is a harness configuration that group-commits with a linger, so that concurrent
// requests share batches.
func groupCommitOn(c *Config) {
	c.Durability.GroupCommit = GroupCommitOn
	c.Durability.GroupCommitLinger = 20 * time.Millisecond
}

// storedBodies reads every message of HZ_EVENTS: body by event id, and how often each id is there.
func (h *harness) storedBodies() (bodies map[string][]byte, copies map[string]int) {
	h.t.Helper()
	n := h.stored()
	s, err := h.js.Stream(context.Background(), queue.StreamEvents)
	require.NoError(h.t, err)
	bodies, copies = map[string][]byte{}, map[string]int{}
	for seq := uint64(1); seq <= n; seq++ {
		msg, err := s.GetMsg(context.Background(), seq)
		require.NoError(h.t, err)
		id := msg.Header.Get(queue.HeaderEventID)
		bodies[id] = msg.Data
		copies[id]++
	}
	return bodies, copies
}

// metricValue is the value of series (name and labels as /metrics writes them) in text; 0 when
// it is absent.
func metricValue(t *testing.T, text, series string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(text)
	if m == nil {
		return 0
	}
	v, err := strconv.ParseFloat(m[1], 64)
	require.NoError(t, err)
	return v
}

// meanBatch is the mean number of events per group commit so far, from /metrics.
func (h *harness) meanBatch() float64 {
	h.t.Helper()
	text := h.metrics()
	num := func(name string) float64 {
		m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindStringSubmatch(text)
		require.NotNil(h.t, m, "%s in /metrics", name)
		v, err := strconv.ParseFloat(m[1], 64)
		require.NoError(h.t, err)
		return v
	}
	return num("hz_queue_batch_messages_sum") / num("hz_queue_batch_messages_count")
}

// sendAll sends the bodies concurrently (at most 48 at once, below the harness's in-flight
// limit), each signed afresh, and returns each one's status code.
func (h *harness) sendAll(bodies [][]byte) []int {
	h.t.Helper()
	codes, errs := h.trySendAll(bodies)
	for i, err := range errs {
		require.NoError(h.t, err, "delivery %d", i)
	}
	return codes
}

// trySendAll is sendAll that returns each delivery's error on the wire (its code is then 0)
// instead of failing the test.
func (h *harness) trySendAll(bodies [][]byte) ([]int, []error) {
	codes, errs := make([]int, len(bodies)), make([]error, len(bodies))
	var wg sync.WaitGroup
	slots := make(chan struct{}, 48)
	for i, b := range bodies {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			resp, _, err := h.trySend(signed(h.t, b, time.Now()))
			if err != nil {
				errs[i] = err
				return
			}
			codes[i] = resp.StatusCode
		})
	}
	wg.Wait()
	http.DefaultClient.CloseIdleConnections()
	return codes, errs
}

// The default set-up (no --nats-url, every setting at its default) syncs every write before it
// is acknowledged, as the running server's JetStream configuration says, and group-commits.
func TestDefaultSetUpSyncsEveryWriteBeforeTheAck(t *testing.T) {
	dir := t.TempDir()
	h := &harness{t: t, secrets: filepath.Join(dir, "hooks.yaml")}
	h.writeSecrets(testSecret)
	var cfg Config
	set := config.NewSet("receiver", func(string) (string, bool) { return "", false })
	Bind(set, &cfg)
	// Only what a test must change: free loopback ports, its own directories.
	require.NoError(t, set.Parse([]string{"--secrets-file", h.secrets, "--data-dir", dir,
		"--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--embedded-nats-port", "0"}))
	require.Equal(t, "always", cfg.Durability.NATSSync)

	ctx, cancel := context.WithCancel(context.Background())
	app, err := New(ctx, cfg, Deps{Log: testenv.DiscardLog(), Registry: prometheus.NewRegistry()})
	require.NoError(t, err)
	h.app, h.cancel, h.done = app, cancel, make(chan error, 1)
	go func() { h.done <- app.Run(ctx) }()
	t.Cleanup(h.stop)
	require.NotNil(t, app.embedded)
	assert.True(t, app.embedded.SyncAlways(), "the running embedded server's JetStream config: sync_interval always")

	conn, err := queue.Connect(ctx, app.embedded.URL(), "test", testenv.DiscardLog())
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(time.Second) })
	h.conn, h.js = conn, conn.JS
	h.waitReady()
	bodies := [][]byte{sample(t, events.TypeCTEntry, 1), sample(t, events.TypeCTEntry, 2), sample(t, events.TypeCTEntry, 3)}
	for _, code := range h.sendAll(bodies) {
		assert.Equal(t, http.StatusNoContent, code)
	}
	assert.Contains(t, h.metrics(), "hz_queue_batch_messages_count", "deliveries go through the group commit")
	assert.Equal(t, uint64(3), h.stored())
}

// Every 204 of a group commit stands for its own event, stored byte for byte.
func TestGroupCommitStoresEachAnsweredEventByteForByte(t *testing.T) {
	h := startHarness(t, groupCommitOn)
	const n = 120
	bodies := make([][]byte, n)
	for i := range bodies {
		bodies[i] = sample(t, []string{events.TypeTest, events.TypeCTEntry, events.TypeCertNew}[i%3], int64(5000+i))
	}
	codes := h.sendAll(bodies)

	stored, copies := h.storedBodies()
	for i, code := range codes {
		require.Equal(t, http.StatusNoContent, code, "event %d", i)
		id := strconv.Itoa(5000 + i)
		assert.Equal(t, bodies[i], stored[id], "event %s byte for byte", id)
		assert.Equal(t, 1, copies[id], "event %s once", id)
	}
	assert.Len(t, stored, n)
	assert.Greater(t, h.meanBatch(), 1.0, "events shared batches")
}

// A redelivery of a stored event and a redelivery racing its original, both among other events:
// every one is answered 204 and stored once.
func TestGroupCommitAnswersDuplicates204AndStoresOnce(t *testing.T) {
	h := startHarness(t, groupCommitOn)
	stored := sample(t, events.TypeCTEntry, 7000)
	require.Equal(t, []int{http.StatusNoContent}, h.sendAll([][]byte{stored}))

	bodies := [][]byte{stored}
	for i := range 40 {
		bodies = append(bodies, sample(t, events.TypeCTEntry, int64(7001+i)))
	}
	bodies = append(bodies, bodies[5], bodies[6]) // racing their originals
	for i, code := range h.sendAll(bodies) {
		assert.Equal(t, http.StatusNoContent, code, "delivery %d", i)
	}
	got, copies := h.storedBodies()
	assert.Len(t, got, 41)
	for id, n := range copies {
		assert.Equal(t, 1, n, "event %s once", id)
	}
	// A duplicate in a journal entry is found when the entry is moved.
	m := h.metrics()
	assert.Equal(t, 3.0, metricValue(t, m, `hz_intake_duplicates_total{source="webhook"}`)+metricValue(t, m, `hz_journal_events_total{outcome="duplicate"}`), m)
	assert.Positive(t, metricValue(t, m, `hz_journal_events_total{outcome="duplicate"}`), "duplicates inside entries")
}

// NATS stops while group commits are under way and comes back: every delivery answered 204 is
// stored, every other one was answered 503.
func TestGroupCommitNATSStoppedUnderLoad(t *testing.T) {
	h := startHarness(t, func(c *Config) {
		groupCommitOn(c)
		c.PublishTimeout = time.Second
	})
	var (
		mu       sync.Mutex
		answered = map[string]int{}
		next     atomic.Int64
		stop     = make(chan struct{})
		wg       sync.WaitGroup
	)
	count := func(code int) (n int) {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range answered {
			if c == code {
				n++
			}
		}
		return n
	}
	for range 16 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				id := 9000 + next.Add(1)
				resp, _ := h.send(signed(h.t, sample(h.t, events.TypeCTEntry, id), time.Now()))
				mu.Lock()
				answered[strconv.FormatInt(id, 10)] = resp.StatusCode
				mu.Unlock()
			}
		})
	}
	require.Eventually(t, func() bool { return count(http.StatusNoContent) >= 100 }, 30*time.Second, time.Millisecond)
	port := h.nats.Port()
	h.nats.Shutdown()
	require.Eventually(t, func() bool { return count(http.StatusServiceUnavailable) >= 50 }, 30*time.Second, time.Millisecond)
	close(stop)
	wg.Wait()
	http.DefaultClient.CloseIdleConnections()
	h.startNATS(port)
	h.waitReady()

	stored, copies := h.storedBodies()
	for id, code := range answered {
		switch code {
		case http.StatusNoContent:
			assert.Contains(t, stored, id, "event %s answered 204 is stored", id)
		case http.StatusServiceUnavailable:
		default:
			t.Errorf("event %s answered %d, not 204 or 503", id, code)
		}
	}
	for id, n := range copies {
		assert.Equal(t, 1, n, "event %s once", id)
	}
	assert.Regexp(t, `hz_queue_batch_fallbacks_total\{reason="(connection|timeout)"\} [1-9]`, h.metrics(), "the stop broke batches")
	t.Logf("%d answered 204, %d answered 503, %d stored", count(http.StatusNoContent), count(http.StatusServiceUnavailable), len(stored))
}

// Shutdown answers every delivery the group commit holds, each 204 only once stored.
func TestGroupCommitShutdownAnswersWhatIsInFlight(t *testing.T) {
	h := startHarness(t, func(c *Config) {
		groupCommitOn(c)
		c.Durability.GroupCommitLinger = 300 * time.Millisecond
	})
	bodies := make([][]byte, 30)
	for i := range bodies {
		bodies[i] = sample(t, events.TypeCTEntry, int64(8000+i))
	}
	var (
		codes []int
		errs  []error
	)
	done := make(chan struct{})
	go func() { codes, errs = h.trySendAll(bodies); close(done) }()
	inFlight := regexp.MustCompile(`hz_http_in_flight_requests\{listener="webhook"\} (\d+)\b`)
	var held int
	require.Eventually(t, func() bool {
		m := inFlight.FindStringSubmatch(h.metrics())
		if m == nil {
			return false // no request has reached the listener yet
		}
		held, _ = strconv.Atoi(m[1])
		return held >= 20
	}, 10*time.Second, time.Millisecond, "deliveries waiting in the group commit")
	h.stop()
	<-done

	// A delivery the server had not yet read when it stopped listening fails on the wire, and
	// Hardenize sends it again; every delivery it held is answered 204, and only once stored.
	stored, _ := h.storedBodies()
	answered := 0
	for i, code := range codes {
		if errs[i] != nil {
			continue
		}
		answered++
		assert.Equal(t, http.StatusNoContent, code, "delivery %d", i)
		assert.Equal(t, bodies[i], stored[strconv.Itoa(8000+i)], "delivery %d stored byte for byte", i)
	}
	assert.GreaterOrEqual(t, answered, held, "each of the %d deliveries in flight at the stop is answered", held)
}

// A --nats-sync that is neither always nor an interval stops the receiver at start, naming it.
func TestDurabilitySettingsAreValidated(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"sync word", []string{"--nats-sync", "sometimes"}, "--nats-sync"},
		{"sync zero", []string{"--nats-sync", "0s"}, "--nats-sync"},
		{"mode", []string{"--group-commit", "yes"}, "--group-commit"},
		{"batch too large", []string{"--group-commit-max-messages", "1001"}, "--group-commit-max-messages"},
		{"batch of one", []string{"--group-commit-max-messages", "1"}, "--group-commit-max-messages"},
		{"bytes", []string{"--group-commit-max-bytes", "10"}, "--group-commit-max-bytes"},
		{"linger", []string{"--group-commit-linger", "2s"}, "--group-commit-linger"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var cfg Config
			set := config.NewSet("receiver", func(string) (string, bool) { return "", false })
			Bind(set, &cfg)
			require.NoError(t, set.Parse(append([]string{"--dev"}, tc.args...)))
			err := cfg.Validate()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	var cfg Config
	set := config.NewSet("receiver", func(k string) (string, bool) { return map[string]string{"HZ_NATS_SYNC": "1s"}[k], k == "HZ_NATS_SYNC" })
	Bind(set, &cfg)
	require.NoError(t, set.Parse([]string{"--dev"}))
	require.NoError(t, cfg.Validate())
	always, every, err := cfg.Durability.natsSync()
	require.NoError(t, err)
	assert.False(t, always)
	assert.Equal(t, time.Second, every)
}

func TestGroupCommitModeFollowsTheServer(t *testing.T) {
	tests := []struct {
		name     string
		mode     string
		external bool
		always   bool
		want     bool
	}{
		{"embedded, sync always", GroupCommitAuto, false, true, true},
		{"embedded, sync interval", GroupCommitAuto, false, false, false},
		{"external server", GroupCommitAuto, true, false, false},
		{"on", GroupCommitOn, true, false, true},
		{"off", GroupCommitOff, false, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Config{Durability: DurabilityConfig{GroupCommit: tc.mode}}
			on, why := c.groupCommit(tc.external, tc.always)
			assert.Equal(t, tc.want, on)
			assert.NotEmpty(t, why)
		})
	}
}

// A receiver that stops waits until its journal is moved: with HZ_EVENTS refusing new messages,
// the entries it answered 204 for stay in the journal; the stop waits, HZ_EVENTS takes messages
// again while it does, and every one of them is in HZ_EVENTS when the stop returns, with no
// receiver left to move anything.
func TestShutdownWaitsUntilTheJournalIsMoved(t *testing.T) {
	h := startHarness(t, func(c *Config) {
		groupCommitOn(c)
		c.PublishTimeout = 10 * time.Second
	})
	ctx := context.Background()
	s, err := h.js.Stream(ctx, queue.StreamEvents)
	require.NoError(t, err)
	cfg := s.CachedInfo().Config
	open := cfg
	cfg.MaxMsgs = 1 // full after one (DiscardNew): nothing can be moved
	_, err = h.js.UpdateStream(ctx, cfg)
	require.NoError(t, err)

	bodies := make([][]byte, 20)
	for i := range bodies {
		bodies[i] = sample(t, events.TypeCTEntry, int64(9000+i))
	}
	codes := h.sendAll(bodies)
	require.Eventually(t, func() bool {
		return metricValue(t, h.metrics(), `hz_journal_entries_total{outcome="retried"}`) > 0
	}, 10*time.Second, 5*time.Millisecond, "entries held in the journal")

	stopped := make(chan struct{})
	go func() { h.stop(); close(stopped) }()
	require.Eventually(t, func() bool { return h.readyz() == 0 }, 10*time.Second, time.Millisecond, "admin listener closed: the receiver is stopping")
	select {
	case <-stopped:
		t.Fatal("the receiver stopped with its journal not moved")
	default:
	}
	_, err = h.js.UpdateStream(ctx, open)
	require.NoError(t, err)
	<-stopped

	left, err := queue.JournalLeft(ctx, h.js)
	require.NoError(t, err)
	assert.Zero(t, left, "moved before the receiver returned")
	stored, copies := h.storedBodies()
	answered := 0
	for i, code := range codes {
		if code != http.StatusNoContent {
			continue // a lone delivery refused by the full stream: 503, Hardenize sends it again
		}
		answered++
		id := strconv.Itoa(9000 + i)
		assert.Equal(t, bodies[i], stored[id], "delivery %d stored byte for byte", i)
		assert.Equal(t, 1, copies[id], "delivery %d once", i)
	}
	assert.Positive(t, answered, "deliveries were journaled and answered 204")
}
