// Package queue holds hzhook's use of NATS JetStream: stream and subject names, the stored event
// message and the headers it carries, the set-up of every stream (HZ_EVENTS, HZ_DLQ, HZ_ALERTS),
// publishing with acknowledgement, dead letters, and an embedded server for development and tests.
package queue
