package events

import (
	"crypto/dsa"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"math/big"
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
		// DSA keys as crypto/x509 parses them from a ct.entry leaf: only P and Q's sizes count.
		{"dsa 1024/160", &x509.Certificate{PublicKey: dsaKey(1024, 160)}, "DSA", 1024, 80},
		{"dsa 512/160", &x509.Certificate{PublicKey: dsaKey(512, 160)}, "DSA", 512, 32},
		{"dsa 2048/224", &x509.Certificate{PublicKey: dsaKey(2048, 224)}, "DSA", 2048, 112},
		{"dsa 2048/160: the subgroup limits it", &x509.Certificate{PublicKey: dsaKey(2048, 160)}, "DSA", 2048, 80},
		{"dsa 3072/256", &x509.Certificate{PublicKey: dsaKey(3072, 256)}, "DSA", 3072, 128},
		{"dsa without parameters", &x509.Certificate{PublicKey: &dsa.PublicKey{}}, "DSA", 0, 0},
		{"ed25519", &x509.Certificate{PublicKey: ed25519.PublicKey(make([]byte, ed25519.PublicKeySize))}, "Ed25519", 256, 128},
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
	assert.Equal(t, "DSAwithSHA1", SigAlgName(x509.DSAWithSHA1))
	assert.Equal(t, "ECDSAwithSHA256", SigAlgName(x509.ECDSAWithSHA256))
	assert.Equal(t, "RSAPSS", SigAlgName(x509.SHA384WithRSAPSS))
}

// dsaKey is a DSA public key whose P has bits bits and Q qbits bits; the values are not a valid
// group, which KeyInfo does not need.
func dsaKey(bits, qbits int) *dsa.PublicKey {
	one := big.NewInt(1)
	p := new(big.Int).Lsh(one, uint(bits-1))
	q := new(big.Int).Lsh(one, uint(qbits-1))
	return &dsa.PublicKey{Parameters: dsa.Parameters{P: p.Add(p, one), Q: q.Add(q, one), G: big.NewInt(2)}, Y: big.NewInt(3)}
}
