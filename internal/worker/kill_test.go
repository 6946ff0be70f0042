package worker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/dispatch"
	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/testenv"
)

// Environment of the helper process (TestHelperWorker).
const (
	helperNATS = "HZ_TEST_HELPER_NATS_URL"
	helperOut  = "HZ_TEST_HELPER_OUT"
)

// TestHelperWorker is not a test: it is the worker process TestKilledWorkerLosesNothing starts and
// kills. Its handler "commits" each batch by appending the event ids to a file, after a pause that
// stands for the store's work, and only then lets the batch be acknowledged.
func TestHelperWorker(t *testing.T) {
	url := os.Getenv(helperNATS)
	if url == "" {
		t.Skip("helper process of TestKilledWorkerLosesNothing")
	}
	out := os.Getenv(helperOut)
	cfg := testConfig(t, "--nats-url", url, "--types", events.TypeCTEntry, "--batch-size", "10",
		"--concurrency", "2", "--ack-wait", "2s", "--backoff", "50ms")
	commit := handlerFunc(func(_ context.Context, batch []dispatch.Message) []error {
		time.Sleep(100 * time.Millisecond)
		var b strings.Builder
		for _, m := range batch {
			fmt.Fprintln(&b, m.Event.ID)
		}
		f, err := os.OpenFile(out, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err == nil {
			_, err = f.WriteString(b.String())
			err = errors.Join(err, f.Close())
		}
		errs := make([]error, len(batch))
		for i := range errs {
			errs[i] = err
		}
		return errs
	})
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	app, err := New(ctx, cfg, Deps{Log: testenv.DiscardLog(), Registry: prometheus.NewRegistry(),
		Handlers: map[string]dispatch.Handler{events.TypeCTEntry: commit}})
	require.NoError(t, err)
	require.NoError(t, app.Run(ctx))
}

// A worker process killed with SIGKILL in the middle of a batch loses nothing: after a restart
// every event is processed. The restarted worker then stops cleanly on SIGTERM with exit 0.
func TestKilledWorkerLosesNothing(t *testing.T) {
	conn, _ := testenv.JetStream(t)
	const n = 200
	for i := 1; i <= n; i++ {
		publishEvent(t, conn, events.TypeCTEntry, i, []byte(fmt.Sprintf(`{"id":%d,"type":"ct.entry","createdOn":"2026-01-02T03:04:05Z","data":{}}`, i)))
	}
	out := filepath.Join(t.TempDir(), "processed.txt")
	start := func() (*exec.Cmd, *bytes.Buffer) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWorker$", "-test.count=1")
		cmd.Env = append(os.Environ(), helperNATS+"="+conn.NC.ConnectedUrl(), helperOut+"="+out)
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stderr, &stderr
		require.NoError(t, cmd.Start())
		return cmd, &stderr
	}

	first, firstOut := start()
	require.Eventually(t, func() bool { return len(lines(out)) >= 30 }, 60*time.Second, 10*time.Millisecond, firstOut.String)
	require.NoError(t, first.Process.Kill()) // SIGKILL: no shutdown code runs
	_ = first.Wait()
	killedAt := distinct(lines(out))
	require.Less(t, killedAt, n, "killed before the end, with batches in flight")

	second, secondOut := start()
	require.Eventually(t, func() bool {
		return distinct(lines(out)) == n && settled(conn, ConsumerName([]string{events.TypeCTEntry}))
	},
		60*time.Second, 20*time.Millisecond, secondOut.String)
	require.NoError(t, second.Process.Signal(syscall.SIGTERM))
	require.NoError(t, second.Wait(), "graceful shutdown exits 0: %s", secondOut.String())
	assert.Equal(t, n, distinct(lines(out)))
	t.Logf("%d of %d events processed before the kill; %d lines recorded (redeliveries included)", killedAt, n, len(lines(out)))
}

func lines(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	return strings.Fields(string(b))
}

func distinct(ids []string) int {
	seen := map[string]bool{}
	for _, id := range ids {
		if _, err := strconv.Atoi(id); err == nil {
			seen[id] = true
		}
	}
	return len(seen)
}
