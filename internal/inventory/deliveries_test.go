package inventory

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAlertDeliveries(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		now := time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)
		delivered := func(sink, id string) bool {
			ok, err := s.AlertDelivered(ctx, sink, id)
			require.NoError(t, err)
			return ok
		}
		assert.False(t, delivered("webhook", "a1"))
		require.NoError(t, s.MarkAlertDelivered(ctx, "webhook", "a1", now))
		require.NoError(t, s.MarkAlertDelivered(ctx, "webhook", "a1", now.Add(time.Minute)), "marking again is no error")
		assert.True(t, delivered("webhook", "a1"))
		assert.False(t, delivered("slack", "a1"), "each sink delivers on its own")
		assert.False(t, delivered("webhook", "a2"))
	})
}
