package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/alerts"
	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/lint/corpus"
	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/worker"
)

// alertSink counts the alerts a worker delivers, by Idempotency-Key (one per issuance and finding
// type): a key delivered twice is a duplicate side effect.
type alertSink struct {
	mu   sync.Mutex
	keys map[string]int
}

func newAlertSink(t *testing.T) (*alertSink, string) {
	s := &alertSink{keys: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		s.mu.Lock()
		s.keys[r.Header.Get(alerts.HeaderIdempotencyKey)]++
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return s, srv.URL
}

// counts returns the distinct alerts delivered and the deliveries beyond the first of each.
func (s *alertSink) counts() (alerts, dups int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.keys {
		alerts++
		dups += n - 1
	}
	return alerts, dups
}

// alertArgs are the flags and environment of a worker judging every certificate with the default
// rules and delivering alerts to sinkURL.
func alertArgs(t *testing.T, sinkURL string) (env []string, args []string) {
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	require.NoError(t, os.WriteFile(rules, []byte("rules: {expiringSoon: false}\n"), 0o600))
	return []string{"HZ_ALERT_WEBHOOK_SECRET=faults-alert-secret-0123"},
		[]string{"--rules", rules, "--alert-webhook-url", sinkURL, "--expiry-scan-every", "0"}
}

// backlog publishes bodies straight into HZ_EVENTS at natsURL, as the receiver stores them.
func backlog(t *testing.T, natsURL string, bodies [][]byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	conn, err := queue.Connect(ctx, natsURL, "faults-backlog", slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	defer conn.Close(time.Second)
	require.NoError(t, queue.EnsureStreams(ctx, conn.JS, queue.DefaultStreamOptions()))
	p := queue.NewPublisher(conn.JS)
	for _, b := range bodies {
		ev, err := events.ParseEnvelope(b)
		require.NoError(t, err)
		se := queue.StoredEvent{Org: org, HookID: hook, EventID: ev.ID, Type: ev.Type, Source: queue.SourceWebhook, ReceivedAt: time.Now(), Body: b}
		_, err = p.Publish(ctx, se.Msg(), se.MsgID())
		require.NoError(t, err)
	}
}

// inventoryView is what the inventory API shows of a whole store, reduced to what two stores that
// processed the same events must agree on (no times of processing).
type inventoryView struct {
	Certificates map[string]string  // sha256 → the certificate's JSON
	Entries      map[string]string  // log/index → sha256
	Findings     map[string]finding // tbsSha256/dedupType → the finding
}

// finding is one finding of an issuance as the API shows it.
type finding struct{ Type, SHA256, Detail string }

// viewOf pages through the inventory API of the worker at adminURL.
func viewOf(t *testing.T, adminURL string) inventoryView {
	t.Helper()
	v := inventoryView{Certificates: map[string]string{}, Entries: map[string]string{}, Findings: map[string]finding{}}
	pages := func(path string, each func(json.RawMessage)) {
		for page := 1; ; page++ {
			var l struct {
				Items []json.RawMessage `json:"items"`
				Pages int               `json:"pages"`
			}
			resp := adminCall(t, http.MethodGet, adminURL+path+"?pageSize=200&page="+strconv.Itoa(page))
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&l))
			resp.Body.Close()
			for _, it := range l.Items {
				each(it)
			}
			if page >= l.Pages {
				return
			}
		}
	}
	pages("/api/v1/certificates", func(raw json.RawMessage) {
		var c struct {
			SHA256 string `json:"sha256"`
		}
		require.NoError(t, json.Unmarshal(raw, &c))
		v.Certificates[c.SHA256] = string(raw)
	})
	pages("/api/v1/ct-entries", func(raw json.RawMessage) {
		var e struct {
			Log    string `json:"log"`
			Index  int64  `json:"index"`
			SHA256 string `json:"sha256"`
		}
		require.NoError(t, json.Unmarshal(raw, &e))
		v.Entries[e.Log+"/"+strconv.FormatInt(e.Index, 10)] = e.SHA256
	})
	pages("/api/v1/findings", func(raw json.RawMessage) {
		var f struct {
			Type, DedupType, TBSSHA256, SHA256, Detail string
		}
		require.NoError(t, json.Unmarshal(raw, &f))
		v.Findings[f.TBSSHA256+"/"+f.DedupType] = finding{Type: f.Type, SHA256: f.SHA256, Detail: f.Detail}
	})
	return v
}

