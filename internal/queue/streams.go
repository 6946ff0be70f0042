package queue

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// StreamOptions are the limits of HZ_EVENTS and HZ_DLQ.
type StreamOptions struct {
	Replicas   int           // 1 for a single server, 3 in a cluster
	MaxAge     time.Duration // how long events are kept whether processed or not; 0 = forever
	MaxBytes   int64         // -1 = unlimited
	Duplicates time.Duration // duplicate-detection window for Nats-Msg-Id
	DLQMaxAge  time.Duration // how long dead letters are kept; 0 = forever
}

// DefaultStreamOptions are used when nothing else is configured.
func DefaultStreamOptions() StreamOptions {
	return StreamOptions{Replicas: 1, MaxAge: 14 * 24 * time.Hour, MaxBytes: -1, Duplicates: 10 * time.Minute, DLQMaxAge: 0}
}

// EnsureStreams creates HZ_EVENTS and HZ_DLQ, or updates their limits. Both use file storage and
// DiscardNew: a full stream refuses new messages (the receiver answers 503 and Hardenize retries)
// instead of silently discarding old, possibly unprocessed ones. HZ_EVENTS allows atomic batch
// publishes, which GroupCommit uses.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, o StreamOptions) error {
	if o.Replicas < 1 {
		o.Replicas = 1
	}
	streams := []jetstream.StreamConfig{
		{
			Name:        StreamEvents,
			Description: "Hardenize events accepted by hzhook receivers",
			Subjects:    []string{EventsSubjectPrefix + "*"},
			Storage:     jetstream.FileStorage,
			Retention:   jetstream.LimitsPolicy,
			Discard:     jetstream.DiscardNew,
			MaxAge:      o.MaxAge,
			MaxBytes:    o.MaxBytes,
			Duplicates:  o.Duplicates,
			Replicas:    o.Replicas,
			// GroupCommit writes concurrent deliveries as one atomic batch (nats-server 2.12+).
			AllowAtomicPublish: true,
		},
		{
			Name:        StreamDLQ,
			Description: "hzhook dead letters: original message plus error headers",
			Subjects:    []string{DLQSubjectPrefix + ">"},
			Storage:     jetstream.FileStorage,
			Retention:   jetstream.LimitsPolicy,
			Discard:     jetstream.DiscardNew,
			MaxAge:      o.DLQMaxAge,
			MaxBytes:    -1,
			Replicas:    o.Replicas,
		},
	}
	for _, cfg := range streams {
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("create or update stream %s: %w", cfg.Name, err)
		}
	}
	return nil
}
