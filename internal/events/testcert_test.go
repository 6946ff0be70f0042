package events

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// oidCTPoison marks a precertificate (RFC 6962 section 3.1).
var oidCTPoison = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 3}

type certOpts struct {
	hosts   []string
	precert bool // add the critical CT poison extension
	rsa     bool // RSA-2048 leaf key instead of ECDSA P-256
}

// testCert is a generated certificate with the encodings the payloads use.
type testCert struct {
	der    []byte
	cert   *x509.Certificate
	b64    string
	sha    string // hex SHA-256 of der
	tbsSha string // hex SHA-256 of the TBSCertificate
}

func newTestCert(t *testing.T, der []byte) testCert {
	t.Helper()
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	sum := sha256.Sum256(der)
	tbs := sha256.Sum256(cert.RawTBSCertificate)
	return testCert{
		der: der, cert: cert, b64: base64.StdEncoding.EncodeToString(der),
		sha: hex.EncodeToString(sum[:]), tbsSha: hex.EncodeToString(tbs[:]),
	}
}

// newTestChain generates a self-signed ECDSA CA and a leaf it issued.
func newTestChain(t *testing.T, opts certOpts) (leaf, issuer testCert) {
	t.Helper()
	if len(opts.hosts) == 0 {
		opts.hosts = []string{"www.example.com", "example.com"}
	}
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Test CA", Organization: []string{"hzhook tests"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	issuer = newTestCert(t, caDER)

	var leafPub crypto.PublicKey
	if opts.rsa {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		require.NoError(t, err)
		leafPub = &k.PublicKey
	} else {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		leafPub = &k.PublicKey
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(0xdeadbeef),
		Subject:      pkix.Name{CommonName: opts.hosts[0]},
		DNSNames:     opts.hosts,
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if opts.precert {
		leafTmpl.ExtraExtensions = []pkix.Extension{{Id: oidCTPoison, Critical: true, Value: asn1.NullBytes}}
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, issuer.cert, leafPub, caKey)
	require.NoError(t, err)
	return newTestCert(t, leafDER), issuer
}

// ctEntryData is a valid ct.entry payload for the chain, as a map so tests
// can break single fields.
func ctEntryData(leaf, issuer testCert, precert bool) map[string]any {
	return map[string]any{
		"log":          "ct.googleapis.com/icarus",
		"index":        251676662,
		"timestamp":    1538747492396,
		"sha256":       leaf.sha,
		"tbsSha256":    leaf.tbsSha,
		"precert":      precert,
		"subject":      "CN=" + leaf.cert.Subject.CommonName,
		"issuer":       "CN=Test CA, O=hzhook tests",
		"hosts":        leaf.cert.DNSNames,
		"chain":        []string{leaf.b64, issuer.b64},
		"matchedHosts": leaf.cert.DNSNames[:1],
	}
}

// certificateData is a valid pki.cert.new payload for the leaf.
func certificateData(leaf, issuer testCert) map[string]any {
	return map[string]any{
		"sha256":            leaf.sha,
		"tbsSha256":         leaf.tbsSha,
		"subject":           "CN=" + leaf.cert.Subject.CommonName,
		"serial":            hex.EncodeToString(leaf.cert.SerialNumber.Bytes()),
		"issuer":            "CN=Test CA, O=hzhook tests",
		"notBefore":         leaf.cert.NotBefore.Format(time.RFC3339),
		"notAfter":          leaf.cert.NotAfter.Format(time.RFC3339),
		"effectiveNotAfter": leaf.cert.NotAfter.Format(time.RFC3339),
		"keyAlg":            "EC",
		"keyLen":            256,
		"keyStrength":       128,
		"sigAlg":            "ECDSAwithSHA256",
		"spkiSha256":        hex.EncodeToString(sha256Sum(leaf.cert.RawSubjectPublicKeyInfo)),
		"hosts":             leaf.cert.DNSNames,
		"caPathLen":         -1,
		"firstSeen":         "2023-09-22T15:34:49.707Z",
		"lastSeen":          "2023-09-22T15:34:49.707Z",
		"ownership":         "own",
		"ctLogs": []map[string]any{
			{"log": "ct.googleapis.com/rocketeer", "timestamp": 1533791245857, "index": 232455, "type": "cert", "sources": []string{"log", "tls"}},
		},
		"pem":                  leaf.b64,
		"origin":               "ct",
		"originInfo":           map[string]any{"net": map[string]any{"host": "aspmx.l.google.com", "port": 25}},
		"parentHashes":         []string{issuer.sha},
		"parentHashesSource":   "ct",
		"parentHashesComplete": true,
	}
}

func sha256Sum(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

// eventWithData marshals data into an Event of the given type.
func eventWithData(t *testing.T, typ string, data any) Event {
	t.Helper()
	raw, err := json.Marshal(data)
	require.NoError(t, err)
	return Event{ID: "1", Type: typ, CreatedOn: time.Now().UTC(), Data: raw}
}

// with returns a shallow copy of m with key set to v, or deleted if v is
// the deleteKey marker.
func with(m map[string]any, key string, v any) map[string]any {
	c := make(map[string]any, len(m))
	for k, x := range m {
		c[k] = x
	}
	if _, del := v.(deleteKey); del {
		delete(c, key)
	} else {
		c[key] = v
	}
	return c
}

type deleteKey struct{}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func hexSum(b []byte) string { return hex.EncodeToString(sha256Sum(b)) }
