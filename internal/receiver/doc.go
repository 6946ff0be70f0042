// Package receiver is the intake service: the public webhook listener and the Pub/Sub source in
// front of JetStream, with its admin listener, and in --dev an embedded NATS server and an
// in-process worker. cmd/receiver parses the configuration and calls Run; tests boot the same App
// on 127.0.0.1:0.
package receiver
