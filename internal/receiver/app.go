package receiver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/errgroup"

	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/handlers"
	"github.com/hzhook/hzhook/internal/handlers/webhook"
	"github.com/hzhook/hzhook/internal/intake"
	"github.com/hzhook/hzhook/internal/pubsub"
	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/queue/embedded"
	"github.com/hzhook/hzhook/internal/verify"
	"github.com/hzhook/hzhook/internal/worker"
)

// Registry is what the receiver needs of a Prometheus registry.
type Registry interface {
	prometheus.Registerer
	prometheus.Gatherer
}

// Deps are the receiver's injected dependencies.
type Deps struct {
	Log      *slog.Logger
	Registry Registry
	Out      io.Writer // where --dev prints its demo hook and the command to try it
	// TracerProvider makes a span of every webhook request and Pub/Sub message and of its publish
	// (the --dev worker's spans too). Nil: no spans.
	TracerProvider trace.TracerProvider
	// Propagator writes the publish's trace context into the stored event's headers, for the
	// worker to continue. Nil: none.
	Propagator propagation.TextMapPropagator
}

// App is a configured receiver with its listeners bound, ready to Run.
type App struct {
	cfg      Config
	log      *slog.Logger
	reg      Registry
	out      io.Writer
	tp       trace.TracerProvider // nil: no spans
	prop     propagation.TextMapPropagator
	secrets  *verify.Store
	demo     *verify.Hook
	embedded *embedded.Server
	conn     *queue.Conn
	webhook  net.Listener // nil when --source lacks webhook
	admin    net.Listener
	pubsub   *pubsub.Config // nil when --source lacks pubsub

	devWorker *worker.App // --dev only
	devToken  string

	streamsReady atomic.Bool
	stopping     atomic.Bool
}

