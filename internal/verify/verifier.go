package verify

import (
	"crypto/hmac"
	"errors"
	"fmt"
	"time"
)

// Sentinel errors of [Verifier.Verify], for errors.Is. [ErrMalformedSignature]
// is declared with the parser.
var (
	ErrUnknownHook  = errors.New("unknown organization or event hook")
	ErrBadSignature = errors.New("signature does not match")
	ErrStale        = errors.New("signature timestamp outside tolerance")
)

// Secrets looks up the active secrets of a hook. Lookup returns nil when the
// organization and hook are unknown. Implementations must be safe for
// concurrent use.
type Secrets interface {
	Lookup(org, hookID string) []string
}

// Verifier checks signed deliveries. It is safe for concurrent use.
type Verifier struct {
	secrets   Secrets
	tolerance time.Duration
	now       func() time.Time
}

// NewVerifier returns a Verifier that finds secrets in secrets and accepts
// signatures made at most tolerance before or after now(). A nil now means
// time.Now.
func NewVerifier(secrets Secrets, tolerance time.Duration, now func() time.Time) *Verifier {
	if now == nil {
		now = time.Now
	}
	return &Verifier{secrets: secrets, tolerance: tolerance, now: now}
}

// Verify authenticates body delivered for the hook hookID of org with the
// X-Hardenize-Signature value header. It returns an error wrapping, checked in
// this order, [ErrUnknownHook], [ErrMalformedSignature], [ErrBadSignature]
// when no active secret of the hook produced the MAC, or [ErrStale] when the
// signed timestamp is more than the tolerance away from now in either
// direction. The timestamp is checked only after the MAC so that unsigned
// requests learn nothing about the receiver's clock.
func (v *Verifier) Verify(org, hookID, header string, body []byte) error {
	return v.VerifyAt(org, hookID, header, body, time.Time{})
}

// VerifyAt is Verify with the timestamp held against at instead of now; a
// zero at means now. A transport that records when the sender handed it a
// delivery, as Pub/Sub does with its publish time, passes that time: a
// backlog read after an outage is then as fresh as when it was sent, while
// a replayed message, published anew with an old signature, is still stale.
func (v *Verifier) VerifyAt(org, hookID, header string, body []byte, at time.Time) error {
	secrets := v.secrets.Lookup(org, hookID)
	if len(secrets) == 0 {
		return fmt.Errorf("verify signature: %w", ErrUnknownHook)
	}
	sig, err := ParseSignature(header)
	if err != nil {
		return fmt.Errorf("verify signature: %w", err)
	}
	match := false
	// Try every secret even after a match so the time taken does not tell
	// which one is in use.
	for _, secret := range secrets {
		if hmac.Equal(computeMAC(secret, sig.Timestamp, body), sig.MAC) {
			match = true
		}
	}
	if !match {
		return fmt.Errorf("verify signature: %w", ErrBadSignature)
	}
	if at.IsZero() {
		at = v.now()
	}
	skew := at.Sub(time.UnixMilli(sig.Timestamp))
	if skew > v.tolerance || skew < -v.tolerance {
		return fmt.Errorf("verify signature: timestamp %s off: %w", skew.Round(time.Millisecond), ErrStale)
	}
	return nil
}
