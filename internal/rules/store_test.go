package rules

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/testenv"
)

func TestStoreReloadsOnContentChange(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	require.NoError(t, os.WriteFile(path, []byte("watch: [example.com]\n"), 0o600))
	var logs testenv.Buffer
	s, err := Load(path, slog.New(slog.NewJSONHandler(&logs, nil)), nil)
	require.NoError(t, err)
	require.Len(t, s.Policy().Watch, 1)

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); s.Watch(ctx, 10*time.Millisecond) }()
	t.Cleanup(func() { cancel(); <-done })

	// A valid change is picked up. Each change replaces the file whole: os.WriteFile truncates
	// first, and a watcher polling in between reads an empty, valid, file.
	write := func(content string) {
		tmp := path + ".tmp"
		require.NoError(t, os.WriteFile(tmp, []byte(content), 0o600))
		require.NoError(t, os.Rename(tmp, path))
	}
	write("watch: [example.com, .example.org]\n")
	require.Eventually(t, func() bool { return len(s.Policy().Watch) == 2 }, 10*time.Second, 10*time.Millisecond)

	// An invalid file is refused with its line; the previous policy stays.
	write("watch:\n  - example.com\n  - name: '*.x'\n")
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "rules file invalid") }, 10*time.Second, 10*time.Millisecond)
	assert.Contains(t, logs.String(), "line 3: watch[1].name")
	assert.Len(t, s.Policy().Watch, 2)

	// Fixed again.
	write("watch: []\n")
	require.Eventually(t, func() bool { return len(s.Policy().Watch) == 0 }, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, 2, strings.Count(logs.String(), "rules reloaded"))
}

func TestLoadRefusesAnInvalidFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	require.NoError(t, os.WriteFile(path, []byte("rules:\n  weakKey: yes please\n"), 0o600))
	_, err := Load(path, nil, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "line 2: rules.weakKey")

	_, err = Load(filepath.Join(t.TempDir(), "missing.yaml"), nil, nil)
	assert.ErrorIs(t, err, os.ErrNotExist)
}