// New validates cfg, loads the secrets, starts the embedded NATS server when no URL is given,
// connects to NATS and binds both listeners. Nothing is served until Run. On error everything
// opened so far is closed again.
func New(ctx context.Context, cfg Config, d Deps) (_ *App, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	if d.Out == nil {
		d.Out = io.Discard
	}
	log := d.Log
	a := &App{cfg: cfg, log: log, reg: d.Registry, out: d.Out, tp: d.TracerProvider, prop: d.Propagator}
	defer func() {
		if err != nil {
			a.close()
		}
	}()

	if cfg.SecretsFile != "" {
		if a.secrets, err = verify.LoadStore(cfg.SecretsFile, log, d.Registry); err != nil {
			return nil, fmt.Errorf("load hook secrets: %w", err)
		}
	} else {
		hook, err := demoHook()
		if err != nil {
			return nil, err
		}
		a.demo = &hook
		if a.secrets, err = verify.NewStore([]verify.Hook{hook}); err != nil {
			return nil, fmt.Errorf("demo hook: %w", err)
		}
	}

	if cfg.enabled(SourcePubSub) {
		pc, err := cfg.pubsubConfig()
		if err != nil {
			return nil, err
		}
		a.pubsub = &pc
	}

	url := cfg.NATSURL
	if url == "" {
		always, every, serr := cfg.Durability.natsSync()
		if serr != nil {
			return nil, fmt.Errorf("--nats-sync: %w", serr)
		}
		a.embedded, err = embedded.Start(embedded.Options{
			StoreDir:     filepath.Join(cfg.DataDir, "nats"),
			Port:         cfg.EmbeddedNATSPort,
			SyncAlways:   always,
			SyncInterval: every,
		}, log)
		if err != nil {
			return nil, err
		}
		url = a.embedded.URL()
	}
	if a.conn, err = queue.Connect(ctx, url, "hzhook-receiver", log); err != nil {
		return nil, err
	}
	if a.admin, err = net.Listen("tcp", cfg.AdminListen); err != nil {
		return nil, fmt.Errorf("admin listener --admin-listen %s: %w", cfg.AdminListen, err)
	}
	if cfg.enabled(SourceWebhook) {
		if a.webhook, err = net.Listen("tcp", cfg.Listen); err != nil {
			return nil, fmt.Errorf("webhook listener --listen %s: %w", cfg.Listen, err)
		}
	}
	if cfg.Dev { // last: nothing after it may fail, the worker closes itself in its Run
		if err := a.newDevWorker(ctx, url); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// WebhookURL is the full URL of the webhook endpoint on the bound address ("" without a webhook
// listener).
func (a *App) WebhookURL() string {
	if a.webhook == nil {
		return ""
	}
	return "http://" + dialable(a.webhook.Addr()) + a.cfg.WebhookPath
}

// AdminURL is the base URL of the admin listener.
func (a *App) AdminURL() string { return "http://" + dialable(a.admin.Addr()) }

// dialable turns a wildcard listen address (":8080" binds [::]:8080) into one a local client can use.
func dialable(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return addr.String()
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(tcp.Port))
}

// NATSURL is the URL of the NATS server in use (the embedded one's when started).
func (a *App) NATSURL() string { return a.conn.NC.ConnectedUrlRedacted() }

// DemoHook is the generated hook of --dev (nil when a secrets file is used).
func (a *App) DemoHook() *verify.Hook { return a.demo }

// Run serves until ctx ends, then shuts down in stages: readiness goes false, the webhook listener
// stops accepting and in-flight requests finish (each answered 204 only if stored) within the
// shutdown timeout, the in-process worker stops, NATS is drained, the embedded server stops.
func (a *App) Run(ctx context.Context) error {
	defer a.close()
	pub, stopPub, err := a.publisher()
	if err != nil {
		return err
	}
	// The journal's mover runs from when the streams exist until the group commit has settled, so
	// that it moves what this receiver journaled last. The goroutine below that starts it has
	// ended when this deferred function runs (after g.Wait).
	var (
		mover     *queue.Mover
		moverDone = make(chan error, 1)
	)
	mctx, stopMover := context.WithCancel(context.WithoutCancel(ctx))
	defer func() { // after every delivery was answered: settle what the group commit still holds
		defer stopMover()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.PublishTimeout)
		defer cancel()
		stopPub(sctx)
		if mover == nil {
			return
		}
		if err := mover.Drain(sctx); err != nil {
			a.log.Warn("journal not drained at shutdown: another receiver, or this one when it starts again, moves the rest", "err", err)
		}
		stopMover()
		if err := <-moverDone; err != nil {
			a.log.Warn("journal mover stopped", "err", err)
		}
	}()
	in := intake.New(
		verify.NewVerifier(a.secrets, a.cfg.Tolerance, time.Now),
		pub,
		intake.Options{PublishTimeout: a.cfg.PublishTimeout, Registerer: a.reg, TracerProvider: a.tp, Propagator: a.prop},
	)
	webhookSrv := a.httpServer(webhook.NewServer(in, webhook.Options{
		Path:           a.cfg.WebhookPath,
		MaxBodyBytes:   a.cfg.MaxBodyBytes,
		MaxInFlight:    a.cfg.MaxInFlight,
		RetryAfter:     5 * time.Second,
		Log:            a.log,
		Registerer:     a.reg,
		TracerProvider: a.tp,
		Propagator:     a.prop,
	}))
	src, err := a.newPubSubSource(ctx, in)
	if err != nil {
		return err
	}
	adminSrv := a.httpServer(handlers.NewAdminServer(a.reg, a.reg, a.log, a.readyChecks(src)...))

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return serve(adminSrv, a.admin) })
	g.Go(func() error {
		if err := a.ensureStreams(gctx); err != nil {
			return err
		}
		mv, err := queue.NewMover(gctx, a.conn.NC, a.conn.JS, queue.MoverOptions{
			Log: a.log.With("component", "journal"), Registerer: a.reg,
		})
		if err != nil {
			return err
		}
		mover = mv
		go func() { moverDone <- mv.Run(mctx) }()
		a.log.Info("receiver ready", "webhook", a.WebhookURL(), "admin", a.AdminURL(), "nats", a.NATSURL())
		if a.demo != nil {
			a.printDemo()
		}
		if a.webhook == nil {
			return nil
		}
		return serve(webhookSrv, a.webhook)
	})
	if src != nil {
		g.Go(func() error { return a.runPubSub(gctx, src) })
	}
	// A dead letter refused at intake is redriven only through this verification again.
	g.Go(func() error { return intake.ServeReverify(gctx, a.conn.NC, in, a.log.With("component", "reverify")) })
	if a.cfg.Dev {
		g.Go(func() error { return a.devWorker.Run(gctx) })
	}
	if a.cfg.SecretsFile != "" {
		g.Go(func() error { a.secrets.Watch(gctx, a.cfg.SecretsReload); return nil })
	}
	g.Go(func() error { logSummaries(gctx, a.reg, a.log, summaryEvery); return nil })
	g.Go(func() error {
		<-gctx.Done()
		a.stopping.Store(true)
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.ShutdownTimeout)
		defer cancel()
		werr := webhookSrv.Shutdown(sctx)
		aerr := adminSrv.Shutdown(sctx)
		if werr != nil || aerr != nil {
			return fmt.Errorf("shutdown: %w", errors.Join(werr, aerr))
		}
		return nil
	})
	err = g.Wait()
	a.log.Info("receiver stopped")
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
	case !a.streamsReady.Load():
		return errors.New("streams not set up yet")
	}
	return nil
}

