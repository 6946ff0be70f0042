package dlq

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStagesCountsByStage(t *testing.T) {
	_, s, _, _ := deadLettered(t)
	got, err := s.Stages(context.Background())
	require.NoError(t, err)
	assert.Equal(t, map[string]uint64{"worker": 5}, got)
	require.NoError(t, s.Purge(context.Background(), 1))
	got, err = s.Stages(context.Background())
	require.NoError(t, err)
	assert.Equal(t, map[string]uint64{"worker": 4}, got)
}
