package events

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestKeyInfoAndSigAlgName(t *testing.T) {
	rsa2048, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	tests := []struct {
		name           string
		cert           *x509.Certificate
		alg            string
		bits, strength int
	}{
		{"rsa 2048", &x509.Certificate{PublicKey: &rsa2048.PublicKey}, "RSA", 2048, 112},
		{"ec p-384", &x509.Certificate{PublicKey: &p384.PublicKey}, "EC", 384, 192},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			alg, bits, strength := KeyInfo(tc.cert)
			assert.Equal(t, tc.alg, alg)
			assert.Equal(t, tc.bits, bits)
			assert.Equal(t, tc.strength, strength)
		})
	}
	assert.Equal(t, "RSAwithSHA1", SigAlgName(x509.SHA1WithRSA))
	assert.Equal(t, "ECDSAwithSHA256", SigAlgName(x509.ECDSAWithSHA256))
	assert.Equal(t, "RSAPSS", SigAlgName(x509.SHA384WithRSAPSS))
}
