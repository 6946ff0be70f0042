package lock

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Bucket is the JetStream key-value bucket holding hzhook's cluster-wide locks.
const Bucket = "HZ_LOCKS"

// ErrLocked is returned by Acquire when another owner holds the lock.
var ErrLocked = errors.New("lock held by another owner")

// Lock is a cluster-wide lock: a key created only if absent in a KV bucket whose entries expire
// after the TTL, so a crashed owner's lock frees itself. Hold it for less than the TTL, or Refresh
// it. It is not safe for concurrent use.
type Lock struct {
	kv    jetstream.KeyValue
	key   string
	owner string
	rev   uint64
}

// Acquire takes the lock named key for owner (e.g. the pod name), creating or updating the
// bucket with the given TTL (one TTL for every lock in the bucket: use the same value everywhere).
// It returns an error wrapping ErrLocked when someone else holds it.
func Acquire(ctx context.Context, js jetstream.JetStream, key, owner string, ttl time.Duration) (*Lock, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: Bucket, Description: "hzhook cluster-wide locks", TTL: ttl, History: 1,
	})
	if err != nil && !errors.Is(err, jetstream.ErrBucketExists) {
		return nil, fmt.Errorf("lock %s: %w", key, err)
	}
	if kv == nil {
		if kv, err = js.KeyValue(ctx, Bucket); err != nil {
			return nil, fmt.Errorf("lock %s: %w", key, err)
		}
	}
	rev, err := kv.Create(ctx, key, []byte(owner))
	if errors.Is(err, jetstream.ErrKeyExists) {
		holder := "unknown"
		if e, gerr := kv.Get(ctx, key); gerr == nil {
			holder = string(e.Value())
		}
		return nil, fmt.Errorf("lock %s (held by %s): %w", key, holder, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", key, err)
	}
	return &Lock{kv: kv, key: key, owner: owner, rev: rev}, nil
}

// Refresh extends the lock by another TTL; it fails with ErrLocked if the lock expired and
// someone else took it.
func (l *Lock) Refresh(ctx context.Context) error {
	rev, err := l.kv.Update(ctx, l.key, []byte(l.owner), l.rev)
	if err != nil {
		return fmt.Errorf("refresh lock %s: %w (%w)", l.key, ErrLocked, err)
	}
	l.rev = rev
	return nil
}

// Release frees the lock if this owner still holds it.
func (l *Lock) Release(ctx context.Context) error {
	if err := l.kv.Delete(ctx, l.key, jetstream.LastRevision(l.rev)); err != nil {
		return fmt.Errorf("release lock %s: %w", l.key, err)
	}
	return nil
}
