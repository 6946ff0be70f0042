// Package intake turns one Hardenize delivery (a webhook request or a Pub/Sub message) into a durably
// stored event: verify the hook metadata and signature, parse the envelope, publish to HZ_EVENTS and
// wait for the acknowledgement. Each transport translates the outcome at its own edge: the webhook
// handler into an HTTP status, the Pub/Sub source into ack, nack or dead letter.
package intake
