// Package worker is the event worker: one worker group (a set of event types) consumes HZ_EVENTS
// through its durable consumer with internal/dispatch and writes the inventory (internal/ingest);
// it delivers alerts to the configured sinks, runs the scheduled jobs of the deployment (expiry
// scan, reconcile) on one replica at a time, and serves the admin listener (health, metrics, the
// inventory and dead-letter API). Run boots it; New and App.Run let tests boot it with their own
// handlers.
package worker