// corpusBacklog is the shuffled events of every real certificate of zlint's testdata: each
// arrives as a pki.cert.new twice and as ct.entry in three log entries, interleaved at random.
func corpusBacklog(t *testing.T) [][]byte {
	t.Helper()
	var bodies [][]byte
	id := int64(1)
	for _, c := range corpus.Certs(t) {
		for range 2 {
			b, err := corpus.CertNewBody(c, id)
			require.NoError(t, err)
			bodies = append(bodies, b)
			id++
		}
		for range 3 {
			b, err := corpus.CTEntryBody(c, id)
			require.NoError(t, err)
			bodies = append(bodies, b)
			id++
		}
	}
	rnd := mrand.New(mrand.NewPCG(7, 11))
	rnd.Shuffle(len(bodies), func(i, j int) { bodies[i], bodies[j] = bodies[j], bodies[i] })
	return bodies
}

// waitDrained waits until the consumers of the worker groups on natsURL have nothing left.
func waitDrained(t *testing.T, natsURL string, consumers ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := queue.Connect(ctx, natsURL, "faults-check", slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	defer conn.Close(time.Second)
	require.Eventually(t, func() bool {
		for _, name := range consumers {
			c, err := conn.JS.Consumer(context.Background(), queue.StreamEvents, name)
			if err != nil {
				return false
			}
			info, err := c.Info(context.Background())
			if err != nil || info.NumPending > 0 || info.NumAckPending > 0 || info.Delivered.Stream == 0 {
				return false
			}
		}
		return true
	}, 5*time.Minute, 200*time.Millisecond, "%v drained", consumers)
}

// deadLetterCount is the number of letters in HZ_DLQ at natsURL.
func deadLetterCount(t *testing.T, natsURL string) int {
	t.Helper()
	return streamMsgs(t, natsURL, queue.StreamDLQ)
}

// Scenario 11: four worker replicas (two per group) drain one shuffled backlog of the same real
// certificates (each in a pki.cert.new twice and three CT entries) into one PostgreSQL at once. The
// certificates and CT entries they store are exactly those a single worker stores on SQLite from the
// same events, and so are the findings up to which event of an issuance came first (sameFindings);
// no deadlock or serialization failure ends in the dead-letter queue; each finding alerts once.
func TestPostgresReplicasBuildTheSingleWorkerInventory(t *testing.T) {
	bodies := corpusBacklog(t)

	// The reference: one worker, SQLite.
	refNATS := freePort(t)
	natsServer(t, t.TempDir(), refNATS)
	refURL := "nats://" + addr(refNATS)
	backlog(t, refURL, bodies)
	refSink, refSinkURL := newAlertSink(t)
	env, args := alertArgs(t, refSinkURL)
	ref := workerOnEnv(t, refURL, sqliteURL(t), env, append(args, "--types", "ct.entry,pki.cert.new")...)
	both := []string{events.TypeCTEntry, events.TypeCertNew}
	// The lint stage follows the writer on its own consumer: its lintError findings are part of
	// the inventory too.
	waitDrained(t, refURL, worker.ConsumerName(both), worker.LintConsumerName(both))

	// Four replicas on one PostgreSQL, on their own NATS holding the same backlog.
	pg := startPostgres(t)
	natsPort := freePort(t)
	natsServer(t, t.TempDir(), natsPort)
	natsURL := "nats://" + addr(natsPort)
	backlog(t, natsURL, bodies)
	sink, sinkURL := newAlertSink(t)
	env, args = alertArgs(t, sinkURL)
	var replicas []*workerProc
	for _, types := range []string{events.TypeCTEntry, events.TypeCTEntry, events.TypeCertNew, events.TypeCertNew} {
		w := workerOnEnv(t, natsURL, pg.URL(), env, append(args, "--types", types, "--batch-size", "20")...)
		replicas = append(replicas, w)
	}
	ct, cert := []string{events.TypeCTEntry}, []string{events.TypeCertNew}
	waitDrained(t, natsURL, worker.ConsumerName(ct), worker.ConsumerName(cert), worker.LintConsumerName(ct), worker.LintConsumerName(cert))
	// Alerts follow the commits: wait until both sinks saw as many as there are findings.
	want := viewOf(t, ref.adminURL)
	alertsOf := func(s *alertSink) func() int { return func() int { n, _ := s.counts(); return n } }
	settle(t, alertsOf(refSink), len(want.Findings), "the single worker alerts every finding (alerts delivered)")
	if !settle(t, alertsOf(sink), len(want.Findings), "the replicas alert every finding (alerts delivered)") {
		t.Logf("HZ_ALERTS holds %d alerts, HZ_DLQ %d letters", streamMsgs(t, natsURL, queue.StreamAlerts), deadLetterCount(t, natsURL))
	}

	got := viewOf(t, replicas[0].adminURL)
	dead := deadLetterCount(t, natsURL)
	alerted, dupAlerts := sink.counts()
	missing := 0
	for sha := range want.Certificates {
		if _, ok := got.Certificates[sha]; !ok {
			missing++
		}
	}
	differ := sameFindings(t, want, got)
	retried := 0
	for _, w := range replicas {
		retried += retriedDeliveries(t, w.adminURL)
	}
	record(row{N: 11, Scenario: "4 worker replicas on one PostgreSQL vs 1 on SQLite", Sent: len(bodies), NoContent: len(bodies),
		Stored: len(got.Certificates), Lost: missing, Duplicates: dupAlerts,
		Note: fmt.Sprintf("%d certificates, %d CT entries, %d findings (%d first seen in another event of the issuance), %d alerts; %d retried deliveries, %d dead-lettered",
			len(got.Certificates), len(got.Entries), len(got.Findings), differ, alerted, retried, dead)})
	assert.Equal(t, want.Certificates, got.Certificates, "the same certificates, field for field")
	assert.Equal(t, want.Entries, got.Entries)
	assert.Zero(t, dead, "no deadlock or serialization failure was dead-lettered")
	assert.Zero(t, dupAlerts, "each finding alerted once")
	assert.Equal(t, len(want.Findings), alerted)
}

// sameFindings checks that got holds the findings of want: the same issuances and types, and it
// returns how many differ in what they say. The first finding of an issuance and type is kept (its
// alert went out with it), and with replicas the first event of an issuance may be another one
// than a single worker saw first: the precertificate rather than the certificate, a pki.cert.new
// rather than a ct.entry. Such a finding names the other certificate of the same issuance, or
// words its detail after the other event; anything else must be equal.
func sameFindings(t *testing.T, want, got inventoryView) (differ int) {
	t.Helper()
	assert.Len(t, got.Findings, len(want.Findings))
	issuance := func(sha string) string {
		var c struct{ TBSSHA256 string }
		_ = json.Unmarshal([]byte(got.Certificates[sha]), &c)
		return c.TBSSHA256
	}
	for key, w := range want.Findings {
		g, ok := got.Findings[key]
		if !assert.True(t, ok, "finding %s is missing", key) {
			continue
		}
		assert.Equal(t, w.Type, g.Type, key)
		if g.SHA256 != w.SHA256 {
			assert.Equal(t, issuance(w.SHA256), issuance(g.SHA256), "%s names a certificate of another issuance", key)
		}
		if g != w {
			differ++
		}
	}
	return differ
}

// settle waits up to two minutes for count to reach want and reports whether it did; the
// assertion shows the last count, not the first.
func settle(t *testing.T, count func() int, want int, what string) bool {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	n := count()
	for n != want && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		n = count()
	}
	return assert.Equal(t, want, n, what)
}

