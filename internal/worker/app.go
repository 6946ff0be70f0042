package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/hzhook/hzhook/internal/handlers"
	"github.com/hzhook/hzhook/internal/queue"
)

// Registry is what the worker needs of a Prometheus registry.
type Registry interface {
	prometheus.Registerer
	prometheus.Gatherer
}

// Run consumes the configured types until ctx ends, serving the admin listener meanwhile.
func Run(ctx context.Context, cfg Config, log *slog.Logger, reg Registry) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	conn, err := queue.Connect(ctx, cfg.NATSURL, "hzhook-worker", log)
	if err != nil {
		return err
	}
	defer conn.Close(5 * time.Second)
	ln, err := net.Listen("tcp", cfg.AdminListen)
	if err != nil {
		return fmt.Errorf("admin listener --admin-listen %s: %w", cfg.AdminListen, err)
	}
	ready := func() error {
		if !conn.Ready() {
			return errors.New("nats unreachable")
		}
		return nil
	}
	admin := &http.Server{
		Handler:           handlers.NewAdminServer(reg, reg, log, ready),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := admin.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve admin: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		return admin.Shutdown(sctx)
	})
	g.Go(func() error {
		c, err := waitConsumer(gctx, conn.JS, cfg, log)
		if err != nil {
			return err
		}
		log.Info("worker consuming", "types", cfg.Types, "consumer", ConsumerName(cfg.Types))
		return Consume(gctx, c, log, func(context.Context, jetstream.Msg) error { return nil })
	})
	err = g.Wait()
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// waitConsumer retries until the stream exists (the receiver creates it) and the consumer is set up.
func waitConsumer(ctx context.Context, js jetstream.JetStream, cfg Config, log *slog.Logger) (jetstream.Consumer, error) {
	for wait := 500 * time.Millisecond; ; wait = min(2*wait, 10*time.Second) {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		c, err := EnsureConsumer(cctx, js, cfg.Types, cfg.AckWait)
		cancel()
		if err == nil {
			return c, nil
		}
		log.Warn("consumer not ready; retrying", "err", err, "retry_in", wait.String())
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
}
