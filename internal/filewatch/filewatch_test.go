package filewatch

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func TestWatchAppliesChangesAndKeepsTheLastGoodContent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "conf")
	require.NoError(t, os.WriteFile(path, []byte("one"), 0o600))
	var current atomic.Value
	var applied atomic.Int32
	apply := func(b []byte) error {
		if strings.HasPrefix(string(b), "bad") {
			return errors.New("not valid")
		}
		current.Store(string(b))
		applied.Add(1)
		return nil
	}
	var logs lockedBuffer
	f := New(path, "conf", apply, func() []any { return []any{"value", current.Load()} }, slog.New(slog.NewTextHandler(&logs, nil)))
	require.NoError(t, f.Load())
	assert.Equal(t, "one", current.Load())

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Watch(ctx, 10*time.Millisecond); close(done) }()
	defer func() { cancel(); <-done }()

	time.Sleep(50 * time.Millisecond)
	assert.Equal(t, int32(1), applied.Load(), "unchanged content is not applied again")

	require.NoError(t, os.WriteFile(path, []byte("two"), 0o600))
	require.Eventually(t, func() bool { return current.Load() == "two" }, 5*time.Second, 5*time.Millisecond)

	require.NoError(t, os.WriteFile(path, []byte("bad content"), 0o600))
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "conf file invalid") }, 5*time.Second, 5*time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	assert.Equal(t, "two", current.Load(), "a broken file keeps the previous content")
	assert.Equal(t, 1, strings.Count(logs.String(), "conf file invalid"), "reported once")

	require.NoError(t, os.Remove(path))
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "conf file unreadable") }, 5*time.Second, 5*time.Millisecond)

	// A Kubernetes volume update: the file is a symlink whose target is swapped.
	dir := filepath.Dir(path)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "v2"), []byte("three"), 0o600))
	require.NoError(t, os.Symlink(filepath.Join(dir, "v2"), path))
	require.Eventually(t, func() bool { return current.Load() == "three" }, 5*time.Second, 5*time.Millisecond)
	assert.Contains(t, logs.String(), "value=three")
}

func TestLoadReportsTheFile(t *testing.T) {
	f := New(filepath.Join(t.TempDir(), "missing"), "rules", func([]byte) error { return nil }, nil, nil)
	err := f.Load()
	require.ErrorIs(t, err, os.ErrNotExist)
	assert.Contains(t, err.Error(), "rules file")
}
