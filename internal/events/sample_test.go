package events

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSampleTestMatchesHardenize(t *testing.T) {
	body, err := Sample(TypeTest, 0, time.Date(2018, 10, 10, 15, 36, 49, 44e6, time.UTC))
	require.NoError(t, err)
	assert.Equal(t, seedTestEvent, string(body))
}

func TestSample(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 123456789, time.FixedZone("CET", 3600))
	tests := []struct {
		name  string
		typ   string
		id    int64
		check func(t *testing.T, ev Event)
	}{
		{
			name: "test",
			typ:  TypeTest,
			id:   1,
			check: func(t *testing.T, ev Event) {
				var msg TestMessage
				require.NoError(t, json.Unmarshal(ev.Data, &msg))
				assert.Equal(t, "This is a webhook test.", msg.Message)
				assert.Empty(t, ev.APIVersion)
			},
		},
		{
			name: "ct.entry",
			typ:  TypeCTEntry,
			id:   10001,
			check: func(t *testing.T, ev Event) {
				entry, leaf, parseErr, err := DecodeCTEntry(ev)
				require.NoError(t, err)
				require.NoError(t, parseErr)
				assert.Equal(t, hexSum(leaf.RawTBSCertificate), entry.TBSSHA256)
				assert.Equal(t, leaf.DNSNames, entry.Hosts)
				assert.Equal(t, []string{"www.example.com", "example.com"}, entry.Hosts)
				assert.Equal(t, int64(10001), entry.Index)
				assert.Equal(t, now.UnixMilli(), entry.Timestamp)
				assert.False(t, entry.Precert)
				require.Len(t, entry.Chain, 2)
				issuer := parseB64Cert(t, entry.Chain[1])
				assert.NoError(t, leaf.CheckSignatureFrom(issuer), "chain[1] issued chain[0]")
				assert.True(t, issuer.IsCA)
				assert.Equal(t, "0.14.0", ev.APIVersion)
			},
		},
		{
			name: "pki.cert.new",
			typ:  TypeCertNew,
			id:   10002,
			check: func(t *testing.T, ev Event) {
				c, leaf, parseErr, err := DecodeCertificate(ev)
				require.NoError(t, err)
				require.NoError(t, parseErr)
				assert.Equal(t, hexSum(leaf.RawTBSCertificate), c.TBSSHA256)
				assert.Equal(t, hexSum(leaf.RawSubjectPublicKeyInfo), c.SPKISHA256)
				assert.Equal(t, hex.EncodeToString(leaf.SerialNumber.Bytes()), c.Serial)
				assert.Len(t, c.Serial, 32)
				assert.Equal(t, leaf.DNSNames, c.Hosts)
				assert.Equal(t, len(leaf.DNSNames), c.SANCount)
				assert.True(t, leaf.NotAfter.Equal(c.NotAfter))
				assert.True(t, leaf.NotBefore.Before(now) && leaf.NotAfter.After(now), "valid at now")
				require.Len(t, c.CTLogs, 1)
				require.NotNil(t, c.CTLogs[0].Index)
				assert.Equal(t, int64(10002), *c.CTLogs[0].Index)
				require.Len(t, c.ParentHashes, 1)
				assert.Equal(t, -1, c.CAPathLen)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body, err := Sample(tc.typ, tc.id, now)
			require.NoError(t, err)
			ev, err := ParseEnvelope(body)
			require.NoError(t, err)
			assert.Equal(t, tc.typ, ev.Type)
			assert.Equal(t, itoa(tc.id), ev.ID)
			assert.Equal(t, now.Truncate(time.Millisecond).UTC(), ev.CreatedOn)
			tc.check(t, ev)
		})
	}
}

func TestSampleFreshCertificates(t *testing.T) {
	now := time.Now()
	a, err := Sample(TypeCTEntry, 1, now)
	require.NoError(t, err)
	b, err := Sample(TypeCTEntry, 1, now)
	require.NoError(t, err)
	ea, _, _, err := DecodeCTEntry(mustParse(t, a))
	require.NoError(t, err)
	eb, _, _, err := DecodeCTEntry(mustParse(t, b))
	require.NoError(t, err)
	assert.NotEqual(t, ea.SHA256, eb.SHA256)
}

func TestSampleRejects(t *testing.T) {
	tests := []struct {
		name string
		typ  string
		id   int64
	}{
		{"unknown type", "pki.cert.future", 1},
		{"empty type", "", 1},
		{"negative id", TypeTest, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body, err := Sample(tc.typ, tc.id, time.Now())
			require.Error(t, err)
			assert.Nil(t, body)
		})
	}
}

func BenchmarkSample(b *testing.B) {
	now := time.Now()
	for b.Loop() {
		if _, err := Sample(TypeCertNew, 1, now); err != nil {
			b.Fatal(err)
		}
	}
}

func parseB64Cert(t *testing.T, s string) *x509.Certificate {
	t.Helper()
	der, err := base64.StdEncoding.DecodeString(s)
	require.NoError(t, err)
	c, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return c
}

func mustParse(t *testing.T, body []byte) Event {
	t.Helper()
	ev, err := ParseEnvelope(body)
	require.NoError(t, err)
	return ev
}

func itoa(i int64) string {
	b, _ := json.Marshal(i)
	return string(b)
}
