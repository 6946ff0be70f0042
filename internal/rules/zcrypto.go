package rules

import (
	"crypto/dsa"
	"crypto/rsa"
	"crypto/sha256"
	stdx509 "crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"slices"

	zdsa "github.com/zmap/zcrypto/dsa"
	zrsa "github.com/zmap/zcrypto/rsa"
	"github.com/zmap/zcrypto/x509"

	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/lint"
)

// fillFromDER parses the base64 DER b64 with zcrypto, which reads much that crypto/x509 refuses
// (a malformed SAN, a critical AIA, an odd name constraint), and sets the fields it tells, and
// *hosts to its names. It reports false when zcrypto cannot parse it either. It runs only for
// certificates crypto/x509 refused, so it costs nothing on the common path.
func fillFromDER(c *Cert, hosts *[]string, b64 string) bool {
	der, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return false
	}
	z, err := lint.Parse(der)
	if err != nil {
		return false
	}
	spki := sha256.Sum256(z.RawSubjectPublicKeyInfo)
	c.SPKISHA256 = hex.EncodeToString(spki[:])
	if tbs, err := issuanceTBSSHA256(z.RawTBSCertificate); err == nil {
		c.TBSSHA256 = tbs
	}
	if z.SerialNumber != nil {
		c.Serial = z.SerialNumber.Text(16)
	}
	c.Subject, c.Issuer = z.Subject.String(), z.Issuer.String()
	var ok bool
	if c.KeyAlg, c.KeyLen, c.KeyStrength, ok = events.PublicKeyInfo(standardKey(z.PublicKey)); !ok {
		c.KeyAlg = z.PublicKeyAlgorithm.String()
	}
	c.SigAlg = zcryptoSigAlgName(z.SignatureAlgorithm)
	c.NotBefore, c.NotAfter, c.EffectiveNotAfter, c.ValidityKnown = z.NotBefore, z.NotAfter, z.NotAfter, true
	c.SelfSigned, c.Precert, c.IsCA = z.SelfSigned, z.IsPrecert, z.IsCA
	serverAuth := slices.ContainsFunc(z.ExtKeyUsage, func(u x509.ExtKeyUsage) bool {
		return u == x509.ExtKeyUsageServerAuth || u == x509.ExtKeyUsageAny
	})
	policies := make([]asn1.ObjectIdentifier, 0, len(z.PolicyIdentifiers))
	for _, p := range z.PolicyIdentifiers {
		policies = append(policies, asn1.ObjectIdentifier(p)) // zcrypto's fork of encoding/asn1
	}
	c.NotTLSServer = notTLSServer(len(z.ExtKeyUsage)+len(z.UnknownExtKeyUsage), serverAuth, policies)
	*hosts = append([]string(nil), z.DNSNames...)
	for _, ip := range z.IPAddresses {
		*hosts = append(*hosts, ip.String())
	}
	return true
}

// standardKey returns zcrypto's own RSA, DSA and ECDSA key types as the standard library's, with
// the fields that tell their size.
func standardKey(pub any) any {
	switch k := pub.(type) {
	case *zrsa.PublicKey:
		return &rsa.PublicKey{N: k.N}
	case *zdsa.PublicKey:
		return &dsa.PublicKey{Parameters: dsa.Parameters{P: k.P, Q: k.Q, G: k.G}, Y: k.Y}
	case *x509.AugmentedECDSA:
		return k.Pub
	}
	return pub
}

// zcryptoSigAlgName is events.SigAlgName for zcrypto's names of the same algorithms.
func zcryptoSigAlgName(a x509.SignatureAlgorithm) string {
	std, ok := map[x509.SignatureAlgorithm]stdx509.SignatureAlgorithm{
		x509.MD2WithRSA: stdx509.MD2WithRSA, x509.MD5WithRSA: stdx509.MD5WithRSA, x509.SHA1WithRSA: stdx509.SHA1WithRSA,
		x509.SHA256WithRSA: stdx509.SHA256WithRSA, x509.SHA384WithRSA: stdx509.SHA384WithRSA, x509.SHA512WithRSA: stdx509.SHA512WithRSA,
		x509.SHA256WithRSAPSS: stdx509.SHA256WithRSAPSS, x509.SHA384WithRSAPSS: stdx509.SHA384WithRSAPSS,
		x509.SHA512WithRSAPSS: stdx509.SHA512WithRSAPSS, x509.DSAWithSHA1: stdx509.DSAWithSHA1, x509.DSAWithSHA256: stdx509.DSAWithSHA256,
		x509.ECDSAWithSHA1: stdx509.ECDSAWithSHA1, x509.ECDSAWithSHA256: stdx509.ECDSAWithSHA256,
		x509.ECDSAWithSHA384: stdx509.ECDSAWithSHA384, x509.ECDSAWithSHA512: stdx509.ECDSAWithSHA512, x509.Ed25519Sig: stdx509.PureEd25519,
	}[a]
	if !ok {
		return a.String()
	}
	return events.SigAlgName(std)
}

// Certificate policies by which a CA claims the Baseline Requirements (BR 7.1.6.1).
var brPolicies = []asn1.ObjectIdentifier{
	{2, 23, 140, 1, 2, 1}, {2, 23, 140, 1, 2, 2}, {2, 23, 140, 1, 2, 3}, {2, 23, 140, 1, 1},
}

// notTLSServer reports a certificate the Baseline Requirements do not govern, by zlint's test
// (util.IsServerAuthCert): it has extended key usages, none of them serverAuth or
// anyExtendedKeyUsage, and claims no Baseline Requirements policy. A certificate without the
// extension may serve TLS.
func notTLSServer(ekus int, serverAuth bool, policies []asn1.ObjectIdentifier) bool {
	if ekus == 0 || serverAuth {
		return false
	}
	return !slices.ContainsFunc(policies, func(p asn1.ObjectIdentifier) bool {
		return slices.ContainsFunc(brPolicies, p.Equal)
	})
}
