package filewatch

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadReportsTheFile(t *testing.T) {
	f := New(filepath.Join(t.TempDir(), "missing"), "rules", func([]byte) error { return nil }, nil, nil)
	err := f.Load()
	require.ErrorIs(t, err, os.ErrNotExist)
	assert.Contains(t, err.Error(), "rules file")
}
