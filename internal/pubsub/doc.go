// Package pubsub is the second way events arrive: it consumes the Hardenize-managed Google Pub/Sub
// subscription and feeds each message through the same intake as a webhook (signature, tolerance,
// envelope, JetStream publish with acknowledgement).
//
// Ack semantics: a message is acked only after JetStream acknowledged the event (or already held it),
// or after a message that failed verification was stored in HZ_DLQ. When JetStream cannot store it,
// the message is nacked so Pub/Sub redelivers it later; nothing acked is ever lost.
package pubsub
