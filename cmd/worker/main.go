package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/hzhook/hzhook/internal/config"
	"github.com/hzhook/hzhook/internal/logging"
	"github.com/hzhook/hzhook/internal/tracing"
	"github.com/hzhook/hzhook/internal/worker"
)

// traceFlushTimeout bounds the flush of the spans not yet exported at exit.
const traceFlushTimeout = 5 * time.Second

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

func run() error {
	var cfg worker.Config
	set := config.NewSet("worker", os.LookupEnv)
	worker.Bind(set, &cfg)
	if err := set.Parse(os.Args[1:]); err != nil {
		if config.IsHelp(err) {
			return nil
		}
		return err
	}
	log, err := logging.New(os.Stderr, cfg.LogLevel)
	if err != nil {
		return err
	}
	log.Info("starting worker", "config", set.Effective())

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Traces: off unless an OTLP endpoint is set (the standard OTEL_* variables; see README).
	tr, err := tracing.FromEnv(ctx, tracing.Options{ServiceName: "hzhook-worker", LookupEnv: os.LookupEnv, Log: log})
	if err != nil {
		return fmt.Errorf("tracing: %w", err)
	}
	defer func() { // after Run: flush what the last requests and messages traced
		if err := tr.ShutdownWithin(traceFlushTimeout); err != nil {
			log.Warn("traces not flushed", "err", err)
		}
	}()
	log.Info("tracing", "enabled", tr.Enabled, "exporter", tr.Exporter)
	deps := worker.Deps{Log: log, Registry: reg}
	if tr.Enabled {
		deps.TracerProvider, deps.Propagator = tr.TracerProvider, tr.Propagator
	}
	app, err := worker.New(ctx, cfg, deps)
	if err != nil {
		return err
	}
	return app.Run(ctx)
}
