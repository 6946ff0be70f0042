package corpus

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/zmap/zcrypto/dsa"
	"github.com/zmap/zcrypto/rsa"
	"github.com/zmap/zcrypto/x509"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// hardenizeTime is how Hardenize writes times: milliseconds, UTC.
const hardenizeTime = "2006-01-02T15:04:05.000Z07:00"

// Seen returns the createdOn, firstSeen and lastSeen of the bodies built here.
func Seen() time.Time { return time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC) }

// CertNewBody returns the webhook body of the pki.cert.new event Hardenize would send for c: the
// fields it derives from the certificate (subject, serial, validity, key, signature algorithm,
// hosts, CA path length, ...) read with zcrypto, and keyStrength from NIST SP 800-57's table,
// computed here rather than by the code under test. For DER that zcrypto cannot parse, the
// fields it could not read are left as Hardenize could state them: times at Go's zero time, the
// serial as read from the raw TBSCertificate when possible.
func CertNewBody(c Cert, id int64) ([]byte, error) {
	tbs, err := TBSSHA256(c.DER)
	if err != nil {
		tbs = c.SHA256
	}
	d := map[string]any{
		"sha256": c.SHA256, "tbsSha256": tbs, "serial": rawSerial(c.DER),
		"notBefore": time.Time{}.Format(hardenizeTime), "notAfter": time.Time{}.Format(hardenizeTime),
		"effectiveNotAfter": time.Time{}.Format(hardenizeTime),
		"hosts":             []string{}, "caPathLen": -1, "ctLogs": []any{},
		"firstSeen": Seen().Format(hardenizeTime), "lastSeen": Seen().Format(hardenizeTime),
		"ownership": "own", "origin": "ct", "pem": base64.StdEncoding.EncodeToString(c.DER),
	}
	if z, err := x509.ParseCertificate(c.DER); err == nil {
		alg, bits, strength := keyInfo(z.PublicKey)
		hosts := hostsOf(z)
		spki := sha256.Sum256(z.RawSubjectPublicKeyInfo)
		pathLen := -1
		if z.IsCA {
			pathLen = math.MaxInt32
			if z.MaxPathLen > 0 || z.MaxPathLenZero {
				pathLen = z.MaxPathLen
			}
		}
		for k, v := range map[string]any{
			"subject": z.Subject.String(), "issuer": z.Issuer.String(),
			"notBefore": z.NotBefore.UTC().Format(hardenizeTime), "notAfter": z.NotAfter.UTC().Format(hardenizeTime),
			"effectiveNotAfter": z.NotAfter.UTC().Format(hardenizeTime),
			"keyAlg":            alg, "keyLen": bits, "keyStrength": strength, "sigAlg": sigAlgName(z.SignatureAlgorithm),
			"spkiSha256": hex.EncodeToString(spki[:]), "hosts": hosts, "sanCount": len(hosts),
			"caPathLen": pathLen, "wildcard": hasWildcard(hosts), "selfSigned": z.SelfSigned, "precert": z.IsPrecert,
		} {
			d[k] = v
		}
	}
	return body("pki.cert.new", id, d)
}

// CTEntryBody returns the webhook body of a ct.entry event for c as its only chain element.
func CTEntryBody(c Cert, id int64) ([]byte, error) {
	tbs, err := TBSSHA256(c.DER)
	if err != nil {
		tbs = c.SHA256
	}
	d := map[string]any{
		"log": "ct.googleapis.com/logs/us1/argon2026h2", "index": id, "timestamp": Seen().UnixMilli(),
		"sha256": c.SHA256, "tbsSha256": tbs, "precert": false, "hosts": []string{}, "matchedHosts": []string{},
		"chain": []string{base64.StdEncoding.EncodeToString(c.DER)},
	}
	if z, err := x509.ParseCertificate(c.DER); err == nil {
		d["precert"], d["subject"], d["issuer"], d["hosts"] = z.IsPrecert, z.Subject.String(), z.Issuer.String(), hostsOf(z)
	}
	return body("ct.entry", id, d)
}

