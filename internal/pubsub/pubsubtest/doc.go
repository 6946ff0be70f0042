// Package pubsubtest gives tests a fresh topic and subscription on the real Google Cloud Pub/Sub
// emulator (PUBSUB_EMULATOR_HOST, started by scripts/with-services.sh), playing Hardenize's part:
// publishing signed events with the X-Hardenize-* attributes.
package pubsubtest