// ensureStreams retries until the streams exist: the receiver may start before NATS.
func (a *App) ensureStreams(ctx context.Context) error {
	opts := queue.StreamOptions{
		Replicas:   a.cfg.StreamReplicas,
		MaxAge:     a.cfg.StreamMaxAge,
		MaxBytes:   a.cfg.StreamMaxBytes,
		Duplicates: a.cfg.DedupWindow,
	}
	for wait := 500 * time.Millisecond; ; wait = min(2*wait, 10*time.Second) {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := queue.EnsureStreams(cctx, a.conn.JS, opts)
		cancel()
		if err == nil {
			a.streamsReady.Store(true)
			return nil
		}
		a.log.Warn("jetstream streams not ready; retrying", "err", err, "retry_in", wait.String())
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// newDevWorker is the in-process worker of --dev: every type, the inventory in SQLite under the
// data dir, its API on --dev-api-listen behind a token generated for this run.
func (a *App) newDevWorker(ctx context.Context, natsURL string) error {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return fmt.Errorf("generate dev admin token: %w", err)
	}
	a.devToken = hex.EncodeToString(b)
	cfg := worker.DefaultConfig()
	cfg.Types = []string{events.TypeTest, events.TypeCTEntry, events.TypeCertNew}
	cfg.NATSURL = natsURL
	cfg.DB = "sqlite://" + filepath.Join(a.cfg.DataDir, "hzhook.db")
	cfg.AdminListen, cfg.AdminToken = a.cfg.DevAPIListen, a.devToken
	cfg.Concurrency = 2 // one laptop process shares its cores with the receiver and NATS
	cfg.ShutdownTimeout, cfg.LogLevel = a.cfg.ShutdownTimeout, a.cfg.LogLevel
	w, err := worker.New(ctx, cfg, worker.Deps{Log: a.log.With("component", "worker"), Registry: prometheus.NewRegistry(),
		TracerProvider: a.tp, Propagator: a.prop})
	if err != nil {
		return fmt.Errorf("dev worker: %w", err)
	}
	a.devWorker = w
	return nil
}

// DevAPIURL is the base URL of the --dev worker's API and its bearer token ("" without --dev).
func (a *App) DevAPIURL() (url, token string) {
	if a.devWorker == nil {
		return "", ""
	}
	return a.devWorker.AdminURL(), a.devToken
}

func (a *App) httpServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute, // keep-alive on, as Hardenize asks, but bounded
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
}

func serve(srv *http.Server, ln net.Listener) error {
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	}
	return nil
}

func (a *App) close() {
	for _, ln := range []net.Listener{a.webhook, a.admin} {
		if ln != nil {
			_ = ln.Close()
		}
	}
	if a.conn != nil {
		a.conn.Close(5 * time.Second)
	}
	if a.embedded != nil {
		a.embedded.Shutdown()
	}
}

func demoHook() (verify.Hook, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return verify.Hook{}, fmt.Errorf("generate demo hook: %w", err)
	}
	return verify.Hook{Org: "demo", ID: hex.EncodeToString(b[:16]), Secrets: []string{hex.EncodeToString(b[16:])}}, nil
}

func (a *App) printDemo() {
	h := a.demo
	fmt.Fprintf(a.out, `
hzhook is running in development mode.
  webhook:  %s
  admin:    %s/metrics  /healthz  /readyz
  nats:     %s

Demo hook (generated for this run; use a secrets file in production):
  org:      %s
  hook id:  %s
  secret:   %s

Send it a signed test event, exactly as Hardenize would (or --type ct.entry, --type pki.cert.new):
  go run ./cmd/hzctl send --url %s --org %s --hook %s --secret %s --type test

The in-process worker stores certificates in %s; ask its API:
  HZ_ADMIN_TOKEN=%s go run ./cmd/hzctl certs list --api %s

Or open the console and log in with that token:
  %s/ui/

`, a.WebhookURL(), a.AdminURL(), a.NATSURL(), h.Org, h.ID, h.Secrets[0], a.WebhookURL(), h.Org, h.ID, h.Secrets[0],
		filepath.Join(a.cfg.DataDir, "hzhook.db"), a.devToken, a.devWorker.AdminURL(), a.devWorker.AdminURL())
}
