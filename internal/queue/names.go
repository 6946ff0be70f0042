package queue

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Stream names and subject prefixes.
const (
	StreamEvents = "HZ_EVENTS"
	StreamDLQ    = "HZ_DLQ"
	StreamAlerts = "HZ_ALERTS"

	// EventsSubjectPrefix is followed by one token derived from the event type (see Subject).
	EventsSubjectPrefix = "hz.events."
	// DLQSubjectPrefix is followed by the failing stage ("worker", "pubsub", ...).
	DLQSubjectPrefix = "hz.dlq."
	// AlertsSubjectPrefix is followed by the finding type as one token: hz.alerts.weakKey.
	AlertsSubjectPrefix = "hz.alerts."
	// RedriveSubjectPrefix is followed by the stream's kind and a consumer (see RedriveSubject).
	RedriveSubjectPrefix = "hz.redrive."
)

// RedriveSubject is the subject of stream (StreamEvents or StreamAlerts) that only consumer takes:
// a redriven dead letter goes there, so it reaches the consumer that failed it and no other
// (another alert sink must not deliver an alert twice). Every dispatcher adds its own to its
// filter. "hz.redrive.events.hz-worker-ct_entry", "hz.redrive.alerts.hz-alerts-slack".
func RedriveSubject(stream, consumer string) string {
	return redrivePrefix(stream) + Token(consumer)
}

// redrivePrefix is "hz.redrive.<kind>." of stream: hz.redrive.events. for HZ_EVENTS.
func redrivePrefix(stream string) string {
	return RedriveSubjectPrefix + Token(strings.ToLower(strings.TrimPrefix(stream, "HZ_"))) + "."
}

// Headers stored with every event. The X-Hardenize-* values are kept exactly as delivered.
const (
	HeaderOrg        = "X-Hardenize-Org"
	HeaderHookID     = "X-Hardenize-EventHookId"
	HeaderSignature  = "X-Hardenize-Signature"
	HeaderEventID    = "Hz-Event-Id"
	HeaderEventType  = "Hz-Event-Type"
	HeaderReceivedAt = "Hz-Received-At" // RFC 3339 with nanoseconds, UTC
	HeaderSource     = "Hz-Source"      // SourceWebhook, SourcePubSub, SourceBackfill, SourceImport or SourceSync
	// HeaderAlerts, when AlertsOff, says the findings of the event are recorded but never alerted
	// (hzctl certs import: history pages no one). Absent means they alert.
	HeaderAlerts = "Hz-Alerts"
)

// HeaderPublishedAt is when the sender handed a delivery to a transport that keeps a backlog (the
// Pub/Sub publish time, RFC 3339 UTC), kept with a rejected Pub/Sub message's dead letter so that
// its signature is judged against it when it is verified again.
const HeaderPublishedAt = "Hz-PubSub-Published-At"

// ReverifySubject is the NATS request subject on which receivers verify a delivery again (a dead
// letter refused at intake, redriven by an operator) and store it if it passes.
const ReverifySubject = "hz.intake.reverify"

// AlertsOff is the HeaderAlerts value of events whose findings must not alert.
const AlertsOff = "off"

// Sources of an event.
const (
	SourceWebhook  = "webhook"
	SourcePubSub   = "pubsub"
	SourceBackfill = "backfill"
	// SourceImport and SourceSync are pki.cert.new events built from the Hardenize certificate
	// API: by hzctl certs import, and by the worker's scheduled certificate sync.
	SourceImport = "import"
	SourceSync   = "sync"
)

// Subject maps a Hardenize event type to its subject in HZ_EVENTS. The type becomes exactly one
// subject token: every byte outside [A-Za-z0-9-] (dots included) becomes '_', so hostile input can
// neither add tokens nor inject the wildcards '*' and '>'. "ct.entry" → "hz.events.ct_entry".
// Two types that differ only in those bytes share a subject; workers dispatch on the type header,
// so such a collision routes an event to a worker that acknowledges it as unknown, never to the
// wrong handler.
func Subject(eventType string) string {
	return EventsSubjectPrefix + Token(eventType)
}

// Token returns the single subject token for an event type (see Subject).
func Token(eventType string) string {
	if eventType == "" {
		return "_"
	}
	b := []byte(eventType)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			b[i] = '_'
		}
	}
	return string(b)
}

// MsgID is the Nats-Msg-Id of an event: "<org>/<hook id>/<event id>", so redeliveries of one event
// (webhook retries, Pub/Sub at-least-once, backfill) are stored once within the duplicate window.
// Hardenize sends every ;test event with id 0; for id 0 a digest of the body is appended so that
// distinct test events are all stored while a retried one is still deduplicated.
func MsgID(org, hookID, eventID string, body []byte) string {
	id := org + "/" + hookID + "/" + eventID
	if eventID == "0" {
		sum := sha256.Sum256(body)
		id += "/" + hex.EncodeToString(sum[:8])
	}
	return strings.ToValidUTF8(id, "?")
}
