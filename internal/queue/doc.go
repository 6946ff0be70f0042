// Package queue holds hzhook's use of NATS JetStream: stream and subject names, the stored event
// message and the headers it carries, the set-up of every stream (HZ_EVENTS, HZ_JOURNAL, HZ_DLQ,
// HZ_ALERTS), publishing with acknowledgement, group commit through the intake journal and the
// mover that empties it, and dead letters. The embedded server for development and
// single machines is package queue/embedded.
package queue
