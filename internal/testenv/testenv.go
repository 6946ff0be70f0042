package testenv

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/queue/embedded"
)

// DiscardLog returns a logger that drops everything.
func DiscardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// JetStream starts an embedded nats-server with JetStream storing in a temporary directory,
// creates HZ_EVENTS and HZ_DLQ, and returns a connection to it. Both end with the test.
func JetStream(t testing.TB) (*queue.Conn, *embedded.Server) {
	t.Helper()
	srv, err := embedded.Start(embedded.Options{StoreDir: t.TempDir()}, DiscardLog())
	require.NoError(t, err)
	t.Cleanup(srv.Shutdown)
	conn, err := queue.Connect(context.Background(), srv.URL(), t.Name(), DiscardLog())
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(time.Second) })
	require.NoError(t, queue.EnsureStreams(context.Background(), conn.JS, queue.DefaultStreamOptions()))
	return conn, srv
}

// Buffer is a bytes.Buffer safe for the concurrent writes of a logger.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
