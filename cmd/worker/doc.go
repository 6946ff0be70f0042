// Command worker processes the events the receiver stored in NATS JetStream. Run with --help for
// every setting.
package main
