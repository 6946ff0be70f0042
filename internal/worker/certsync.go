package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/hzhook/hzhook/internal/certsync"
	"github.com/hzhook/hzhook/internal/hardenize"
	"github.com/hzhook/hzhook/internal/inventory"
	"github.com/hzhook/hzhook/internal/queue"
)

const (
	// certSyncTick is how often each replica asks whether the certificate sync is due: the
	// schedule lives in cert_sync_runs, so a restart neither repeats a sync nor delays one.
	certSyncTick = 5 * time.Minute
	// certSyncRetry is how soon a failed sync is tried again (sooner than the interval: the
	// inventory should not stay a day behind for one failed listing).
	certSyncRetry = time.Hour
	// certSyncFailing is how many failed runs in a row make the sync "failing": logged as an
	// error, and the HzhookCertSyncFailing alert on hz_cert_sync_consecutive_failures.
	certSyncFailing = 2
)

// CertSyncStore is what the certificate sync needs of the inventory (*inventory.Store): the
// stored copies to compare with, and the record of its runs.
type CertSyncStore interface {
	StoredCerts(ctx context.Context, sha256s []string) (map[string]inventory.StoredCert, error)
	RecordCertSyncRun(ctx context.Context, r inventory.CertSyncRun) error
	CertSyncRuns(ctx context.Context, limit int) ([]inventory.CertSyncRun, error)
}

// certSyncMetrics are the sync's gauges, set from cert_sync_runs by every replica so that they
// agree whichever replica ran the sync.
type certSyncMetrics struct {
	changed     prometheus.Counter
	lastSuccess prometheus.Gauge
	failures    prometheus.Gauge
}

// newCertSync lists the account's certificates every cfg.CertSync.Every (one replica at a time),
// compares each with the inventory and sends the new and the changed to HZ_EVENTS as pki.cert.new
// events (Hz-Source: sync), where this worker group or another stores them like any event: a
// revocation, a new ownership or a moved effectiveNotAfter becomes a finding and an alert once.
// Each run is recorded in cert_sync_runs.
func newCertSync(cfg Config, store CertSyncStore, conn *queue.Conn, log *slog.Logger, reg prometheus.Registerer,
	sleep func(context.Context, time.Duration) error, now func() time.Time) (*scheduled, error) {
	api, err := hardenizeClient(cfg.Reconcile, sleep)
	if err != nil {
		return nil, err
	}
	f := promauto.With(reg)
	m := certSyncMetrics{
		changed: f.NewCounter(prometheus.CounterOpts{
			Name: "hz_cert_sync_changed_total",
			Help: "Certificates a sync found new or changed in the Hardenize API and sent to be stored.",
		}),
		lastSuccess: f.NewGauge(prometheus.GaugeOpts{
			Name: "hz_cert_sync_last_success_timestamp_seconds",
			Help: "When (unix seconds) the newest successful certificate sync finished; 0 if none is recorded.",
		}),
		failures: f.NewGauge(prometheus.GaugeOpts{
			Name: "hz_cert_sync_consecutive_failures",
			Help: "Certificate syncs that failed in a row since the last successful one (from cert_sync_runs).",
		}),
	}
	every, org := cfg.CertSync.Every, cfg.Reconcile.Org
	pub := queue.NewPublisher(conn.JS)
	return &scheduled{
		name: "cert-sync." + queue.Token(org), every: every, js: conn.JS, owner: newOwner(), log: log, tick: min(every, certSyncTick),
		runs: f.NewCounterVec(prometheus.CounterOpts{
			Name: "hz_cert_sync_runs_total",
			Help: "Scheduled certificate syncs with the Hardenize API, by outcome (ok, failed, skipped: another replica held the lock).",
		}, []string{"outcome"}),
		due: func(ctx context.Context) bool { due, _ := certSyncDue(ctx, store, m, every, now(), log); return due },
		do: func(ctx context.Context, refresh func()) ([]any, error) {
			started := now()
			st, err := certsync.Run(ctx, certsync.Deps{API: api, Publisher: pub, Log: log, Now: now}, certsync.Options{
				Org: org, Source: queue.SourceSync, Alerts: true, Compare: compareWith(store),
				Progress: func(certsync.Progress) { refresh() },
			})
			m.changed.Add(float64(st.New + st.Changed))
			attrs := []any{"certificates", st.Certificates, "new", st.New, "changed", st.Changed, "unchanged", st.Unchanged,
				"rejected", st.Rejected, "elapsed", time.Duration(st.Elapsed).String()}
			if ctx.Err() != nil {
				return attrs, err // shutting down: not a failure of the sync, not recorded
			}
			run := inventory.CertSyncRun{Org: org, StartedAt: started, FinishedAt: now(), Outcome: inventory.CertSyncOK,
				Certificates: st.Certificates, New: st.New, Changed: st.Changed, Rejected: st.Rejected}
			if err != nil {
				run.Outcome, run.Error = inventory.CertSyncFailed, err.Error()
			}
			if rerr := store.RecordCertSyncRun(ctx, run); rerr != nil {
				err = errors.Join(err, fmt.Errorf("record the run: %w", rerr))
			}
			if _, failures := certSyncDue(ctx, store, m, every, now(), log); failures >= certSyncFailing { // the gauges at once
				log.ErrorContext(ctx, "certificate sync keeps failing", "org", org, "failures", failures, "err", err)
			}
			return attrs, err
		},
	}, nil
}