func body(typ string, id int64, data map[string]any) ([]byte, error) {
	b, err := json.Marshal(map[string]any{
		"id": id, "type": typ, "createdOn": Seen().Format(hardenizeTime), "apiVersion": "0.14.0", "data": data,
	})
	if err != nil {
		return nil, fmt.Errorf("corpus: %s body: %w", typ, err)
	}
	return b, nil
}

// rawSerial is the hex of the serial's content octets, read from the DER without a certificate
// parser (a negative serial stays its two's complement); "00" when even that fails.
func rawSerial(der []byte) string {
	in := cryptobyte.String(der)
	var cert, tbs, serial cryptobyte.String
	if !in.ReadASN1(&cert, cbasn1.SEQUENCE) || !cert.ReadASN1(&tbs, cbasn1.SEQUENCE) ||
		!tbs.SkipOptionalASN1(cbasn1.Tag(0).Constructed().ContextSpecific()) || !tbs.ReadASN1(&serial, cbasn1.INTEGER) ||
		len(serial) == 0 {
		return "00"
	}
	return hex.EncodeToString(serial)
}

func hostsOf(z *x509.Certificate) []string {
	hosts := append([]string{}, z.DNSNames...)
	for _, ip := range z.IPAddresses {
		hosts = append(hosts, ip.String())
	}
	return hosts
}

func hasWildcard(hosts []string) bool {
	for _, h := range hosts {
		if strings.HasPrefix(h, "*.") {
			return true
		}
	}
	return false
}

// keyInfo is keyAlg, keyLen and keyStrength as Hardenize states them.
func keyInfo(pub any) (alg string, bits, strength int) {
	switch k := pub.(type) {
	case *rsa.PublicKey: // zcrypto's, with a big.Int exponent
		return "RSA", k.N.BitLen(), finiteField(k.N.BitLen())
	case *dsa.PublicKey: // zcrypto's
		return "DSA", k.P.BitLen(), min(finiteField(k.P.BitLen()), k.Q.BitLen()/2)
	case *x509.AugmentedECDSA:
		return "EC", k.Pub.Curve.Params().BitSize, k.Pub.Curve.Params().BitSize / 2
	case *ecdsa.PublicKey:
		return "EC", k.Curve.Params().BitSize, k.Curve.Params().BitSize / 2
	case ed25519.PublicKey:
		return "Ed25519", 256, 128
	}
	return "", 0, 0
}

// finiteField is SP 800-57 part 1 table 2 for RSA and DSA moduli of the given size.
func finiteField(bits int) int {
	for _, row := range []struct{ bits, strength int }{{15360, 256}, {7680, 192}, {3072, 128}, {2048, 112}, {1024, 80}} {
		if bits >= row.bits {
			return row.strength
		}
	}
	return bits / 16
}

func sigAlgName(a x509.SignatureAlgorithm) string {
	names := map[x509.SignatureAlgorithm]string{
		x509.MD2WithRSA: "RSAwithMD2", x509.MD5WithRSA: "RSAwithMD5", x509.SHA1WithRSA: "RSAwithSHA1",
		x509.SHA256WithRSA: "RSAwithSHA256", x509.SHA384WithRSA: "RSAwithSHA384", x509.SHA512WithRSA: "RSAwithSHA512",
		x509.SHA256WithRSAPSS: "RSAPSS", x509.SHA384WithRSAPSS: "RSAPSS", x509.SHA512WithRSAPSS: "RSAPSS",
		x509.DSAWithSHA1: "DSAwithSHA1", x509.DSAWithSHA256: "DSAwithSHA256",
		x509.ECDSAWithSHA1: "ECDSAwithSHA1", x509.ECDSAWithSHA256: "ECDSAwithSHA256",
		x509.ECDSAWithSHA384: "ECDSAwithSHA384", x509.ECDSAWithSHA512: "ECDSAwithSHA512", x509.Ed25519Sig: "Ed25519",
	}
	if n, ok := names[a]; ok {
		return n
	}
	return a.String()
}
