package queue

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// StreamOptions are the limits of hzhook's streams.
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

// Every stream uses file storage and DiscardNew: a full stream refuses new messages (the receiver
// answers 503 and Hardenize retries; an alert's publisher retries) instead of silently discarding
// old, possibly unprocessed ones.

func eventsStream(o StreamOptions) jetstream.StreamConfig {
	return jetstream.StreamConfig{
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
	}
}

func dlqStream(o StreamOptions) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        StreamDLQ,
		Description: "hzhook dead letters: original message plus error headers",
		Subjects:    []string{DLQSubjectPrefix + ">"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardNew,
		MaxAge:      o.DLQMaxAge,
		MaxBytes:    -1,
		Replicas:    o.Replicas,
	}
}

func alertsStream(o StreamOptions) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        StreamAlerts,
		Description: "hzhook alerts: one message per finding of an issuance, consumed by each sink",
		Subjects:    []string{AlertsSubjectPrefix + ">"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardNew,
		MaxAge:      o.MaxAge,
		MaxBytes:    o.MaxBytes,
		Duplicates:  o.Duplicates,
		Replicas:    o.Replicas,
	}
}

// EnsureStreams creates HZ_EVENTS and HZ_DLQ, or updates their limits (the receiver's job).
func EnsureStreams(ctx context.Context, js jetstream.JetStream, o StreamOptions) error {
	return ensure(ctx, js, eventsStream(withReplicas(o)), dlqStream(withReplicas(o)))
}

// EnsureAlertStream creates HZ_ALERTS, or updates its limits (the worker's job), with the
// retention, size limit, duplicate window and replicas of HZ_EVENTS, which the receiver sizes for
// the deployment; with the defaults while HZ_EVENTS does not exist yet.
func EnsureAlertStream(ctx context.Context, js jetstream.JetStream) error {
	o := DefaultStreamOptions()
	if s, err := js.Stream(ctx, StreamEvents); err == nil {
		c := s.CachedInfo().Config
		o.Replicas, o.MaxAge, o.MaxBytes, o.Duplicates = c.Replicas, c.MaxAge, c.MaxBytes, c.Duplicates
	}
	return ensure(ctx, js, alertsStream(withReplicas(o)))
}

func withReplicas(o StreamOptions) StreamOptions {
	o.Replicas = max(o.Replicas, 1)
	return o
}

func ensure(ctx context.Context, js jetstream.JetStream, cfgs ...jetstream.StreamConfig) error {
	for _, cfg := range cfgs {
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("create or update stream %s: %w", cfg.Name, err)
		}
	}
	return nil
}
