package rules

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"slices"
	"strings"

	"github.com/hzhook/hzhook/internal/events"
)

// FromCTEntry builds the Cert of a ct.entry payload. leaf is its parsed chain[0], or nil with
// parseErr when crypto/x509 could not parse it: zcrypto is tried then, and only when it fails too
// is the Cert Malformed, holding just what the entry states. The issuer is judged by fingerprint:
// ParentHashes are the SHA-256 of chain[1:]. A CT entry carries no issuerCa, revocation,
// ownership or CT compliance: those stay unknown.
func FromCTEntry(e events.MatchedCtEntry, leaf *x509.Certificate, parseErr error) Cert {
	c := Cert{
		SHA256:    strings.ToLower(e.SHA256),
		TBSSHA256: strings.ToLower(e.TBSSHA256),
		Subject:   e.Subject,
		Issuer:    e.Issuer,
		Hosts:     e.Hosts,
		Precert:   e.Precert,
	}
	for _, b64 := range e.Chain[min(1, len(e.Chain)):] {
		der, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(der) == 0 {
			continue
		}
		sum := sha256.Sum256(der)
		c.ParentHashes = append(c.ParentHashes, hex.EncodeToString(sum[:]))
	}
	var derived Cert
	var hosts []string
	switch {
	case leaf != nil:
		fillFromX509(&derived, leaf)
		hosts = x509Hosts(leaf)
	case len(e.Chain) > 0 && fillFromDER(&derived, &hosts, e.Chain[0]):
	default:
		c.Malformed = true
		c.ParseError = errText(parseErr)
		c.Wildcard = hasWildcard(c.Hosts)
		return c
	}
	stated := c
	c = derived
	c.SHA256, c.ParentHashes, c.Hosts = stated.SHA256, stated.ParentHashes, stated.Hosts
	c.TBSSHA256 = firstNonEmpty(stated.TBSSHA256, derived.TBSSHA256)
	c.Subject = firstNonEmpty(stated.Subject, derived.Subject)
	c.Issuer = firstNonEmpty(stated.Issuer, derived.Issuer)
	c.Precert = stated.Precert || derived.Precert
	if len(c.Hosts) == 0 {
		c.Hosts = hosts
	}
	c.Wildcard = hasWildcard(c.Hosts)
	return c
}