// streamMsgs is the number of messages in stream at natsURL.
func streamMsgs(t *testing.T, natsURL, stream string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := queue.Connect(ctx, natsURL, "faults-check", slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	defer conn.Close(time.Second)
	s, err := conn.JS.Stream(ctx, stream)
	require.NoError(t, err)
	info, err := s.Info(ctx)
	require.NoError(t, err)
	return int(info.State.Msgs)
}

// workerOnEnv is workerOn with extra environment (secrets are environment only).
func workerOnEnv(t *testing.T, natsURL, dbURL string, env []string, args ...string) *workerProc {
	t.Helper()
	admin := freePort(t)
	w := &workerProc{adminURL: "http://" + addr(admin), dbURL: dbURL}
	w.Proc = startProc(t, "worker", append([]string{
		"HZ_NATS_URL=" + natsURL, "HZ_DB_URL=" + dbURL, "HZ_ADMIN_LISTEN=" + addr(admin), "HZ_ADMIN_TOKEN=" + adminToken,
	}, env...), args...)
	waitHTTP(t, w.adminURL+"/readyz", http.StatusOK, time.Minute)
	return w
}

// Scenario 12: kill -9 the PostgreSQL postmaster (fsync=on) while events arrive and a worker
// writes them; start it again after a few seconds (crash recovery from the WAL). The worker retries:
// every event answered 204 is stored, none dead-lettered.
func TestKillPostgresUnderLoad(t *testing.T) {
	const n = 6000
	pg := startDurablePostgres(t)
	o := postgresOutageUnderLoad(t, pg, n, pg.Kill)
	record(row{N: 12, Scenario: "kill -9 PostgreSQL (fsync=on) under load", Sent: n, NoContent: o.noContent, Stored: o.stored, Lost: o.lost, Duplicates: o.dups,
		Note: fmt.Sprintf("postmaster killed with %d stored, down %s; %d deliveries retried; %d dead-lettered", o.atStored, o.down, o.retried, o.dead)})
	assert.Less(t, o.atStored, n, "killed while events were still to store")
	assert.Zero(t, o.lost)
	assert.Zero(t, o.dups)
	assert.Zero(t, o.dead, "nothing dead-lettered")
}

// Scenario 13: kill -9 one of two worker replicas writing into PostgreSQL in the middle of a
// backlog, in small batches; restart it. Every event is stored, none dead-lettered, none twice in
// HZ_EVENTS.
func TestKillWorkerOnPostgres(t *testing.T) {
	const n = 10000
	pg := startPostgres(t)
	s := startStack(t)
	snd := &sender{url: s.webhookURL, org: org, hook: hook, secret: secret, body: bodyOf(sampleBodies(t, events.TypeCTEntry, n))}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	snd.run(ctx, n, 32, 0)
	require.NoError(t, ctx.Err(), "sender finished")

	args := []string{"--batch-size", "20", "--ack-wait", "3s"}
	victim := s.startWorker(pg.URL(), args...)
	s.startWorker(pg.URL(), args...)
	db := openStore(t, pg.URL())
	waitStored(t, db, n/4, 2*time.Minute)
	victim.Kill()
	atKill := storedCount(db)
	require.Less(t, atKill, n, "the worker was killed before the backlog was drained")
	require.NoError(t, victim.Start())

	waitStored(t, db, n, 3*time.Minute)
	require.Eventually(t, func() bool { _, left := s.queueState(allTypesConsumer()); return left == 0 },
		time.Minute, 100*time.Millisecond, "the consumer finished every message")
	stored, err := storedEvents(ctx, db)
	require.NoError(t, err)
	dead, _ := s.queueState(allTypesConsumer())
	lost := lostIn(snd.accepted, stored)
	_, dups := compare(n, snd.accepted, s.storedIDs())
	record(row{N: 13, Scenario: "kill -9 a worker on PostgreSQL mid-batch", Sent: n, NoContent: snd.count204(), Stored: len(stored), Lost: lost, Duplicates: dups,
		Note: fmt.Sprintf("one of 2 replicas killed with %d stored; %d dead-lettered", atKill, dead)})
	assert.Zero(t, lost)
	assert.Zero(t, dups)
	assert.Zero(t, dead)
	assert.Len(t, stored, n)
}
