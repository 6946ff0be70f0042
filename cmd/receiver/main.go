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
	"github.com/hzhook/hzhook/internal/receiver"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "receiver:", err)
		os.Exit(1)
	}
}

func run() error {
	var cfg receiver.Config
	set := config.NewSet("receiver", os.LookupEnv)
	receiver.Bind(set, &cfg)
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
	log.Info("starting receiver", "config", set.Effective())

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	app, err := receiver.New(ctx, cfg, receiver.Deps{Log: log, Registry: reg, Out: os.Stdout})
	if err != nil {
		return err
	}
	return app.Run(ctx)
}
