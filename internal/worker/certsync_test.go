package worker

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/alerts"
	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/hardenize/hardenizetest"
	"github.com/hzhook/hzhook/internal/inventory"
	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/rules"
	"github.com/hzhook/hzhook/internal/testenv"
)

// clock is a settable clock for the sync's schedule.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// syncEnv is a fake Hardenize API with certificates, a real JetStream, and a real pki.cert.new
// worker with rules and --cert-sync-every 24h on a store, running.
type syncEnv struct {
	api   *hardenizetest.Server
	conn  *queue.Conn
	app   *App
	reg   *prometheus.Registry
	clock *clock
	log   *testenv.Buffer
	certs []events.Certificate
}

func newSyncEnv(t *testing.T, db string, n int, before func(*hardenizetest.Server)) *syncEnv {
	t.Helper()
	conn, srv := testenv.JetStream(t)
	e := &syncEnv{api: hardenizetest.NewServer("demo"), conn: conn, reg: prometheus.NewRegistry(),
		clock: &clock{t: time.Now()}, log: &testenv.Buffer{}}
	t.Cleanup(e.api.Close)
	for i := range n {
		c, err := hardenizetest.NewCert(hardenizetest.CertSpec{Hosts: []string{"www" + string(rune('a'+i)) + ".example.com"}, Active: true})
		require.NoError(t, err)
		require.NoError(t, e.api.AddCert(c, time.Now().Add(-time.Hour)))
		e.certs = append(e.certs, c)
	}
	// The document's listing: a few polls before done, 429s, pages of the server's size.
	e.api.SetOperationPolls(2)
	e.api.SetRowsPerPage(3)
	e.api.Throttle(2)
	if before != nil {
		before(e.api)
	}
	rulesFile := filepath.Join(t.TempDir(), "rules.yaml")
	require.NoError(t, os.WriteFile(rulesFile, []byte("rules: {expiringSoon: false}\n"), 0o600))
	credsFile := filepath.Join(t.TempDir(), "hardenize.yaml")
	creds := e.api.Credentials()
	require.NoError(t, os.WriteFile(credsFile, []byte("user: "+creds.User+"\npassword: "+creds.Password+"\n"), 0o600))
	cfg := testConfig(t, "--nats-url", srv.URL(), "--types", "pki.cert.new", "--rules", rulesFile, "--backoff", "50ms",
		"--cert-sync-every", "24h", "--hardenize-api-url", e.api.BaseURL(), "--hardenize-org", "demo",
		"--hardenize-credentials", credsFile, "--lint=false") // the sync's findings are what is counted, not zlint's
	if db != "" {
		cfg.DB = db
	}
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.NewJSONHandler(e.log, &slog.HandlerOptions{Level: slog.LevelInfo}))
	app, err := New(ctx, cfg, Deps{Log: log, Registry: e.reg, Now: e.clock.now,
		APISleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }})
	require.NoError(t, err)
	e.app = app
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })
	return e
}

// waitRuns waits until n sync runs are recorded and the worker stored what they sent; it returns
// the runs, newest first.
func (e *syncEnv) waitRuns(t *testing.T, n int) []inventory.CertSyncRun {
	t.Helper()
	var runs []inventory.CertSyncRun
	require.Eventually(t, func() bool {
		var err error
		runs, err = e.app.store.CertSyncRuns(context.Background(), 100)
		// A run is recorded before its gauges are set and it is counted: wait for the count too
		// (the first run is the worker's own, not syncNow's).
		counted := metricValue(t, e.reg, "hz_cert_sync_runs_total", "ok") + metricValue(t, e.reg, "hz_cert_sync_runs_total", "failed")
		return err == nil && len(runs) == n && counted == float64(n) && settled(e.conn, ConsumerName([]string{events.TypeCertNew}))
	}, 30*time.Second, 20*time.Millisecond)
	return runs
}

// syncNow runs the scheduled sync once, as the ticker does, after moving the clock by d.
func (e *syncEnv) syncNow(t *testing.T, d time.Duration) {
	t.Helper()
	e.clock.add(d)
	e.app.sync.once(context.Background())
}

// inventory counts the stored rows by sha256.
func (e *syncEnv) inventory(t *testing.T) map[string]int {
	t.Helper()
	page, err := e.app.store.ListCertificates(context.Background(), inventory.CertificateQuery{Page: 1, PageSize: 200})
	require.NoError(t, err)
	out := map[string]int{}
	for _, c := range page.Items {
		out[c.SHA256]++
		assert.Equal(t, queue.SourceSync, c.ReceivedVia)
	}
	assert.Equal(t, page.Total, len(page.Items))
	return out
}

