package pubsub

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// health is what Ready reports: whether Receive is running, what the last subscription check said,
// and the last stream failure, which counts until a restarted stream has run for RecoverAfter.
type health struct {
	mu         sync.Mutex
	started    bool
	stopping   bool
	since      time.Time // start of the running Receive; zero while none runs
	receiveErr error
	probeErr   error
	probed     bool
}

func (h *health) setReceiving(now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.started, h.since = true, now
}

func (h *health) setFailed(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.receiveErr, h.since = err, time.Time{}
}

func (h *health) setStopping() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopping = true
}

func (h *health) setProbe(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.probed, h.probeErr = true, err
}

// Ready reports nil while the subscription is being received and its last check passed; otherwise
// an error naming what is wrong (for /readyz). Safe for concurrent use.
func (s *Source) Ready() error {
	h := &s.health
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.stopping:
		return errors.New("pubsub source stopping")
	case !h.started:
		return errors.New("pubsub source not started")
	case h.receiveErr != nil && (h.since.IsZero() || time.Since(h.since) < s.cfg.RecoverAfter):
		return fmt.Errorf("pubsub subscription %s: %w", s.sub.ID(), h.receiveErr)
	case !h.probed:
		return errors.New("pubsub subscription not checked yet")
	case h.probeErr != nil:
		return fmt.Errorf("pubsub subscription %s: %w", s.sub.ID(), h.probeErr)
	}
	return nil
}

// watchHealth checks the subscription now and every HealthInterval until ctx ends.
func (s *Source) watchHealth(ctx context.Context) {
	t := time.NewTicker(s.cfg.HealthInterval)
	defer t.Stop()
	for {
		err := s.probe(ctx)
		if ctx.Err() != nil {
			return
		}
		s.health.setProbe(err)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// probe asks Pub/Sub for the subscription. A subscriber-only key (roles/pubsub.subscriber) may not
// read subscription metadata: PermissionDenied still proves the service reachable and the key
// valid, so it counts as healthy; the stream itself reports a subscription it cannot consume.
func (s *Source) probe(ctx context.Context) error {
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := s.client.SubscriptionAdminClient.GetSubscription(pctx, &pubsubpb.GetSubscriptionRequest{Subscription: s.sub.String()})
	if status.Code(err) == codes.PermissionDenied {
		return nil
	}
	return explain(err)
}

// explain names the usual causes of a failing subscription in words an operator acts on, keeping
// the gRPC error for detail.
func explain(err error) error {
	switch status.Code(err) {
	case codes.OK:
		return nil
	case codes.NotFound:
		return fmt.Errorf("subscription not found: %w", err)
	case codes.PermissionDenied:
		return fmt.Errorf("permission denied (check the subscriber credentials): %w", err)
	case codes.Unauthenticated:
		return fmt.Errorf("credentials refused: %w", err)
	case codes.Unavailable, codes.DeadlineExceeded:
		return fmt.Errorf("pubsub unreachable: %w", err)
	}
	return err
}
