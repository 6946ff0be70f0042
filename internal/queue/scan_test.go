package queue

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A scan reads every message up to the last one at its start, in order, with or without bodies,
// from a point in time, and leaves no consumer behind.
func TestScan(t *testing.T) {
	ctx := context.Background()
	js := startJetStream(t).JS
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "SCAN", Subjects: []string{"scan.>"}})
	require.NoError(t, err)
	publish := func(from, to int) {
		for i := from; i < to; i++ {
			_, err := js.Publish(ctx, "scan."+strconv.Itoa(i%3), []byte(strconv.Itoa(i)))
			require.NoError(t, err)
		}
	}
	scan := func(opts ScanOptions, during func()) (bodies []string, subjects int) {
		seen := map[string]bool{}
		require.NoError(t, Scan(ctx, js, "SCAN", opts, func(m jetstream.Msg) error {
			bodies = append(bodies, string(m.Data()))
			seen[m.Subject()] = true
			if during != nil && len(bodies) == 1 {
				during()
			}
			return nil
		}))
		return bodies, len(seen)
	}
	want := func(from, to int) (w []string) {
		for i := from; i < to; i++ {
			w = append(w, strconv.Itoa(i))
		}
		return w
	}

	got, _ := scan(ScanOptions{}, nil)
	assert.Empty(t, got, "an empty stream")

	publish(0, 1234)
	got, subjects := scan(ScanOptions{}, func() { publish(1234, 1300) })
	assert.Equal(t, want(0, 1234), got, "all of it, in order; what came during the scan is left for the next")
	assert.Equal(t, 3, subjects)

	got, _ = scan(ScanOptions{HeadersOnly: true}, nil)
	assert.Len(t, got, 1300)
	assert.Empty(t, got[0], "headers only")

	time.Sleep(10 * time.Millisecond)
	from := time.Now()
	publish(1300, 1310)
	got, _ = scan(ScanOptions{From: from}, nil)
	assert.Equal(t, want(1300, 1310), got, "from a time")
	got, _ = scan(ScanOptions{From: time.Now().Add(time.Hour)}, nil)
	assert.Empty(t, got, "from after the last message")

	stop := errors.New("stop")
	n := 0
	err = Scan(ctx, js, "SCAN", ScanOptions{}, func(jetstream.Msg) error { n++; return stop })
	assert.ErrorIs(t, err, stop)
	assert.Equal(t, 1, n, "an error from fn stops the scan")

	info, err := s.Info(ctx)
	require.NoError(t, err)
	assert.Zero(t, info.State.Consumers, "every scan deleted its consumer")

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	assert.ErrorIs(t, Scan(cctx, js, "SCAN", ScanOptions{}, func(jetstream.Msg) error { return nil }), context.Canceled)
}
