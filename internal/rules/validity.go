package rules

import (
	"fmt"
	"time"
)

// ValidityLimit is the CA/Browser Forum's maximum validity for a TLS subscriber certificate whose
// notBefore is on or after From (Baseline Requirements 6.3.2 and ballot SC-081; Apple's policy
// from 2020-09-01, which the BRs adopted with ballot SC31). It is measured as zlint v3.7.3
// measures it, so that validityTooLong agrees with the zlint lint named Lint: the 39-month and
// 825-day limits compare notAfter with notBefore plus that many months or days, the later ones
// count the validity period inclusive of both ends (RFC 5280 4.1.2.5: notAfter - notBefore + 1s).
type ValidityLimit struct {
	From   time.Time
	Months int // the limit in calendar months, or 0
	Days   int // the limit in days of 86400 seconds, or 0
	Lint   string
}

// String says the limit as a person would: "39 months", "398 days".
func (l ValidityLimit) String() string {
	if l.Months > 0 {
		return fmt.Sprintf("%d months", l.Months)
	}
	return fmt.Sprintf("%d days", l.Days)
}

// exceeded reports whether the validity from notBefore through notAfter is longer than l. It
// compares instants, never a time.Duration, which overflows past 292 years (a certificate valid
// until 99991231235959Z has "no well-defined expiration", RFC 5280 4.1.2.5, and is too long).
func (l ValidityLimit) exceeded(notBefore, notAfter time.Time) bool {
	if l.Months > 0 {
		return notAfter.After(notBefore.AddDate(0, l.Months, 0))
	}
	if l.From.Before(inclusiveFrom) {
		return notAfter.After(notBefore.AddDate(0, 0, l.Days))
	}
	return notAfter.Add(time.Second).After(notBefore.Add(time.Duration(l.Days) * 24 * time.Hour))
}

// inclusiveFrom is when the limits start to count the validity period inclusively.
var inclusiveFrom = time.Date(2020, 9, 1, 0, 0, 0, 0, time.UTC)

// ValidityLimits returns the schedule, latest first. Certificates issued before the 825-day limit
// are held to 39 months, however old. The 825-day limit applies to certificates "issued after
// 1 March 2018", so from 2 March, as zlint reads it.
func ValidityLimits() []ValidityLimit {
	return []ValidityLimit{
		{From: time.Date(2029, 3, 15, 0, 0, 0, 0, time.UTC), Days: 47, Lint: "e_server_cert_valid_time_longer_than_47_days"},
		{From: time.Date(2027, 3, 15, 0, 0, 0, 0, time.UTC), Days: 100, Lint: "e_server_cert_valid_time_longer_than_100_days"},
		{From: time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC), Days: 200, Lint: "e_server_cert_valid_time_longer_than_200_days"},
		{From: inclusiveFrom, Days: 398, Lint: "e_tls_server_cert_valid_time_longer_than_398_days"},
		{From: time.Date(2018, 3, 2, 0, 0, 0, 0, time.UTC), Days: 825, Lint: "e_sub_cert_valid_time_longer_than_825_days"},
		{Months: 39, Lint: "e_sub_cert_valid_time_longer_than_39_months"},
	}
}

// MaxValidity returns the limit in force for a certificate issued at notBefore.
func MaxValidity(notBefore time.Time) ValidityLimit {
	limits := ValidityLimits()
	for _, l := range limits {
		if !notBefore.Before(l.From) {
			return l
		}
	}
	return limits[len(limits)-1]
}

// validityDays is the validity period in days, inclusive of both ends, for messages. Unix seconds
// cover years 1 to 9999 without overflow.
func validityDays(notBefore, notAfter time.Time) float64 {
	return float64(notAfter.Unix()-notBefore.Unix()+1) / 86400
}

// validityTooLong judges c against the limit in force at its notBefore. CA certificates have no
// such limit, nor do certificates whose extended key usages exclude TLS server authentication.
func validityTooLong(c Cert) (string, bool) {
	known := c.ValidityKnown || (!c.NotBefore.IsZero() && !c.NotAfter.IsZero())
	if !known || c.IsCA || c.NotTLSServer {
		return "", false
	}
	limit := MaxValidity(c.NotBefore.UTC())
	if !limit.exceeded(c.NotBefore, c.NotAfter) {
		return "", false
	}
	return fmt.Sprintf("valid for %.1f days; at notBefore %s the CA/Browser Forum maximum is %s",
		validityDays(c.NotBefore, c.NotAfter), c.NotBefore.UTC().Format("2006-01-02"), limit), true
}
