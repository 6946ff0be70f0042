// Package worker consumes HZ_EVENTS for a set of event types and hands each event to its handler.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hzhook/hzhook/internal/queue"
)

// ConsumerName is the durable consumer shared by every replica of the worker group for types:
// "hz-worker-" followed by the sorted subject tokens, e.g. "hz-worker-ct_entry".
func ConsumerName(types []string) string {
	tokens := make([]string, 0, len(types))
	for _, t := range types {
		tokens = append(tokens, queue.Token(t))
	}
	sort.Strings(tokens)
	return "hz-worker-" + strings.Join(tokens, "-")
}

// EnsureConsumer creates or updates the durable pull consumer of the group for types.
func EnsureConsumer(ctx context.Context, js jetstream.JetStream, types []string, ackWait time.Duration) (jetstream.Consumer, error) {
	subjects := make([]string, 0, len(types))
	for _, t := range types {
		subjects = append(subjects, queue.Subject(t))
	}
	cfg := jetstream.ConsumerConfig{
		Durable:        ConsumerName(types),
		Description:    "hzhook worker for " + strings.Join(types, ", "),
		FilterSubjects: subjects,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        ackWait,
		MaxDeliver:     -1, // dead-lettering after --max-deliver is the worker's decision, not the server's
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		MaxAckPending:  1000,
	}
	c, err := js.CreateOrUpdateConsumer(ctx, queue.StreamEvents, cfg)
	if err != nil {
		return nil, fmt.Errorf("create or update consumer %s: %w", cfg.Durable, err)
	}
	return c, nil
}

// ErrStopped is returned by Consume after a clean stop.
var ErrStopped = errors.New("worker stopped")

// Handle processes one message; returning nil acknowledges it.
type Handle func(ctx context.Context, msg jetstream.Msg) error

// Consume feeds every message of c to handle until ctx ends.
func Consume(ctx context.Context, c jetstream.Consumer, log *slog.Logger, handle Handle) error {
	cc, err := c.Consume(func(msg jetstream.Msg) {
		if err := handle(ctx, msg); err != nil {
			log.Warn("event failed", "err", err, "subject", msg.Subject())
			_ = msg.NakWithDelay(time.Second)
			return
		}
		if err := msg.Ack(); err != nil {
			log.Warn("ack failed", "err", err)
			return
		}
		h := msg.Headers()
		log.Info("event acknowledged", "type", h.Get(queue.HeaderEventType), "event_id", h.Get(queue.HeaderEventID), "source", h.Get(queue.HeaderSource))
	})
	if err != nil {
		return fmt.Errorf("consume: %w", err)
	}
	<-ctx.Done()
	cc.Drain()
	<-cc.Closed()
	return nil
}