// alerts counts the alerts on HZ_ALERTS by type and certificate.
func (e *syncEnv) alerts(t *testing.T) map[rules.Type][]string {
	t.Helper()
	ctx := context.Background()
	s, err := e.conn.JS.Stream(ctx, queue.StreamAlerts)
	require.NoError(t, err)
	info, err := s.Info(ctx)
	require.NoError(t, err)
	out := map[rules.Type][]string{}
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		require.NoError(t, err)
		var a alerts.Alert
		require.NoError(t, json.Unmarshal(m.Data, &a))
		out[a.Type] = append(out[a.Type], a.Cert.SHA256)
	}
	return out
}

func (e *syncEnv) eventsStored(t *testing.T) uint64 {
	t.Helper()
	s, err := e.conn.JS.Stream(context.Background(), queue.StreamEvents)
	require.NoError(t, err)
	info, err := s.Info(context.Background())
	require.NoError(t, err)
	return info.State.Msgs
}

func metricValue(t *testing.T, g prometheus.Gatherer, name, label string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label != "" && (len(m.GetLabel()) == 0 || m.GetLabel()[0].GetValue() != label) {
				continue
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			}
		}
	}
	return 0
}

func TestCertSyncSQLite(t *testing.T)   { testCertSync(t, "") }
func TestCertSyncPostgres(t *testing.T) { testCertSync(t, testenv.PostgresSchema(t)) }

// The first sync fills an empty inventory; a sync that finds nothing changed sends nothing; a
// certificate revoked and one reclassified between two syncs give one revoked and one
// ownershipChanged alert, and the syncs after that none.
func testCertSync(t *testing.T, db string) {
	e := newSyncEnv(t, db, 8, nil)
	runs := e.waitRuns(t, 1) // at start: nothing recorded yet, so it is due
	assert.Equal(t, inventory.CertSyncOK, runs[0].Outcome, runs[0].Error)
	assert.Equal(t, 8, runs[0].Certificates)
	assert.Equal(t, 8, runs[0].New)
	assert.Zero(t, runs[0].Changed)
	rows := e.inventory(t)
	require.Len(t, rows, 8)
	for _, c := range e.certs {
		assert.Equal(t, 1, rows[c.SHA256], c.SHA256)
	}
	assert.Empty(t, e.alerts(t), "clean certificates")
	stored := e.eventsStored(t)
	assert.Equal(t, uint64(8), stored)

	e.syncNow(t, time.Hour) // not due yet: nothing runs
	assert.Len(t, e.waitRuns(t, 1), 1)

	e.syncNow(t, 24*time.Hour)
	runs = e.waitRuns(t, 2)
	assert.Equal(t, inventory.CertSyncRun{ID: runs[0].ID, Org: "demo", StartedAt: runs[0].StartedAt, FinishedAt: runs[0].FinishedAt,
		Outcome: inventory.CertSyncOK, Certificates: 8}, runs[0], "nothing new, nothing changed")
	assert.Equal(t, stored, e.eventsStored(t), "nothing sent")

	revokedOn := time.Now().UTC().Truncate(time.Millisecond)
	require.NoError(t, e.api.UpdateCert(e.certs[2].SHA256, func(c *events.Certificate) { c.RevokedOn = &revokedOn }))
	require.NoError(t, e.api.UpdateCert(e.certs[5].SHA256, func(c *events.Certificate) { c.Ownership = "thirdParty" }))
	e.syncNow(t, 24*time.Hour)
	runs = e.waitRuns(t, 3)
	assert.Equal(t, 2, runs[0].Changed)
	assert.Zero(t, runs[0].New)
	got := e.alerts(t)
	assert.Equal(t, []string{e.certs[2].SHA256}, got[rules.TypeRevoked], "one revoked alert")
	assert.Equal(t, []string{e.certs[5].SHA256}, got[rules.TypeOwnershipChanged], "one ownershipChanged alert")
	assert.Equal(t, []string{e.certs[5].SHA256}, got[rules.TypeThirdPartyForOwnHost])
	assert.Len(t, got, 3, "nothing else: %v", got)
	d, err := e.app.store.Certificate(context.Background(), e.certs[5].SHA256)
	require.NoError(t, err)
	assert.Equal(t, "thirdParty", d.Ownership)

	for i := 4; i <= 5; i++ {
		e.syncNow(t, 24*time.Hour)
		runs = e.waitRuns(t, i)
		assert.Zero(t, runs[0].Changed+runs[0].New)
	}
	assert.Equal(t, got, e.alerts(t), "each change alerted once")
	assert.Len(t, e.inventory(t), 8)

	assert.Equal(t, 5.0, metricValue(t, e.reg, "hz_cert_sync_runs_total", "ok"))
	assert.Zero(t, metricValue(t, e.reg, "hz_cert_sync_runs_total", "failed"))
	assert.Equal(t, 10.0, metricValue(t, e.reg, "hz_cert_sync_changed_total", ""))
	assert.Zero(t, metricValue(t, e.reg, "hz_cert_sync_consecutive_failures", ""))
	assert.InDelta(t, float64(runs[0].FinishedAt.UnixMilli())/1000, metricValue(t, e.reg, "hz_cert_sync_last_success_timestamp_seconds", ""), 0.001)
}

