package filewatch

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadReportsTheFile(t *testing.T) {
	f := New(filepath.Join(t.TempDir(), "missing"), "rules", func([]byte) error { return nil }, nil, nil, nil)
	err := f.Load()
	require.ErrorIs(t, err, os.ErrNotExist)
	assert.Contains(t, err.Error(), "rules file")
}

// Every check counts its outcome; a refused or unreadable file leaves the applied content.
func TestChecksAreCountedAndBrokenFilesKeepTheOld(t *testing.T) {
	path := filepath.Join(t.TempDir(), "conf")
	require.NoError(t, os.WriteFile(path, []byte("good 1"), 0o600))
	var applied []string
	reg := prometheus.NewRegistry()
	f := New(path, "test", func(b []byte) error {
		if string(b) == "broken" {
			return errors.New("broken")
		}
		applied = append(applied, string(b))
		return nil
	}, nil, nil, reg)
	require.NoError(t, f.Load())
	ctx := context.Background()
	steps := []struct {
		write   string // "" = remove the file
		outcome string
	}{
		{"good 1", OutcomeUnchanged},
		{"broken", OutcomeInvalid},
		{"broken", OutcomeInvalid}, // refused once, not applied again
		{"", OutcomeUnreadable},
		{"good 2", OutcomeReloaded},
	}
	want := map[string]float64{}
	for _, st := range steps {
		if st.write == "" {
			require.NoError(t, os.Remove(path))
		} else {
			require.NoError(t, os.WriteFile(path, []byte(st.write), 0o600))
		}
		f.poll(ctx)
		want[st.outcome]++
		for _, o := range []string{OutcomeUnchanged, OutcomeReloaded, OutcomeInvalid, OutcomeUnreadable} {
			assert.Equal(t, want[o], testutil.ToFloat64(f.checks.WithLabelValues(o)), "after writing %q: %s", st.write, o)
		}
	}
	assert.Equal(t, []string{"good 1", "good 2"}, applied)
	n, err := testutil.GatherAndCount(reg, "hz_config_checks_total")
	require.NoError(t, err)
	assert.Equal(t, 4, n, "exported on the registry, one series per outcome")
}
