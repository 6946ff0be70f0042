package events

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecodeCertificate(t *testing.T) {
	leaf, issuer := newTestChain(t, certOpts{})
	pre, preIssuer := newTestChain(t, certOpts{precert: true})
	good := certificateData(leaf, issuer)

	tests := []struct {
		name     string
		data     map[string]any
		wantLeaf testCert
		check    func(t *testing.T, c Certificate)
	}{
		{
			name:     "good certificate",
			data:     good,
			wantLeaf: leaf,
			check: func(t *testing.T, c Certificate) {
				assert.Equal(t, leaf.sha, c.SHA256)
				assert.Equal(t, leaf.tbsSha, c.TBSSHA256)
				assert.Equal(t, "deadbeef", c.Serial)
				assert.True(t, leaf.cert.NotBefore.Equal(c.NotBefore))
				assert.True(t, leaf.cert.NotAfter.Equal(c.NotAfter))
				assert.Equal(t, time.Date(2023, 9, 22, 15, 34, 49, 707e6, time.UTC), c.FirstSeen)
				assert.Equal(t, -1, c.CAPathLen)
				assert.Equal(t, leaf.cert.DNSNames, c.Hosts)
				assert.Nil(t, c.RevokedOn)
				assert.Nil(t, c.CTRequired)
				require.NotNil(t, c.ParentHashesComplete)
				assert.True(t, *c.ParentHashesComplete)
				assert.Equal(t, []string{issuer.sha}, c.ParentHashes)
				require.Len(t, c.CTLogs, 1)
				assert.Equal(t, "ct.googleapis.com/rocketeer", c.CTLogs[0].Log)
				require.NotNil(t, c.CTLogs[0].Index)
				assert.Equal(t, int64(232455), *c.CTLogs[0].Index)
				assert.Equal(t, []string{"log", "tls"}, c.CTLogs[0].Sources)
				assert.JSONEq(t, `{"net":{"host":"aspmx.l.google.com","port":25}}`, string(c.OriginInfo))
			},
		},
		{
			name: "optional fields set",
			data: with(with(with(good, "revokedOn", "2023-09-22T15:34:49.707Z"), "ctRequired", false),
				"ctLogs", []map[string]any{{"log": "l", "timestamp": 1, "type": "precert", "sources": []string{"tls"}}}),
			wantLeaf: leaf,
			check: func(t *testing.T, c Certificate) {
				require.NotNil(t, c.RevokedOn)
				assert.Equal(t, time.Date(2023, 9, 22, 15, 34, 49, 707e6, time.UTC), *c.RevokedOn)
				require.NotNil(t, c.CTRequired)
				assert.False(t, *c.CTRequired)
				require.Len(t, c.CTLogs, 1)
				assert.Nil(t, c.CTLogs[0].Index, "index is absent when not seen in the log")
			},
		},
		{
			name: "hex normalised to lowercase",
			data: with(with(with(good, "sha256", strings.ToUpper(leaf.sha)), "serial", "DEADBEEF"),
				"parentHashes", []string{strings.ToUpper(issuer.sha)}),
			wantLeaf: leaf,
			check: func(t *testing.T, c Certificate) {
				assert.Equal(t, leaf.sha, c.SHA256)
				assert.Equal(t, "deadbeef", c.Serial)
				assert.Equal(t, []string{issuer.sha}, c.ParentHashes)
			},
		},
		{
			// Real certificates say notBefore 00010101000000Z; Hardenize writes it as below.
			name:     "notBefore is Go's zero time",
			data:     with(good, "notBefore", "0001-01-01T00:00:00.000Z"),
			wantLeaf: leaf,
			check: func(t *testing.T, c Certificate) {
				assert.True(t, c.NotBefore.IsZero())
				assert.True(t, leaf.cert.NotAfter.Equal(c.NotAfter))
				assert.Equal(t, leaf.sha, c.SHA256, "the other fields are still decoded")
				assert.Equal(t, []string{issuer.sha}, c.ParentHashes)
			},
		},
		{
			name:     "precertificate",
			data:     with(certificateData(pre, preIssuer), "precert", true),
			wantLeaf: pre,
			check:    func(t *testing.T, c Certificate) { assert.True(t, c.Precert) },
		},
		{
			name:     "minimal: only required fields",
			data:     minimalCertificate(good),
			wantLeaf: leaf,
			check: func(t *testing.T, c Certificate) {
				assert.Empty(t, c.TBSSHA256)
				assert.Nil(t, c.OriginInfo)
				assert.Nil(t, c.CTLogs)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, parsed, parseErr, err := DecodeCertificate(eventWithData(t, TypeCertNew, tc.data))
			require.NoError(t, err)
			require.NoError(t, parseErr)
			require.NotNil(t, parsed)
			assert.Equal(t, tc.wantLeaf.der, parsed.Raw)
			tc.check(t, c)
		})
	}
}

