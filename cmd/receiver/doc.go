// Command receiver accepts Hardenize event deliveries, verifies them and stores them in NATS
// JetStream before answering 204. Run with --help for every setting.
package main
