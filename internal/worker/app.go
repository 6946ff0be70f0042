package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/errgroup"

	"github.com/hzhook/hzhook/internal/alerts"
	"github.com/hzhook/hzhook/internal/authz"
	"github.com/hzhook/hzhook/internal/dispatch"
	"github.com/hzhook/hzhook/internal/dlq"
	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/findings"
	"github.com/hzhook/hzhook/internal/handlers"
	"github.com/hzhook/hzhook/internal/handlers/adminapi"
	"github.com/hzhook/hzhook/internal/ingest"
	"github.com/hzhook/hzhook/internal/inventory"
	"github.com/hzhook/hzhook/internal/linting"
	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/rules"
)

// Registry is what the worker needs of a Prometheus registry.
type Registry interface {
	prometheus.Registerer
	prometheus.Gatherer
}

// Deps are the worker's injected dependencies.
type Deps struct {
	Log      *slog.Logger
	Registry Registry
	// Handlers by event type; nil means the inventory store at Config.DB (tests pass their own).
	Handlers map[string]dispatch.Handler
	// Now is the clock of the certificate sync's schedule (when a sync is due, the times of its
	// runs); time.Now when nil.
	Now func() time.Time
	// APISleep waits between Hardenize API retries and operation polls of the certificate sync;
	// real time when nil (tests pass a fast one).
	APISleep func(ctx context.Context, d time.Duration) error
	// TracerProvider makes the spans of every message consumed (events and alerts), of the
	// inventory's writes, of alert publishes and of the alert sinks' requests. Nil: no spans.
	TracerProvider trace.TracerProvider
	// Propagator reads the trace context stored with each message and writes it into the alerts
	// published and the sinks' requests: an event is one trace from its webhook request to its
	// alert's delivery. Nil: none (each message starts its own trace, when spans are made).
	Propagator propagation.TextMapPropagator
}

// telemetry is the tracing every part of the worker is built with.
type telemetry struct {
	tp   trace.TracerProvider // nil: no spans
	prop propagation.TextMapPropagator
}

// App is a configured worker: connected to NATS, admin listener bound, ready to Run.
type App struct {
	cfg   Config
	log   *slog.Logger
	reg   Registry
	conn  *queue.Conn
	admin net.Listener
	disp  *dispatch.Dispatcher
	store *inventory.Store // nil when Deps.Handlers were given
	recon *scheduled       // nil unless --reconcile-every
	sync  *scheduled       // nil unless --cert-sync-every

	rules  *rules.Store           // nil without --rules
	authz  *authz.Source          // the rules with the inventory's authorizations; nil without the inventory
	sinks  []*dispatch.Dispatcher // one per configured alert sink
	expiry *scheduled             // nil unless --rules, the inventory and --expiry-scan-every
	sweep  *scheduled             // nil unless --rules, the inventory and --alert-sweep-every
	lint   *dispatch.Dispatcher   // the lint stage; nil unless --lint and the inventory

	stopping atomic.Bool
}

