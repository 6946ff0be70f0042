package events

import "errors"

// ErrInvalidEvent reports that a body is not a Hardenize event envelope.
// ParseEnvelope wraps it in every error it returns; the receiver maps it to
// 400 Bad Request.
var ErrInvalidEvent = errors.New("not a hardenize event")

// PermanentError marks a payload problem that no retry can fix, such as a
// certificate whose bytes do not match its fingerprint. Workers find it with
// errors.As and dead-letter the message instead of redelivering it.
type PermanentError struct {
	Err error
}

// Error returns the message of the wrapped error; the permanence is carried
// by the type, not the text.
func (e *PermanentError) Error() string {
	if e.Err == nil {
		return "permanent error"
	}
	return e.Err.Error()
}

// Unwrap returns the wrapped error.
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err in a *PermanentError. A nil err stays nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{Err: err}
}

// envelopeError is what ParseEnvelope returns: it names the offending field
// ("invalid event: missing id") and matches ErrInvalidEvent with errors.Is
// without repeating the sentinel's text.
type envelopeError struct {
	msg   string
	cause error // optional underlying error, e.g. a *json.SyntaxError
}

func invalid(msg string) error { return &envelopeError{msg: msg} }

func invalidCause(msg string, cause error) error { return &envelopeError{msg: msg, cause: cause} }

func (e *envelopeError) Error() string {
	if e.cause != nil {
		return "invalid event: " + e.msg + ": " + e.cause.Error()
	}
	return "invalid event: " + e.msg
}

func (e *envelopeError) Unwrap() []error {
	if e.cause != nil {
		return []error{ErrInvalidEvent, e.cause}
	}
	return []error{ErrInvalidEvent}
}
