package queue

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Conn is a NATS connection with its JetStream context.
type Conn struct {
	NC *nats.Conn
	JS jetstream.JetStream
}

// Connect dials url and keeps reconnecting for ever. The reconnect buffer is off, so a publish while
// disconnected fails at once (the receiver answers 503) instead of waiting in a buffer that could be
// lost; the initial connection is retried until ctx ends, so a receiver may start before NATS.
func Connect(ctx context.Context, url, name string, log *slog.Logger) (*Conn, error) {
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(500 * time.Millisecond),
		nats.ReconnectBufSize(-1),
		nats.RetryOnFailedConnect(true),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if err != nil { // nil: a deliberate close
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("nats reconnected", "url", nc.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			log.Warn("nats error", "err", err)
		}),
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to nats at %s: %w", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("jetstream context: %w", err)
	}
	return &Conn{NC: nc, JS: js}, nil
}

// Ready reports whether the connection is up.
func (c *Conn) Ready() bool { return c.NC.IsConnected() }

// WaitConnected blocks until the connection is up or ctx ends.
func (c *Conn) WaitConnected(ctx context.Context) error {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for !c.NC.IsConnected() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for nats connection: %w", ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// Close drains the connection: pending publishes and acknowledgements finish, then it closes.
func (c *Conn) Close(timeout time.Duration) {
	if c.NC.IsClosed() {
		return
	}
	done := make(chan struct{})
	c.NC.SetClosedHandler(func(*nats.Conn) { close(done) })
	if err := c.NC.Drain(); err != nil {
		c.NC.Close()
		return
	}
	select {
	case <-done:
	case <-time.After(timeout):
		c.NC.Close()
	}
}