// A sync whose listing fails is recorded and counted, retried after an hour (not a day), and after
// two failures in a row is an error in the log and on hz_cert_sync_consecutive_failures (the
// HzhookCertSyncFailing alert); the next success clears it.
func TestCertSyncFailing(t *testing.T) {
	e := newSyncEnv(t, "", 3, func(api *hardenizetest.Server) {
		api.FailNextOperation(http.StatusInternalServerError, "database unavailable")
	})
	runs := e.waitRuns(t, 1)
	assert.Equal(t, inventory.CertSyncFailed, runs[0].Outcome)
	assert.Contains(t, runs[0].Error, "500")
	assert.Empty(t, e.inventory(t))
	assert.Equal(t, 1.0, metricValue(t, e.reg, "hz_cert_sync_runs_total", "failed"))
	assert.Equal(t, 1.0, metricValue(t, e.reg, "hz_cert_sync_consecutive_failures", ""))
	assert.NotContains(t, e.log.String(), "certificate sync keeps failing", "one failure is not yet failing")

	e.syncNow(t, 30*time.Minute) // not due: a failure is retried after an hour
	assert.Len(t, e.waitRuns(t, 1), 1)

	e.api.FailNextOperation(http.StatusServiceUnavailable, "maintenance")
	e.syncNow(t, 31*time.Minute)
	runs = e.waitRuns(t, 2)
	assert.Equal(t, inventory.CertSyncFailed, runs[0].Outcome)
	assert.Equal(t, 2.0, metricValue(t, e.reg, "hz_cert_sync_runs_total", "failed"))
	assert.Equal(t, 2.0, metricValue(t, e.reg, "hz_cert_sync_consecutive_failures", ""))
	assert.Zero(t, metricValue(t, e.reg, "hz_cert_sync_last_success_timestamp_seconds", ""))
	assert.Contains(t, e.log.String(), `"msg":"certificate sync keeps failing"`)
	assert.Contains(t, e.log.String(), `"level":"ERROR"`)

	e.syncNow(t, 61*time.Minute)
	runs = e.waitRuns(t, 3)
	assert.Equal(t, inventory.CertSyncOK, runs[0].Outcome)
	assert.Equal(t, 3, runs[0].New)
	assert.Len(t, e.inventory(t), 3)
	assert.Zero(t, metricValue(t, e.reg, "hz_cert_sync_consecutive_failures", ""))
	assert.Equal(t, 1.0, metricValue(t, e.reg, "hz_cert_sync_runs_total", "ok"))
}

func TestCertSyncConfig(t *testing.T) {
	base := func() Config {
		c := DefaultConfig()
		c.CertSync.Every = 24 * time.Hour
		c.Reconcile.Org, c.Reconcile.User, c.Reconcile.Password = "demo", "u", "p"
		return c
	}
	tests := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"valid", func(*Config) {}, ""},
		{"off", func(c *Config) { c.CertSync.Every, c.Reconcile = 0, ReconcileConfig{} }, ""},
		{"too often", func(c *Config) { c.CertSync.Every = 30 * time.Second }, "--cert-sync-every: 30s is too often"},
		{"negative", func(c *Config) { c.CertSync.Every = -time.Hour }, "--cert-sync-every: -1h0m0s: use 0 (off)"},
		{"no org", func(c *Config) { c.Reconcile.Org = "" }, "--hardenize-org: is required with --cert-sync-every"},
		{"no credentials", func(c *Config) { c.Reconcile.Password = "" }, "--cert-sync-every: needs Hardenize API credentials"},
		{"credentials file", func(c *Config) {
			c.Reconcile.User, c.Reconcile.Password, c.Reconcile.Credentials = "", "", "/run/creds"
		}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			tc.change(&c)
			err := c.Validate()
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.want)
		})
	}
}
