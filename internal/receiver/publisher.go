package receiver

import (
	"context"
	"fmt"

	"github.com/hzhook/hzhook/internal/intake"
	"github.com/hzhook/hzhook/internal/queue"
)

// publisher is what the intake stores events with: a GroupCommit when concurrent deliveries are
// group-committed (see Config.groupCommit), else one plain publish per event. stop settles what a
// GroupCommit still holds; call it once no delivery is in flight any more.
func (a *App) publisher() (_ intake.Publisher, stop func(context.Context), _ error) {
	d := a.cfg.Durability
	always, _, err := d.natsSync()
	if err != nil { // Validate ran before
		return nil, nil, fmt.Errorf("--nats-sync: %w", err)
	}
	on, why := a.cfg.groupCommit(a.embedded == nil, always)
	if !on {
		a.log.Info("storing each event with its own publish", "group_commit", false, "why", why)
		return queue.NewPublisher(a.conn.JS), func(context.Context) {}, nil
	}
	g := queue.NewGroupCommit(a.conn.NC, a.conn.JS, queue.GroupCommitOptions{
		MaxMessages: d.GroupCommitMaxMessages,
		MaxBytes:    d.GroupCommitMaxBytes,
		Linger:      d.GroupCommitLinger,
		// Half the publish timeout: a batch that times out leaves its events time to be published
		// one by one before the intake gives up on them.
		CommitTimeout:  a.cfg.PublishTimeout / 2,
		Log:            a.log,
		Registerer:     a.reg,
		TracerProvider: a.tp,
	})
	a.log.Info("group-committing concurrent deliveries", "group_commit", true, "why", why,
		"max_messages", d.GroupCommitMaxMessages, "max_bytes", d.GroupCommitMaxBytes, "linger", d.GroupCommitLinger.String())
	return g, func(ctx context.Context) {
		if err := g.Close(ctx); err != nil {
			a.log.Warn("group commit not settled at shutdown", "err", err)
		}
	}, nil
}
