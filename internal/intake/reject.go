package intake

// Rejection reasons: the values of the reason label and of the Hz-Error-Reason dead-letter header.
const (
	ReasonMissingMetadata    = "missing_metadata"
	ReasonUnknownHook        = "unknown_hook"
	ReasonMalformedSignature = "malformed_signature"
	ReasonBadSignature       = "bad_signature"
	ReasonStaleTimestamp     = "stale_timestamp"
	ReasonInvalidEvent       = "invalid_event"
)

// RejectError is a delivery refused for good: not genuine, or not a Hardenize event. Webhooks answer
// it with 400; Pub/Sub messages go to the dead-letter stream.
type RejectError struct {
	Reason string // one of the Reason* constants
	Err    error
}

func (e *RejectError) Error() string { return e.Reason + ": " + e.Err.Error() }
func (e *RejectError) Unwrap() error { return e.Err }
