// Package dispatch runs the worker side of a JetStream stream: a durable pull consumer, bounded
// concurrency, routing by event type to a Handler, retries with backoff, and dead letters.
package dispatch
