package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/hzhook/hzhook/internal/config"
	"github.com/hzhook/hzhook/internal/logging"
	"github.com/hzhook/hzhook/internal/worker"
)

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
	return worker.Run(ctx, cfg, log, reg)
}
