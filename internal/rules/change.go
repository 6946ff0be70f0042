package rules

import (
	"fmt"
	"time"
)

// Previous is what the inventory knew of a certificate before a newer copy of it arrived (from
// the Hardenize API's certificate listing, typically): the values whose change matters.
type Previous struct {
	Ownership         string    // "" when Hardenize had not classified it
	EffectiveNotAfter time.Time // zero when unknown
}

// EvaluateChange judges what changed between prev and c, a newer copy of the same certificate:
// ownershipChanged when c's ownership is set and differs from prev's (a certificate classified
// or reclassified, own → thirdParty), expiryMoved when its effectiveNotAfter moved (a CA
// distrusted, a correction by Hardenize). A revoked certificate gets no expiryMoved: its
// revocation is the news, and the revoked rule of Evaluate reports it. Scope and authorizations
// apply as in Evaluate; each finding's To is part of its DedupType, so a change alerts once.
// It is pure and safe for concurrent use.
func (p *Policy) EvaluateChange(prev Previous, c Cert) []Finding {
	hosts := normaliseHosts(c.Hosts)
	if _, inScope := p.scope(hosts); !inScope || p.authorized(Cert{TBSSHA256: c.TBSSHA256, SPKISHA256: c.SPKISHA256, Hosts: hosts}) {
		return nil
	}
	var out []Finding
	if p.Rules.On(TypeOwnershipChanged) && c.Ownership != "" && c.Ownership != prev.Ownership {
		from := prev.Ownership
		if from == "" {
			from = "unclassified"
		}
		out = append(out, Finding{Type: TypeOwnershipChanged, TBSSHA256: c.TBSSHA256, SHA256: c.SHA256, To: c.Ownership,
			Detail: fmt.Sprintf("ownership changed from %s to %s", from, c.Ownership)})
	}
	end := c.EffectiveNotAfter
	if end.IsZero() {
		end = c.NotAfter
	}
	if p.Rules.On(TypeExpiryMoved) && !c.Revoked && !prev.EffectiveNotAfter.IsZero() && !end.IsZero() &&
		!end.Truncate(time.Millisecond).Equal(prev.EffectiveNotAfter.Truncate(time.Millisecond)) {
		to := end.UTC().Truncate(time.Millisecond).Format(time.RFC3339Nano)
		out = append(out, Finding{Type: TypeExpiryMoved, TBSSHA256: c.TBSSHA256, SHA256: c.SHA256, To: to,
			Detail: fmt.Sprintf("effectiveNotAfter moved from %s to %s", prev.EffectiveNotAfter.UTC().Format(time.RFC3339Nano), to)})
	}
	return out
}
