package backfill

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hzhook/hzhook/internal/queue"
)

// scanSlack is how long before the cursor the HZ_EVENTS scan starts: a webhook delivery is stored
// after its event's createdOn, so only clock skew between Hardenize and NATS needs covering.
const scanSlack = time.Hour

// StoredIDs returns the Nats-Msg-Id of every message HZ_EVENTS stored at or after from. It reads
// headers only, up to the last message at the time of the call. The set costs about 100 bytes per
// message.
func StoredIDs(ctx context.Context, js jetstream.JetStream, from time.Time) (map[string]struct{}, error) {
	ids := map[string]struct{}{}
	err := queue.Scan(ctx, js, queue.StreamEvents, queue.ScanOptions{From: from, HeadersOnly: true}, func(msg jetstream.Msg) error {
		if id := msg.Headers().Get(jetstream.MsgIDHeader); id != "" {
			ids[id] = struct{}{}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}
