package inventory

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAuthorize(t *testing.T) {
	backends(t, testAuthorize)
}

// An authorization is stored once; it marks the findings it covers (an issuance, or the
// issuances on a key whose names it covers), never again for the ones already marked, and the
// outbox no longer offers them.
func testAuthorize(t *testing.T, s *Store) {
	ctx := context.Background()
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	finding := func(seed, typ string) FindingRow {
		return FindingRow{TBSSHA256: hexOf("tbs " + seed), DedupType: typ, Type: typ, SHA256: hexOf("cert " + seed), Alert: []byte("{}"), CreatedAt: now}
	}
	// b and c share a key; c has a name outside the authorization.
	b, c := testCert("b", now, now.AddDate(0, 0, 90), "api.example.com"), testCert("c", now, now.AddDate(0, 0, 90), "api.example.com", "other.test")
	c.Payload = b.Payload
	write(t, s,
		Write{Cert: testCert("a", now, now.AddDate(0, 0, 90), "a.example.com"), Findings: []FindingRow{finding("a", "wildcard"), finding("a", "weakKey")}},
		Write{Cert: b, Findings: []FindingRow{finding("b", "wildcard")}},
		Write{Cert: c, Findings: []FindingRow{finding("c", "wildcard")}},
	)
	unpublished := func() []string {
		rows, err := s.UnpublishedOldest(ctx, time.Now(), 100)
		require.NoError(t, err)
		var out []string
		for _, r := range rows {
			out = append(out, r.TBSSHA256[:8]+"/"+r.DedupType)
		}
		slices.Sort(out)
		return out
	}
	require.Len(t, unpublished(), 4)
	v0, err := s.AuthorizationsVersion(ctx)
	require.NoError(t, err)

	tbs := AuthorizationRow{ID: "tbs-a", TBSSHA256: hexOf("tbs a"), Names: []string{}, Note: "ticket 1", Author: "console", CreatedAt: now}
	added, marked, err := s.Authorize(ctx, tbs, nil)
	require.NoError(t, err)
	assert.True(t, added)
	assert.Equal(t, 2, marked)
	added, marked, err = s.Authorize(ctx, tbs, nil)
	require.NoError(t, err)
	assert.False(t, added, "stored once")
	assert.Zero(t, marked)

	key := AuthorizationRow{ID: "key-b", SPKISHA256: hexOf("key b"), Names: []string{"api.example.com"}, Author: "api", CreatedAt: now.Add(time.Minute)}
	onlyAPI := func(hosts []string) bool { return slices.Equal(hosts, []string{"api.example.com"}) }
	added, marked, err = s.Authorize(ctx, key, onlyAPI)
	require.NoError(t, err)
	assert.True(t, added)
	assert.Equal(t, 1, marked, "b only: c has a name outside the authorization")
	assert.Equal(t, []string{hexOf("tbs c")[:8] + "/wildcard"}, unpublished())

	all, err := s.Authorizations(ctx)
	require.NoError(t, err)
	require.Len(t, all, 2)
	assert.Equal(t, tbs, all[0])
	assert.Equal(t, []string{"api.example.com"}, all[1].Names)
	v1, err := s.AuthorizationsVersion(ctx)
	require.NoError(t, err)
	assert.NotEqual(t, v0, v1)

	page, err := s.ListFindings(ctx, FindingQuery{SHA256: hexOf("cert a"), Page: 1, PageSize: 10})
	require.NoError(t, err)
	require.Len(t, page.Items, 2)
	for _, f := range page.Items {
		require.NotNil(t, f.AuthorizedAt)
		assert.Equal(t, now, *f.AuthorizedAt)
		assert.Equal(t, "console", f.AuthorizedBy)
	}
	page, err = s.ListFindings(ctx, FindingQuery{SHA256: hexOf("cert c"), Page: 1, PageSize: 10})
	require.NoError(t, err)
	assert.Nil(t, page.Items[0].AuthorizedAt)
}
