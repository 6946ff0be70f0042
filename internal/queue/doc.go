// Package queue holds hzhook's use of NATS JetStream: stream and subject names, the stored event
// message and the headers it carries, the set-up of every stream (HZ_EVENTS, HZ_DLQ, HZ_ALERTS),
// publishing with acknowledgement and dead letters. The embedded server for development and
// single machines is package queue/embedded.
package queue
