package events

import (
	"crypto/rsa"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecodeCTEntry(t *testing.T) {
	leaf, issuer := newTestChain(t, certOpts{})
	pre, preIssuer := newTestChain(t, certOpts{precert: true})
	rsaLeaf, rsaIssuer := newTestChain(t, certOpts{rsa: true})
	good := ctEntryData(leaf, issuer, false)

	tests := []struct {
		name       string
		data       map[string]any
		wantLeaf   testCert
		wantPre    bool
		wantRSA    bool
		wantHashes [2]string // sha256, tbsSha256 after normalisation
	}{
		{name: "good entry", data: good, wantLeaf: leaf, wantHashes: [2]string{leaf.sha, leaf.tbsSha}},
		{
			name:       "uppercase hex is lowercased",
			data:       with(with(good, "sha256", strings.ToUpper(leaf.sha)), "tbsSha256", strings.ToUpper(leaf.tbsSha)),
			wantLeaf:   leaf,
			wantHashes: [2]string{leaf.sha, leaf.tbsSha},
		},
		{
			name:       "unknown fields ignored",
			data:       with(good, "somethingNew", map[string]any{"x": []int{1}}),
			wantLeaf:   leaf,
			wantHashes: [2]string{leaf.sha, leaf.tbsSha},
		},
		{
			name:       "leaf only chain",
			data:       with(good, "chain", []string{leaf.b64}),
			wantLeaf:   leaf,
			wantHashes: [2]string{leaf.sha, leaf.tbsSha},
		},
		{
			name:       "precertificate with critical poison parses",
			data:       ctEntryData(pre, preIssuer, true),
			wantLeaf:   pre,
			wantPre:    true,
			wantHashes: [2]string{pre.sha, pre.tbsSha},
		},
		{
			name:       "RSA leaf",
			data:       ctEntryData(rsaLeaf, rsaIssuer, false),
			wantLeaf:   rsaLeaf,
			wantRSA:    true,
			wantHashes: [2]string{rsaLeaf.sha, rsaLeaf.tbsSha},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			entry, parsed, parseErr, err := DecodeCTEntry(eventWithData(t, TypeCTEntry, tc.data))
			require.NoError(t, err)
			require.NoError(t, parseErr)
			require.NotNil(t, parsed)
			assert.Equal(t, tc.wantLeaf.der, parsed.Raw)
			assert.Equal(t, tc.wantHashes[0], entry.SHA256)
			assert.Equal(t, tc.wantHashes[1], entry.TBSSHA256)
			assert.Equal(t, tc.wantPre, entry.Precert)
			assert.Equal(t, "ct.googleapis.com/icarus", entry.Log)
			assert.Equal(t, int64(251676662), entry.Index)
			assert.Equal(t, int64(1538747492396), entry.Timestamp)
			assert.Equal(t, tc.wantLeaf.cert.DNSNames, entry.Hosts)
			assert.Equal(t, tc.wantLeaf.cert.DNSNames[:1], entry.MatchedHosts)
			assert.Equal(t, "CN=Test CA, O=hzhook tests", entry.Issuer)
			_, isRSA := parsed.PublicKey.(*rsa.PublicKey)
			assert.Equal(t, tc.wantRSA, isRSA)
			if tc.wantPre {
				require.Len(t, parsed.UnhandledCriticalExtensions, 1)
				assert.True(t, parsed.UnhandledCriticalExtensions[0].Equal(oidCTPoison))
			}
		})
	}
}

func TestDecodeCTEntryStringData(t *testing.T) {
	leaf, issuer := newTestChain(t, certOpts{})
	inner, err := json.Marshal(ctEntryData(leaf, issuer, false))
	require.NoError(t, err)
	body, err := json.Marshal(map[string]any{
		"id": 5, "type": TypeCTEntry, "createdOn": "2023-09-22T15:34:49.714Z", "apiVersion": "0.14.0",
		"data": string(inner),
	})
	require.NoError(t, err)

	ev, err := ParseEnvelope(body)
	require.NoError(t, err)
	entry, parsed, parseErr, err := DecodeCTEntry(ev)
	require.NoError(t, err)
	require.NoError(t, parseErr)
	assert.Equal(t, leaf.sha, entry.SHA256)
	assert.Equal(t, leaf.der, parsed.Raw)
}

