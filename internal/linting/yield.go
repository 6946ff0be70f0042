package linting

import (
	"context"
	"sync"
	"time"

	"github.com/hzhook/hzhook/internal/dispatch"
)

// DefaultConcurrency is how many batches the stage lints at once on procs CPUs: half of them, at
// least one. Linting is CPU alone, and batches on every CPU took the cores the event writer's
// fetches and commits need: at 1,000 events/s on 2 cores the median from 204 to stored row was
// 36 ms with 2 batches at once, 19 ms with 1 and 10 ms without linting (hzbench e2e).
func DefaultConcurrency(procs int) int { return max(1, procs/2) }

// DefaultMaxYield is how long the stage waits at most for the store path before it lints one
// more certificate anyway, so that linting makes progress under any load.
const DefaultMaxYield = time.Second

// Yield lets the lint stage run in the CPU the store path leaves over: the store path's handlers,
// wrapped by Track, say while they run, and Wait holds the stage back meanwhile. Linting costs
// about a millisecond of CPU per certificate; on a machine of few cores it would otherwise take
// the cores the store path needs to keep up with a backlog. It is safe for concurrent use.
type Yield struct {
	maxWait time.Duration

	mu   sync.Mutex
	busy int
	idle chan struct{} // closed while busy is 0
}

// NewYield returns a Yield whose Wait lasts at most maxWait (DefaultMaxYield when 0).
func NewYield(maxWait time.Duration) *Yield {
	if maxWait <= 0 {
		maxWait = DefaultMaxYield
	}
	idle := make(chan struct{})
	close(idle)
	return &Yield{maxWait: maxWait, idle: idle}
}

// Track returns hs with every handler wrapped so that y knows while one of them runs.
func (y *Yield) Track(hs map[string]dispatch.Handler) map[string]dispatch.Handler {
	out := make(map[string]dispatch.Handler, len(hs))
	for k, h := range hs {
		out[k] = tracked{y: y, next: h}
	}
	return out
}

type tracked struct {
	y    *Yield
	next dispatch.Handler
}

func (t tracked) Handle(ctx context.Context, batch []dispatch.Message) []error {
	t.y.enter()
	defer t.y.leave()
	return t.next.Handle(ctx, batch)
}

func (y *Yield) enter() {
	y.mu.Lock()
	defer y.mu.Unlock()
	if y.busy == 0 {
		y.idle = make(chan struct{})
	}
	y.busy++
}

func (y *Yield) leave() {
	y.mu.Lock()
	defer y.mu.Unlock()
	y.busy--
	if y.busy == 0 {
		close(y.idle)
	}
}

// Wait returns nil at once when no tracked handler runs, and otherwise when none runs any more or
// after the longest wait, whichever comes first; ctx's error when ctx ends before.
func (y *Yield) Wait(ctx context.Context) error {
	y.mu.Lock()
	idle := y.idle
	y.mu.Unlock()
	select {
	case <-idle:
		return nil
	default:
	}
	t := time.NewTimer(y.maxWait)
	defer t.Stop()
	select {
	case <-idle:
		return nil
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
