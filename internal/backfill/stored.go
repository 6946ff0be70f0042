package backfill

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hzhook/hzhook/internal/queue"
)

// scanSlack is how long before the cursor the HZ_EVENTS scan starts: a webhook delivery is stored
// after its event's createdOn, so only clock skew between Hardenize and NATS needs covering.
const scanSlack = time.Hour

// StoredIDs returns the Nats-Msg-Id of every message HZ_EVENTS stored at or after from. It reads
// headers only, through an ordered consumer, up to the last message at the time of the call. The
// set costs about 100 bytes per message.
func StoredIDs(ctx context.Context, js jetstream.JetStream, from time.Time) (map[string]struct{}, error) {
	ids := map[string]struct{}{}
	stream, err := js.Stream(ctx, queue.StreamEvents)
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", queue.StreamEvents, err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", queue.StreamEvents, err)
	}
	last := info.State.LastSeq
	if info.State.Msgs == 0 || info.State.LastTime.Before(from) {
		return ids, nil
	}
	cfg := jetstream.OrderedConsumerConfig{HeadersOnly: true, DeliverPolicy: jetstream.DeliverAllPolicy}
	if !from.IsZero() {
		cfg.DeliverPolicy = jetstream.DeliverByStartTimePolicy
		cfg.OptStartTime = &from
	}
	cons, err := stream.OrderedConsumer(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", queue.StreamEvents, err)
	}
	var seq uint64
	for idle := 0; ; {
		// No-wait fetches answer with what the stream holds at once; one that returns nothing
		// before the last sequence is retried once with a wait.
		var batch jetstream.MessageBatch
		if idle == 0 {
			batch, err = cons.FetchNoWait(500)
		} else {
			batch, err = cons.Fetch(500, jetstream.FetchMaxWait(time.Second))
		}
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", queue.StreamEvents, err)
		}
		n := 0
		for msg := range batch.Messages() {
			n++
			if id := msg.Headers().Get(jetstream.MsgIDHeader); id != "" {
				ids[id] = struct{}{}
			}
			if meta, err := msg.Metadata(); err == nil {
				seq = meta.Sequence.Stream
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return nil, fmt.Errorf("scan %s: %w", queue.StreamEvents, err)
		}
		if seq >= last || (n == 0 && idle > 0) {
			return ids, nil
		}
		if n == 0 {
			idle++
		} else {
			idle = 0
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("scan %s: %w", queue.StreamEvents, err)
		}
	}
}
