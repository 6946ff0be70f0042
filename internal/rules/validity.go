package rules

import "time"

// validityStep is one CA/Browser Forum Baseline Requirements limit on TLS subscriber certificate
// validity (ballot SC-081), in force for certificates whose notBefore is on or after From.
type validityStep struct {
	From    time.Time
	MaxDays int
}

var validitySteps = []validityStep{
	{time.Date(2029, 3, 15, 0, 0, 0, 0, time.UTC), 47},
	{time.Date(2027, 3, 15, 0, 0, 0, 0, time.UTC), 100},
	{time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC), 200},
}

// MaxValidityDays returns the maximum validity in days the CA/Browser Forum allows for a
// certificate issued at notBefore: 398 before 2026-03-15, then 200, 100 from 2027-03-15 and 47
// from 2029-03-15.
func MaxValidityDays(notBefore time.Time) int {
	for _, s := range validitySteps {
		if !notBefore.Before(s.From) {
			return s.MaxDays
		}
	}
	return 398
}

// validity is the certificate's validity period. RFC 5280 validity is inclusive of both ends, so
// a certificate valid for exactly N days has notAfter = notBefore + N days - 1 second.
func validity(notBefore, notAfter time.Time) time.Duration {
	return notAfter.Sub(notBefore) + time.Second
}
