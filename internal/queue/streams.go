package queue

import (
	"cmp"
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
	// DLQDuplicates is HZ_DLQ's duplicate window: a message dead-lettered again within it (a crash
	// between storing its letter and terminating it) is stored once.
	DLQDuplicates time.Duration
}

// DefaultStreamOptions are used when nothing else is configured.
func DefaultStreamOptions() StreamOptions {
	return StreamOptions{Replicas: 1, MaxAge: 14 * 24 * time.Hour, MaxBytes: -1, Duplicates: 10 * time.Minute, DLQMaxAge: 0, DLQDuplicates: time.Hour}
}

// limits is a stream of hzhook: file storage and DiscardNew, so that a full stream refuses new
// messages (the receiver answers 503 and Hardenize retries; an alert's publisher retries) instead of
// silently discarding old, possibly unprocessed ones.
func limits(name, description string, subjects []string, maxAge time.Duration, maxBytes int64, o StreamOptions) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        name,
		Description: description,
		Subjects:    subjects,
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardNew,
		MaxAge:      maxAge,
		MaxBytes:    maxBytes,
		Duplicates:  o.Duplicates,
		Replicas:    max(o.Replicas, 1),
	}
}

func eventsStream(o StreamOptions) jetstream.StreamConfig {
	cfg := limits(StreamEvents, "Hardenize events accepted by hzhook receivers",
		[]string{EventsSubjectPrefix + "*", redrivePrefix(StreamEvents) + "*"}, o.MaxAge, o.MaxBytes, o)
	// The journal's Mover stores entries as atomic batches (nats-server 2.12+).
	cfg.AllowAtomicPublish = true
	return cfg
}

// journalStream is the intake journal (see GroupCommit and Mover). An entry is the only copy of its
// events until it is moved: it never expires, and a full journal refuses new entries (the receiver
// stores each event on its own instead). Movers purge what their consumer has acknowledged, in
// one request a second: a work queue would remove each entry on its acknowledgement, writing and
// syncing a tombstone for every one, under the lock the next entry waits for.
func journalStream(o StreamOptions) jetstream.StreamConfig {
	cfg := limits(StreamJournal, "hzhook intake journal: concurrent deliveries written as one entry, moved into "+StreamEvents,
		[]string{JournalSubject}, 0, o.MaxBytes, o)
	cfg.Duplicates = 0 // entries carry no Nats-Msg-Id; the events inside do
	return cfg
}

func dlqStream(o StreamOptions) jetstream.StreamConfig {
	// Dead letters are the last copy of something: no size limit.
	o.Duplicates = cmp.Or(o.DLQDuplicates, DefaultStreamOptions().DLQDuplicates)
	return limits(StreamDLQ, "hzhook dead letters: original message plus error headers", []string{DLQSubjectPrefix + ">"}, o.DLQMaxAge, -1, o)
}

func alertsStream(o StreamOptions) jetstream.StreamConfig {
	return limits(StreamAlerts, "hzhook alerts: one message per finding of an issuance, consumed by each sink",
		[]string{AlertsSubjectPrefix + ">", redrivePrefix(StreamAlerts) + "*"}, o.MaxAge, o.MaxBytes, o)
}

// EnsureStreams creates HZ_EVENTS, HZ_JOURNAL and HZ_DLQ, or updates their limits (the receiver's
// job).
func EnsureStreams(ctx context.Context, js jetstream.JetStream, o StreamOptions) error {
	return ensure(ctx, js, eventsStream(o), journalStream(o), dlqStream(o))
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
	return ensure(ctx, js, alertsStream(o))
}

func ensure(ctx context.Context, js jetstream.JetStream, cfgs ...jetstream.StreamConfig) error {
	for _, cfg := range cfgs {
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("create or update stream %s: %w", cfg.Name, err)
		}
	}
	return nil
}