func minimalCertificate(good map[string]any) map[string]any {
	m := map[string]any{}
	for _, k := range []string{"sha256", "serial", "notBefore", "notAfter", "pem"} {
		m[k] = good[k]
	}
	return m
}

func TestDecodeCertificateStringData(t *testing.T) {
	leaf, issuer := newTestChain(t, certOpts{})
	inner, err := json.Marshal(certificateData(leaf, issuer))
	require.NoError(t, err)
	body, err := json.Marshal(map[string]any{
		"id": "77", "type": TypeCertNew, "createdOn": "2023-09-22T15:34:49.714Z", "data": string(inner),
	})
	require.NoError(t, err)

	ev, err := ParseEnvelope(body)
	require.NoError(t, err)
	c, parsed, parseErr, err := DecodeCertificate(ev)
	require.NoError(t, err)
	require.NoError(t, parseErr)
	assert.Equal(t, leaf.sha, c.SHA256)
	assert.Equal(t, leaf.der, parsed.Raw)
}

func TestDecodeCertificateUnparsable(t *testing.T) {
	leaf, issuer := newTestChain(t, certOpts{})
	garbage := []byte("not a certificate, but its hash matches")
	data := with(with(certificateData(leaf, issuer), "pem", b64(garbage)), "sha256", hexSum(garbage))

	c, parsed, parseErr, err := DecodeCertificate(eventWithData(t, TypeCertNew, data))
	require.NoError(t, err, "a malformed certificate is still a valid event")
	require.Error(t, parseErr)
	assert.Contains(t, parseErr.Error(), "parse certificate")
	var perm *PermanentError
	assert.False(t, errors.As(parseErr, &perm))
	assert.Nil(t, parsed)
	assert.Equal(t, hexSum(garbage), c.SHA256, "the decoded payload is still returned")
	assert.Equal(t, "deadbeef", c.Serial)
}

func TestDecodeCertificateRejects(t *testing.T) {
	leaf, issuer := newTestChain(t, certOpts{})
	other, _ := newTestChain(t, certOpts{})
	good := certificateData(leaf, issuer)

	tests := []struct {
		name      string
		data      any
		wantField string
	}{
		{"data is a string", "x", "data"},
		{"bad time", with(good, "notAfter", "tomorrow"), "data"},
		{"wrong type for hosts", with(good, "hosts", "example.com"), "data"},
		{"missing sha256", with(good, "sha256", deleteKey{}), "sha256"},
		{"bad sha256", with(good, "sha256", "abc"), "sha256"},
		{"missing serial", with(good, "serial", deleteKey{}), "serial"},
		{"non-hex serial", with(good, "serial", "0x12"), "serial"},
		{"missing notBefore", with(good, "notBefore", deleteKey{}), "notBefore"},
		{"null notAfter", with(good, "notAfter", nil), "notAfter"},
		{"null notBefore", with(good, "notBefore", nil), "notBefore"},
		{"missing notAfter", with(good, "notAfter", deleteKey{}), "notAfter"},
		{"bad tbsSha256", with(good, "tbsSha256", "zz"), "tbsSha256"},
		{"bad spkiSha256", with(good, "spkiSha256", leaf.sha+"00"), "spkiSha256"},
		{"bad parent hash", with(good, "parentHashes", []string{issuer.sha, "nope"}), "parentHashes[1]"},
		{"missing pem", with(good, "pem", deleteKey{}), "pem"},
		{"bad base64 pem", with(good, "pem", "***"), "pem"},
		{"sha256 mismatch", with(good, "sha256", other.sha), "pem"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, parsed, parseErr, err := DecodeCertificate(eventWithData(t, TypeCertNew, tc.data))
			require.Error(t, err)
			var perm *PermanentError
			require.True(t, errors.As(err, &perm), "want *PermanentError, got %T: %v", err, err)
			assert.Contains(t, err.Error(), "decode pki.cert.new: "+tc.wantField+":")
			assert.NoError(t, parseErr)
			assert.Nil(t, parsed)
			assert.Empty(t, c.SHA256)
		})
	}
}
