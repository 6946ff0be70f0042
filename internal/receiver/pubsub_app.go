package receiver

import (
	"context"
	"fmt"
	"time"

	"github.com/hzhook/hzhook/internal/handlers"
	"github.com/hzhook/hzhook/internal/pubsub"
	"github.com/hzhook/hzhook/internal/queue"
)

// newPubSubSource returns the Pub/Sub source feeding in, or nil when --source lacks pubsub.
func (a *App) newPubSubSource(ctx context.Context, in pubsub.Acceptor) (*pubsub.Source, error) {
	if a.pubsub == nil {
		return nil, nil
	}
	src, err := pubsub.New(ctx, *a.pubsub, in, queue.NewPublisher(a.conn.JS), pubsub.Deps{
		Log:            a.log,
		Registerer:     a.reg,
		TracerProvider: a.tp,
		Propagator:     a.prop,
	})
	if err != nil {
		return nil, fmt.Errorf("pubsub source: %w", err)
	}
	a.log.Info("pubsub source configured", "subscription", src.Subscription(), "emulator", a.pubsub.EmulatorHost != "")
	return src, nil
}

// runPubSub receives once the streams exist, until ctx ends; in-flight messages are finished
// (acked only if stored) before it returns, so NATS is closed after them.
func (a *App) runPubSub(ctx context.Context, src *pubsub.Source) error {
	defer func() {
		if err := src.Close(); err != nil {
			a.log.Warn("close pubsub client", "err", err)
		}
	}()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for !a.streamsReady.Load() {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
	return src.Run(ctx)
}

// readyChecks are the receiver's checks plus the Pub/Sub subscription's when it is a source.
func (a *App) readyChecks(src *pubsub.Source) []handlers.Check {
	checks := []handlers.Check{a.ready}
	if src != nil {
		checks = append(checks, src.Ready)
	}
	return checks
}
