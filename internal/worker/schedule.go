package worker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hzhook/hzhook/internal/lock"
)

// lockTTL is the life of a cluster-wide lock between refreshes; every lock in lock.Bucket shares it.
const lockTTL = 30 * time.Minute

// scheduled is a job of the whole deployment that runs at start and then every interval, on one
// replica at a time: each run takes the job's lock in HZ_LOCKS, and a replica that finds it held
// skips that run. Runs are counted by outcome (ok, failed, skipped) and logged once each.
type scheduled struct {
	name  string // lock key, and the job's name in logs
	every time.Duration
	js    jetstream.JetStream
	owner string
	log   *slog.Logger
	runs  *prometheus.CounterVec // label outcome
	// do runs the job once; refresh extends the lock for long runs. It returns what the log line
	// of the run shows (key/value pairs), also on error.
	do func(ctx context.Context, refresh func()) (attrs []any, err error)
	// due, when set, decides at each tick whether the job is to run: a job that remembers its
	// runs in the store (the certificate sync) runs when its time has come, not at every start of
	// every replica. It is asked before the lock and again once holding it (another replica may
	// just have run the job); a tick that is not due is not counted. tick is then how often it is
	// asked (every when 0).
	due  func(ctx context.Context) bool
	tick time.Duration
	// frequent logs the runs that went well at debug: a job of every minute would fill the log
	// (what it did is logged where it happens).
	frequent bool
}

// newOwner names this replica in the locks it holds.
func newOwner() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "worker-" + hex.EncodeToString(b)
}

// run runs the job once at start and then every s.every until ctx ends.
func (s *scheduled) run(ctx context.Context) error {
	tick := s.every
	if s.due != nil && s.tick > 0 {
		tick = s.tick
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		s.once(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (s *scheduled) once(ctx context.Context) {
	if s.due != nil && !s.due(ctx) {
		return
	}
	l, err := lock.Acquire(ctx, s.js, s.name, s.owner, lockTTL)
	if errors.Is(err, lock.ErrLocked) {
		s.runs.WithLabelValues("skipped").Inc()
		s.log.DebugContext(ctx, "scheduled job skipped: another replica is running it", "job", s.name)
		return
	}
	if err != nil {
		s.runs.WithLabelValues("failed").Inc()
		s.log.WarnContext(ctx, "scheduled job lock failed", "job", s.name, "err", err)
		return
	}
	defer func() { _ = l.Release(context.WithoutCancel(ctx)) }()
	if s.due != nil && !s.due(ctx) {
		return
	}
	attrs, err := s.do(ctx, func() { _ = l.Refresh(ctx) })
	if err != nil {
		s.runs.WithLabelValues("failed").Inc()
		s.log.WarnContext(ctx, "scheduled job failed", append([]any{"job", s.name, "err", err}, attrs...)...)
		return
	}
	s.runs.WithLabelValues("ok").Inc()
	level := slog.LevelInfo
	if s.frequent {
		level = slog.LevelDebug
	}
	s.log.Log(ctx, level, "scheduled job done", append([]any{"job", s.name}, attrs...)...)
}