// certSyncDue reads the recent runs, sets the gauges from them, and reports whether a sync is due
// at now — when none is recorded, every after the last success began, certSyncRetry (or every, if
// shorter) after a failure ended — and how many of the newest runs failed in a row. A store that
// cannot be read is logged and makes the sync due.
func certSyncDue(ctx context.Context, store CertSyncStore, m certSyncMetrics, every time.Duration, now time.Time, log *slog.Logger) (due bool, failures int) {
	runs, err := store.CertSyncRuns(ctx, 100)
	if err != nil {
		log.WarnContext(ctx, "certificate sync runs unreadable", "err", err)
		return true, 0
	}
	for _, r := range runs {
		if r.Outcome == inventory.CertSyncOK {
			m.lastSuccess.Set(float64(r.FinishedAt.UnixMilli()) / 1000)
			break
		}
		failures++
	}
	m.failures.Set(float64(failures))
	switch {
	case len(runs) == 0:
		return true, 0
	case runs[0].Outcome == inventory.CertSyncOK:
		return !now.Before(runs[0].StartedAt.Add(every)), 0
	default:
		return !now.Before(runs[0].FinishedAt.Add(min(every, certSyncRetry))), failures
	}
}

// compareWith says, for each listed certificate, whether the store has it as listed: the same
// JSON (PostgreSQL's jsonb gives keys back in another order, so values are compared, not bytes).
// A row known only from a CT entry counts as new.
func compareWith(store CertSyncStore) certsync.Compare {
	return func(ctx context.Context, certs []hardenize.CertRecord) ([]certsync.State, error) {
		shas := make([]string, len(certs))
		for i, c := range certs {
			shas[i] = c.Certificate.SHA256
		}
		stored, err := store.StoredCerts(ctx, shas)
		if err != nil {
			return nil, err
		}
		out := make([]certsync.State, len(certs))
		for i, c := range certs {
			s, ok := stored[c.Certificate.SHA256]
			switch {
			case !ok || s.Detail != inventory.DetailCertNew:
				out[i] = certsync.New
			case sameJSON(s.Payload, c.Raw):
				out[i] = certsync.Unchanged
			default:
				out[i] = certsync.Changed
			}
		}
		return out, nil
	}
}

func sameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// hardenizeClient is the Hardenize API client of the scheduled jobs: the credentials from the
// environment or the --hardenize-credentials file. sleep (nil: real time) waits between retries
// and operation polls.
func hardenizeClient(cfg ReconcileConfig, sleep func(context.Context, time.Duration) error) (*hardenize.Client, error) {
	creds := hardenize.Credentials{User: cfg.User, Password: cfg.Password}
	if cfg.Credentials != "" {
		var err error
		if creds, err = hardenize.LoadCredentials(cfg.Credentials); err != nil {
			return nil, fmt.Errorf("--hardenize-credentials: %w", err)
		}
	}
	api, err := hardenize.New(hardenize.Options{BaseURL: cfg.APIURL, Org: cfg.Org, Credentials: creds, Sleep: sleep})
	if err != nil {
		return nil, fmt.Errorf("hardenize api: %w", err)
	}
	return api, nil
}