func TestDecodeCTEntryRejects(t *testing.T) {
	leaf, issuer := newTestChain(t, certOpts{})
	other, _ := newTestChain(t, certOpts{})
	good := ctEntryData(leaf, issuer, false)

	tests := []struct {
		name      string
		data      any
		wantField string
	}{
		{"data is an array", []int{1}, "data"},
		{"wrong type for index", with(good, "index", "ten"), "data"},
		{"missing log", with(good, "log", deleteKey{}), "log"},
		{"empty log", with(good, "log", ""), "log"},
		{"negative index", with(good, "index", -1), "index"},
		{"negative timestamp", with(good, "timestamp", -1), "timestamp"},
		{"missing sha256", with(good, "sha256", deleteKey{}), "sha256"},
		{"short sha256", with(good, "sha256", leaf.sha[:63]), "sha256"},
		{"non-hex sha256", with(good, "sha256", "g"+leaf.sha[1:]), "sha256"},
		{"missing tbsSha256", with(good, "tbsSha256", deleteKey{}), "tbsSha256"},
		{"bad tbsSha256", with(good, "tbsSha256", "xyz"), "tbsSha256"},
		{"missing chain", with(good, "chain", deleteKey{}), "chain"},
		{"empty chain", with(good, "chain", []string{}), "chain"},
		{"sha256 mismatch", with(good, "sha256", other.sha), "chain[0]"},
		{"bad base64 leaf", with(good, "chain", []string{"!!!" + leaf.b64}), "chain[0]"},
		{"URL-safe base64 leaf", with(with(good, "chain", []string{"-_-_"}), "sha256", hexSum([]byte{0xfb, 0xff, 0xbf})), "chain[0]"},
		{"bad base64 issuer", with(good, "chain", []string{leaf.b64, "%%%"}), "chain[1]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			entry, parsed, parseErr, err := DecodeCTEntry(eventWithData(t, TypeCTEntry, tc.data))
			require.Error(t, err)
			assert.NoError(t, parseErr)
			var perm *PermanentError
			require.True(t, errors.As(err, &perm), "want *PermanentError, got %T: %v", err, err)
			assert.Contains(t, err.Error(), "decode ct.entry: "+tc.wantField+":")
			assert.Nil(t, parsed)
			assert.Equal(t, MatchedCtEntry{}, entry)
		})
	}
}

func TestDecodeCTEntryEmptyEvent(t *testing.T) {
	_, _, _, err := DecodeCTEntry(Event{})
	var perm *PermanentError
	require.True(t, errors.As(err, &perm))
}

// A leaf whose DER hashes to sha256 but does not parse is what the log holds: it is returned with
// its parse error, not refused, so the inventory stores it and alerts it as malformed.
func TestDecodeCTEntryKeepsUnparsableLeaf(t *testing.T) {
	leaf, issuer := newTestChain(t, certOpts{})
	garbage := []byte("this is not DER at all")
	data := with(with(ctEntryData(leaf, issuer, false), "chain", []string{b64(garbage), issuer.b64}), "sha256", strings.ToUpper(hexSum(garbage)))

	entry, parsed, parseErr, err := DecodeCTEntry(eventWithData(t, TypeCTEntry, data))
	require.NoError(t, err)
	require.Error(t, parseErr)
	assert.Contains(t, parseErr.Error(), "decode ct.entry: chain[0]: parse certificate")
	var perm *PermanentError
	assert.False(t, errors.As(parseErr, &perm), "a parse error is not a reason to drop the entry")
	assert.Nil(t, parsed)
	assert.Equal(t, hexSum(garbage), entry.SHA256, "validated and lowercased as for any entry")
	assert.Equal(t, leaf.tbsSha, entry.TBSSHA256)
	assert.Len(t, entry.Chain, 2)
}
