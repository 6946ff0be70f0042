package events

import (
	"crypto/dsa"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
)

// KeyInfo returns Hardenize's keyAlg, keyLen and keyStrength (symmetric-equivalent bits, NIST
// SP 800-57 part 1 table 2) of the certificate's public key, for certificates described only by
// their DER (a ct.entry leaf). An unknown key type gives its algorithm name and zero sizes.
func KeyInfo(x *x509.Certificate) (alg string, bits, strength int) {
	if alg, bits, strength, ok := PublicKeyInfo(x.PublicKey); ok {
		return alg, bits, strength
	}
	return x.PublicKeyAlgorithm.String(), 0, 0
}

// PublicKeyInfo is KeyInfo for a public key as crypto/x509 (or another parser using the standard
// key types) returns it: *rsa.PublicKey, *ecdsa.PublicKey, *dsa.PublicKey or ed25519.PublicKey.
// ok is false for any other type.
//
// A DSA key's length is that of its prime P (L); its strength is the lesser of what L and the
// subgroup order Q (N, worth N/2 bits) give, so DSA-1024/160 is 80 bits and DSA-2048/224 is 112.
func PublicKeyInfo(pub any) (alg string, bits, strength int, ok bool) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		bits = k.N.BitLen()
		return "RSA", bits, ffcStrength(bits), true
	case *ecdsa.PublicKey:
		bits = k.Curve.Params().BitSize
		return "EC", bits, bits / 2, true
	case *dsa.PublicKey:
		if k.P == nil || k.Q == nil {
			return "DSA", 0, 0, true
		}
		bits = k.P.BitLen()
		return "DSA", bits, min(ffcStrength(bits), k.Q.BitLen()/2), true
	case ed25519.PublicKey:
		return "Ed25519", 256, 128, true
	}
	return "", 0, 0, false
}

func ffcStrength(bits int) int {
	switch {
	case bits >= 15360:
		return 256
	case bits >= 7680:
		return 192
	case bits >= 3072:
		return 128
	case bits >= 2048:
		return 112
	case bits >= 1024:
		return 80
	}
	return bits / 16 // far too weak either way
}

// SigAlgName maps crypto/x509's signature algorithm to Hardenize's sigAlg spelling.
func SigAlgName(a x509.SignatureAlgorithm) string {
	switch a {
	case x509.MD2WithRSA:
		return "RSAwithMD2"
	case x509.MD5WithRSA:
		return "RSAwithMD5"
	case x509.SHA1WithRSA:
		return "RSAwithSHA1"
	case x509.SHA256WithRSA:
		return "RSAwithSHA256"
	case x509.SHA384WithRSA:
		return "RSAwithSHA384"
	case x509.SHA512WithRSA:
		return "RSAwithSHA512"
	case x509.SHA256WithRSAPSS, x509.SHA384WithRSAPSS, x509.SHA512WithRSAPSS:
		return "RSAPSS"
	case x509.DSAWithSHA1:
		return "DSAwithSHA1"
	case x509.DSAWithSHA256:
		return "DSAwithSHA256"
	case x509.ECDSAWithSHA1:
		return "ECDSAwithSHA1"
	case x509.ECDSAWithSHA256:
		return "ECDSAwithSHA256"
	case x509.ECDSAWithSHA384:
		return "ECDSAwithSHA384"
	case x509.ECDSAWithSHA512:
		return "ECDSAwithSHA512"
	case x509.PureEd25519:
		return "Ed25519"
	}
	return a.String()
}
