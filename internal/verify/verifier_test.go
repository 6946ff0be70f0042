package verify

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	testOrg     = "parent.child"
	testHookID  = "bfc384726b6447a4b70a171de49e466f"
	testSecret  = "3685c06a966e4d0ea625d0b475719661"
	testSecret2 = "9b1f0e6a2c4d4e8f8a7b6c5d4e3f2a10"
)

func TestVerify(t *testing.T) {
	t.Parallel()
	const tolerance = 5 * time.Minute
	signedAt := time.UnixMilli(seedTS)
	body := []byte(`{"type":"ct.entry","data":{}}`)
	tampered := []byte(`{"type":"ct.entry","data":{]`)

	// Hook "rotating" lists the old secret first and the new one second.
	secrets, err := NewStore([]Hook{
		{Org: testOrg, ID: testHookID, Secrets: []string{testSecret}},
		{Org: "demo", ID: "rotating", Secrets: []string{testSecret, testSecret2}},
	})
	require.NoError(t, err)

	tests := []struct {
		name    string
		org, id string
		header  string
		body    []byte
		now     time.Time
		wantErr error
	}{
		{name: "good", org: testOrg, id: testHookID, header: Sign(testSecret, signedAt, body), body: body, now: signedAt},
		{name: "empty body", org: testOrg, id: testHookID, header: Sign(testSecret, signedAt, nil), body: nil, now: signedAt},
		{name: "wrong secret", org: testOrg, id: testHookID, header: Sign(testSecret2, signedAt, body), body: body, now: signedAt, wantErr: ErrBadSignature},
		{name: "rotation new secret verifies", org: "demo", id: "rotating", header: Sign(testSecret2, signedAt, body), body: body, now: signedAt},
		{name: "rotation old secret still verifies", org: "demo", id: "rotating", header: Sign(testSecret, signedAt, body), body: body, now: signedAt},
		{name: "unknown org", org: "other", id: testHookID, header: Sign(testSecret, signedAt, body), body: body, now: signedAt, wantErr: ErrUnknownHook},
		{name: "unknown hook", org: testOrg, id: "0000", header: Sign(testSecret, signedAt, body), body: body, now: signedAt, wantErr: ErrUnknownHook},
		{name: "org is not a prefix match", org: "parent", id: testHookID, header: Sign(testSecret, signedAt, body), body: body, now: signedAt, wantErr: ErrUnknownHook},
		{name: "unknown hook wins over malformed header", org: "other", id: testHookID, header: "garbage", body: body, now: signedAt, wantErr: ErrUnknownHook},
		{name: "malformed header", org: testOrg, id: testHookID, header: "t=1", body: body, now: signedAt, wantErr: ErrMalformedSignature},
		{name: "body tampered by one byte", org: testOrg, id: testHookID, header: Sign(testSecret, signedAt, body), body: tampered, now: signedAt, wantErr: ErrBadSignature},
		{name: "body extended", org: testOrg, id: testHookID, header: Sign(testSecret, signedAt, body), body: append(append([]byte{}, body...), ' '), now: signedAt, wantErr: ErrBadSignature},
		{name: "timestamp changed", org: testOrg, id: testHookID, header: strings.Replace(Sign(testSecret, signedAt, body), "t=1539185809044", "t=1539185809045", 1), body: body, now: signedAt, wantErr: ErrBadSignature},
		{name: "past exactly at tolerance", org: testOrg, id: testHookID, header: Sign(testSecret, signedAt, body), body: body, now: signedAt.Add(tolerance)},
		{name: "past 1ms beyond tolerance", org: testOrg, id: testHookID, header: Sign(testSecret, signedAt, body), body: body, now: signedAt.Add(tolerance + time.Millisecond), wantErr: ErrStale},
		{name: "future exactly at tolerance", org: testOrg, id: testHookID, header: Sign(testSecret, signedAt, body), body: body, now: signedAt.Add(-tolerance)},
		{name: "future 1ms beyond tolerance", org: testOrg, id: testHookID, header: Sign(testSecret, signedAt, body), body: body, now: signedAt.Add(-tolerance - time.Millisecond), wantErr: ErrStale},
		{name: "bad signature wins over stale", org: testOrg, id: testHookID, header: Sign(testSecret2, signedAt, body), body: body, now: signedAt.Add(time.Hour), wantErr: ErrBadSignature},
		{name: "far future timestamp", org: testOrg, id: testHookID, header: Sign(testSecret, time.UnixMilli(1<<62), body), body: body, now: signedAt, wantErr: ErrStale},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := NewVerifier(secrets, tolerance, func() time.Time { return tc.now })
			err := v.Verify(tc.org, tc.id, tc.header, tc.body)
			if tc.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.wantErr)
			for _, other := range []error{ErrUnknownHook, ErrMalformedSignature, ErrBadSignature, ErrStale} {
				if other != tc.wantErr {
					assert.NotErrorIs(t, err, other)
				}
			}
			assert.NotContains(t, err.Error(), testSecret)
			assert.NotContains(t, err.Error(), testSecret2)
		})
	}
}

// VerifyAt holds the timestamp against the time given, not the clock: a Pub/Sub backlog read an hour
// late is fresh as of its publish time, and an old signature published anew is stale.
func TestVerifyAtPublishTime(t *testing.T) {
	t.Parallel()
	secrets, err := NewStore([]Hook{{Org: testOrg, ID: testHookID, Secrets: []string{testSecret}}})
	require.NoError(t, err)
	signedAt := time.UnixMilli(seedTS)
	body := []byte(`{"type":"ct.entry","data":{}}`)
	v := NewVerifier(secrets, 5*time.Minute, func() time.Time { return signedAt.Add(time.Hour) })

	header := Sign(testSecret, signedAt, body)
	require.ErrorIs(t, v.Verify(testOrg, testHookID, header, body), ErrStale, "by the clock: an hour late")
	require.NoError(t, v.VerifyAt(testOrg, testHookID, header, body, signedAt.Add(time.Second)), "published a second after signing")
	require.ErrorIs(t, v.VerifyAt(testOrg, testHookID, header, body, signedAt.Add(time.Hour)), ErrStale, "replayed: published an hour after signing")
	require.ErrorIs(t, v.VerifyAt(testOrg, testHookID, header, body, time.Time{}), ErrStale, "zero time: the clock")
	require.ErrorIs(t, v.VerifyAt(testOrg, testHookID, Sign(testSecret2, signedAt, body), body, signedAt), ErrBadSignature)
}

func TestSignVerifyRoundTrip(t *testing.T) {
	t.Parallel()
	secrets, err := NewStore([]Hook{{Org: "demo", ID: testHookID, Secrets: []string{testSecret}}})
	require.NoError(t, err)
	v := NewVerifier(secrets, time.Minute, nil) // nil clock: time.Now
	for _, body := range [][]byte{nil, {}, []byte("x"), []byte(`{"events":[1,2,3]}`), make([]byte, 1<<16)} {
		require.NoError(t, v.Verify("demo", testHookID, Sign(testSecret, time.Now(), body), body))
	}
}
