package events_test

import (
	"crypto/x509"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/lint/corpus"
)

// TestCorpusDecodes sends every certificate of zlint's testdata, real certificates no one here
// made, as Hardenize would: as pki.cert.new and as a ct.entry leaf. Each is a valid event (never
// dead-lettered); parseErr is set exactly where crypto/x509 refuses the DER.
func TestCorpusDecodes(t *testing.T) {
	certs := corpus.Certs(t)
	var refused, zeroTime int
	for i, c := range certs {
		_, stdErr := x509.ParseCertificate(c.DER)
		if stdErr != nil {
			refused++
		}

		body, err := corpus.CertNewBody(c, int64(i))
		require.NoError(t, err)
		ev, err := events.ParseEnvelope(body)
		require.NoError(t, err, c.Name)
		cert, parsed, parseErr, err := events.DecodeCertificate(ev)
		require.NoError(t, err, "%s: pki.cert.new must not be dead-lettered", c.Name)
		assert.Equal(t, stdErr == nil, parseErr == nil, "%s: parseErr %v", c.Name, parseErr)
		assert.Equal(t, c.SHA256, cert.SHA256)
		if parsed != nil {
			assert.True(t, parsed.NotBefore.Equal(cert.NotBefore), "%s: notBefore", c.Name)
			assert.True(t, parsed.NotAfter.Equal(cert.NotAfter), "%s: notAfter", c.Name)
			if parsed.NotBefore.IsZero() || parsed.NotAfter.IsZero() {
				zeroTime++
			}
		}

		body, err = corpus.CTEntryBody(c, int64(i))
		require.NoError(t, err)
		ev, err = events.ParseEnvelope(body)
		require.NoError(t, err, c.Name)
		entry, leaf, parseErr, err := events.DecodeCTEntry(ev)
		require.NoError(t, err, "%s: ct.entry must not be dead-lettered", c.Name)
		assert.Equal(t, stdErr == nil, parseErr == nil, "%s: parseErr %v", c.Name, parseErr)
		assert.Equal(t, stdErr == nil, leaf != nil)
		assert.Equal(t, c.SHA256, entry.SHA256)
	}
	t.Logf("%d certificates decoded both ways; crypto/x509 refuses %d; %d have a notBefore or notAfter of 00010101000000Z",
		len(certs), refused, zeroTime)
	assert.Positive(t, zeroTime, "the corpus has certificates whose validity holds Go's zero time")
}

// TestCorpusDSAKeys checks that a DSA key is sized from the DER alone, as a ct.entry gives it.
func TestCorpusDSAKeys(t *testing.T) {
	var dsa int
	for _, c := range corpus.Certs(t) {
		x, err := x509.ParseCertificate(c.DER)
		if err != nil || x.PublicKeyAlgorithm != x509.DSA {
			continue
		}
		dsa++
		alg, bits, strength := events.KeyInfo(x)
		assert.Equal(t, "DSA", alg, c.Name)
		assert.Contains(t, []int{512, 1024, 2048, 4096}, bits, c.Name)
		assert.Positive(t, strength, c.Name)
	}
	assert.Positive(t, dsa)
}
