package rules

import (
	"slices"
	"strconv"

	"github.com/hzhook/hzhook/internal/lint"
)

// Type names a rule and the findings it produces. The names are part of the API (the finding=
// filter, alert payloads, metrics labels).
type Type string

// Finding types, one per rule.
const (
	TypeUnexpectedIssuer     Type = "unexpectedIssuer"
	TypeWeakKey              Type = "weakKey"
	TypeLegacySignature      Type = "legacySignature"
	TypeWildcard             Type = "wildcard"
	TypeSelfSigned           Type = "selfSigned"
	TypeRevoked              Type = "revoked"
	TypeCTNonCompliant       Type = "ctNonCompliant"
	TypeValidityTooLong      Type = "validityTooLong"
	TypeThirdPartyForOwnHost Type = "thirdPartyForOwnHost"
	TypeExpiringSoon         Type = "expiringSoon"
	TypeMalformed            Type = "malformed"
	// TypeLintError is made by EvaluateLints from zlint's results, not by Evaluate.
	TypeLintError Type = "lintError"
	// TypeOwnershipChanged and TypeExpiryMoved are made by EvaluateChange when a newer copy of a
	// stored certificate (the certificate sync) differs from it, not by Evaluate.
	TypeOwnershipChanged Type = "ownershipChanged"
	TypeExpiryMoved      Type = "expiryMoved"
)

// Types lists every finding type, in the order Evaluate reports them.
func Types() []Type {
	return []Type{
		TypeMalformed, TypeUnexpectedIssuer, TypeWeakKey, TypeLegacySignature, TypeWildcard,
		TypeSelfSigned, TypeRevoked, TypeCTNonCompliant, TypeValidityTooLong,
		TypeThirdPartyForOwnHost, TypeExpiringSoon, TypeLintError, TypeOwnershipChanged, TypeExpiryMoved,
	}
}

// Finding is one rule broken by one issuance.
type Finding struct {
	Type      Type   `json:"type"`
	TBSSHA256 string `json:"tbsSha256"`
	SHA256    string `json:"sha256"` // the certificate or precertificate the finding was made on
	Detail    string `json:"detail"` // one human sentence, e.g. "RSA key of 1024 bits (minimum 2048)"
	// WatchItem is the watch item whose issuer allowlist was broken (unexpectedIssuer only).
	WatchItem string `json:"watchItem,omitempty"`
	// ThresholdDays is the expiry threshold crossed (expiringSoon only).
	ThresholdDays int `json:"thresholdDays,omitempty"`
	// Lints are the zlint lints whose results alert, most severe first (lintError only).
	Lints []string `json:"lints,omitempty"`
	// To is the new value a change finding reports (ownershipChanged: the ownership;
	// expiryMoved: the effectiveNotAfter in RFC 3339).
	To string `json:"to,omitempty"`
}

// DedupType is the second half of the finding's deduplication key (TBSSHA256, DedupType()): the
// type, except for expiringSoon, where it is "expiringSoon/<days>" so that each threshold is
// stored and alerted once, and for the change findings, where it carries the new value
// ("ownershipChanged/thirdParty", "expiryMoved/2026-05-01T00:00:00Z") so that each change is
// stored and alerted once, however many syncs see it.
func (f Finding) DedupType() string {
	switch f.Type {
	case TypeExpiringSoon:
		return string(f.Type) + "/" + strconv.Itoa(f.ThresholdDays)
	case TypeOwnershipChanged, TypeExpiryMoved:
		return string(f.Type) + "/" + f.To
	}
	return string(f.Type)
}

// Policy is a validated rules file. It is immutable once built; share it freely.
type Policy struct {
	Watch          []WatchItem
	Rules          Switches
	Authorizations []Authorization
	// Lints says which zlint lints run on every certificate and which results alert (the
	// rules file's lints section; lint.DefaultConfig when absent). Build the lint.Linter from it.
	Lints lint.Config
}

// WatchItem is one watched name. A certificate is in scope when one of its names matches one
// watch item (an empty watch list puts every certificate in scope).
type WatchItem struct {
	// Name is the IDNA (A-label) lowercase name, without the leading dot.
	Name string
	// Subdomains is true for ".example.com" items: the name and every name below it.
	Subdomains bool
	// Issuers is the allowlist of issuing CAs; empty means any issuer is accepted.
	Issuers []Issuer
	Line    int // in the rules file, for messages
}

// String returns the item as written in the file (A-label form).
func (w WatchItem) String() string {
	if w.Subdomains {
		return "." + w.Name
	}
	return w.Name
}

// Issuer is one allowed issuing CA, by CCADB name and/or CA certificate fingerprints.
type Issuer struct {
	// CA is the issuerCa (CCADB CA owner) name, compared case-insensitively.
	CA string
	// SHA256 are lowercase hex fingerprints of CA certificates (intermediate, precertificate
	// signing CA or root); one of them anywhere in the certificate's parent chain matches.
	SHA256 []string
}

// Switches holds each rule's on/off switch and thresholds.
type Switches struct {
	Enabled map[Type]bool
	// MinRSABits, MinECBits and MinStrength are the weakKey thresholds (keyStrength in symmetric
	// bits, 0 = not judged).
	MinRSABits, MinECBits, MinStrength int
	// ExpiringDays are the expiringSoon thresholds in days, sorted descending.
	ExpiringDays []int
}

// On reports whether rule t is switched on.
func (s Switches) On(t Type) bool { return s.Enabled[t] }

// DefaultSwitches turns every rule on with the default thresholds: RSA 2048, EC 256, strength
// 112 bits, expiry 30, 14 and 7 days.
func DefaultSwitches() Switches {
	en := make(map[Type]bool, len(Types()))
	for _, t := range Types() {
		en[t] = true
	}
	return Switches{Enabled: en, MinRSABits: 2048, MinECBits: 256, MinStrength: 112, ExpiringDays: []int{30, 14, 7}}
}

// Authorization suppresses every finding of certificates it covers: one issuance by TBSSHA256, or
// every certificate on the key SPKISHA256 whose names all fall within Names.
type Authorization struct {
	TBSSHA256  string
	SPKISHA256 string
	Names      []WatchItem // Subdomains items cover the name and every name below it
	Note       string
	Line       int
}

// authorized reports whether an authorization covers c.
func (p *Policy) authorized(c Cert) bool {
	for _, a := range p.Authorizations {
		if a.TBSSHA256 != "" && a.TBSSHA256 == c.TBSSHA256 {
			return true
		}
		if a.SPKISHA256 != "" && a.SPKISHA256 == c.SPKISHA256 && coveredBy(c.Hosts, a.Names) {
			return true
		}
	}
	return false
}

func sortedDesc(days []int) []int {
	out := slices.Clone(days)
	slices.Sort(out)
	slices.Reverse(out)
	return slices.Compact(out)
}
