package rules

import (
	"fmt"
	"slices"
	"strings"
)

// Evaluate applies the policy to one certificate and returns its findings, at most one per type,
// in the order of Types(). It is pure and safe for concurrent use. Nothing is reported for a
// certificate outside the watch scope or covered by an authorization. expiringSoon is not
// judged here (no event arrives as a certificate ages): see ExpiryDue.
//
// Findings repeat for every event of one issuance; the caller keeps the first per
// (TBSSHA256, DedupType()).
func (p *Policy) Evaluate(c Cert) []Finding {
	hosts := normaliseHosts(c.Hosts)
	matched, inScope := p.scope(hosts)
	if !inScope || p.authorized(Cert{TBSSHA256: c.TBSSHA256, SPKISHA256: c.SPKISHA256, Hosts: hosts}) {
		return nil
	}
	var out []Finding
	add := func(t Type, detail string) {
		if p.Rules.On(t) {
			out = append(out, Finding{Type: t, TBSSHA256: c.TBSSHA256, SHA256: c.SHA256, Detail: detail})
		}
	}
	if c.Malformed {
		add(TypeMalformed, "certificate could not be parsed: "+c.ParseError)
	}
	if p.Rules.On(TypeUnexpectedIssuer) {
		if f, ok := unexpectedIssuer(c, matched); ok {
			out = append(out, f)
		}
	}
	if d := p.weakKey(c); d != "" {
		add(TypeWeakKey, d)
	}
	if legacySignature(c.SigAlg) {
		add(TypeLegacySignature, "signed with "+c.SigAlg)
	}
	if c.Wildcard || hasWildcard(hosts) {
		add(TypeWildcard, "wildcard name in "+strings.Join(hosts, ", "))
	}
	if c.SelfSigned {
		add(TypeSelfSigned, "self-signed certificate")
	}
	if c.Revoked {
		add(TypeRevoked, "certificate is revoked")
	}
	// A precertificate never embeds SCTs: CT compliance is judged on the final certificate.
	if !c.Precert && c.CTRequired != nil && *c.CTRequired && c.CTCompliant != nil && !*c.CTCompliant {
		add(TypeCTNonCompliant, "CT is required but the certificate does not carry enough SCTs")
	}
	if d, ok := validityTooLong(c); ok {
		add(TypeValidityTooLong, d)
	}
	if c.Ownership == OwnershipThirdParty && c.MatchesOrgHost {
		add(TypeThirdPartyForOwnHost, "third-party certificate for a host of the organization")
	}
	slices.SortStableFunc(out, func(a, b Finding) int { return typeOrder(a.Type) - typeOrder(b.Type) })
	return out
}

// scope returns the watch items the hosts match and whether the certificate is in scope: with no
// watch items everything is; a certificate whose names are unknown is kept in scope (fail-safe).
func (p *Policy) scope(hosts []string) ([]WatchItem, bool) {
	if len(p.Watch) == 0 || len(hosts) == 0 {
		return nil, true
	}
	m := matchedItems(p.Watch, hosts)
	return m, len(m) > 0
}

func (p *Policy) weakKey(c Cert) string {
	r := p.Rules
	switch alg := strings.ToUpper(c.KeyAlg); {
	case alg == "RSA" && c.KeyLen > 0 && c.KeyLen < r.MinRSABits:
		return fmt.Sprintf("RSA key of %d bits (minimum %d)", c.KeyLen, r.MinRSABits)
	case (alg == "EC" || alg == "ECDSA") && c.KeyLen > 0 && c.KeyLen < r.MinECBits:
		return fmt.Sprintf("EC key of %d bits (minimum %d)", c.KeyLen, r.MinECBits)
	case r.MinStrength > 0 && c.KeyStrength > 0 && c.KeyStrength < r.MinStrength:
		return fmt.Sprintf("%s key of %d bits gives %d bits of strength (minimum %d)", c.KeyAlg, c.KeyLen, c.KeyStrength, r.MinStrength)
	}
	return ""
}

// legacySignature reports MD2, MD5 and SHA-1 signatures, in any spelling.
func legacySignature(sigAlg string) bool {
	s := strings.ToUpper(strings.ReplaceAll(sigAlg, "-", ""))
	return strings.Contains(s, "MD2") || strings.Contains(s, "MD5") || strings.Contains(s, "SHA1")
}

// unexpectedIssuer judges the issuing CA against the allowlist of every matched watch item that
// has one. The issuer is identified by issuerCa and by the CA certificate fingerprints of the
// parent chain, never by the issuer DN, which anyone can write. When the certificate carries no
// evidence comparable with an allowlist (a CT entry has no issuerCa; an allowlist may name CAs
// only), nothing is reported from this event: the pki.cert.new of the same issuance, which does
// carry issuerCa and parentHashes, decides.
func unexpectedIssuer(c Cert, matched []WatchItem) (Finding, bool) {
	for _, w := range matched {
		if len(w.Issuers) == 0 {
			continue
		}
		allowed, decidable := issuerAllowed(c, w.Issuers)
		if allowed || !decidable {
			continue
		}
		who := c.IssuerCA
		if who == "" && len(c.ParentHashes) > 0 {
			who = "CA certificate " + c.ParentHashes[0]
		}
		if who == "" {
			who = "unknown CA"
		}
		return Finding{
			Type: TypeUnexpectedIssuer, TBSSHA256: c.TBSSHA256, SHA256: c.SHA256, WatchItem: w.String(),
			Detail: fmt.Sprintf("issued by %s, not allowed for %s", who, w.String()),
		}, true
	}
	return Finding{}, false
}

func issuerAllowed(c Cert, allow []Issuer) (allowed, decidable bool) {
	for _, is := range allow {
		if is.CA != "" && c.IssuerCA != "" {
			decidable = true
			if strings.EqualFold(strings.TrimSpace(is.CA), strings.TrimSpace(c.IssuerCA)) {
				return true, true
			}
		}
		if len(is.SHA256) > 0 && len(c.ParentHashes) > 0 {
			decidable = true
			for _, h := range c.ParentHashes {
				if slices.Contains(is.SHA256, strings.ToLower(h)) {
					return true, true
				}
			}
		}
	}
	// A malformed certificate with neither issuerCa nor parents is judged fail-safe by its
	// malformed finding, not here.
	return false, decidable
}

func typeOrder(t Type) int { return slices.Index(Types(), t) }
