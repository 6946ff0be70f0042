package rules_test

import (
	"crypto/sha256"
	stdx509 "crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"testing"

	ctdata "github.com/google/certificate-transparency-go/testdata"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/lint/corpus"
	"github.com/hzhook/hzhook/internal/rules"
)

// TestRealPrecertificateAndCertificateShareTBS takes the precertificate and the final
// certificate of one issuance from certificate-transparency-go's testdata (serial 7 of its test
// CA; the final one embeds the SCT for the precertificate) and checks that hzhook links them:
// the tbsSha256 internal/rules computes for each equals the one computed independently (with
// cryptobyte, in internal/lint/corpus), with the poison and SCT list extensions removed.
func TestRealPrecertificateAndCertificateShareTBS(t *testing.T) {
	pre := pemDER(t, ctdata.TestPreCertPEM)
	final := pemDER(t, ctdata.TestEmbeddedCertPEM)
	preX, finalX := parseStd(t, pre), parseStd(t, final)
	require.NotEqual(t, preX.RawTBSCertificate, finalX.RawTBSCertificate)
	assert.True(t, hasExtension(preX, asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 3}), "the precertificate is poisoned")
	assert.True(t, hasExtension(finalX, asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 2}), "the certificate embeds SCTs")

	want, err := corpus.TBSSHA256(pre)
	require.NoError(t, err)
	independentFinal, err := corpus.TBSSHA256(final)
	require.NoError(t, err)
	require.Equal(t, want, independentFinal, "one issuance, one TBS")

	for name, x := range map[string]*stdx509.Certificate{"precertificate": preX, "certificate": finalX} {
		got, err := rules.IssuanceTBSSHA256(x)
		require.NoError(t, err)
		assert.Equal(t, want, got, name)
	}

	// A pki.cert.new without Hardenize's tbsSha256 falls back to the computation, and links the
	// two as Hardenize's own value would.
	var linked []string
	for _, der := range [][]byte{pre, final} {
		c := events.Certificate{
			SHA256: hexSHA256(der), Serial: "07", NotBefore: parseStd(t, der).NotBefore, NotAfter: parseStd(t, der).NotAfter,
			PEM: base64.StdEncoding.EncodeToString(der),
		}
		data, err := json.Marshal(c)
		require.NoError(t, err)
		decoded, parsed, parseErr, err := events.DecodeCertificate(events.Event{ID: "1", Type: events.TypeCertNew, Data: data})
		require.NoError(t, err)
		require.NoError(t, parseErr)
		rc := rules.FromCertificate(decoded, parsed, nil)
		linked = append(linked, rc.TBSSHA256)
	}
	assert.Equal(t, []string{want, want}, linked)
	assert.True(t, rules.FromCertificate(events.Certificate{SHA256: hexSHA256(pre), PEM: base64.StdEncoding.EncodeToString(pre)}, preX, nil).Precert)
}

func pemDER(t *testing.T, s string) []byte {
	t.Helper()
	b, _ := pem.Decode([]byte(s))
	require.NotNil(t, b)
	return b.Bytes
}

func parseStd(t *testing.T, der []byte) *stdx509.Certificate {
	t.Helper()
	x, err := stdx509.ParseCertificate(der)
	require.NoError(t, err)
	return x
}

func hasExtension(x *stdx509.Certificate, oid asn1.ObjectIdentifier) bool {
	for _, e := range x.Extensions {
		if e.Id.Equal(oid) {
			return true
		}
	}
	return false
}

func hexSHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
