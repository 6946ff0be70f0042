package linting

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/dispatch"
	"github.com/hzhook/hzhook/internal/lint/corpus"
)

// The stage waits while a store batch runs, and no longer than the longest wait.
func TestYield(t *testing.T) {
	y := NewYield(time.Hour)
	start := time.Now()
	require.NoError(t, y.Wait(context.Background()), "nothing runs: at once")
	assert.Less(t, time.Since(start), time.Second)

	entered, release := make(chan struct{}), make(chan struct{})
	hs := y.Track(map[string]dispatch.Handler{"ct.entry": handlerFunc(func(context.Context, []dispatch.Message) []error {
		entered <- struct{}{}
		<-release
		return []error{nil}
	})})
	done := make(chan []error)
	for range 2 {
		go func() { done <- hs["ct.entry"].Handle(context.Background(), []dispatch.Message{{}}) }()
		<-entered
	}
	waited := make(chan error, 1)
	go func() { waited <- y.Wait(context.Background()) }()
	select {
	case <-waited:
		t.Fatal("Wait returned while store batches run")
	case <-time.After(50 * time.Millisecond):
	}
	release <- struct{}{}
	assert.Equal(t, []error{nil}, <-done)
	select {
	case <-waited:
		t.Fatal("Wait returned while one store batch still runs")
	case <-time.After(50 * time.Millisecond):
	}
	release <- struct{}{}
	<-done
	select {
	case err := <-waited:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not return when the store path went idle")
	}

	// The longest wait, and the context, bound it.
	short := NewYield(20 * time.Millisecond)
	busy := short.Track(map[string]dispatch.Handler{"x": handlerFunc(func(context.Context, []dispatch.Message) []error {
		entered <- struct{}{}
		<-release
		return nil
	})})
	go busy["x"].Handle(context.Background(), nil)
	<-entered
	start = time.Now()
	require.NoError(t, short.Wait(context.Background()))
	assert.GreaterOrEqual(t, time.Since(start), 20*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	long := NewYield(time.Hour)
	lbusy := long.Track(map[string]dispatch.Handler{"x": handlerFunc(func(context.Context, []dispatch.Message) []error {
		entered <- struct{}{}
		<-release
		return nil
	})})
	go lbusy["x"].Handle(context.Background(), nil)
	<-entered
	assert.ErrorIs(t, long.Wait(ctx), context.Canceled)
	release <- struct{}{}
	release <- struct{}{}
}

type handlerFunc func(ctx context.Context, batch []dispatch.Message) []error

func (f handlerFunc) Handle(ctx context.Context, batch []dispatch.Message) []error {
	return f(ctx, batch)
}

// The stage holds back while a store batch runs, and lints once the store path is idle.
func TestStageGivesWayToTheStorePath(t *testing.T) {
	s := sqliteOpener(t)(t, "yield")
	reg := prometheus.NewRegistry()
	y := NewYield(time.Hour)
	stage, err := New(s, Options{Registerer: reg, Yield: y})
	require.NoError(t, err)
	entered, release := make(chan struct{}), make(chan struct{})
	store := y.Track(map[string]dispatch.Handler{"ct.entry": handlerFunc(func(context.Context, []dispatch.Message) []error {
		entered <- struct{}{}
		<-release
		return []error{nil}
	})})
	go store["ct.entry"].Handle(context.Background(), []dispatch.Message{{}})
	<-entered
	c := byName(t, corpus.Certs(t), "SANURIBeginning.pem")
	done := make(chan []error, 1)
	go func() { done <- stage.Handle(context.Background(), []dispatch.Message{certNew(t, c, 1)}) }()
	select {
	case <-done:
		t.Fatal("the stage linted while a store batch ran")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	select {
	case errs := <-done:
		require.Equal(t, []error{nil}, errs)
	case <-time.After(10 * time.Second):
		t.Fatal("the stage did not lint once the store path was idle")
	}
	assert.Equal(t, 1.0, counter(t, reg, "hz_lint_certificates_total", "linted"))
	assert.Positive(t, counter(t, reg, "hz_lint_yield_seconds_total", ""), "the wait is counted")
}

func TestClaims(t *testing.T) {
	c := newClaims()
	require.True(t, c.claim("fp/a"))
	assert.False(t, c.claim("fp/a"), "held by another batch")
	c.release("fp/a", false)
	assert.False(t, c.known("fp/a"), "not stored: not known")
	require.True(t, c.claim("fp/a"), "free again after a failure")
	c.release("fp/a", true)
	assert.True(t, c.known("fp/a"))
	assert.False(t, c.claim("fp/a"), "linted recently")
	assert.False(t, c.known("other/a"), "another fingerprint")
	for i := range recentSize {
		c.release(fmt.Sprintf("fp/%d", i), true)
	}
	assert.False(t, c.known("fp/a"), "the oldest is forgotten beyond recentSize")
	assert.True(t, c.known(fmt.Sprintf("fp/%d", recentSize-1)))
	assert.Len(t, c.recent, recentSize)
}

// The stage leaves half the CPUs to the event writer, and lints on one at least.
func TestDefaultConcurrency(t *testing.T) {
	for procs, want := range map[int]int{1: 1, 2: 1, 3: 1, 4: 2, 8: 4, 64: 32} {
		assert.Equal(t, want, DefaultConcurrency(procs), "%d CPUs", procs)
	}
}