// New validates cfg, connects to NATS (retrying until ctx ends), binds the admin listener and sets
// up the dispatcher of the worker group. Nothing is consumed or served until Run.
func New(ctx context.Context, cfg Config, d Deps) (_ *App, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	a := &App{cfg: cfg, log: d.Log, reg: d.Registry}
	tel := telemetry{tp: d.TracerProvider, prop: d.Propagator}
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	if cfg.Alerts.Rules != "" {
		if a.rules, err = rules.Load(cfg.Alerts.Rules, d.Log.With("component", "rules"), d.Registry); err != nil {
			return nil, fmt.Errorf("--rules: %w", err)
		}
	}
	if d.Handlers == nil {
		if a.store, err = inventory.Open(ctx, cfg.DB, d.Log); err != nil {
			return nil, fmt.Errorf("--db: %w", err)
		}
	}
	if a.conn, err = queue.Connect(ctx, cfg.NATSURL, "hzhook-worker", d.Log); err != nil {
		return nil, err
	}
	if a.rules != nil || cfg.Alerts.Sinks() {
		if err := queue.EnsureAlertStream(ctx, a.conn.JS); err != nil {
			return nil, fmt.Errorf("alerts: %w", err)
		}
	}
	am := alerts.NewMetrics(d.Registry)
	if d.Handlers == nil {
		if err := a.newAuthz(ctx); err != nil {
			return nil, err
		}
		o := ingest.Options{Log: d.Log, Registerer: d.Registry, TracerProvider: tel.tp}
		var outbox *findings.Outbox
		if a.rules != nil {
			outbox = findings.NewOutbox(a.store, queue.NewPublisher(a.conn.JS), am, d.Log, time.Now,
				findings.Tracing{TracerProvider: tel.tp, Propagator: tel.prop})
			o.Rules, o.Outbox = a.authz, outbox
		}
		d.Handlers = ingest.New(a.store, o).Handlers()
		if cfg.Lint.Enabled {
			var policy linting.PolicySource // nil without a rules file (not a nil *authz.Source)
			if a.rules != nil {
				policy = a.authz
			}
			if d.Handlers, a.lint, err = newLintStage(a.conn, cfg, a.store, policy, outbox, d.Handlers, d.Log, d.Registry, tel); err != nil {
				return nil, fmt.Errorf("lint stage: %w", err)
			}
		}
		if a.rules != nil && cfg.Alerts.SweepEvery > 0 {
			a.sweep = newAlertSweep(cfg.Alerts.SweepEvery, outbox, a.conn, d.Log.With("component", "alert-sweep"), d.Registry)
		}
		if a.rules != nil && cfg.Alerts.ExpiryScanEvery > 0 {
			scan := findings.ExpiryScan{Store: a.store, Rules: a.authz, Outbox: outbox, Log: d.Log.With("component", "expiry")}
			a.expiry = newExpiryScan(cfg.Alerts.ExpiryScanEvery, scan, a.conn, d.Log.With("component", "expiry"), d.Registry, time.Now, tel)
		}
	}
	if a.admin, err = net.Listen("tcp", cfg.AdminListen); err != nil {
		return nil, fmt.Errorf("admin listener --admin-listen %s: %w", cfg.AdminListen, err)
	}
	if a.disp, err = newDispatcher(a.conn, cfg, d.Log, d.Registry, d.Handlers, newLastEvent(d.Registry, time.Now).received, tel); err != nil {
		return nil, err
	}
	sinks, err := newSinks(cfg.Alerts, d.Log, tel)
	if err != nil {
		return nil, err
	}
	var ledger alerts.Ledger // the store, which tests that inject handlers do without
	if a.store != nil {
		ledger = a.store
	}
	for _, sink := range sinks {
		sd, err := newSinkDispatcher(a.conn, cfg, sink, ledger, am, d.Log.With("component", "alerts", "sink", sink.Kind()), d.Registry, tel)
		if err != nil {
			return nil, fmt.Errorf("alert sink %s: %w", sink.Kind(), err)
		}
		a.sinks = append(a.sinks, sd)
	}
	if cfg.Reconcile.Every > 0 {
		if a.recon, err = newReconciler(cfg.Reconcile, a.conn, d.Log.With("component", "reconcile"), d.Registry); err != nil {
			return nil, err
		}
	}
	if cfg.CertSync.Every > 0 {
		if a.store == nil {
			return nil, errors.New("--cert-sync-every: needs the inventory store (--db) to compare with")
		}
		if d.Now == nil {
			d.Now = time.Now
		}
		if a.sync, err = newCertSync(cfg, a.store, a.conn, d.Log.With("component", "cert-sync"), d.Registry, d.APISleep, d.Now); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// AdminURL is the base URL of the admin listener (API, metrics, health).
func (a *App) AdminURL() string { return "http://" + a.admin.Addr().String() }

// Run consumes and serves until ctx ends, then shuts down in stages: readiness goes false, fetching
// stops and in-flight batches finish (up to --shutdown-timeout), the admin listener closes, NATS is
// drained. A clean stop returns nil.
func (a *App) Run(ctx context.Context) error {
	defer a.close()
	e := handlers.NewAdminServer(a.reg, a.reg, a.log, a.ready)
	api := e.Group("/api/v1", handlers.BearerToken(a.cfg.AdminToken))
	dead := dlq.New(a.conn.JS, dlq.Options{Reverifier: queue.NewReverifyClient(a.conn.NC)})
	adminapi.RegisterDLQ(api, dead)
	if a.store != nil {
		adminapi.RegisterInventory(api, a.store, time.Now)
		adminapi.RegisterCertSync(api, a.store)
		adminapi.RegisterAuthorizations(api, a.authz)
		if err := a.registerConsole(e, dead); err != nil {
			return fmt.Errorf("console: %w", err)
		}
	}
	admin := &http.Server{
		Handler:           e,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second, // a bulk redrive may take a while
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := admin.Serve(a.admin); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve admin: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		err := a.disp.Run(gctx)
		// The admin listener outlives the drain so /metrics and /readyz answer meanwhile.
		a.stopping.Store(true)
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		return errors.Join(err, admin.Shutdown(sctx))
	})
	g.Go(func() error {
		<-gctx.Done()
		a.stopping.Store(true)
		return nil
	})
	if a.recon != nil {
		g.Go(func() error { return a.recon.run(gctx) })
	}
	if a.sync != nil {
		g.Go(func() error { return a.sync.run(gctx) })
	}
	if a.rules != nil {
		g.Go(func() error { a.rules.Watch(gctx, 0); return nil })
	}
	if a.authz != nil {
		g.Go(func() error { a.authz.Watch(gctx, authzRefresh); return nil })
	}
	for _, sd := range a.sinks {
		g.Go(func() error { return sd.Run(gctx) })
	}
	if a.sweep != nil {
		g.Go(func() error { return a.sweep.run(gctx) })
	}
	if a.expiry != nil {
		g.Go(func() error { return a.expiry.run(gctx) })
	}
	if a.lint != nil {
		g.Go(func() error { return a.lint.Run(gctx) })
	}
	a.log.Info("worker started", "types", a.cfg.Types, "consumer", ConsumerName(a.cfg.Types), "admin", a.AdminURL())
	err := g.Wait()
	a.log.Info("worker stopped")
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func (a *App) ready() error {
	switch {
	case a.stopping.Load():
		return errors.New("shutting down")
	case !a.conn.Ready():
		return errors.New("nats unreachable")
	}
	if a.store != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := a.store.Ping(ctx); err != nil {
			return fmt.Errorf("store unreachable: %w", err)
		}
	}
	return nil
}

func (a *App) close() {
	if a.admin != nil {
		_ = a.admin.Close()
	}
	if a.conn != nil {
		a.conn.Close(5 * time.Second)
	}
	if a.store != nil {
		a.store.Close()
	}
}

// newDispatcher returns the dispatcher of the worker group cfg.Types on HZ_EVENTS: the group's
// durable consumer, the Hardenize envelope parsed, test events acknowledged, dead letters to stage
// "worker", and received told of every event fetched.
func newDispatcher(conn *queue.Conn, cfg Config, log *slog.Logger, reg prometheus.Registerer, hs map[string]dispatch.Handler,
	received func(label string, at time.Time), tel telemetry) (*dispatch.Dispatcher, error) {
	subjects := make([]string, 0, len(cfg.Types))
	for _, t := range cfg.Types {
		subjects = append(subjects, queue.Subject(t))
	}
	return dispatch.New(conn.JS, nil, dispatch.Options{
		Stream:         queue.StreamEvents,
		Consumer:       ConsumerName(cfg.Types),
		Description:    "hzhook worker for " + strings.Join(cfg.Types, ", "),
		FilterSubjects: subjects,
		Stage:          StageWorker,
		ParseEnvelope:  true,
		Handlers:       hs,
		AckOnly:        []string{events.TypeTest},
		MaxDeliver:     cfg.MaxDeliver,
		Backoff:        cfg.Backoff,
		AckWait:        cfg.AckWait,
		BatchSize:      cfg.BatchSize,
		Concurrency:    cfg.Concurrency,
		ShutdownGrace:  cfg.ShutdownTimeout,
		Received:       received,
		Log:            log,
		Registerer:     reg,
		TracerProvider: tel.tp,
		Propagator:     tel.prop,
	})
}

// StageWorker is the dead-letter stage of event workers: their dead letters are hz.dlq.worker.
const StageWorker = "worker"
