package lint

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var oidCTPoison = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 3}

type leafOpts struct {
	key     crypto.Signer // default: EC P-256
	precert bool
	days    int // default 90
}

// newLeaf returns the DER of a TLS server certificate for www.example.com issued by a fresh CA.
func newLeaf(t testing.TB, o leafOpts) []byte {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	now := time.Now().Truncate(time.Second)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "lint test CA", Organization: []string{"hzhook"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(5, 0, 0),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, BasicConstraintsValid: true, IsCA: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	if o.key == nil {
		o.key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
	}
	if o.days == 0 {
		o.days = 90
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(0x7e57_0001_2345), Subject: pkix.Name{CommonName: "www.example.com"},
		DNSNames:  []string{"www.example.com"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(-time.Hour).AddDate(0, 0, o.days).Add(-time.Second),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if o.precert {
		tmpl.ExtraExtensions = []pkix.Extension{{Id: oidCTPoison, Critical: true, Value: asn1.NullBytes}}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, o.key.Public(), caKey)
	require.NoError(t, err)
	return der
}

func rsaKey(t testing.TB, bits int) crypto.Signer {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	require.NoError(t, err)
	return k
}

func newLinter(t testing.TB, cfg Config) *Linter {
	t.Helper()
	l, err := New(cfg)
	require.NoError(t, err)
	return l
}
