// Package events holds the Hardenize event envelope and the payload types
// hzhook handles (test, ct.entry, pki.cert.new), with their decoding and
// validation.
//
// ParseEnvelope is the cheap check the webhook receiver runs before it
// publishes a body; the Decode functions are what workers run on the payload.
// Unknown event types and unknown fields are accepted and ignored, as
// Hardenize asks ("ignore unknown fields"). Nothing in this package keeps
// state; every function is safe for concurrent use.
package events
