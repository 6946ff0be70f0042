package rules

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"strings"

	"github.com/hzhook/hzhook/internal/events"
)

// FromCTEntry builds the Cert of a ct.entry payload. leaf is its parsed chain[0], or nil with
// parseErr when the leaf could not be parsed (the Cert is then Malformed and holds only what the
// entry states). The issuer is judged by fingerprint: ParentHashes are the SHA-256 of chain[1:].
// A CT entry carries no issuerCa, revocation, ownership or CT compliance: those stay unknown.
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
	if leaf == nil {
		c.Malformed = true
		c.ParseError = errText(parseErr)
		c.Wildcard = hasWildcard(c.Hosts)
		return c
	}
	fillFromX509(&c, leaf)
	if len(c.Hosts) == 0 {
		c.Hosts = x509Hosts(leaf)
	}
	c.Wildcard = hasWildcard(c.Hosts)
	return c
}

// FromCertificate builds the Cert of a pki.cert.new payload. Hardenize's own fields (issuerCa,
// keyAlg, keyStrength, revokedOn, ownership, ctRequired, ...) are taken as stated; parsed (nil
// when the DER could not be parsed, parseErr saying why) fills what the payload left empty and
// decides Precert from the poison extension if the payload did not say.
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
	if parsed == nil {
		c.Malformed = true
		c.ParseError = errText(parseErr)
	} else {
		stated := c
		fillFromX509(&c, parsed)
		// What Hardenize stated wins over what we derive.
		c.KeyAlg = firstNonEmpty(stated.KeyAlg, c.KeyAlg)
		c.SigAlg = firstNonEmpty(stated.SigAlg, c.SigAlg)
		c.SPKISHA256 = firstNonEmpty(stated.SPKISHA256, c.SPKISHA256)
		c.TBSSHA256 = firstNonEmpty(stated.TBSSHA256, c.TBSSHA256)
		if stated.KeyLen > 0 {
			c.KeyLen = stated.KeyLen
		}
		if stated.KeyStrength > 0 {
			c.KeyStrength = stated.KeyStrength
		}
		if !stated.NotBefore.IsZero() {
			c.NotBefore, c.NotAfter = stated.NotBefore, stated.NotAfter
		}
		c.SelfSigned = stated.SelfSigned || c.SelfSigned
		c.Precert = stated.Precert || c.Precert
		if len(c.Hosts) == 0 {
			c.Hosts = x509Hosts(parsed)
		}
		c.Wildcard = stated.Wildcard || hasWildcard(c.Hosts)
	}
	if !p.EffectiveNotAfter.IsZero() {
		c.EffectiveNotAfter = p.EffectiveNotAfter
	} else if c.EffectiveNotAfter.IsZero() {
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
	if c.TBSSHA256 == "" {
		if tbs, err := IssuanceTBSSHA256(x); err == nil {
			c.TBSSHA256 = tbs
		}
	}
	if c.Serial == "" && x.SerialNumber != nil {
		c.Serial = x.SerialNumber.Text(16)
	}
	if c.Subject == "" {
		c.Subject = x.Subject.String()
	}
	if c.Issuer == "" {
		c.Issuer = x.Issuer.String()
	}
	c.KeyAlg, c.KeyLen, c.KeyStrength = events.KeyInfo(x)
	c.SigAlg = events.SigAlgName(x.SignatureAlgorithm)
	c.NotBefore, c.NotAfter, c.EffectiveNotAfter = x.NotBefore, x.NotAfter, x.NotAfter
	c.SelfSigned = bytes.Equal(x.RawIssuer, x.RawSubject) &&
		x.CheckSignature(x.SignatureAlgorithm, x.RawTBSCertificate, x.Signature) == nil
	c.Precert = c.Precert || isPrecert(x)
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