// FromCertificate builds the Cert of a pki.cert.new payload. Hardenize's own fields (issuerCa,
// keyAlg, keyStrength, validity, revokedOn, ownership, ctRequired, ...) are taken as stated; the
// parsed DER (parsed, or zcrypto's reading when crypto/x509 failed with parseErr) fills what the
// payload left empty, tells CA and TLS server certificates apart, and decides Precert from the
// poison extension if the payload did not say. Only DER neither parser reads is Malformed.
func FromCertificate(p events.Certificate, parsed *x509.Certificate, parseErr error) Cert {
	c := Cert{
		SHA256:            strings.ToLower(p.SHA256),
		TBSSHA256:         strings.ToLower(p.TBSSHA256),
		SPKISHA256:        strings.ToLower(p.SPKISHA256),
		Serial:            p.Serial,
		Subject:           p.Subject,
		Issuer:            p.Issuer,
		Hosts:             p.Hosts,
		IssuerCA:          p.IssuerCA,
		ParentHashes:      p.ParentHashes,
		KeyAlg:            p.KeyAlg,
		KeyLen:            p.KeyLen,
		KeyStrength:       p.KeyStrength,
		SigAlg:            p.SigAlg,
		NotBefore:         p.NotBefore,
		NotAfter:          p.NotAfter,
		ValidityKnown:     true, // DecodeCertificate requires both
		EffectiveNotAfter: p.EffectiveNotAfter,
		Wildcard:          p.Wildcard || hasWildcard(p.Hosts),
		SelfSigned:        p.SelfSigned,
		Revoked:           p.RevokedOn != nil,
		CTRequired:        p.CTRequired,
		CTCompliant:       p.CTCompliant,
		Ownership:         p.Ownership,
		MatchesOrgHost:    p.MatchesOrgHost,
		Precert:           p.Precert,
	}
	var derived Cert
	var hosts []string
	switch {
	case parsed != nil:
		fillFromX509(&derived, parsed)
		hosts = x509Hosts(parsed)
	case fillFromDER(&derived, &hosts, p.PEM):
	default:
		c.Malformed = true
		c.ParseError = errText(parseErr)
	}
	if !c.Malformed {
		// What Hardenize stated wins over what we derive.
		stated := c
		c.KeyAlg = firstNonEmpty(stated.KeyAlg, derived.KeyAlg)
		c.SigAlg = firstNonEmpty(stated.SigAlg, derived.SigAlg)
		c.SPKISHA256 = firstNonEmpty(stated.SPKISHA256, derived.SPKISHA256)
		c.TBSSHA256 = firstNonEmpty(stated.TBSSHA256, derived.TBSSHA256)
		c.Serial = firstNonEmpty(stated.Serial, derived.Serial)
		c.Subject = firstNonEmpty(stated.Subject, derived.Subject)
		c.Issuer = firstNonEmpty(stated.Issuer, derived.Issuer)
		if stated.KeyLen <= 0 {
			c.KeyLen = derived.KeyLen
		}
		if stated.KeyStrength <= 0 {
			c.KeyStrength = derived.KeyStrength
		}
		if stated.NotBefore.IsZero() && stated.NotAfter.IsZero() {
			c.NotBefore, c.NotAfter = derived.NotBefore, derived.NotAfter
		}
		if c.EffectiveNotAfter.IsZero() {
			c.EffectiveNotAfter = derived.EffectiveNotAfter
		}
		c.IsCA, c.NotTLSServer = derived.IsCA, derived.NotTLSServer
		c.SelfSigned = stated.SelfSigned || derived.SelfSigned
		c.Precert = stated.Precert || derived.Precert
		if len(c.Hosts) == 0 {
			c.Hosts = hosts
		}
		c.Wildcard = stated.Wildcard || hasWildcard(c.Hosts)
	}
	if c.EffectiveNotAfter.IsZero() {
		c.EffectiveNotAfter = c.NotAfter
	}
	if c.TBSSHA256 == "" {
		// Without a TBS hash the issuance cannot be recognised; the certificate's own hash keeps
		// the deduplication key unique rather than merging unrelated certificates.
		c.TBSSHA256 = c.SHA256
	}
	return c
}

// fillFromX509 sets the fields crypto/x509 can tell.
func fillFromX509(c *Cert, x *x509.Certificate) {
	spki := sha256.Sum256(x.RawSubjectPublicKeyInfo)
	c.SPKISHA256 = hex.EncodeToString(spki[:])
	if tbs, err := IssuanceTBSSHA256(x); err == nil {
		c.TBSSHA256 = tbs
	}
	if x.SerialNumber != nil {
		c.Serial = x.SerialNumber.Text(16)
	}
	c.Subject, c.Issuer = x.Subject.String(), x.Issuer.String()
	c.KeyAlg, c.KeyLen, c.KeyStrength = events.KeyInfo(x)
	c.SigAlg = events.SigAlgName(x.SignatureAlgorithm)
	c.NotBefore, c.NotAfter, c.EffectiveNotAfter, c.ValidityKnown = x.NotBefore, x.NotAfter, x.NotAfter, true
	c.SelfSigned = bytes.Equal(x.RawIssuer, x.RawSubject) &&
		x.CheckSignature(x.SignatureAlgorithm, x.RawTBSCertificate, x.Signature) == nil
	c.Precert = isPrecert(x)
	c.IsCA = x.BasicConstraintsValid && x.IsCA
	serverAuth := slices.ContainsFunc(x.ExtKeyUsage, func(u x509.ExtKeyUsage) bool {
		return u == x509.ExtKeyUsageServerAuth || u == x509.ExtKeyUsageAny
	})
	c.NotTLSServer = notTLSServer(len(x.ExtKeyUsage)+len(x.UnknownExtKeyUsage), serverAuth, x.PolicyIdentifiers)
}

func x509Hosts(x *x509.Certificate) []string {
	hosts := append([]string(nil), x.DNSNames...)
	for _, ip := range x.IPAddresses {
		hosts = append(hosts, ip.String())
	}
	return hosts
}

func hasWildcard(hosts []string) bool {
	for _, h := range hosts {
		if strings.Contains(h, "*") {
			return true
		}
	}
	return false
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func errText(err error) string {
	if err == nil {
		return "certificate could not be parsed"
	}
	return err.Error()
}
