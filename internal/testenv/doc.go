// Package testenv holds what many packages' tests need to run against real components: an
// in-process nats-server with JetStream and hzhook's streams, a fresh PostgreSQL schema on the
// server scripts/with-services.sh starts, and a log buffer safe for concurrent writers. It is
// imported by tests only.
package testenv
