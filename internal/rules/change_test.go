package rules

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestEvaluateChange(t *testing.T) {
	end := time.Date(2026, 9, 1, 12, 0, 0, 0, time.UTC)
	cert := func(mod func(*Cert)) Cert {
		c := Cert{SHA256: "aa", TBSSHA256: "bb", Hosts: []string{"www.example.com"}, Ownership: OwnershipOwn,
			NotAfter: end, EffectiveNotAfter: end}
		if mod != nil {
			mod(&c)
		}
		return c
	}
	was := Previous{Ownership: OwnershipOwn, EffectiveNotAfter: end}
	tests := []struct {
		name   string
		policy string
		prev   Previous
		cert   Cert
		want   []string // DedupType of each finding
		detail []string
	}{
		{"nothing changed", "", was, cert(nil), nil, nil},
		{"reclassified as third party", "", was, cert(func(c *Cert) { c.Ownership = OwnershipThirdParty }),
			[]string{"ownershipChanged/thirdParty"}, []string{"ownership changed from own to thirdParty"}},
		{"classified for the first time", "", Previous{EffectiveNotAfter: end}, cert(nil),
			[]string{"ownershipChanged/own"}, []string{"ownership changed from unclassified to own"}},
		{"classification lost is no finding", "", was, cert(func(c *Cert) { c.Ownership = "" }), nil, nil},
		{"effectiveNotAfter moved earlier", "", was, cert(func(c *Cert) { c.EffectiveNotAfter = end.AddDate(0, -2, 0) }),
			[]string{"expiryMoved/2026-07-01T12:00:00Z"}, []string{"effectiveNotAfter moved from 2026-09-01T12:00:00Z to 2026-07-01T12:00:00Z"}},
		{"sub-millisecond difference is no move", "", was, cert(func(c *Cert) { c.EffectiveNotAfter = end.Add(time.Microsecond) }), nil, nil},
		{"unknown before is no move", "", Previous{Ownership: OwnershipOwn}, cert(func(c *Cert) { c.EffectiveNotAfter = end.AddDate(0, 1, 0) }), nil, nil},
		{"a revocation is reported by revoked, not expiryMoved", "", was,
			cert(func(c *Cert) { c.Revoked, c.EffectiveNotAfter = true, end.AddDate(0, -3, 0) }), nil, nil},
		{"both at once", "", was, cert(func(c *Cert) { c.Ownership, c.EffectiveNotAfter = OwnershipThirdParty, end.AddDate(0, 0, -1) }),
			[]string{"ownershipChanged/thirdParty", "expiryMoved/2026-08-31T12:00:00Z"}, nil},
		{"ownershipChanged switched off", "rules: {ownershipChanged: false}", was,
			cert(func(c *Cert) { c.Ownership = OwnershipThirdParty }), nil, nil},
		{"expiryMoved switched off", "rules: {expiryMoved: {enabled: false}}", was,
			cert(func(c *Cert) { c.EffectiveNotAfter = end.AddDate(0, -1, 0) }), nil, nil},
		{"out of the watch scope", "watch: [other.example.net]", was, cert(func(c *Cert) { c.Ownership = OwnershipThirdParty }), nil, nil},
		{"authorized issuance", "authorizations: [{tbsSha256: " + hex64("bb") + "}]", was,
			cert(func(c *Cert) { c.TBSSHA256, c.Ownership = hex64("bb"), OwnershipThirdParty }), nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := mustParse(t, tc.policy).EvaluateChange(tc.prev, tc.cert)
			var dedup, detail []string
			for _, f := range got {
				dedup = append(dedup, f.DedupType())
				detail = append(detail, f.Detail)
				assert.Equal(t, tc.cert.SHA256, f.SHA256)
				assert.Equal(t, tc.cert.TBSSHA256, f.TBSSHA256)
			}
			assert.Equal(t, tc.want, dedup)
			if tc.detail != nil {
				assert.Equal(t, tc.detail, detail)
			}
		})
	}
}

// hex64 repeats a two-digit hex string into a 64-digit fingerprint.
func hex64(pair string) string {
	out := ""
	for range 32 {
		out += pair
	}
	return out
}
