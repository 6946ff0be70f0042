package rules

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewAuthorization(t *testing.T) {
	tbs, spki := strings.Repeat("ab", 32), strings.Repeat("CD", 32)
	tests := []struct {
		name    string
		spec    AuthorizationSpec
		names   []string
		wantErr string
	}{
		{name: "issuance", spec: AuthorizationSpec{TBSSHA256: tbs, Note: " ticket "}},
		{name: "key with names", spec: AuthorizationSpec{SPKISHA256: spki, Names: []string{"API.example.com", ".cdn.example.com", "", "api.example.com"}},
			names: []string{".cdn.example.com", "api.example.com"}},
		{name: "fingerprint with colons", spec: AuthorizationSpec{TBSSHA256: strings.Repeat("ab:", 31) + "ab"}},
		{name: "neither", spec: AuthorizationSpec{Note: "x"}, wantErr: "set exactly one of tbsSha256"},
		{name: "both", spec: AuthorizationSpec{TBSSHA256: tbs, SPKISHA256: spki, Names: []string{"a.example"}}, wantErr: "set exactly one"},
		{name: "key without names", spec: AuthorizationSpec{SPKISHA256: spki}, wantErr: "spkiSha256 needs names"},
		{name: "names on an issuance", spec: AuthorizationSpec{TBSSHA256: tbs, Names: []string{"a.example"}}, wantErr: "names apply only to spkiSha256"},
		{name: "short fingerprint", spec: AuthorizationSpec{TBSSHA256: "abc"}, wantErr: "tbsSha256: expected a SHA-256 fingerprint"},
		{name: "bad name", spec: AuthorizationSpec{SPKISHA256: spki, Names: []string{"a.example", "*.*.example"}}, wantErr: "names[1]:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := NewAuthorization(tc.spec)
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.names, nilIfEmpty(a.NameList()))
			assert.Equal(t, strings.TrimSpace(tc.spec.Note), a.Note)
		})
	}
}

func nilIfEmpty(xs []string) []string {
	if len(xs) == 0 {
		return nil
	}
	return xs
}

// Authorizations added to a policy suppress findings exactly as the file's do.
func TestWithAuthorizations(t *testing.T) {
	p, err := Parse([]byte("watch: [.example.com]\n"))
	require.NoError(t, err)
	c := Cert{SHA256: strings.Repeat("11", 32), TBSSHA256: strings.Repeat("22", 32), SPKISHA256: strings.Repeat("33", 32),
		Hosts: []string{"*.example.com"}, Wildcard: true}
	require.NotEmpty(t, p.Evaluate(c))

	byKey, err := NewAuthorization(AuthorizationSpec{SPKISHA256: c.SPKISHA256, Names: []string{"*.example.com"}})
	require.NoError(t, err)
	assert.True(t, byKey.CoversHosts(c.Hosts))
	assert.False(t, byKey.CoversHosts([]string{"*.example.com", "other.example.com"}))
	merged := p.WithAuthorizations([]Authorization{byKey})
	assert.Empty(t, merged.Evaluate(c))
	assert.NotEmpty(t, p.Evaluate(c), "the file's policy is unchanged")
	assert.Same(t, p, p.WithAuthorizations(nil))
}
