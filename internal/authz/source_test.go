package authz

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/inventory"
	"github.com/hzhook/hzhook/internal/rules"
	"github.com/hzhook/hzhook/internal/testenv"
)

func openStore(t *testing.T, url string) *inventory.Store {
	t.Helper()
	s, err := inventory.Open(context.Background(), url, testenv.DiscardLog())
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s
}

// Two replicas share one database and each loads the rules file: an authorization made through
// one suppresses findings on both (the other after its Refresh), beside the file's own, and a
// reload of the file keeps the stored ones.
func TestStoredAuthorizationsJoinTheFilePolicy(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := "sqlite://" + filepath.Join(dir, "inv.db")
	rulesFile := filepath.Join(dir, "rules.yaml")
	require.NoError(t, os.WriteFile(rulesFile, []byte("watch: [.example.com]\n"), 0o600))
	file, err := rules.Load(rulesFile, testenv.DiscardLog(), nil)
	require.NoError(t, err)
	now := func() time.Time { return time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC) }
	one := New(file, openStore(t, db), testenv.DiscardLog(), now)
	two := New(file, openStore(t, db), testenv.DiscardLog(), now)

	wild := rules.Cert{SHA256: strings.Repeat("11", 32), TBSSHA256: strings.Repeat("22", 32), SPKISHA256: strings.Repeat("33", 32),
		Hosts: []string{"*.example.com"}, Wildcard: true}
	self := rules.Cert{SHA256: strings.Repeat("44", 32), TBSSHA256: strings.Repeat("55", 32), Hosts: []string{"a.example.com"}, SelfSigned: true}
	require.NotEmpty(t, one.Policy().Evaluate(wild))
	assert.Same(t, one.Policy(), one.Policy(), "cached while nothing changes")

	res, err := one.Authorize(ctx, rules.AuthorizationSpec{TBSSHA256: strings.ToUpper(wild.TBSSHA256), Note: "CDN, OPS-42"}, "console")
	require.NoError(t, err)
	assert.True(t, res.Added)
	assert.Equal(t, wild.TBSSHA256, res.Authorization.TBSSHA256)
	assert.Equal(t, "console", res.Authorization.Author)
	assert.Empty(t, one.Policy().Evaluate(wild), "this replica at once")
	assert.NotEmpty(t, two.Policy().Evaluate(wild), "the other one until it refreshes")
	require.NoError(t, two.Refresh(ctx))
	assert.Empty(t, two.Policy().Evaluate(wild))

	again, err := two.Authorize(ctx, rules.AuthorizationSpec{TBSSHA256: wild.TBSSHA256, Note: "again"}, "api")
	require.NoError(t, err)
	assert.False(t, again.Added, "the same authorization is stored once")
	assert.Equal(t, res.Authorization.ID, again.Authorization.ID)

	// The file gains an authorization of its own: both apply.
	require.NoError(t, os.WriteFile(rulesFile, []byte("watch: [.example.com]\nauthorizations:\n  - tbsSha256: "+self.TBSSHA256+"\n"), 0o600))
	require.NoError(t, file.Reload())
	assert.Empty(t, one.Policy().Evaluate(self))
	assert.Empty(t, one.Policy().Evaluate(wild))

	list, err := one.List(ctx)
	require.NoError(t, err)
	assert.Len(t, list, 1)
}

func TestAuthorizeRefusesInvalid(t *testing.T) {
	s := New(nil, openStore(t, "sqlite://"+filepath.Join(t.TempDir(), "inv.db")), testenv.DiscardLog(), time.Now)
	tests := []struct {
		name, author, want string
		spec               rules.AuthorizationSpec
	}{
		{"no fingerprint", "console", "set exactly one of tbsSha256", rules.AuthorizationSpec{Note: "x"}},
		{"key without names", "console", "spkiSha256 needs names", rules.AuthorizationSpec{SPKISHA256: strings.Repeat("ab", 32)}},
		{"note too long", "console", "note: longer than 1000 bytes", rules.AuthorizationSpec{TBSSHA256: strings.Repeat("ab", 32), Note: strings.Repeat("n", 1001)}},
		{"no author", "", "author:", rules.AuthorizationSpec{TBSSHA256: strings.Repeat("ab", 32)}},
		{"control character in author", "a\nb", "author:", rules.AuthorizationSpec{TBSSHA256: strings.Repeat("ab", 32)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Authorize(context.Background(), tc.spec, tc.author)
			require.ErrorIs(t, err, ErrInvalid)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	assert.Nil(t, s.Policy(), "no rules file, no policy")
}
