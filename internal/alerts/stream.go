package alerts

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/rules"
)

// Stream and subjects of alerts.
const (
	StreamAlerts = "HZ_ALERTS"
	// SubjectPrefix is followed by the finding type as one token: hz.alerts.weakKey.
	SubjectPrefix = "hz.alerts."
	// HeaderAlertType carries the finding type on each message.
	HeaderAlertType = "Hz-Alert-Type"
)

// Subject returns the subject of alerts of type t. Sinks may filter on it to receive only some
// types.
func Subject(t rules.Type) string { return SubjectPrefix + queue.Token(string(t)) }

// EnsureStream creates HZ_ALERTS, or updates its limits, with the retention, size limit,
// duplicate window and replicas of o (the same as HZ_EVENTS) and file storage. DiscardNew makes a
// full stream refuse new alerts, which the finding's publisher retries, instead of silently
// dropping undelivered ones.
func EnsureStream(ctx context.Context, js jetstream.JetStream, o queue.StreamOptions) error {
	if o.Replicas < 1 {
		o.Replicas = 1
	}
	_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        StreamAlerts,
		Description: "hzhook alerts: one message per finding of an issuance, consumed by each sink",
		Subjects:    []string{SubjectPrefix + ">"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardNew,
		MaxAge:      o.MaxAge,
		MaxBytes:    o.MaxBytes,
		Duplicates:  o.Duplicates,
		Replicas:    o.Replicas,
	})
	if err != nil {
		return fmt.Errorf("create or update stream %s: %w", StreamAlerts, err)
	}
	return nil
}

// Publisher stores a message and waits for the stream's acknowledgement (*queue.Publisher).
type Publisher interface {
	Publish(ctx context.Context, msg *nats.Msg, msgID string) (duplicate bool, err error)
}

// Publish puts a on HZ_ALERTS with Nats-Msg-Id = a.ID, so publishing one alert again within the
// duplicate window stores it once (duplicate is then true). Beyond the window the finding store,
// which keeps each (tbsSha256, type) once, is what prevents a second publish.
func Publish(ctx context.Context, p Publisher, a Alert) (duplicate bool, err error) {
	body, err := json.Marshal(a)
	if err != nil {
		return false, fmt.Errorf("encode alert %s: %w", a.ID, err)
	}
	msg := nats.NewMsg(Subject(a.Type))
	msg.Data = body
	msg.Header.Set(HeaderAlertType, string(a.Type))
	dup, err := p.Publish(ctx, msg, a.ID)
	if err != nil {
		return false, fmt.Errorf("publish alert %s: %w", a.ID, err)
	}
	return dup, nil
}
