// Package lock is hzhook's cluster-wide lock: one key in the JetStream key-value bucket HZ_LOCKS,
// created only if absent, expiring after a TTL so that a crashed owner's lock frees itself. Jobs
// that must run on one replica at a time (the expiry scan, the scheduled reconcile) take it.
package lock
