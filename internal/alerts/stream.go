package alerts

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/propagation"

	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/rules"
)

// HeaderAlertType carries the finding type on each alert message.
const HeaderAlertType = "Hz-Alert-Type"

// Subject returns the subject of alerts of type t in HZ_ALERTS (queue.StreamAlerts). Sinks may
// filter on it to receive only some types.
func Subject(t rules.Type) string { return queue.AlertsSubjectPrefix + queue.Token(string(t)) }

// Publisher stores a message and waits for the stream's acknowledgement (*queue.Publisher).
type Publisher interface {
	Publish(ctx context.Context, msg *nats.Msg, msgID string) (duplicate bool, err error)
}

// Publish puts a on HZ_ALERTS with Nats-Msg-Id = a.ID, so publishing one alert again within the
// duplicate window stores it once (duplicate is then true). Beyond the window the finding store,
// which keeps each (tbsSha256, type) once, is what prevents a second publish. prop (nil: none)
// writes the trace context of ctx into the message's headers: the sinks' delivery continues it.
func Publish(ctx context.Context, p Publisher, prop propagation.TextMapPropagator, a Alert) (duplicate bool, err error) {
	body, err := json.Marshal(a)
	if err != nil {
		return false, fmt.Errorf("encode alert %s: %w", a.ID, err)
	}
	msg := nats.NewMsg(Subject(a.Type))
	msg.Data = body
	msg.Header.Set(HeaderAlertType, string(a.Type))
	queue.InjectTrace(ctx, prop, msg.Header)
	dup, err := p.Publish(ctx, msg, a.ID)
	if err != nil {
		return false, fmt.Errorf("publish alert %s: %w", a.ID, err)
	}
	return dup, nil
}
