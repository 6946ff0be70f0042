package lock_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/lock"
	"github.com/hzhook/hzhook/internal/testenv"
)

func TestLockAllowsOneOwner(t *testing.T) {
	conn, _ := testenv.JetStream(t)
	ctx := context.Background()

	a, err := lock.Acquire(ctx, conn.JS, "reconcile", "pod-a", time.Hour)
	require.NoError(t, err)
	_, err = lock.Acquire(ctx, conn.JS, "reconcile", "pod-b", time.Hour)
	require.ErrorIs(t, err, lock.ErrLocked)
	assert.Contains(t, err.Error(), "held by pod-a")
	require.NoError(t, a.Refresh(ctx))

	other, err := lock.Acquire(ctx, conn.JS, "another-job", "pod-b", time.Hour)
	require.NoError(t, err, "locks are per key")
	require.NoError(t, other.Release(ctx))

	require.NoError(t, a.Release(ctx))
	b, err := lock.Acquire(ctx, conn.JS, "reconcile", "pod-b", time.Hour)
	require.NoError(t, err, "a released lock can be taken")
	assert.Error(t, a.Release(ctx), "a stale owner cannot release the new owner's lock")
	require.NoError(t, b.Release(ctx))
}

func TestLockExpires(t *testing.T) {
	conn, _ := testenv.JetStream(t)
	ctx := context.Background()

	_, err := lock.Acquire(ctx, conn.JS, "reconcile", "crashed-pod", time.Second)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		l, err := lock.Acquire(ctx, conn.JS, "reconcile", "pod-b", time.Second)
		return err == nil && l != nil
	}, 15*time.Second, 100*time.Millisecond, "a crashed owner's lock frees itself after the TTL")
}
