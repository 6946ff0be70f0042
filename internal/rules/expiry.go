package rules

import (
	"fmt"
	"time"
)

func daysDuration(d int) time.Duration { return time.Duration(d) * 24 * time.Hour }

// ExpiryDue returns the expiringSoon finding due for c at now, if any, for the scheduled scan of
// the inventory. alerted are the thresholds (days) already alerted for c's issuance. Thresholds
// only go down: a threshold is due when c's effectiveNotAfter is within it, it was not alerted,
// and no smaller threshold was alerted either. When several are due at once (a certificate first
// seen 5 days before expiry) only the smallest fires, so each threshold fires at most once and a
// certificate never produces a burst. Expired certificates, certificates out of scope or
// authorized, and a switched-off rule give nothing.
func (p *Policy) ExpiryDue(c Cert, now time.Time, alerted []int) (Finding, bool) {
	if !p.Rules.On(TypeExpiringSoon) {
		return Finding{}, false
	}
	end := c.EffectiveNotAfter
	if end.IsZero() {
		end = c.NotAfter
	}
	left := end.Sub(now)
	if end.IsZero() || left <= 0 {
		return Finding{}, false
	}
	hosts := normaliseHosts(c.Hosts)
	if _, in := p.scope(hosts); !in || p.authorized(Cert{TBSSHA256: c.TBSSHA256, SPKISHA256: c.SPKISHA256, Hosts: hosts}) {
		return Finding{}, false
	}
	floor := 0 // smallest threshold already alerted; 0 = none
	for _, a := range alerted {
		if a > 0 && (floor == 0 || a < floor) {
			floor = a
		}
	}
	due := 0
	for _, d := range p.Rules.ExpiringDays { // descending
		if left <= daysDuration(d) && (floor == 0 || d < floor) {
			due = d
		}
	}
	if due == 0 {
		return Finding{}, false
	}
	return Finding{
		Type: TypeExpiringSoon, TBSSHA256: c.TBSSHA256, SHA256: c.SHA256, ThresholdDays: due,
		Detail: fmt.Sprintf("expires in %.1f days (%s), within %d days", left.Hours()/24, end.UTC().Format(time.RFC3339), due),
	}, true
}
