package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
)

// Outcomes of a verification asked for again on ReverifySubject.
const (
	ReverifyStored      = "stored"      // verified now, and stored in HZ_EVENTS
	ReverifyDuplicate   = "duplicate"   // verified now; HZ_EVENTS already held it
	ReverifyRejected    = "rejected"    // refused again; Reason says why
	ReverifyUnavailable = "unavailable" // verified or not, it could not be stored now
)

// Reverdict is a receiver's answer on ReverifySubject.
type Reverdict struct {
	Outcome string `json:"outcome"`
	Reason  string `json:"reason,omitempty"` // rejected: the rejection reason
	Error   string `json:"error,omitempty"`  // unavailable: why nothing was stored
}

// Stored reports whether the delivery is in HZ_EVENTS now.
func (v Reverdict) Stored() bool {
	return v.Outcome == ReverifyStored || v.Outcome == ReverifyDuplicate
}

// ErrNoReceiver means no receiver answered a reverify request.
var ErrNoReceiver = errors.New("no receiver answered on " + ReverifySubject + "; is one running on this NATS?")

// ReverifyClient asks a receiver over NATS to verify a delivery refused before once more.
type ReverifyClient struct {
	nc *nats.Conn
}

// NewReverifyClient returns a ReverifyClient on nc.
func NewReverifyClient(nc *nats.Conn) *ReverifyClient { return &ReverifyClient{nc: nc} }

// Reverify sends the delivery (its original headers and body) and waits for the verdict, or ctx.
func (c *ReverifyClient) Reverify(ctx context.Context, h nats.Header, body []byte) (Reverdict, error) {
	msg := nats.NewMsg(ReverifySubject)
	msg.Header, msg.Data = h, body
	resp, err := c.nc.RequestMsgWithContext(ctx, msg)
	if errors.Is(err, nats.ErrNoResponders) {
		return Reverdict{}, ErrNoReceiver
	}
	if err != nil {
		return Reverdict{}, fmt.Errorf("reverify: %w", err)
	}
	var v Reverdict
	if err := json.Unmarshal(resp.Data, &v); err != nil {
		return Reverdict{}, fmt.Errorf("reverify: decode answer: %w", err)
	}
	if v.Outcome == ReverifyUnavailable {
		return v, fmt.Errorf("reverify: the receiver could not store it: %s", v.Error)
	}
	return v, nil
}
