package queue

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Publisher publishes messages to JetStream and waits for the stream's acknowledgement.
// It is safe for concurrent use.
type Publisher struct {
	js jetstream.JetStream
}

// NewPublisher returns a Publisher on js.
func NewPublisher(js jetstream.JetStream) *Publisher { return &Publisher{js: js} }

// Publish stores msg and returns only once the stream acknowledged it (the message is then
// durable), or with an error when ctx ends first. msgID, when not empty, is sent as Nats-Msg-Id;
// the returned duplicate is true when the stream already held a message with that id.
func (p *Publisher) Publish(ctx context.Context, msg *nats.Msg, msgID string) (duplicate bool, err error) {
	var opts []jetstream.PublishOpt
	if msgID != "" {
		opts = append(opts, jetstream.WithMsgID(msgID))
	}
	ack, err := p.js.PublishMsg(ctx, msg, opts...)
	if err != nil {
		return false, fmt.Errorf("publish to %s: %w", msg.Subject, err)
	}
	return ack.Duplicate, nil
}
