package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ScanOptions says where a Scan starts and what it reads of each message.
type ScanOptions struct {
	// From starts the scan at the first message stored at or after it; zero starts at the first.
	From time.Time
	// HeadersOnly leaves the bodies out.
	HeadersOnly bool
}

// scanBatch is how many messages one fetch of a Scan asks for.
const scanBatch = 500

// Scan calls fn, in stream order, for every message of stream from opts.From up to the last one
// the stream held when Scan began; messages stored meanwhile are left for the next scan. It reads
// through one ephemeral consumer without acknowledgements, which it deletes when done, and each
// call it makes is bounded: a cluster that cannot serve the scan makes it fail, never hang (an
// ordered consumer retries its creation for ever, and creates a new consumer on every fetch). An
// error from fn stops the scan and is returned as it is.
func Scan(ctx context.Context, js jetstream.JetStream, stream string, opts ScanOptions, fn func(jetstream.Msg) error) error {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return fmt.Errorf("scan %s: %w", stream, err)
	}
	state := s.CachedInfo().State
	if state.Msgs == 0 || (!opts.From.IsZero() && state.LastTime.Before(opts.From)) {
		return nil
	}
	cfg := jetstream.ConsumerConfig{
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		AckPolicy:         jetstream.AckNonePolicy,
		HeadersOnly:       opts.HeadersOnly,
		MemoryStorage:     true,
		Replicas:          1,
		InactiveThreshold: time.Minute,
	}
	if !opts.From.IsZero() {
		from := opts.From
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &from
	}
	cons, err := s.CreateConsumer(ctx, cfg)
	if err != nil {
		return fmt.Errorf("scan %s: create its consumer: %w", stream, err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		// A consumer left behind goes by itself after its inactivity threshold.
		_ = s.DeleteConsumer(dctx, cons.CachedInfo().Name)
	}()
	for idle := 0; ; {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("scan %s: %w", stream, err)
		}
		// A no-wait fetch answers at once with what the stream holds; one that finds nothing
		// before the last sequence is tried again once with a wait.
		var batch jetstream.MessageBatch
		if idle == 0 {
			batch, err = cons.FetchNoWait(scanBatch)
		} else {
			batch, err = cons.Fetch(scanBatch, jetstream.FetchMaxWait(time.Second))
		}
		if err != nil {
			return fmt.Errorf("scan %s: %w", stream, err)
		}
		n, done := 0, false
		for msg := range batch.Messages() {
			n++
			meta, err := msg.Metadata()
			if err != nil {
				return fmt.Errorf("scan %s: %w", stream, err)
			}
			if meta.Sequence.Stream > state.LastSeq {
				done = true
				continue
			}
			if err := fn(msg); err != nil {
				return err
			}
			done = done || meta.Sequence.Stream == state.LastSeq || meta.NumPending == 0
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return fmt.Errorf("scan %s: %w", stream, err)
		}
		if done || (n == 0 && idle > 0) {
			return nil
		}
		if n == 0 {
			idle++
		} else {
			idle = 0
		}
	}
}
